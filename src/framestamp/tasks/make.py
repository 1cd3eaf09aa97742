"""Turn a clip into queries: which word/speaker/event is asked about, and its exact times."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from ..data.examples import Clip
from .base import Query
from .prompts import all_question, event_question, speaker_question, word_question

# Words never asked about one at a time (the paper skips stop words and unknown words).
STOP_WORDS = frozenset(
    "a an the and or but of to in on at by for with from as is are was were be been it its this that "
    "these those i you he she we they me him her us them my your his our their not no so do does did "
    "have has had will would can could shall should may might must".split()
)


@dataclass(frozen=True)
class Candidate:
    """One thing a "one occurrence" question can ask about."""

    subject: str
    k: int
    start_s: float
    end_s: float


def task_of(clip: Clip) -> str:
    return {"words": "word", "speakers": "speaker", "events": "event"}[clip.subset]


def candidates(clip: Clip) -> list[Candidate]:
    """Every (subject, k-th occurrence) of a clip that a single-occurrence question may ask."""
    if clip.subset == "speakers":
        return [Candidate(str(k), k, s.start_s, s.end_s) for k, s in enumerate(speaker_first_turns(clip), 1)]
    seen: dict[str, int] = {}
    found = []
    for segment in clip.segments:
        seen[segment.label] = seen.get(segment.label, 0) + 1
        askable = clip.subset == "events" or (segment.label not in STOP_WORDS and segment.label.isalpha())
        if askable:
            found.append(Candidate(segment.label, seen[segment.label], segment.start_s, segment.end_s))
    return found


def speaker_first_turns(clip: Clip) -> list:
    """The first turn of each speaker, ordered by onset (speaker k = the k-th to start)."""
    first: dict[str, object] = {}
    for segment in sorted(clip.segments, key=lambda s: s.start_s):
        first.setdefault(segment.label, segment)
    return list(first.values())


def one_query(clip: Clip, boundary: str, rng: np.random.Generator, max_target_s: float | None = None) -> Query | None:
    """A random single-occurrence question about ``clip`` (None when nothing can be asked)."""
    options = [c for c in candidates(clip) if max_target_s is None or _time(c, boundary) < max_target_s]
    if not options:
        return None
    c = options[int(rng.integers(len(options)))]
    task = task_of(clip)
    if task == "word":
        question = word_question(c.subject, c.k, boundary)
    elif task == "speaker":
        question = speaker_question(c.k, boundary)
    else:
        question = event_question(c.subject, c.k, boundary)
    return Query(clip.id, task, "one", boundary, question, (_time(c, boundary),), (c.subject,), c.subject)


def subjects_of(clips: Sequence[Clip]) -> list[str]:
    """Every subject a single-occurrence question may ask about in ``clips``, sorted: the vocabulary
    that absent questions draw from."""
    return sorted({c.subject for clip in clips for c in candidates(clip)})


def absent_query(clip: Clip, boundary: str, rng: np.random.Generator, subjects: Sequence[str] = ()) -> Query | None:
    """A single-occurrence question whose answer is not in ``clip`` (no target times).

    Speakers: the (n+1)-th speaker of a clip with n. Words and events: half the time the next
    occurrence after the last of something said (or heard) in the clip, else the 1st occurrence
    of one of ``subjects`` (the vocabulary of other clips) that the clip does not hold.
    None when nothing can be asked.
    """
    task = task_of(clip)
    if task == "speaker":
        return _absent(clip, boundary, speaker_question(len(speaker_first_turns(clip)) + 1, boundary), "")
    held = candidates(clip)
    counts = Counter(segment.label for segment in clip.segments)
    missing = [s for s in subjects if s not in counts]
    if held and (not missing or rng.random() < 0.5):
        subject = held[int(rng.integers(len(held)))].subject
        k = counts[subject] + 1
    elif missing:
        subject, k = missing[int(rng.integers(len(missing)))], 1
    else:
        return None
    ask = word_question if task == "word" else event_question
    return _absent(clip, boundary, ask(subject, k, boundary), subject)


def _absent(clip: Clip, boundary: str, question: str, subject: str) -> Query:
    return Query(clip.id, task_of(clip), "one", boundary, question, (), (), subject)


def all_query(clip: Clip, boundary: str, max_target_s: float | None = None) -> Query | None:
    """The question for every occurrence in ``clip`` (None when a target is past ``max_target_s``)."""
    task = task_of(clip)
    if task == "speaker":
        items = [Candidate(str(k), k, s.start_s, s.end_s) for k, s in enumerate(speaker_first_turns(clip), 1)]
    else:
        items = [Candidate(s.label, 0, s.start_s, s.end_s) for s in clip.segments]
    times = [_time(c, boundary) for c in items]
    if max_target_s is not None and any(t >= max_target_s for t in times):
        return None
    order = np.argsort(times, kind="stable")
    return Query(
        clip.id, task, "all", boundary, all_question(task, boundary),
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
