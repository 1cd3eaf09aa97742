"""Manifests answered into a file: sharded over processes, resumed after a crash, merged in order."""

from __future__ import annotations

import json
import re
import os
import subprocess
import sys
from pathlib import Path

import pytest

from framestamp.inference.api import InferenceConfig, load
from framestamp.inference.batch import Processes, answer_manifest, share
from framestamp.inference.shards import shard_path, shard_paths


@pytest.fixture
def manifest(clip, tmp_path):
    """Six questions about three files (two copies of the clip and one missing file)."""
    for name in ("a.wav", "b.wav"):
        (tmp_path / name).write_bytes(clip.read_bytes())
    items = [{"audio": "a.wav", "word": "apple"}, {"audio": "b.wav", "event": "dog"},
             {"audio": "a.wav", "word": "banana", "id": "x"}, {"audio": "missing.wav", "word": "apple"},
             {"audio": "b.wav", "speaker": 1}, {"audio": "a.wav", "question": "When does each word start?"}]  # fmt: skip
    path = tmp_path / "q.jsonl"
    path.write_text("".join(json.dumps(item) + "\n" for item in items))
    return path


class CountingLoader:
    """Loads the tiny checkpoint once and counts the questions its model is asked."""

    def __init__(self, checkpoint, fail_after: int | None = None):
        self.model = load(checkpoint, device="cpu", config=InferenceConfig(progress=False))
        self.asked, self.fail_after = [], fail_after
        locate = self.model.locate

        def counted(audio, **question):
            if self.fail_after is not None and len(self.asked) == self.fail_after:
                raise KeyboardInterrupt  # a crash: not an item's error, it stops the run
            self.asked.append(question)
            return locate(audio, **question)

        self.model.locate = counted

    def __call__(self, name):
        return self.model


def test_share_keeps_each_files_questions_together_and_balances():
    items = [(n, json.dumps({"audio": a})) for n, a in enumerate("aabacd", 1)]
    shares = [share(items, rank, 2) for rank in range(2)]
    assert [[n for n, _ in s] for s in shares] == [[1, 2, 4], [3, 5, 6]]
    assert [n for n, _ in share(items, 0, 1)] == [1, 2, 4, 3, 5, 6]  # a file's questions one after another


def test_one_process_writes_the_streamed_answers_and_removes_its_shard(manifest, checkpoint, tmp_path):
    out = tmp_path / "answers.jsonl"
    report = answer_manifest(manifest, out, CountingLoader(checkpoint), checkpoint=str(checkpoint))
    assert [a["line"] for a in map(json.loads, out.read_text().splitlines())] == [1, 2, 3, 4, 5, 6]
    assert report.n_answered == 6 and report.missing == [] and shard_paths(out) == []
    assert report.audio_s == pytest.approx(4.0)  # two 2 s files; the missing one has no duration
    assert "6 items" in report.throughput() and "items/s" in report.throughput()


def test_a_rerun_after_a_crash_redoes_only_the_unfinished_items(manifest, checkpoint, tmp_path):
    out, whole = tmp_path / "answers.jsonl", tmp_path / "whole.jsonl"
    answer_manifest(manifest, whole, CountingLoader(checkpoint), checkpoint=str(checkpoint))
    crashing = CountingLoader(checkpoint, fail_after=2)
    with pytest.raises(KeyboardInterrupt):
        answer_manifest(manifest, out, crashing, checkpoint=str(checkpoint))
    assert not out.exists() and len(shard_path(out, 0, 1).read_text().splitlines()) == 2
    again = CountingLoader(checkpoint)
    report = answer_manifest(manifest, out, again, checkpoint=str(checkpoint))
    # a.wav's lines 1, 3 were done; 6, 2, 5, 4 are answered now (4's file is missing: no question)
    assert len(again.asked) == 3 and report.n_answered == 4
    assert out.read_bytes() == whole.read_bytes()
    done = CountingLoader(checkpoint)
    assert answer_manifest(manifest, out, done, checkpoint=str(checkpoint)).n_answered == 0 and done.asked == []
    assert out.read_bytes() == whole.read_bytes()


