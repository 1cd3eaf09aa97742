"""One engine for evaluation and users: the same clip and question give the same times."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest
import soundfile as sf
from typer.testing import CliRunner

from framestamp.cli import app
from framestamp.data.examples import Clip, Segment
from framestamp.evaluate.run import EvalItem, run
from framestamp.tasks import Query, task_named

SR = 16_000


def long_clip(seconds: float = 40.0) -> np.ndarray:
    rng = np.random.default_rng(7)
    t = np.arange(int(seconds * SR)) / SR
    bursts = (np.sin(2 * np.pi * 0.37 * t) > 0.6).astype(np.float32)
    return (0.1 * rng.standard_normal(t.size) * bursts + 0.05 * np.sin(2 * np.pi * 220 * t)).astype(np.float32)


@pytest.mark.parametrize("occurrence", [1, 2])
def test_evaluation_and_locate_give_identical_times_on_a_40_s_clip(checkpoint, tmp_path, occurrence):
    from framestamp.model import FrameStampModel

    audio = long_clip()
    word = task_named("word")
    clip = Clip("long", audio, "words", (Segment("apple", 3.0, 3.4), Segment("apple", 35.0, 35.4)))
    query = Query("long", word, "one", "start", word.question("apple", occurrence, "start"),
                  ((3.0, 35.0)[occurrence - 1],), ("apple",), "apple", occurrence)  # fmt: skip
    evaluated = run(FrameStampModel.from_pretrained(checkpoint), [EvalItem(clip, query)], progress=False)

    path = tmp_path / "long.wav"
    sf.write(path, audio, SR, subtype="FLOAT")
    result = CliRunner().invoke(app, ["locate", str(path), "--word", "apple", "--occurrence", str(occurrence),
                                      "--checkpoint", str(checkpoint), "-f", "json", "-q"])  # fmt: skip
    assert result.exit_code == 0, result.output
    located = json.loads(result.stdout)
    assert located["times_s"] == pytest.approx(list(evaluated.predictions[0].times_s), abs=1e-9)
    assert located["presence_probability"] == pytest.approx(evaluated.predictions[0].presence_probability, abs=1e-9)


def test_evaluation_batches_short_clips_and_windows_long_ones_like_single_questions(checkpoint):
    from framestamp.inference.engine import Ask, Engine, InferenceConfig
    from framestamp.model import FrameStampModel

    engine = Engine(FrameStampModel.from_pretrained(checkpoint), InferenceConfig(progress=False))
    word = task_named("word")
    clips = [long_clip(4.0), long_clip(40.0), long_clip(7.5)]
    asks = [Ask(word.question("dog", 1, "start"), task=word, subject="dog")] * 3
    together = engine.answer(clips, asks)
    alone = [engine.answer([c], [a])[0] for c, a in zip(clips, asks)]
    for a, b in zip(together, alone):
        assert a.times_s == pytest.approx(b.times_s, abs=0.011)  # batch padding may move an argmax by a frame
    assert together[1].times_s == pytest.approx(alone[1].times_s, abs=1e-12)  # windowed clips are not batched


@pytest.mark.parametrize("text, times, presence, parse_error", [
    ('```json\n[{"word": "apple", "start": 1.25}]\n```', [1.25], 1.0, False),
    ("```json\n[]\n```", [], 0.0, False),  # the baseline says "not there"
    ("no idea", [], 0.0, True),
])  # fmt: skip
def test_a_token_answer_is_present_when_it_holds_a_time(text, times, presence, parse_error):
    from types import SimpleNamespace

    from framestamp.inference.engine import Ask, Engine

    from framestamp.model import ModelConfig

    model = SimpleNamespace(config=ModelConfig(head_objective="none"), frame_rate_hz=100.0,
                            backbone=SimpleNamespace(reuse_frozen_outputs=lambda: None))
    answer = Engine(model)._parsed(text, Ask("q", task=task_named("word"), subject="apple"))
    assert list(answer.times_s) == times and answer.presence_probability == presence
    assert answer.parse_error is parse_error


class OrdinalClickModel:
    """Stands in for a model that understands ordinals: the j-th occurrence question marks the j-th
    click of the window it hears (log-intensity log 3 there, -20 elsewhere)."""

    frame_rate_hz = 100.0

    def __init__(self):
        from types import SimpleNamespace

        from framestamp.model import ModelConfig

        self.config = ModelConfig(head_objective="ihp", answers_absent=True)
        self.backbone = SimpleNamespace(token_rate_hz=25.0, tokenizer=SimpleNamespace(unk_token_id=None),
                                        reuse_frozen_outputs=lambda: None)

    def score(self, questions, waveforms):
        import re

        rows = []
        for question, wave in zip(questions, waveforms):
            rank = int(re.search(r"(\d+)(?:st|nd|rd|th)", question).group(1))
            frames = np.abs(wave[: wave.size // 160 * 160]).reshape(-1, 160).max(axis=1) > 0.5
            row = np.full(frames.size, -20.0, dtype=np.float32)
            clicks = np.flatnonzero(frames)
            if rank <= clicks.size:
                row[clicks[rank - 1]] = np.log(3.0)
            rows.append(row)
        return rows


def clicks_at(seconds: float, at_s: list[float]) -> np.ndarray:
    samples = np.zeros(int(seconds * SR), dtype=np.float32)
    for t in at_s:
        samples[int(t * SR)] = 1.0
    return samples


@pytest.mark.parametrize("k, expected", [(2, 20.005), (3, 26.005), (4, 40.005), (5, 90.005)])
def test_kth_occurrence_counts_each_window_in_the_part_it_owns(k, expected):
    from framestamp.inference.api import Stamper
    from framestamp.inference.engine import InferenceConfig

    # 30 s windows at 0, 25, 50 and 70 s, cut at 27.5, 52.5 and 75 s. The click at 26 s is the 3rd of the
    # first window and the 1st of the second, which does not own it: it must be counted once.
    audio = clicks_at(100.0, [10.0, 20.0, 26.0, 40.0, 90.0])
    answer = Stamper(OrdinalClickModel(), InferenceConfig(progress=False)).locate(audio, word="apple", occurrence=k)
    assert answer.times_s == [pytest.approx(expected)] and answer.present


@pytest.mark.parametrize("clicks, expected", [([60.0, 90.0], 60.005), ([26.0, 40.0], 26.005), ([], None)])
def test_the_first_occurrence_asks_each_window_one_question(clicks, expected):
    from framestamp.inference.api import Stamper
    from framestamp.inference.engine import InferenceConfig

    model, asked = OrdinalClickModel(), []
    score = model.score
    model.score = lambda questions, waveforms: asked.extend(questions) or score(questions, waveforms)
    answer = Stamper(model, InferenceConfig(progress=False)).locate(clicks_at(100.0, clicks), word="apple")
    assert len(asked) == 4 and len(set(asked)) == 1  # 4 windows, the 1st-occurrence question each
    if expected is None:
        assert not answer.present
    else:
        assert answer.times_s == [pytest.approx(expected)] and answer.present


def test_a_later_occurrence_asks_later_questions_only_where_the_walk_reads_them():
    from framestamp.inference.api import Stamper
    from framestamp.inference.engine import InferenceConfig

    model, asked = OrdinalClickModel(), []
    score = model.score
    model.score = lambda questions, waveforms: asked.extend(questions) or score(questions, waveforms)
    audio = clicks_at(100.0, [10.0, 20.0, 26.0, 40.0, 90.0])  # 4 windows; the 1st and 2nd clicks lie in the 1st
    answer = Stamper(model, InferenceConfig(progress=False)).locate(audio, word="apple", occurrence=2)
    assert answer.times_s == [pytest.approx(20.005)] and answer.present
    # the 1st question of every window, then the 2nd of the 1st window (the walk stops there), then the
    # rest of the 2nd question's row (the answer's curve); not the 3rd and 4th questions of any window
    assert [q.split()[3] for q in asked] == ["1st"] * 4 + ["2nd"] * 4


def test_event_classes_on_long_audio_are_counted_across_windows_with_their_ends_and_whole_curves():
    from framestamp.inference.api import Stamper
    from framestamp.inference.engine import InferenceConfig

    audio = clicks_at(100.0, [10.0, 20.0, 26.0, 40.0, 90.0])
    timeline = Stamper(OrdinalClickModel(), InferenceConfig(progress=False)).events(
        audio, classes=["dog"], max_occurrences=4, ends=True)  # fmt: skip
    assert [s.start_s for s in timeline.spans] == pytest.approx([10.005, 20.005, 26.005, 40.005])
    assert [s.end_s for s in timeline.spans] == pytest.approx([10.005, 20.005, 26.005, 40.005])
    assert len(timeline.curves) == 4 and all(curve.size == 10_000 for curve in timeline.curves.values())


@pytest.mark.parametrize("model_window_s, asked_window_s, n_windows", [(None, None, 4), (20.0, None, 6),
                                                                     (20.0, 30.0, 4), (None, 10.0, 13)])
def test_a_model_answers_with_its_own_window_unless_one_is_asked(model_window_s, asked_window_s, n_windows):
    from framestamp.inference.api import Stamper
    from framestamp.inference.engine import InferenceConfig
    from framestamp.inference.windows import WindowConfig

    model, heard = OrdinalClickModel(), []
    model.config = replace(model.config, window_s=model_window_s)
    score = model.score
    model.score = lambda questions, waveforms: heard.extend(w.size for w in waveforms) or score(questions, waveforms)
    config = InferenceConfig(windows=WindowConfig(window_s=asked_window_s), progress=False)
    answer = Stamper(model, config).locate(clicks_at(100.0, [60.0, 90.0]), word="apple")
    assert len(heard) == n_windows and max(heard) == (asked_window_s or model_window_s or 30.0) * SR
    assert answer.times_s == [pytest.approx(60.005)] and answer.present


def test_an_overlap_too_long_for_the_models_window_is_a_config_error():
    from framestamp.errors import ConfigError
    from framestamp.inference.engine import Engine, InferenceConfig
    from framestamp.inference.windows import WindowConfig

    model = OrdinalClickModel()
    model.config = replace(model.config, window_s=10.0)
    with pytest.raises(ConfigError, match="overlap_s must be in"):
        Engine(model, InferenceConfig(windows=WindowConfig(overlap_s=6.0)))


def test_events_per_class_count_over_the_whole_recording_like_locate():
    from framestamp.inference.api import Stamper
    from framestamp.inference.engine import InferenceConfig

    audio = clicks_at(100.0, [10.0, 20.0, 26.0, 40.0, 90.0])
    timeline = Stamper(OrdinalClickModel(), InferenceConfig(progress=False)).events(audio, classes=["bark"],
                                                                                     max_occurrences=6)
    assert [s.start_s for s in timeline.spans] == pytest.approx([10.005, 20.005, 26.005, 40.005, 90.005])


class SecondOnlyModel(OrdinalClickModel):
    """Marks the 2nd click for every question but the 1st, whose row is flat: it "hears" a 2nd
    occurrence without a 1st."""

    def score(self, questions, waveforms):
        rows = super().score([q.replace("1st", "99th") for q in questions], waveforms)
        for question, row in zip(questions, rows):
            if "1st" not in question:
                row[:] = -20.0
                row[int(5.0 * 100)] = np.log(3.0)
        return rows


@pytest.mark.parametrize("k, expected, present", [(1, 2.005, True), (2, 5.005, True), (3, None, False)])
def test_in_one_window_the_kth_is_present_only_after_the_ones_before(k, expected, present):
    from framestamp.inference.api import Stamper
    from framestamp.inference.engine import InferenceConfig

    audio = clicks_at(10.0, [2.0, 5.0])
    answer = Stamper(OrdinalClickModel(), InferenceConfig(progress=False)).locate(audio, word="apple", occurrence=k)
    assert answer.present is present
    if present:
        assert answer.times_s == [pytest.approx(expected)]


def test_a_kth_heard_without_the_ones_before_it_is_not_present():
    from framestamp.inference.api import Stamper
    from framestamp.inference.engine import InferenceConfig

    stamper = Stamper(SecondOnlyModel(), InferenceConfig(progress=False))
    answer = stamper.locate(clicks_at(10.0, [2.0, 5.0]), word="apple", occurrence=2)
    assert not answer.present  # the 2nd question alone is sure (P 0.95), but there is no 1st


class FaintClickModel(OrdinalClickModel):
    """The j-th occurrence question marks the window's j-th click with P(present) ``sure`` x the
    click's amplitude, so parts and ranks differ in P(present)."""

    sure = 0.99

    def score(self, questions, waveforms):
        rows = super().score(questions, waveforms)
        for wave, row in zip(waveforms, rows):
            for frame in np.flatnonzero(row > -20.0):
                level = float(np.abs(wave[frame * 160 : (frame + 1) * 160]).max())  # the click's own amplitude
                row[frame] = np.log(-np.log1p(-min(level, 1.0) * self.sure))  # P(present) = sure x amplitude
        return rows


