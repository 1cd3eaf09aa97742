"""Task families as types: words, speakers, sound events.

A task family knows its prompts (one occurrence, every occurrence, start or end), which
segments of a clip a single-occurrence question may ask about, the JSON key of its token
answers, what it is called in user-facing results, and the output formats its timelines can be
written in. Families are registered by name (``word``, ``speaker``, ``event``) and by the corpus
subset they read (``words``, ``speakers``, ``events``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from . import prompts

# Words never asked about one at a time (the paper skips stop words and unknown words).
STOP_WORDS = frozenset(
    "a an the and or but of to in on at by for with from as is are was were be been it its this that "
    "these those i you he she we they me him her us them my your his our their not no so do does did "
    "have has had will would can could shall should may might must".split()
)


@dataclass(frozen=True)
class Candidate:
    """One thing a "one occurrence" question can ask about: the k-th occurrence of ``subject``."""

    subject: str
    k: int
    start_s: float
    end_s: float


class Task:
    """A family of "when?" questions about one kind of thing in a clip."""

    name: ClassVar[str]  # "word", "speaker", "event"
    subset: ClassVar[str]  # the corpus subset and the results' name: "words", "speakers", "events"
    answer_key: ClassVar[str]  # key of a token answer's JSON items ({"word": ..., "start": ...})
    output_formats: ClassVar[tuple[str, ...]]  # formats a timeline of this family can be written in
    # whether a "k-th" question can be counted across windows of long audio (the same word said
    # twice is two occurrences; the same speaker heard in two windows is one speaker)
    counts_across_windows: ClassVar[bool] = True
    # questions name no subject, only an ordinal ("the 2nd speaker"): every occurrence is the
    # first of its own subject, and an absent question asks for one more than there are
    ordinal_only: ClassVar[bool] = False
    tier_per_label: ClassVar[bool] = True  # TextGrid: one tier per label (speakers, classes), else one tier

    def question(self, subject: str, k: int, boundary: str) -> str:
        """The question about the ``k``-th occurrence of ``subject`` (its start or end)."""
        raise NotImplementedError

    def all_question(self, boundary: str) -> str:
        """The question about every occurrence."""
        raise NotImplementedError

    def candidates(self, clip) -> list[Candidate]:
        """Every (subject, k-th occurrence) of ``clip`` that a single-occurrence question may ask."""
        seen: dict[str, int] = {}
        found = []
        for segment in clip.segments:
            seen[segment.label] = seen.get(segment.label, 0) + 1
            if self.askable(segment.label):
                found.append(Candidate(segment.label, seen[segment.label], segment.start_s, segment.end_s))
        return found

    def askable(self, label: str) -> bool:
        return True

    def __repr__(self) -> str:
        return f"<task {self.name}>"


_BY_NAME: dict[str, Task] = {}
_BY_SUBSET: dict[str, Task] = {}


def register_task(cls: type[Task]) -> type[Task]:
    """Class decorator: make ``cls`` findable by :func:`task_named` and :func:`task_for_subset`."""
    task = cls()
    _BY_NAME[cls.name] = _BY_SUBSET[cls.subset] = task
    return cls


def task_named(name: str | Task) -> Task:
    """The task family called ``name`` (a family passes through)."""
    if isinstance(name, Task):
        return name
    if name not in _BY_NAME:
        raise ValueError(f"task must be one of {task_names()}, got {name!r}")
    return _BY_NAME[name]


def task_for_subset(subset: str) -> Task:
    """The task family whose questions are asked about clips of corpus ``subset``."""
    if subset not in _BY_SUBSET:
        raise ValueError(f"subset must be one of {tuple(_BY_SUBSET)}, got {subset!r}")
    return _BY_SUBSET[subset]


def task_names() -> tuple[str, ...]:
    return tuple(_BY_NAME)


@register_task
class WordTask(Task):
    name, subset, answer_key = "word", "words", "word"
    output_formats = ("table", "json", "textgrid", "tsv", "srt", "vtt")
    tier_per_label = False

    def question(self, subject, k, boundary):
        return prompts.word_question(subject, k, boundary)

    def all_question(self, boundary):
        return prompts.each_question("word", boundary)

    def askable(self, label):
        return label not in STOP_WORDS and label.isalpha()


@register_task
class SpeakerTask(Task):
    name, subset, answer_key = "speaker", "speakers", "speaker"
    output_formats = ("table", "json", "rttm", "textgrid", "tsv")
    counts_across_windows = False
    ordinal_only = True

    def question(self, subject, k, boundary):
        return prompts.speaker_question(k, boundary)

    def all_question(self, boundary):
        return prompts.each_speaker_question(boundary)

    def candidates(self, clip):
        """Speaker k is the k-th to start; only their first turn is asked about."""
        return [Candidate(str(k), k, s.start_s, s.end_s) for k, s in enumerate(first_turns(clip), 1)]


@register_task
class EventTask(Task):
    name, subset, answer_key = "event", "events", "event"
    output_formats = ("table", "json", "textgrid", "tsv")

    def question(self, subject, k, boundary):
        return prompts.event_question(subject, k, boundary)

    def all_question(self, boundary):
        return prompts.each_question("sound event", boundary)


def first_turns(clip) -> list:
    """The first turn of each speaker, ordered by onset (speaker k = the k-th to start)."""
    first: dict[str, object] = {}
    for segment in sorted(clip.segments, key=lambda s: s.start_s):
        first.setdefault(segment.label, segment)
    return list(first.values())
