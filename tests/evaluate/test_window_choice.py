"""Choosing a model's window for long audio on held-out short clips and joined recordings."""

import json
import shutil

import numpy as np
import pytest
from rich.console import Console

from framestamp.data.examples import Clip, Segment
from framestamp.evaluate.run import EvalItem
from framestamp.evaluate.window_choice import choose_window, window_items
from framestamp.model import ModelConfig
from framestamp.tasks import Query, task_named

from spoken_clips import CLIPS, SR  # tests/evaluate is on the path


def test_half_the_questions_are_about_dev_clips_and_half_about_recordings_joined_from_them():
    items = window_items(CLIPS, n=6, seconds=(20.0, 30.0))
    assert len(items) == 6
    short, long = items[:3], items[3:]
    assert [i.clip.id for i in short] == ["a", "b", "c"]
    assert all("joined" in i.clip.provenance and 20.0 <= i.clip.duration_s < 34.0 for i in long)
    for item in items:
        query = item.query
        assert query.mode == "one" and query.targets_s[0] in [s.start_s for s in item.clip.segments]
    again = window_items(CLIPS, n=6, seconds=(20.0, 30.0))
    assert [i.query for i in again] == [i.query for i in items]


class NearSightedModel:
    """Stands in for a thinker that only places clicks within the first ``sight_s`` of the window it
    hears (log-intensity log 3 there); later in the window it hears nothing."""

    frame_rate_hz = 100.0

    def __init__(self, sight_s: float = 12.0):
        from types import SimpleNamespace

        self.sight_frames = int(sight_s * 100)
        self.config = ModelConfig(answers_absent=True)
        self.backbone = SimpleNamespace(token_rate_hz=25.0, tokenizer=SimpleNamespace(unk_token_id=None),
                                        reuse_frozen_outputs=lambda: None)

    def score(self, questions, waveforms):
        rows = []
        for wave in waveforms:
            frames = np.abs(wave[: wave.size // 160 * 160]).reshape(-1, 160).max(axis=1) > 0.5
            row = np.full(frames.size, -20.0, dtype=np.float32)
            clicks = np.flatnonzero(frames[: self.sight_frames])
            if clicks.size:
                row[clicks[0]] = np.log(3.0)
            rows.append(row)
        return rows


def click_item(seconds: float, at_s: float, joined: bool) -> EvalItem:
    audio = np.zeros(int(seconds * SR), dtype=np.float32)
    audio[int(at_s * SR)] = 1.0
    clip = Clip(f"click-{seconds}-{at_s}", audio, "words", (Segment("apple", at_s, at_s + 0.1),),
                provenance={"joined": ["x"]} if joined else {})  # fmt: skip
    word = task_named("word")
    query = Query(clip.id, word, "one", "start", word.question("apple", 1, "start"), (at_s,), ("apple",), "apple", 1)
    return EvalItem(clip, query)


def test_the_window_that_answers_best_wins_and_every_candidate_is_recorded(monkeypatch):
    import framestamp.evaluate.run as run_module

    monkeypatch.setattr(run_module, "answer_token_budget", lambda model, query: 16)
    # clicks 14-22 s into 40 s recordings: a 30 s window hears them past 12 s, a 10 or 15 s one does not
    items = [click_item(8.0, 3.0, False), click_item(8.0, 5.0, False)]
    items += [click_item(40.0, at, True) for at in (14.0, 17.0, 22.0)]
    window_s, record = choose_window(NearSightedModel(), items, candidates_s=(10.0, 15.0, 30.0))
    assert record["candidates"]["30"] == {"accuracy": pytest.approx(0.4), "short": 1.0, "long": 0.0}
    assert record["candidates"]["15"]["long"] == 1.0 and record["candidates"]["10"]["long"] == 1.0
    assert window_s == 15.0  # a tie goes to the longer window: fewer forward passes
    assert record["window_s"] == 15.0 and record["n"] == 5 and record["n_long"] == 3


def test_the_window_step_writes_the_window_and_then_fits_the_presence_threshold_at_it(checkpoint, tmp_path):
    from framestamp.model import CONFIG_NAME, FrameStampModel
    from framestamp.reproduce.plan import EvalSpec, Experiment
    from framestamp.reproduce.run import WINDOW_CHOICE, _evaluate_one

    final = tmp_path / "final"
    shutil.copytree(checkpoint, final)
    config = json.loads((final / CONFIG_NAME).read_text()) | {"answers_absent": True, "presence_threshold": 0.0123}
    (final / CONFIG_NAME).write_text(json.dumps(config))
    window, presence = EvalSpec("dev", "window", 4), EvalSpec("test", "presence", 4)
    model, summary = FrameStampModel.from_pretrained(final), {"evaluations": []}
    _evaluate_one(window, Experiment("words-x", (window, presence)), model, final, summary,
                  lambda split, corpus=None: CLIPS, Console(quiet=True), None, True)  # fmt: skip
    record = summary[WINDOW_CHOICE]
    assert record["n"] == 4 and record["n_long"] == 2 and set(record["candidates"]) == {"10", "15", "20", "30"}
    best = max(value["accuracy"] for value in record["candidates"].values())
    longest_best = max(float(name) for name, value in record["candidates"].items() if value["accuracy"] == best)
    assert record["window_s"] == longest_best
    written = json.loads((final / CONFIG_NAME).read_text())
    assert written["window_s"] == longest_best == model.config.window_s
    # fitted again at the chosen window, not the 0.0123 the checkpoint came with
    assert written["presence_threshold"] != 0.0123 and written["presence_threshold"] == model.config.presence_threshold
    assert FrameStampModel.from_pretrained(final).config.window_s == longest_best


def test_kept_evaluations_resume_only_when_the_window_was_chosen_first():
    from dataclasses import asdict

    from framestamp.reproduce.plan import EvalSpec, Experiment
    from framestamp.reproduce.run import _chose_window_first

    window, one = EvalSpec("dev", "window", 4), EvalSpec("test", "one", 4)
    key = lambda spec: json.dumps(asdict(spec), sort_keys=True)  # noqa: E731
    chooses = Experiment("words-x", (window, one))
    assert _chose_window_first(chooses, []) and _chose_window_first(chooses, [key(window), key(one)])
    assert not _chose_window_first(chooses, [key(one)])  # answered before any window was chosen
    assert _chose_window_first(Experiment("speakers-x", (one,)), [key(one)])  # no window step


def test_speaker_clips_are_refused():
    speakers = [Clip("s", np.zeros(SR, np.float32), "speakers", (Segment("speaker 1", 0.1, 0.5),))]
    with pytest.raises(ValueError, match="speaker"):
        window_items(speakers, 4)