@pytest.mark.parametrize("seconds", [10.0, 100.0])
def test_presence_at_many_thresholds_is_the_engines_decision_at_each(seconds):
    from framestamp.inference.engine import Ask, Engine, InferenceConfig

    audio = np.zeros(int(seconds * SR), dtype=np.float32)
    for t, amplitude in ((2.0, 0.9), (5.0, 0.6), (8.0, 0.7), (40.0, 0.8), (90.0, 0.55)):
        if t < seconds:
            audio[int(t * SR)] = amplitude
    audio[int(1.0 * SR)] = 0.51  # a faint first click: its window is less sure than later ones
    word = task_named("word")
    asks = [Ask(word.question("apple", k, "start"), task=word, subject="apple", k=k) for k in range(1, 7)]
    thresholds = [0.1, 0.45, 0.5, 0.55, 0.6, 0.65, 0.75, 0.85, 0.95]
    model = FaintClickModel()
    decided = Engine(model, InferenceConfig(progress=False)).presence_at([audio] * len(asks), asks, thresholds)
    for j, threshold in enumerate(thresholds):
        engine = Engine(model, InferenceConfig(presence_threshold=threshold, progress=False))
        answers = engine.answer([audio] * len(asks), asks)
        assert [a.presence_probability >= threshold for a in answers] == list(decided[:, j]), threshold
    assert decided[:, 0].any() and not decided[:, -1].any()  # the thresholds do change the answers


