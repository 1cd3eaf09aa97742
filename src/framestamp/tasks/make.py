"""Turn a clip into queries: which word/speaker/event is asked about, and its exact times."""

from __future__ import annotations

from collections import Counter
from typing import Sequence

import numpy as np

from ..data.examples import Clip
from .base import Query
from .families import Candidate, Task, task_for_subset


def task_of(clip: Clip) -> Task:
    """The task family of questions about ``clip``."""
    return task_for_subset(clip.subset)


def candidates(clip: Clip) -> list[Candidate]:
    """Every (subject, k-th occurrence) of a clip that a single-occurrence question may ask."""
    return task_of(clip).candidates(clip)


def one_query(clip: Clip, boundary: str, rng: np.random.Generator, max_target_s: float | None = None) -> Query | None:
    """A random single-occurrence question about ``clip`` (None when nothing can be asked)."""
    options = [c for c in candidates(clip) if max_target_s is None or _time(c, boundary) < max_target_s]
    if not options:
        return None
    c = options[int(rng.integers(len(options)))]
    task = task_of(clip)
    question = task.question(c.subject, c.k, boundary)
    return Query(clip.id, task, "one", boundary, question, (_time(c, boundary),), (c.subject,), c.subject, c.k)


def subjects_of(clips: Sequence[Clip]) -> list[str]:
    """Every subject a single-occurrence question may ask about in ``clips``, sorted: the vocabulary
    that absent questions draw from."""
    return sorted({c.subject for clip in clips for c in candidates(clip)})


def absent_query(clip: Clip, boundary: str, rng: np.random.Generator, subjects: Sequence[str] = ()) -> Query | None:
    """A single-occurrence question whose answer is not in ``clip`` (no target times).

    Families asked by ordinal only (speakers): the (n+1)-th of a clip with n. Words
    and events: half the time the next occurrence after the last of something said (or heard)
    in the clip, else the 1st occurrence of one of ``subjects`` (the vocabulary of other clips)
    that the clip does not hold. None when nothing can be asked.
    """
    task = task_of(clip)
    held = candidates(clip)
    if task.ordinal_only:
        return _absent(clip, boundary, task.question("", len(held) + 1, boundary), "", len(held) + 1)
    counts = Counter(segment.label for segment in clip.segments)
    missing = [s for s in subjects if s not in counts]
    if held and (not missing or rng.random() < 0.5):
        subject = held[int(rng.integers(len(held)))].subject
        k = counts[subject] + 1
    elif missing:
        subject, k = missing[int(rng.integers(len(missing)))], 1
    else:
        return None
    return _absent(clip, boundary, task.question(subject, k, boundary), subject, k)


def _absent(clip: Clip, boundary: str, question: str, subject: str, k: int) -> Query:
    return Query(clip.id, task_of(clip), "one", boundary, question, (), (), subject, k)


def all_query(clip: Clip, boundary: str, max_target_s: float | None = None) -> Query | None:
    """The question for every occurrence in ``clip`` (None when a target is past ``max_target_s``)."""
    task = task_of(clip)
    items = task.candidates(clip) if task.ordinal_only else [Candidate(s.label, 0, s.start_s, s.end_s) for s in clip.segments]
    times = [_time(c, boundary) for c in items]
    if max_target_s is not None and any(t >= max_target_s for t in times):
        return None
    order = np.argsort(times, kind="stable")
    return Query(
        clip.id, task, "all", boundary, task.all_question(boundary),
        tuple(float(times[i]) for i in order), tuple(items[i].subject for i in order),
    )  # fmt: skip


def make_query(
    clip: Clip, mode: str, boundary: str, rng: np.random.Generator, max_target_s: float | None = None
) -> Query | None:
    """One query of the given mode ("one" or "all") about ``clip``."""
    if mode == "one":
        return one_query(clip, boundary, rng, max_target_s)
    return all_query(clip, boundary, max_target_s)


def _time(candidate: Candidate, boundary: str) -> float:
    return float(candidate.start_s if boundary == "start" else candidate.end_s)