def test_a_half_written_last_line_is_redone_not_merged(manifest, checkpoint, tmp_path):
    out, whole = tmp_path / "answers.jsonl", tmp_path / "whole.jsonl"
    answer_manifest(manifest, whole, CountingLoader(checkpoint), checkpoint=str(checkpoint))
    lines = whole.read_text().splitlines(keepends=True)
    shard = shard_path(out, 0, 2)  # left by a 2-process run: rank 0 had done line 1 and half of line 3
    shard.write_text(lines[0] + lines[2][: len(lines[2]) // 2])
    again = CountingLoader(checkpoint)
    answer_manifest(manifest, out, again, checkpoint=str(checkpoint))
    assert len(again.asked) == 4  # lines 2, 3, 5, 6 (4 fails before the model)
    assert out.read_bytes() == whole.read_bytes() and not shard.exists()


def test_stale_answers_about_other_audio_are_redone(manifest, checkpoint, tmp_path):
    out = tmp_path / "answers.jsonl"
    answer_manifest(manifest, out, CountingLoader(checkpoint), checkpoint=str(checkpoint))
    manifest.write_text(manifest.read_text().replace('"a.wav"', '"b.wav"', 1))
    again = CountingLoader(checkpoint)
    answer_manifest(manifest, out, again, checkpoint=str(checkpoint))
    assert len(again.asked) == 1 and json.loads(out.read_text().splitlines()[0])["audio"] == "b.wav"


def test_a_process_that_is_not_the_main_one_leaves_merging_to_it(manifest, checkpoint, tmp_path):
    out = tmp_path / "answers.jsonl"
    other = Processes(rank=1, world_size=2)
    assert answer_manifest(manifest, out, CountingLoader(checkpoint), str(checkpoint), other) is None
    assert not out.exists() and [json.loads(x)["line"] for x in shard_path(out, 1, 2).read_text().splitlines()] == [2, 5, 4]
    report = answer_manifest(manifest, out, CountingLoader(checkpoint), str(checkpoint), Processes(0, 2))
    assert report.missing == [] and report.n_answered == 3 and shard_paths(out) == []


@pytest.mark.slow
def test_accelerate_launch_on_two_processes_gives_the_one_process_answers(manifest, checkpoint, tmp_path):
    one, two = tmp_path / "one.jsonl", tmp_path / "two.jsonl"
    command = ["locate", "--manifest", str(manifest), "--checkpoint", str(checkpoint), "--device", "cpu", "-q"]
    single = subprocess.run([sys.executable, "-m", "framestamp", *command, "-o", str(one)], capture_output=True, text=True)
    # --multi_gpu with no visible GPU: two torchrun processes on the CPU (accelerate's --cpu runs one)
    launch = [str(Path(sys.executable).parent / "accelerate"), "launch", "--num_processes", "2", "--multi_gpu",
              "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no", "-m", "framestamp"]  # fmt: skip
    env = os.environ | {"OMP_NUM_THREADS": "1", "CUDA_VISIBLE_DEVICES": ""}
    double = subprocess.run([*launch, *command, "-o", str(two)], capture_output=True, text=True, env=env, timeout=300)
    assert single.returncode == 1 and "1 of 6 manifest items failed" in single.stderr  # the missing file
    assert double.returncode != 0 and "1 of 6 manifest items failed" in double.stderr, double.stderr[-2000:]
    assert two.read_bytes() == one.read_bytes() and shard_paths(two) == []


@pytest.mark.parametrize("command, item, error", [
    ("align", {"audio": "a.wav", "word": "apple"}, "unknown field(s) word for align"),
    ("align", {"audio": "a.wav", "transcript": ["the", "apple"]}, '"transcript" must be a string'),
    ("diarize", {"audio": "a.wav", "max_speakers": 0}, '"max_speakers" must be at least 1'),
    ("events", {"audio": "a.wav", "classes": ", ,"}, '"classes" is empty'),
    ("events", {"audio": "a.wav", "classes": [1]}, '"classes" must be a list of class names'),
    ("events", {"audio": "a.wav", "ends": "yes"}, '"ends" must be true or false'),
])  # fmt: skip
def test_each_commands_manifest_lines_are_checked_against_its_own_fields(command, item, error):
    from framestamp.errors import FramestampError
    from framestamp.inference.manifest import parse_item

    with pytest.raises(FramestampError, match=re.escape(error)):
        parse_item(json.dumps(item), command)
    assert parse_item(json.dumps({"audio": "a.wav", "classes": "dog, siren"}), "events")["classes"] == ["dog", "siren"]


def test_an_align_manifest_is_sharded_and_resumed_like_a_locate_one(clip, checkpoint, tmp_path):
    from framestamp.backbones.tiny_scratch import ScratchTinyBackbone
    from framestamp.model import FrameStampModel, ModelConfig

    every = tmp_path / "every"
    FrameStampModel(ScratchTinyBackbone.create(["apple", "pie"], seed=0),
                    ModelConfig(question_modes=("one", "all"))).save_pretrained(every)  # fmt: skip
    (tmp_path / "a.wav").write_bytes(clip.read_bytes())
    manifest = tmp_path / "m.jsonl"
    manifest.write_text("".join(json.dumps({"audio": "a.wav", "transcript": t}) + "\n" for t in ("apple pie", "pie")))
    model = load(every, device="cpu", config=InferenceConfig(progress=False))
    out = tmp_path / "answers.jsonl"
    first = answer_manifest(manifest, out, lambda name: model, str(every), command="align")
    answers = [json.loads(line) for line in out.read_text().splitlines()]
    assert first.n_answered == 2 and [[s["label"] for s in a["spans"]] for a in answers] == [["apple", "pie"], ["pie"]]
    assert answer_manifest(manifest, out, lambda name: model, str(every), command="align").n_answered == 0
