"""Answers on input unlike the test clips: non-speech of any length, and long recordings.

Each check asks its questions through the engine (:func:`framestamp.evaluate.run.run`), as a
user's ``locate`` does, and returns a record for the metrics JSON:

- ``nonspeech``: generated clips with nothing to find (silence, tones, noise, music from the test
  part of the tracks, mixes of these; 10 s to 60 min, log-uniform), one question each about
  something of the test vocabulary (speakers: the 1st speaker). What share is called "present"
  (a false "present"), overall, by kind and by length.
- ``presence_long``: a present and an absent question about recordings of 20-120 s made of test
  clips joined end to end, beside the same kind of pairs on the test clips themselves: how well
  "present" holds as recordings grow (balanced accuracy of each).
- ``late_words``: a question about a word first said in the first 30 s and one about a word first
  said after that, on 2-minute recordings made of test clips: does the whole recording get
  searched (accuracy within 50 ms of each group)?
"""

from __future__ import annotations

import math
from collections import defaultdict
from typing import Sequence

import numpy as np

from ..audio import SAMPLE_RATE_HZ
from ..data.augment import NONSPEECH_KINDS, nonspeech_clip
from ..data.examples import Clip, Segment
from ..model import FrameStampModel
from ..tasks import Query
from ..tasks.make import absent_query, one_query, subjects_of, task_of
from .metrics import jsonable
from .presence import presence_items, presence_metrics, presence_probabilities
from .run import EvalItem, run

NONSPEECH_SECONDS = (10.0, 3600.0)
LONG_SECONDS = (20.0, 120.0)
LATE_RECORDING_S = 120.0
EARLY_S = 30.0  # words first said before this are "early", after it "late"
GAP_S = (0.2, 1.0)  # silence between joined clips
LENGTH_BUCKETS_S = (60.0, 600.0)  # non-speech lengths reported as < 1 min, 1-10 min, >= 10 min
LENGTH_LABELS = ("under 1 min", "1-10 min", "10 min or more")


def nonspeech(model: FrameStampModel, test_clips: Sequence[Clip], threshold: float, n: int = 100, seed: int = 0,
              seconds: tuple[float, float] = NONSPEECH_SECONDS) -> dict:  # fmt: skip
    """False "present" on ``n`` non-speech clips (see the module); ``test_clips`` give the subset
    and the vocabulary the questions draw from."""
    items = nonspeech_items(test_clips, n, seed, seconds)
    probabilities = presence_probabilities(model, items, progress=False)
    present = [p >= threshold for p in probabilities]
    by_kind, by_length = defaultdict(list), defaultdict(list)
    for item, called in zip(items, present):
        by_kind[item.clip.provenance["nonspeech"]["kind"]].append(called)
        by_length[_length_bucket(item.clip.duration_s)].append(called)
    return {
        "split": "test", "mode": "nonspeech", "n": len(items), "threshold": threshold,
        "seconds": list(seconds), "total_audio_s": float(sum(i.clip.duration_s for i in items)),
        "metrics": _false_present(present), "by_kind": {k: _false_present(v) for k, v in sorted(by_kind.items())},
        "by_length": {k: _false_present(by_length[k]) for k in LENGTH_LABELS if k in by_length},
        "max_presence_probability": float(max(probabilities)),
    }  # fmt: skip


def nonspeech_items(test_clips: Sequence[Clip], n: int, seed: int = 0,
                    seconds: tuple[float, float] = NONSPEECH_SECONDS) -> list[EvalItem]:  # fmt: skip
    """``n`` generated non-speech clips, each with a question about something of the vocabulary of
    ``test_clips`` (speakers: the 1st speaker); clip i depends only on (seed, i)."""
    subset, subjects = test_clips[0].subset, subjects_of(test_clips)
    kinds = ("silence", "noise") if subset == "events" else NONSPEECH_KINDS  # tones and music can be events
    items = []
    for index in range(n):
        rng = np.random.default_rng([seed, index, 11])
        clip = nonspeech_clip(f"nonspeech-{index}", subset, rng, seconds, kinds, music_pool="test")
        items.append(EvalItem(clip, absent_query(clip, "start", rng, subjects)))
    return items


def presence_long(model: FrameStampModel, test_clips: Sequence[Clip], threshold: float, n: int = 200, seed: int = 0,
                  seconds: tuple[float, float] = LONG_SECONDS) -> dict:  # fmt: skip
    """Present and absent questions on 20-120 s recordings of joined test clips, and on the test
    clips themselves (``n`` questions each, half present)."""
    short, long = presence_items(test_clips, seed=seed, limit=n), long_presence_items(test_clips, n, seed, seconds)
    record = {"split": "test", "mode": "presence_long", "n": len(long), "threshold": threshold,
              "seconds": list(seconds)}  # fmt: skip
    for name, items in (("short", short), ("long", long)):
        probabilities = presence_probabilities(model, items, progress=False)
        record[name] = presence_metrics([i.query.n_events > 0 for i in items], probabilities, threshold)
    record["metrics"] = {"balanced_accuracy_drop": record["short"]["balanced_accuracy"]
                         - record["long"]["balanced_accuracy"]}  # fmt: skip
    return record


