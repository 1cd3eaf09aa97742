"""A table of bad, and odd but usable, inputs run through the ``framestamp`` entry point.

Every row ends one of two ways: an error of one line naming the problem (exit 1, or 2 for a
usage error), or a well-defined JSON answer (exit 0) that carries, in ``warnings`` and as
``warning:`` lines on stderr, every decision taken on the user's audio. Never a traceback.
Commands run through ``framestamp.cli.main``, as installed, inside typer's ``CliRunner``
streams: ``main`` is what turns click's usage errors into one line.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from dataclasses import dataclass

import numpy as np
import pytest
import soundfile as sf
from typer.testing import CliRunner

from framestamp.cli import main

RATE_HZ = 16_000
ASKS = {"locate": ("--word", "apple"), "align": (), "diarize": (), "events": ()}


@dataclass(frozen=True)
class Outcome:
    code: int
    stdout: str
    stderr: str


def speech_like(seconds: float = 1.0, rate_hz: int = RATE_HZ, peak: float = 0.5) -> np.ndarray:
    """Noise under a 220 Hz tone, ``seconds`` long, largest sample ``peak``."""
    t = np.arange(round(seconds * rate_hz)) / rate_hz
    samples = np.sin(2 * np.pi * 220 * t) + 0.3 * np.random.default_rng(0).standard_normal(t.size)
    return (peak * samples / np.abs(samples).max()).astype(np.float32)


def write(path, samples, rate_hz: int = RATE_HZ, **kwargs):
    sf.write(path, samples, rate_hz, **kwargs)
    return path


def cut(source, path, n_bytes: int):
    path.write_bytes(source.read_bytes()[:n_bytes])
    return path


def folder(path):
    path.mkdir()
    return path


def broken_checkpoint(checkpoint, path, damage):
    shutil.copytree(checkpoint, path)
    damage(path)
    return path


@pytest.fixture(scope="module")
def files(tmp_path_factory, checkpoint):
    """Every input a row names with ``@name``: audio files, checkpoints, manifests, output places."""
    root = tmp_path_factory.mktemp("inputs")
    clip = write(root / "clip.wav", speech_like(), subtype="PCM_16")
    flac = write(root / "clip.flac", speech_like())
    recordings = folder(root / "recordings.wav")
    (text := root / "notes.wav").write_text("these are not samples\n" * 50)
    nan, inf = speech_like(), speech_like()
    nan[100], inf[100] = np.nan, np.inf
    return {
        "ckpt": checkpoint, "clip": clip, "missing": root / "missing.wav", "folder": recordings, "text": text,
        "empty_file": cut(clip, root / "empty.wav", 0), "header_only": cut(clip, root / "header.wav", 44),
        "truncated": cut(clip, root / "truncated.wav", 44 + RATE_HZ),  # 16-bit: half of the 32,000 data bytes
        "truncated_flac": cut(flac, root / "cut.flac", 4000),
        "no_frames": write(root / "no_frames.wav", np.zeros(0, np.float32)),
        "nan": write(root / "nan.wav", nan, subtype="FLOAT"), "inf": write(root / "inf.wav", inf, subtype="FLOAT"),
        "short": write(root / "short.wav", speech_like(0.03)), "brief": write(root / "brief.wav", speech_like(0.05)),
        "silence": write(root / "silence.wav", np.zeros(RATE_HZ, np.float32)),
        "u8": write(root / "u8.wav", speech_like(), subtype="PCM_U8"),
        "pcm24": write(root / "pcm24.wav", speech_like(), subtype="PCM_24"),
        "pcm32": write(root / "pcm32.wav", speech_like(), subtype="PCM_32"),
        "float": write(root / "float.wav", speech_like(), subtype="FLOAT"),
        "8k": write(root / "8k.wav", speech_like(rate_hz=8_000), 8_000),
        "44k": write(root / "44k.wav", speech_like(rate_hz=44_100), 44_100),
        "96k": write(root / "96k.wav", speech_like(rate_hz=96_000), 96_000),
        "3ch": write(root / "3ch.wav", np.stack([speech_like(), speech_like(peak=0.2), np.zeros(RATE_HZ)], 1)),
        "stereo": write(root / "stereo.wav", np.stack([speech_like(), np.roll(speech_like(), 50)], 1)),
        "antiphase": write(root / "antiphase.wav", np.stack([speech_like(), -speech_like()], 1), subtype="FLOAT"),
        "loud": write(root / "loud.wav", speech_like(peak=40.0), subtype="FLOAT"),
        "flac": flac, "ogg": write(root / "clip.ogg", speech_like()),
        "broken_head": broken_checkpoint(checkpoint, root / "broken_head",
                                         lambda d: (d / "head.safetensors").write_bytes(b"\x00garbage" * 10)),
        "broken_config": broken_checkpoint(checkpoint, root / "broken_config",
                                           lambda d: (d / "framestamp_config.json").write_text("{not json")),
        "list_config": broken_checkpoint(checkpoint, root / "list_config",
                                         lambda d: (d / "framestamp_config.json").write_text("[]")),
        "no_backbone": broken_checkpoint(checkpoint, root / "no_backbone", lambda d: shutil.rmtree(d / "backbone")),
        "empty_ckpt": folder(root / "empty_ckpt"),
        "manifest_missing": root / "missing.jsonl", "manifest_folder": recordings,
        "no_folder_out": root / "no" / "answer.json", "under_a_file": text / "answer.json", "folder_out": recordings,
        "plot_no_folder": root / "no" / "plot.png", "plot_odd_suffix": root / "plot.xyz",
    }  # fmt: skip


def run(args, files, monkeypatch) -> Outcome:
    """``framestamp ARGS`` (``@name`` replaced by ``files[name]``; the fixture checkpoint unless
    one is given), run as the installed entry point inside CliRunner's captured streams."""
    argv = [str(files[a[1:]]) if a.startswith("@") else a for a in args]
    if "--checkpoint" not in argv:
        argv += ["--checkpoint", str(files["ckpt"])]
    monkeypatch.setattr(sys, "argv", ["framestamp", *argv, "--quiet"])
    with CliRunner().isolation() as (stdout, stderr, _):
        with pytest.raises(SystemExit) as done:  # main always ends with sys.exit
            main()
        captured = stdout.getvalue().decode(), stderr.getvalue().decode()
    return Outcome(done.value.code, *captured)


