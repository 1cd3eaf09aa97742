"""The internal example every dataset becomes: a clip of 16 kHz mono audio with timed segments.

Words, speaker turns and sound events are all ``Segment``s (a label with a start and an end in
seconds); a ``Clip`` holds the audio, its segments sorted by start, and where it came from.
The built-in corpus and the paper's hub datasets are read into the same ``Clip`` (see
``framestamp.data.adapters``), so that tasks, training and evaluation see one data model.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Literal

import numpy as np

from ..audio import SAMPLE_RATE_HZ
SUBSETS = ("words", "speakers", "events")
Subset = Literal["words", "speakers", "events"]

# Montreal Forced Aligner writes "<unk>" for words outside its dictionary. We keep such words as
# segments (their start and end are real word boundaries) under this label; tasks should not ask
# about them by name. MFA's empty words (silences) are not words and are dropped.
UNKNOWN_WORD = "<unk>"


@dataclass(frozen=True)
class Segment:
    """A labelled time span: a word, a speaker turn or a sound event.

    Attributes:
        label: the lowercased word, the speaker id, or the event class name.
        start_s: start time in seconds from the beginning of the clip.
        end_s: end time in seconds (>= start_s).
        speaker: speaker id when known (speaker turns; words of a known voice), else None.
    """

    label: str
    start_s: float
    end_s: float
    speaker: str | None = None

    @property
    def duration_s(self) -> float:
        """Length of the segment in seconds."""
        return self.end_s - self.start_s


@dataclass(frozen=True)
class Clip:
    """One example: mono float32 audio at 16 kHz and its segments, sorted by start time.

    Attributes:
        id: unique id within its dataset.
        audio: float32 samples, shape (n_samples,), nominally in [-1, 1].
        subset: "words", "speakers" or "events".
        segments: sorted by (start_s, end_s, label). Words: label = lowercased word. Speakers:
            label = speaker id, one segment per turn (overlaps allowed). Events: label = class.
        transcript: the words spoken (words subset), else "".
        provenance: where the example came from (source package and file, or synthesis
            parameters, or the hub dataset, split and row).
        sample_rate: samples per second of ``audio`` (always 16000 for our datasets).
    """

    id: str
    audio: np.ndarray = field(repr=False, compare=False)
    subset: str = "words"
    segments: tuple[Segment, ...] = ()
    transcript: str = ""
    provenance: dict = field(default_factory=dict, compare=False, repr=False)
    sample_rate: int = SAMPLE_RATE_HZ

    def __post_init__(self):
        if self.subset not in SUBSETS:
            raise ValueError(f"subset must be one of {SUBSETS}, got {self.subset!r}")
        ordered = sorted(self.segments, key=lambda s: (s.start_s, s.end_s, s.label))
        object.__setattr__(self, "segments", tuple(ordered))

    @property
    def duration_s(self) -> float:
        """Length of the audio in seconds."""
        return len(self.audio) / self.sample_rate

    @property
    def labels(self) -> tuple[str, ...]:
        """Labels of the segments in time order."""
        return tuple(s.label for s in self.segments)

    def occurrences(self, label: str) -> tuple[Segment, ...]:
        """Segments with this label in time order: ``occurrences("dog")[1]`` is the 2nd "dog"."""
        return tuple(s for s in self.segments if s.label == label)

    def speaker_onsets(self) -> tuple[tuple[str, float], ...]:
        """(speaker, first onset in seconds) for each speaker, ordered by first onset.

        The k-th entry answers "when does the k-th speaker start speaking?". For the speakers
        subset the speaker of a segment is its label; for other subsets its ``speaker`` field.
        """
        first: dict[str, float] = {}
        for seg in self.segments:
            who = self._speaker_of(seg)
            if who is not None and who not in first:
                first[who] = seg.start_s
        return tuple(sorted(first.items(), key=lambda item: (item[1], item[0])))

    def speakers_talking_at(self, time_s: float) -> int:
        """Distinct speakers with a turn under way at ``time_s`` (begun before it, not yet ended):
        the voices a speaker who starts at ``time_s`` starts over."""
        return len({self._speaker_of(seg) for seg in self.segments if seg.start_s < time_s < seg.end_s} - {None})

    def _speaker_of(self, segment: Segment) -> str | None:
        return segment.label if self.subset == "speakers" else segment.speaker


def crop_clip(clip: Clip, max_target_s: float) -> Clip:
    """Cut a clip so that every segment starts before ``max_target_s`` seconds.

    The length-generalisation study trains only on targets earlier than X s. Cutting the audio
    (rather than dropping labels) keeps the truth complete: nothing audible is left unlabelled.
    For words the cut moves back to the start of a word that straddles X, so no word is cut in
    half; speaker turns and events that straddle the cut end at the new clip end.

    Args:
        clip: the clip to cut.
        max_target_s: latest allowed start time, in seconds.

    Returns:
        The same clip when it is already short enough, else a new, shorter clip whose
        provenance records ``cropped_at_s``.
    """
    cut_s = min(max_target_s, clip.duration_s)
    if clip.subset == "words":
        for seg in clip.segments:
            if seg.start_s < cut_s < seg.end_s:
                cut_s = seg.start_s
                break
    if cut_s >= clip.duration_s:
        return clip
    n_samples = int(round(cut_s * clip.sample_rate))
    cut_s = n_samples / clip.sample_rate
    kept = tuple(
        Segment(s.label, s.start_s, min(s.end_s, cut_s), s.speaker)
        for s in clip.segments
        if s.start_s < cut_s
    )
    return replace(
        clip,
        audio=clip.audio[:n_samples],
        segments=kept,
        provenance={**clip.provenance, "cropped_at_s": cut_s},
    )


def join_clips(first: Clip, second: Clip) -> Clip:
    """``first`` followed by ``second``: audio end to end, ``second``'s segments shifted by the length
    of ``first``. Training on it with targets restricted to ``first`` lets a model hear long clips
    without ever being asked about a time later than ``first`` ends."""
    if first.subset != second.subset or first.sample_rate != second.sample_rate:
        raise ValueError(f"cannot join a {second.subset} clip to a {first.subset} clip (or another sample rate)")
    shift = first.duration_s
    moved = tuple(replace(s, start_s=s.start_s + shift, end_s=s.end_s + shift) for s in second.segments)
    return replace(
        first,
        id=f"{first.id}+{second.id}",
        audio=np.concatenate([first.audio, second.audio]),
        segments=first.segments + moved,
        transcript=" ".join(t for t in (first.transcript, second.transcript) if t),
        provenance={**first.provenance, "joined_with": second.id, "joined_at_s": shift},
    )


def crop_to_words(clip: Clip, first: int, n_words: int) -> Clip:
    """The part of a words ``clip`` holding its words ``first .. first + n_words - 1`` (in time order),
    cut in the middle of the pauses around them (at a word's edge where words touch), segments
    shifted to the cut. A curriculum for training: fewer words to tell apart than the whole clip."""
    words = clip.segments
    if clip.subset != "words" or not 0 <= first < first + n_words <= len(words):
        raise ValueError(f"cannot crop words {first}..{first + n_words - 1} of {clip.subset} clip {clip.id} "
                         f"({len(words)} segments)")  # fmt: skip
    kept = words[first : first + n_words]
    start_s = 0.0 if first == 0 else (words[first - 1].end_s + kept[0].start_s) / 2
    last = first + n_words - 1
    end_s = clip.duration_s if last == len(words) - 1 else (kept[-1].end_s + words[last + 1].start_s) / 2
    start_s, end_s = min(start_s, kept[0].start_s), max(end_s, kept[-1].end_s)
    a, b = int(round(start_s * clip.sample_rate)), int(round(end_s * clip.sample_rate))
    shift = a / clip.sample_rate
    moved = tuple(replace(s, start_s=s.start_s - shift, end_s=s.end_s - shift) for s in kept)
    return replace(
        clip, id=f"{clip.id}[{first}:{first + n_words}]", audio=clip.audio[a:b], segments=moved,
        transcript=" ".join(s.label for s in kept),
        provenance={**clip.provenance, "cropped_from_s": shift, "cropped_to_s": b / clip.sample_rate},
    )  # fmt: skip
