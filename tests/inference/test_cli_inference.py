"""The inference commands end to end on a random tiny checkpoint, and every bad input."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf
from typer.testing import CliRunner

from framestamp.cli import app

runner = CliRunner()


def run(*args: str):
    return runner.invoke(app, [str(a) for a in args], catch_exceptions=False)


def assert_one_line_error(result, *fragments: str) -> None:
    assert result.exit_code != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert "Traceback" not in result.output + result.stderr
    for fragment in fragments:
        assert fragment in lines[0]


def write(path, samples, rate=16_000, **kwargs):
    sf.write(path, samples, rate, **kwargs)
    return path


# ----- each command -------------------------------------------------------------------------
def test_locate_prints_time_lambda_and_presence(checkpoint, clip, stamper):
    result = run("locate", clip, "--word", "apple", "--checkpoint", checkpoint, "-q")
    assert result.exit_code == 0, result.stderr
    assert "time_s" in result.stdout and "Lambda" in result.stdout and "P(N>=1)" in result.stdout
    expected = stamper.locate(clip, word="apple")  # the Python API on the same checkpoint
    assert f"{expected.times_s[0]:.3f}" in result.stdout and f"{expected.count_estimate:.3f}" in result.stdout


def test_locate_json_speaker_end_and_event(checkpoint, clip, stamper):
    asked = {
        "When does the 2nd speaker stop speaking?": (["--speaker", "2", "--end"], dict(speaker=2, end=True)),
        "When does the 2nd occurrence of the event 'bark' occur?": (["--event", "bark", "--occurrence", "2"],
                                                                    dict(event="bark", occurrence=2)),
    }  # fmt: skip
    for question, (option, kwargs) in asked.items():
        result = run("locate", clip, *option, "--checkpoint", checkpoint, "-f", "json")
        data = json.loads(result.stdout)
        assert set(data) >= {"audio", "question", "times_s", "count_estimate", "presence_probability", "present"}
        expected = stamper.locate(clip, **kwargs)  # the Python API on the same checkpoint
        assert data["question"] == expected.question == question
        assert data["times_s"] == pytest.approx(expected.times_s) and data["present"] == expected.present
        assert data["count_estimate"] == pytest.approx(expected.count_estimate, rel=1e-6)


@pytest.mark.parametrize("fmt", ["table", "json", "textgrid", "tsv", "srt", "vtt"])
def test_align_writes_each_format(checkpoint, clip, tmp_path, fmt):
    out = tmp_path / f"words.{fmt}"
    result = run("align", clip, "--transcript", "the apple pie", "--checkpoint", checkpoint, "-f", fmt, "-o", out)
    assert result.exit_code == 0, result.stderr
    assert result.stdout == "" and out.stat().st_size > 0
    if fmt == "json":
        assert [s["label"] for s in json.loads(out.read_text())["spans"]] == ["the", "apple", "pie"]


def test_align_reads_the_transcript_from_a_file_as_from_the_option(checkpoint, clip, tmp_path):
    (transcript := tmp_path / "words.txt").write_text("The apple,\npie!\n", encoding="utf-8")
    answers = []
    for given in (("--transcript", "the apple pie"), ("--transcript-file", transcript)):
        result = run("align", clip, *given, "--checkpoint", checkpoint, "-f", "json", "-q")
        assert result.exit_code == 0, result.stderr
        answers.append(json.loads(result.stdout)["spans"])
    assert [s["label"] for s in answers[1]] == ["the", "apple", "pie"] and answers[0] == answers[1]


def test_diarize_rttm_and_events_tsv(clip, tmp_path):
    from framestamp.backbones.tiny_scratch import ScratchTinyBackbone
    from framestamp.inference.api import InferenceConfig, load
    from framestamp.model import FrameStampModel, ModelConfig

    load_rttm = pytest.importorskip("pyannote.database.util").load_rttm
    # a random head biased towards events (Lambda ~ 10 on the 2 s clip), so both outputs have rows
    checkpoint = tmp_path / "busy"
    busy = FrameStampModel(ScratchTinyBackbone.create(["dog", "bark"], seed=0), ModelConfig(head_bias_init=-3.0))
    busy.save_pretrained(checkpoint)
    expected = load(checkpoint, device="cpu", config=InferenceConfig(progress=False))  # the Python API
    speakers, events = expected.diarize(clip), expected.events(clip, classes=["dog", "bark"])
    assert len(speakers.spans) >= 2 and len(events.spans) >= 2

    result = run("diarize", clip, "--checkpoint", checkpoint, "-f", "rttm", "-o", tmp_path / "out.rttm")
    assert result.exit_code == 0, result.stderr
    annotation = load_rttm(tmp_path / "out.rttm")["clip"]
    turns = sorted((turn.start, label) for turn, _, label in annotation.itertracks(yield_label=True))
    assert [label for _, label in turns] == [s.label for s in speakers.spans]
    assert [start for start, _ in turns] == pytest.approx([s.start_s for s in speakers.spans], abs=1e-3)
    result = run("events", clip, "--checkpoint", checkpoint, "-f", "tsv", "--classes", "dog,bark", "--no-ends")
    assert result.exit_code == 0, result.stderr
    rows = [line.split("\t") for line in result.stdout.splitlines()]
    assert all(len(row) == 3 for row in rows)
    assert [row[2] for row in rows] == [s.label for s in events.spans]
    assert [float(row[0]) for row in rows] == pytest.approx([s.start_s for s in events.spans], abs=1e-3)


def test_plot_is_written(checkpoint, clip, tmp_path):
    result = run("diarize", clip, "--checkpoint", checkpoint, "--plot", tmp_path / "p.png")
    assert result.exit_code == 0, result.stderr
    assert (tmp_path / "p.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_unavailable_format_is_refused(checkpoint, clip):
    assert_one_line_error(run("locate", clip, "--word", "apple", "--checkpoint", checkpoint, "-f", "rttm"),
                          "not available")  # fmt: skip


# ----- batch --------------------------------------------------------------------------------
def test_manifest_answers_every_line_and_reports_bad_ones(checkpoint, clip, tmp_path):
    manifest = tmp_path / "questions.jsonl"
    lines = [
        {"audio": str(clip), "word": "apple", "id": "a"},
        {"audio": "missing.wav", "word": "apple"},
        "not json",
        {"audio": str(clip), "word": "zebra"},
        {"audio": clip.name, "speaker": 1, "end": True},  # relative to the manifest's folder
        {"audio": str(clip), "question": "When does each word start?", "all": True},
    ]
    (tmp_path / clip.name).write_bytes(clip.read_bytes())
    manifest.write_text("\n".join(x if isinstance(x, str) else json.dumps(x) for x in lines) + "\n\n")
    out = tmp_path / "answers.jsonl"
    result = run("locate", "--manifest", manifest, "--checkpoint", checkpoint, "-o", out)
    assert_one_line_error(result, "3 of 6 manifest items failed")
    answers = [json.loads(line) for line in out.read_text().splitlines()]
    assert [a["line"] for a in answers] == [1, 2, 3, 4, 5, 6]
    assert ["error" in a for a in answers] == [False, True, True, True, False, False]
    assert answers[0]["id"] == "a" and "times_s" in answers[0]
    assert "not found" in answers[1]["error"] and "vocabulary" in answers[3]["error"]


def test_manifest_streams_to_stdout(checkpoint, clip, tmp_path):
    manifest = tmp_path / "q.jsonl"
    manifest.write_text(json.dumps({"audio": str(clip), "event": "dog"}) + "\n")
    result = run("locate", "--manifest", manifest, "--checkpoint", checkpoint)
    assert result.exit_code == 0 and json.loads(result.stdout)["line"] == 1


@pytest.mark.parametrize("command, line, direct", [
    ("align", {"transcript": "the apple pie", "ends": True}, ("--transcript", "the apple pie", "--ends")),
    ("align", {}, ()),
    ("diarize", {"max_speakers": 2}, ("--max-speakers", "2")),
    ("events", {"classes": "dog, bark", "max_occurrences": 2}, ("--classes", "dog,bark", "--max-occurrences", "2")),
])  # fmt: skip
def test_every_command_answers_a_manifest_as_it_answers_one_file(command, line, direct, checkpoint, clip, tmp_path):
    from framestamp.backbones.tiny_scratch import ScratchTinyBackbone
    from framestamp.model import FrameStampModel, ModelConfig

    every = tmp_path / "every"  # a model asked "each ..." questions too (align needs one)
    modes = ("one", "all")
    FrameStampModel(ScratchTinyBackbone.create(["dog", "bark", "apple", "pie", "the"], seed=0),
                    ModelConfig(question_modes=modes)).save_pretrained(every)  # fmt: skip
    manifest = tmp_path / "m.jsonl"
    manifest.write_text(json.dumps({"audio": str(clip), "id": "a", **line}) + "\n")
    out = tmp_path / "answers.jsonl"
    result = run(command, "--manifest", manifest, "--checkpoint", every, "-o", out, "-q")
    assert result.exit_code == 0, result.stderr
    answer = json.loads(out.read_text())
    alone = run(command, clip, *direct, "--checkpoint", every, "-f", "json", "-q")
    assert alone.exit_code == 0, alone.stderr
    expected = json.loads(alone.stdout)
    assert answer["id"] == "a" and answer["spans"] == expected["spans"] and answer["task"] == expected["task"]


@pytest.mark.parametrize("command, given", [
    ("align", ("--transcript", "the apple")), ("align", (CLIP_MARK := "@clip",)), ("diarize", ("--ends",)),
    ("events", ("--classes", "dog")),
])  # fmt: skip
def test_a_manifest_takes_its_questions_from_the_file(command, given, checkpoint, clip, tmp_path):
    manifest = tmp_path / "m.jsonl"
    manifest.write_text(json.dumps({"audio": str(clip)}) + "\n")
    args = [str(clip) if a == CLIP_MARK else a for a in given]
    assert_one_line_error(run(command, *args, "--manifest", manifest, "--checkpoint", checkpoint), "drop")


# ----- bad input: one line on stderr, non-zero exit, no traceback ----------------------------
def test_missing_audio_file(checkpoint, tmp_path):
    assert_one_line_error(run("locate", tmp_path / "nothing.wav", "--word", "apple", "--checkpoint", checkpoint),
                          "audio file not found")  # fmt: skip


def test_truncated_audio_file(checkpoint, clip, tmp_path):
    path = tmp_path / "cut.wav"
    path.write_bytes(clip.read_bytes()[:30])
    assert_one_line_error(run("align", path, "--checkpoint", checkpoint), "cannot read")


def test_non_audio_file(checkpoint, tmp_path):
    path = tmp_path / "notes.wav"
    path.write_text("these are not samples\n" * 50)
    assert_one_line_error(run("diarize", path, "--checkpoint", checkpoint), "cannot read", "as audio")


def test_zero_length_audio(checkpoint, tmp_path):
    path = write(tmp_path / "empty.wav", np.zeros(0, dtype=np.float32))
    assert_one_line_error(run("events", path, "--checkpoint", checkpoint), "empty")


def test_too_short_audio(checkpoint, tmp_path):
    path = write(tmp_path / "short.wav", np.zeros(100, dtype=np.float32))
    assert_one_line_error(run("locate", path, "--word", "apple", "--checkpoint", checkpoint), "too short")


def test_silent_audio_gets_a_well_defined_answer(checkpoint, tmp_path):
    path = write(tmp_path / "silence.wav", np.zeros(32_000, dtype=np.float32))
    result = run("locate", path, "--word", "apple", "--checkpoint", checkpoint, "-f", "json")
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["present"] == (data["presence_probability"] >= 0.5)
    assert data["presence_probability"] == pytest.approx(1 - np.exp(-data["count_estimate"]), abs=1e-6)


def test_nan_samples(checkpoint, tmp_path):
    samples = np.zeros(16_000, dtype=np.float32)
    samples[100] = np.nan
    path = write(tmp_path / "nan.wav", samples, subtype="FLOAT")
    assert_one_line_error(run("locate", path, "--word", "apple", "--checkpoint", checkpoint), "NaN")


def test_stereo_at_another_rate_is_downmixed_and_resampled(checkpoint, tmp_path):
    path = write(tmp_path / "stereo.flac", np.zeros((44_100, 2), dtype=np.float32), rate=44_100)
    result = run("locate", path, "--word", "apple", "--checkpoint", checkpoint, "-f", "json")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["duration_s"] == pytest.approx(1.0)


def test_word_not_in_the_vocabulary(checkpoint, clip):
    assert_one_line_error(run("locate", clip, "--word", "zebra", "--checkpoint", checkpoint),
                          "'zebra' is not in the vocabulary", "<|unk|>")  # fmt: skip


def test_unknown_words_in_a_free_question_are_a_warning(checkpoint, clip):
    result = run("locate", clip, "--question", "When does the zebra bark?", "--checkpoint", checkpoint)
    assert result.exit_code == 0
    assert result.stderr.strip() == "warning: not in the vocabulary of checkpoint " + str(checkpoint) + \
        ", read as <|unk|>: zebra"  # fmt: skip


def test_empty_question(checkpoint, clip):
    assert_one_line_error(run("locate", clip, "--question", "  ", "--checkpoint", checkpoint), "question is empty")


def test_no_question(checkpoint, clip):
    assert_one_line_error(run("locate", clip, "--checkpoint", checkpoint), "exactly one of")


def test_missing_checkpoint_directory(clip, tmp_path):
    assert_one_line_error(run("locate", clip, "--word", "a", "--checkpoint", tmp_path / "nope"), "checkpoint not found")


def test_default_checkpoint_not_shipped_yet(clip, tmp_path, monkeypatch):
    from framestamp.inference import api

    monkeypatch.setattr(api, "shipped_checkpoints_dir", lambda: tmp_path / "nothing-shipped")
    assert_one_line_error(run("diarize", clip), "shipped checkpoint 'speakers' is not installed")


def test_corrupted_checkpoint_config(checkpoint, clip, tmp_path):
    broken = tmp_path / "broken"
    subprocess.run(["cp", "-r", str(checkpoint), str(broken)], check=True)
    (broken / "framestamp_config.json").write_text("{not json")
    assert_one_line_error(run("align", clip, "--checkpoint", broken), "broken checkpoint config")


def test_corrupted_checkpoint_weights(checkpoint, clip, tmp_path):
    broken = tmp_path / "broken"
    subprocess.run(["cp", "-r", str(checkpoint), str(broken)], check=True)
    for weights in broken.rglob("*.safetensors"):
        weights.write_bytes(b"\x00garbage" * 10)
    assert_one_line_error(run("align", clip, "--checkpoint", broken), "broken")


def test_checkpoint_without_its_backbone_folder(checkpoint, clip, tmp_path):
    broken = tmp_path / "broken"
    subprocess.run(["cp", "-r", str(checkpoint), str(broken)], check=True)
    subprocess.run(["rm", "-r", str(broken / "backbone")], check=True)
    assert_one_line_error(run("align", clip, "--checkpoint", broken), "incomplete checkpoint")


def test_output_into_a_missing_folder(checkpoint, clip, tmp_path):
    assert_one_line_error(run("align", clip, "--checkpoint", checkpoint, "-o", tmp_path / "no" / "x.json"),
                          "does not exist")  # fmt: skip


@pytest.mark.slow
def test_the_installed_entry_point_prints_one_line(tmp_path):
    """Through ``python -m framestamp`` (``cli.main``), not only the typer app."""
    result = subprocess.run([sys.executable, "-m", "framestamp", "align", str(tmp_path / "x.wav")],
                            capture_output=True, text=True)  # fmt: skip
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr.strip() == f"error: audio file not found: {tmp_path / 'x.wav'}"


@pytest.mark.parametrize("args", [
    ["locate", "examples/words.wav", "--word", "forest", "--occurrence", "0"],
    ["locate", "examples/words.wav", "--word", "forest", "--occurrence", "-1"],
    ["locate", "examples/words.wav", "--speaker", "0"],
    ["locate", "examples/words.wav", "--word", "forest", "-f", "xml"],
    ["locate", "examples/words.wav", "--word", "forest", "--bogus"],
    ["events", "examples/events.wav", "--max-occurrences", "x"],
    ["diarize", "examples/speakers.wav", "--max-speakers", "0"],
])  # fmt: skip
def test_usage_errors_are_one_line_through_the_entry_point(args, monkeypatch, capsys):
    from framestamp.cli import main

    monkeypatch.setattr(sys, "argv", ["framestamp", *args])
    with pytest.raises(SystemExit) as done:
        main()
    err = capsys.readouterr().err
    assert done.value.code == 2
    assert len(err.strip().splitlines()) == 1 and err.startswith("error: ") and "Traceback" not in err


@pytest.mark.parametrize("command", ["locate", "align", "diarize", "events"])
def test_help_says_the_window_defaults_to_the_models_own(command):
    result = CliRunner().invoke(app, [command, "--help"], terminal_width=200, env={"COLUMNS": "200"})
    assert result.exit_code == 0
    assert "(default: the model's own, chosen on held-out long recordings; else 30)" in result.output
    assert "(default: a fifth of the window, at most 5)" in result.output