def ask(command: str, audio: str, *more: str) -> tuple[str, ...]:
    return (command, audio, *ASKS[command], *more)


# ----- errors: one line naming the problem ---------------------------------------------------
UNREADABLE = {
    "missing": "audio file not found",
    "empty_file": "the file is empty (0 bytes)",
    "folder": "is a folder, not an audio file",
    "text": "as audio: Error opening",
    "header_only": "truncated: its header promises 1.00 s of audio, the file holds 0.00 s",
    "truncated": "truncated: its header promises 1.00 s of audio, the file holds 0.50 s",
    "truncated_flac": "cut.flac as audio",
    "no_frames": "the audio is empty",
    "nan": "NaN or infinite",
    "inf": "NaN or infinite",
    "short": "the audio is too short (0.030 s)",
}
ERRORS = [
    pytest.param(ask(command, f"@{name}"), fragment, 1, id=f"{command}-{name}")
    for name, fragment in UNREADABLE.items() for command in ASKS
] + [
    pytest.param(ask(command, "@clip", "--checkpoint", f"@{name}"), fragment, 1, id=f"{command}-checkpoint-{name}")
    for name, fragment in {"broken_head": "cannot read the head weights", "broken_config": "is not valid json",
                           "list_config": "expected a mapping, got list", "no_backbone": "incomplete checkpoint",
                           "empty_ckpt": "not a framestamp checkpoint", "missing": "checkpoint not found",
                           "clip": "checkpoint is not a directory"}.items()
    for command in ("locate", "diarize")
] + [
    pytest.param(ask(command, "@clip", *option), fragment, 2, id=f"{command}-{name}")
    for name, option, fragment in (("unknown-option", ("--bogus",), "No such option: --bogus"),
                                   ("unknown-format", ("-f", "xml"), "'xml' is not one of"))
    for command in ASKS
] + [
    pytest.param(args, fragment, code, id=name) for name, args, fragment, code in [
        ("occurrence-0", ask("locate", "@clip", "--occurrence", "0"), "'--occurrence'", 2),
        ("occurrence-negative", ask("locate", "@clip", "--occurrence", "-1"), "'--occurrence'", 2),
        ("speaker-0", ("locate", "@clip", "--speaker", "0"), "'--speaker'", 2),
        ("locate-missing-question", ("locate", "@clip"), "exactly one of", 1),
        ("locate-two-questions", ask("locate", "@clip", "--event", "dog"), "exactly one of", 1),
        ("locate-missing-audio", ("locate", "--word", "apple"), "give an AUDIO file", 1),
        ("align-missing-audio", ("align",), "give an AUDIO file", 1),
        ("diarize-missing-audio", ("diarize",), "give an AUDIO file", 1),
        ("events-missing-audio", ("events",), "give an AUDIO file", 1),
        ("word-empty", ("locate", "@clip", "--word", " "), "the word is empty", 1),
        ("word-unknown", ("locate", "@clip", "--word", "zebra"), "'zebra' is not in the vocabulary", 1),
        ("question-empty", ("locate", "@clip", "--question", "  "), "question is empty", 1),
        ("all-without-question", ask("locate", "@clip", "--all"), "goes with a free question", 1),
        ("locate-format-rttm", ask("locate", "@clip", "-f", "rttm"), "--format rttm is not available", 1),
        ("align-format-rttm", ask("align", "@clip", "-f", "rttm"), "--format rttm is not available", 1),
        ("events-format-srt", ask("events", "@clip", "-f", "srt"), "--format srt is not available", 1),
        ("transcript-empty", ask("align", "@clip", "--transcript", " "), "the transcript has no words", 1),
        ("transcript-file-missing", ask("align", "@clip", "--transcript-file", "@missing"),
         "cannot read the transcript file", 1),
        ("transcript-file-folder", ask("align", "@clip", "--transcript-file", "@folder"),
         "cannot read the transcript file", 1),
        ("transcript-file-binary", ask("align", "@clip", "--transcript-file", "@clip"), "cannot read the transcript file", 1),
        ("transcript-twice", ask("align", "@clip", "--transcript", "apple", "--transcript-file", "@text"),
         "not both", 1),
        ("classes-empty", ask("events", "@clip", "--classes", ","), "--classes is empty", 1),
        ("classes-unknown", ask("events", "@clip", "--classes", "zebra"), "'zebra' is not in the vocabulary", 1),
        ("max-speakers-0", ask("diarize", "@clip", "--max-speakers", "0"), "'--max-speakers'", 2),
        ("max-occurrences-0", ask("events", "@clip", "--max-occurrences", "0"), "'--max-occurrences'", 2),
        ("window-0", ask("align", "@clip", "--window-s", "0"), "window_s must be positive", 1),
        ("window-inf", ask("align", "@clip", "--window-s", "inf"), "positive and finite, got inf", 1),
        ("overlap-too-long", ask("diarize", "@clip", "--overlap-s", "20"), "overlap_s must be in", 1),
        ("threshold-above-1", ask("locate", "@clip", "--presence-threshold", "1.5"), "must be in [0, 1], got 1.5", 1),
        ("threshold-nan", ask("locate", "@clip", "--presence-threshold", "nan"), "must be in [0, 1], got nan", 1),
        ("device-unknown", ask("align", "@clip", "--device", "toaster"), "device 'toaster'", 1),
        ("output-no-folder", ask("align", "@clip", "-o", "@no_folder_out"), "does not exist", 1),
        ("output-under-a-file", ask("locate", "@clip", "-o", "@under_a_file"), "is not a folder", 1),
        ("output-is-a-folder", ask("diarize", "@clip", "-o", "@folder_out"), "is a folder", 1),
        ("plot-no-folder", ask("events", "@clip", "--plot", "@plot_no_folder"), "does not exist", 1),
        ("plot-odd-suffix", ask("locate", "@clip", "--plot", "@plot_odd_suffix"), "unknown image type .xyz", 1),
        ("manifest-missing", ("locate", "--manifest", "@manifest_missing"), "manifest not found", 1),
        ("manifest-folder", ("locate", "--manifest", "@manifest_folder"), "cannot read the manifest", 1),
        ("manifest-and-audio", ("locate", "@clip", "--manifest", "@clip"), "drop AUDIO", 1),
        ("manifest-and-table", ("locate", "--manifest", "@clip", "-f", "table"), "drop --format", 1),
    ]
]  # fmt: skip


