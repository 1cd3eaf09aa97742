"""The README's walk-through: every command with its shipped default model on the example clips."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
from typer.testing import CliRunner

from framestamp.inference.api import load
from framestamp.cli import app
from framestamp.tasks import task_named

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def run(*args):
    return CliRunner().invoke(app, [str(a) for a in args], catch_exceptions=False)


def truth(name: str) -> list[dict]:
    return json.loads((EXAMPLES / f"{name}.json").read_text())["segments"]


def json_of(*args) -> dict:
    result = run(*args, "-f", "json", "-q")
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


def hits(predicted_s, reference_s, tolerance_s=0.05) -> int:
    """References with a prediction within the tolerance (each prediction used once, in time order)."""
    predicted, count = sorted(predicted_s), 0
    for reference in sorted(reference_s):
        close = [p for p in predicted if abs(p - reference) <= tolerance_s]
        if close:
            predicted.remove(close[0])
            count += 1
    return count


def test_the_paragraph_examples_transcript_file_is_its_truths_transcript():
    text = (EXAMPLES / "paragraph.txt").read_text(encoding="utf-8")
    assert text == json.loads((EXAMPLES / "paragraph.json").read_text())["transcript"] + "\n"


def test_align_finds_most_word_starts_of_the_example():
    starts = [s["start_s"] for s in truth("words")]
    spans = json_of("align", EXAMPLES / "words.wav")["spans"]
    assert hits([s["start_s"] for s in spans], starts) >= 0.8 * len(starts)


@pytest.mark.parametrize("fmt", ["FLAC", "OGG", "MP3"])
def test_align_reads_compressed_copies_of_the_example(tmp_path, fmt):
    samples, rate = sf.read(EXAMPLES / "words.wav", dtype="float32")
    path = tmp_path / f"words.{fmt.lower()}"
    sf.write(path, samples, rate, format=fmt)
    starts = [s["start_s"] for s in truth("words")]
    spans = json_of("align", path)["spans"]
    assert hits([s["start_s"] for s in spans], starts) >= 0.7 * len(starts)


def test_locate_finds_a_word_no_training_clip_holds_said_by_a_new_voice():
    segment = next(s for s in truth("paragraph") if s["label"] == "kubernetes")
    answer = json_of("locate", EXAMPLES / "paragraph.wav", "--word", "Kubernetes")
    assert answer["present"] and abs(answer["times_s"][0] - segment["start_s"]) <= 0.05


def test_diarize_on_the_example_speakers_is_locate_asked_speaker_by_speaker():
    """`diarize` asks for the 1st, 2nd, ... speaker until one is called absent: its onsets are what
    `locate --speaker k` answers. The first speaker's onset is right; the shipped model's rate over
    the test clips is in the README's tables (the example is a fixed test row, not picked)."""
    first_turns, seen = [], set()
    for segment in truth("speakers"):
        if segment["label"] not in seen:
            seen.add(segment["label"])
            first_turns.append(segment["start_s"])
    onsets = [s["start_s"] for s in json_of("diarize", EXAMPLES / "speakers.wav")["spans"]]
    assert onsets and abs(onsets[0] - first_turns[0]) <= 0.1
    asked = [json_of("locate", EXAMPLES / "speakers.wav", "--speaker", k) for k in range(1, len(onsets) + 2)]
    assert [a["times_s"][0] for a in asked[:-1]] == onsets and all(a["present"] for a in asked[:-1])
    assert not asked[-1]["present"]  # where diarize stopped


def test_events_per_class_is_locate_asked_occurrence_by_occurrence_and_a_clear_error_without_classes():
    spans = [s["start_s"] for s in json_of("events", EXAMPLES / "events.wav", "--classes", "whoosh")["spans"]]
    asked = [json_of("locate", EXAMPLES / "events.wav", "--event", "whoosh", "--occurrence", k) for k in (1, 2, 3)]
    assert spans == sorted(a["times_s"][0] for a in asked if a["present"])
    result = run("events", EXAMPLES / "events.wav", "-q")
    assert result.exit_code != 0 and "--classes" in result.stderr and "Traceback" not in result.output



@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("name", ["words", "words-all", "speakers", "events"])
def test_the_gpu_gives_the_cpu_scores(name):
    task = {"words": "word", "speakers": "speaker", "events": "event"}[name.split("-")[0]]
    audio, question = EXAMPLES / f"{name.split('-')[0]}.wav", task_named(task).all_question("start")
    scores = {device: load(name, device=device).scores(audio, [question]).scores[0] for device in ("cpu", "cuda")}
    np.testing.assert_allclose(np.exp(scores["cuda"]), np.exp(scores["cpu"]), rtol=0.05, atol=1e-4)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_the_gpu_aligns_the_example_as_the_cpu_does():
    cpu, gpu = (load("words-all", device=device).align(EXAMPLES / "words.wav") for device in ("cpu", "cuda"))
    assert len(gpu.spans) == len(cpu.spans)
    assert max(abs(a.start_s - b.start_s) for a, b in zip(gpu.spans, cpu.spans)) <= 0.01