@pytest.mark.parametrize("presence, threshold, expected", [
    ([0.35, 0.99], 0.3, 1),  # a faint early part gives way to a sure later one
    ([0.9, 0.95], 0.3, 0),  # a sure early part keeps the first occurrence
    ([0.6, 0.4, 0.99], 0.3, 0),  # 0.6 against 0.4 x 0.4 and 0.4 x 0.6 x 0.99
    ([0.29, 0.31], 0.3, 1),  # only present parts answer
    ([0.1, 0.2], 0.5, None),
])  # fmt: skip
def test_the_first_occurrence_lies_in_the_present_part_likeliest_to_hold_the_first(presence, threshold, expected):
    from framestamp.inference.engine import likeliest_first

    assert likeliest_first(presence, threshold) == expected


@pytest.mark.parametrize("rule, k, expected", [("likeliest", 1, 60.005), ("likeliest", 2, 90.005),
                                               ("first-present", 1, 10.005), ("first-present", 2, 60.005)])
def test_a_faint_early_window_does_not_take_the_answer_from_a_sure_later_one(rule, k, expected):
    from framestamp.inference.api import Stamper
    from framestamp.inference.engine import InferenceConfig

    audio = np.zeros(100 * SR, dtype=np.float32)  # 30 s windows owning [0, 27.5), ..., [52.5, 75), [75, 100)
    for t, amplitude in ((10.0, 0.55), (60.0, 1.0), (90.0, 0.9)):
        audio[int(t * SR)] = amplitude  # P(present) 0.33, 0.6 and 0.54 in the part that owns each
    model, config = FaintClickModel(), InferenceConfig(presence_threshold=0.3, first_window=rule, progress=False)
    model.sure = 0.6  # the 1st click's part: 0.33 against 0.67 x 0.6 = 0.4 for the part of the 2nd
    answer = Stamper(model, config).locate(audio, word="apple", occurrence=k)
    assert answer.times_s == [pytest.approx(expected)] and answer.present