@pytest.mark.parametrize("args, fragment, code", ERRORS)
def test_bad_input_is_one_line_naming_the_problem(args, fragment, code, files, monkeypatch):
    outcome = run(args, files, monkeypatch)
    lines = outcome.stderr.strip().splitlines()
    assert "Traceback" not in outcome.stdout + outcome.stderr
    assert outcome.code == code, outcome.stderr
    assert len(lines) == 1 and lines[0].startswith("error: ") and fragment in lines[0], outcome.stderr
    assert outcome.stdout == ""


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root may write into any folder")
def test_output_into_a_read_only_folder(files, monkeypatch, tmp_path):
    tmp_path.chmod(0o500)
    files = files | {"out": tmp_path / "answer.json"}
    try:
        outcome = run(ask("align", "@clip", "-o", "@out"), files, monkeypatch)
    finally:
        tmp_path.chmod(0o700)
    assert outcome.code == 1 and outcome.stderr.startswith("error: cannot write")
    assert "Permission denied" in outcome.stderr


# ----- odd but usable input: a well-defined answer, with its warnings ------------------------
CANCEL = "channels cancel when averaged"
SCALED = "scaled to peak 1"
USABLE = {name: None for name in ("u8", "pcm24", "pcm32", "float", "8k", "44k", "96k", "3ch", "stereo", "flac", "ogg",
                                   "brief", "silence")} | {"antiphase": CANCEL, "loud": SCALED}