def long_presence_items(test_clips: Sequence[Clip], n: int, seed: int = 0,
                        seconds: tuple[float, float] = LONG_SECONDS) -> list[EvalItem]:  # fmt: skip
    """A present and an absent question about each of ``n // 2`` recordings of ``test_clips``
    joined end to end, their lengths log-uniform in ``seconds``."""
    subjects, items = subjects_of(test_clips), []
    for index in range(n // 2):
        rng = np.random.default_rng([seed, index, 12])
        clip = join_clips(test_clips, rng, math.exp(rng.uniform(*np.log(seconds))), f"long-{index}")
        present, absent = one_query(clip, "start", rng), absent_query(clip, "start", rng, subjects)
        if present is not None and absent is not None:
            items += [EvalItem(clip, present), EvalItem(clip, absent)]
    return items


def late_words(model: FrameStampModel, test_clips: Sequence[Clip], n: int = 200, seed: int = 0,
               seconds: float = LATE_RECORDING_S, early_s: float = EARLY_S) -> dict:  # fmt: skip
    """Single questions on recordings of ``seconds`` (2 minutes) of joined test clips about words
    first said before and after ``early_s`` (``n`` questions, half each)."""
    groups = late_word_items(test_clips, n, seed, seconds, early_s)
    record = {"split": "test", "mode": "late_words", "n": sum(len(v) for v in groups.values()),
              "seconds": seconds, "early_s": early_s, "by_group": {}}  # fmt: skip
    for label, items in groups.items():
        result = run(model, items, progress=False)
        record["by_group"][label] = {"n": len(items), **jsonable(result.metrics)}
    early, late = (record["by_group"][label]["accuracy"]["0.05"] for label in groups)
    record["metrics"] = {"accuracy_drop_late": early - late}
    return record


def late_word_items(test_clips: Sequence[Clip], n: int, seed: int = 0, seconds: float = LATE_RECORDING_S,
                    early_s: float = EARLY_S) -> dict[str, list[EvalItem]]:  # fmt: skip
    """For each of ``n // 2`` recordings of ``seconds`` of joined test clips, a question about the
    1st occurrence of a word first said before ``early_s`` and one about a word first said after."""
    groups: dict[str, list[EvalItem]] = {f"first said in the first {early_s:g} s": [],
                                         f"first said after {early_s:g} s": []}  # fmt: skip
    for index in range(n // 2):
        rng = np.random.default_rng([seed, index, 13])
        clip = join_clips(test_clips, rng, seconds, f"late-{index}")
        first = _first_times(clip)
        for label, keep in zip(groups, (lambda t: t < early_s, lambda t: t >= early_s)):
            words = sorted(w for w, t in first.items() if keep(t))
            if words:
                word = words[int(rng.integers(len(words)))]
                groups[label].append(EvalItem(clip, _first_occurrence(clip, word)))
    return groups


def join_clips(clips: Sequence[Clip], rng: np.random.Generator, seconds: float, clip_id: str) -> Clip:
    """Clips drawn from ``clips`` joined end to end, with ``GAP_S`` of silence between them, until
    at least ``seconds`` long; segments moved to the joined timeline."""
    pieces, segments, words, ids, at = [], [], [], [], 0.0
    while at < seconds:
        clip = clips[int(rng.integers(len(clips)))]
        gap = np.zeros(int(rng.uniform(*GAP_S) * SAMPLE_RATE_HZ), dtype=np.float32) if pieces else np.zeros(0, np.float32)
        at += gap.size / SAMPLE_RATE_HZ
        pieces += [gap, clip.audio]
        segments += [Segment(s.label, s.start_s + at, s.end_s + at) for s in clip.segments]
        words.append(clip.transcript)
        ids.append(clip.id)
        at += clip.audio.size / SAMPLE_RATE_HZ
    audio = np.concatenate(pieces)
    return Clip(clip_id, audio, clips[0].subset, tuple(sorted(segments, key=lambda s: (s.start_s, s.end_s, s.label))),
                " ".join(w for w in words if w), {"joined": ids})  # fmt: skip


def _first_times(clip: Clip) -> dict[str, float]:
    first: dict[str, float] = {}
    for segment in clip.segments:
        first.setdefault(segment.label, segment.start_s)
    return first


def _first_occurrence(clip: Clip, word: str) -> Query:
    task = task_of(clip)
    first = next(s.start_s for s in clip.segments if s.label == word)
    return Query(clip.id, task, "one", "start", task.question(word, 1, "start"), (first,), (word,), word, 1)


def _length_bucket(seconds: float) -> str:
    return LENGTH_LABELS[int(np.searchsorted(LENGTH_BUCKETS_S, seconds, side="right"))]


def _false_present(calls: list[bool]) -> dict:
    return {"n": len(calls), "false_present": float(np.mean(calls)) if calls else float("nan")}