def test_an_unknown_first_window_rule_is_refused():
    from framestamp.inference.engine import InferenceConfig

    with pytest.raises(ValueError, match="first_window must be one of"):
        InferenceConfig(first_window="last")


def test_evaluation_with_the_transcript_and_align_give_identical_starts(checkpoint, tmp_path):
    from framestamp.model import FrameStampModel

    audio = long_clip(6.0)
    words = ("the", "apple", "pie", "is", "warm")
    word = task_named("word")
    segments = tuple(Segment(w, 0.5 + i, 0.8 + i) for i, w in enumerate(words))
    query = Query("t", word, "all", "start", word.all_question("start"), tuple(s.start_s for s in segments), words)
    evaluated = run(FrameStampModel.from_pretrained(checkpoint), [EvalItem(Clip("t", audio, "words", segments), query)],
                    progress=False, transcript=True)  # fmt: skip

    path = tmp_path / "t.wav"
    sf.write(path, audio, SR, subtype="FLOAT")
    result = CliRunner().invoke(app, ["align", str(path), "--transcript", "The apple pie is warm.", "--checkpoint",
                                      str(checkpoint), "-f", "json", "-q"])  # fmt: skip
    assert result.exit_code == 0, result.output
    spans = json.loads(result.stdout)["spans"]
    assert [s["label"] for s in spans] == list(words)
    assert [s["start_s"] for s in spans] == pytest.approx(list(evaluated.predictions[0].times_s), abs=1e-9)


def test_a_transcript_goes_with_an_every_word_question_and_sets_its_count():
    from framestamp.inference.engine import Ask

    assert Ask("q", "all", transcript=("a", "b")).n_events == 2
    assert Ask("q", "all", transcript=["a", "b"]).transcript == ("a", "b")  # kept hashable
    for bad in (dict(mode="one", transcript=("a",)), dict(mode="all", transcript=()),
                dict(mode="all", n_events=3, transcript=("a", "b")), dict(mode="all", boundary="end", transcript=("a",))):
        with pytest.raises(ValueError):
            Ask("q", **bad)
    with pytest.raises(TypeError):
        Ask("q", "all", transcript="the apple")