ANSWERS = [
    pytest.param(ask("locate", f"@{name}"), warning, id=f"locate-{name}") for name, warning in USABLE.items()
] + [
    pytest.param(ask(command, f"@{name}", *more), USABLE[name], id=f"{command}-{name}")
    for command, more in (("align", ()), ("diarize", ()), ("events", ("--classes", "dog,bark")))
    for name in ("antiphase", "loud", "ogg", "44k")
]  # fmt: skip


@pytest.mark.parametrize("args, warning", ANSWERS)
def test_usable_input_gets_a_well_defined_answer(args, warning, files, monkeypatch):
    outcome = run((*args, "--format", "json"), files, monkeypatch)
    assert "Traceback" not in outcome.stdout + outcome.stderr
    assert outcome.code == 0, outcome.stderr
    answer = json.loads(outcome.stdout)
    expected_s = 0.05 if args[1] == "@brief" else 1.0
    assert answer["duration_s"] == pytest.approx(expected_s, abs=0.005)
    times = answer["times_s"] if "times_s" in answer else [s["start_s"] for s in answer["spans"]]
    assert all(0.0 <= t <= answer["duration_s"] for t in times)
    notes = answer.get("warnings", [])
    assert (notes == []) if warning is None else (len(notes) == 1 and warning in notes[0]), notes
    assert outcome.stderr.splitlines() == [f"warning: {n}" for n in notes]


# ----- manifests: a bad line fails alone, in its own "error" --------------------------------
BAD_LINES = {
    "not-json": ("not json", "not valid JSON"),
    "json-array": ("[1, 2]", "expected a JSON object"),
    "unknown-field": ({"audio": "@clip", "word": "apple", "colour": "red"}, "unknown field(s) colour"),
    "no-audio": ({"word": "apple"}, 'needs "audio"'),
    "empty-audio": ({"audio": "", "word": "apple"}, 'needs "audio"'),
    "occurrence-text": ({"audio": "@clip", "word": "apple", "occurrence": "2"}, '"occurrence" must be an integer'),
    "occurrence-bool": ({"audio": "@clip", "word": "apple", "occurrence": True}, '"occurrence" must be an integer'),
    "occurrence-0": ({"audio": "@clip", "word": "apple", "occurrence": 0}, "counted from 1"),
    "speaker-0": ({"audio": "@clip", "speaker": 0}, "counted from 1"),
    "word-number": ({"audio": "@clip", "word": 5}, '"word" must be a string'),
    "no-question": ({"audio": "@clip"}, "exactly one of"),
    "two-questions": ({"audio": "@clip", "word": "apple", "event": "dog"}, "exactly one of"),
    "audio-missing": ({"audio": "@missing", "word": "apple"}, "audio file not found"),
    "audio-truncated": ({"audio": "@truncated", "word": "apple"}, "truncated"),
    "word-unknown": ({"audio": "@clip", "word": "zebra"}, "not in the vocabulary"),
}


def write_manifest(path, items, files) -> None:
    def line(item):
        if isinstance(item, str):
            return item
        return json.dumps({k: str(files[v[1:]]) if str(v).startswith("@") else v for k, v in item.items()})

    path.write_text("".join(line(item) + "\n" for item in items))


@pytest.mark.parametrize("line, fragment", [pytest.param(*v, id=k) for k, v in BAD_LINES.items()])
def test_a_bad_manifest_line_fails_alone(line, fragment, files, monkeypatch, tmp_path):
    write_manifest(tmp_path / "q.jsonl", [line, {"audio": "@clip", "word": "apple"}], files)
    outcome = run(("locate", "--manifest", str(tmp_path / "q.jsonl")), files, monkeypatch)
    assert "Traceback" not in outcome.stdout + outcome.stderr
    assert outcome.code == 1 and outcome.stderr.splitlines() == [
        'error: 1 of 2 manifest items failed (see their "error" fields)']
    bad, good = [json.loads(text) for text in outcome.stdout.splitlines()]
    assert fragment in bad["error"] and "times_s" in good and "error" not in good


@pytest.mark.parametrize("name, warning", [("antiphase", CANCEL), ("loud", SCALED)])
def test_manifest_answers_carry_the_audio_warnings(name, warning, files, monkeypatch, tmp_path):
    write_manifest(tmp_path / "q.jsonl", [{"audio": f"@{name}", "word": "apple"}], files)
    outcome = run(("locate", "--manifest", str(tmp_path / "q.jsonl")), files, monkeypatch)
    assert outcome.code == 0, outcome.stderr
    (answer,) = [json.loads(text) for text in outcome.stdout.splitlines()]
    assert answer["duration_s"] == pytest.approx(1.0) and len(answer["warnings"]) == 1
    assert warning in answer["warnings"][0]
