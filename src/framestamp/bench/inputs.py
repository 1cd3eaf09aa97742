"""Benchmark inputs: test clips joined end to end to an exact word count or audio length.

Every input keeps its exact truth: clips are concatenated sample-exactly (segment times shift
by the preceding audio), cut only at a word start (never inside a word), and padded with
silence when a fixed audio length is asked for. A batch holds ``batch_size`` different inputs
of the same sweep point, with their questions and the token length of their reference answers.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Sequence

import numpy as np

from ..data.examples import Clip, Segment
from ..tasks import Query, task_named
from ..tasks.make import all_query, one_query

SWEEPS = ("events", "duration")


@dataclass
class BenchBatch:
    """One sweep point's batch: the same inputs go to every method.

    Attributes:
        sweep: "events" (clips of a fixed number of words) or "duration" (fixed audio length).
        target: the wanted number of words or audio length in seconds.
        mode: "one" (a single timestamp) or "all" (every word start).
        clips: one input clip per row.
        queries: the question asked about each clip, with its exact answer times.
    """

    sweep: str
    target: float
    mode: str
    clips: list[Clip]
    queries: list[Query]

    @property
    def questions(self) -> list[str]:
        return [q.question for q in self.queries]

    @property
    def waveforms(self) -> list[np.ndarray]:
        return [c.audio for c in self.clips]

    @property
    def clip_events(self) -> list[int]:
        """Words in each clip (what the "all" question asks for)."""
        return [len(c.segments) for c in self.clips]

    @property
    def answer_events(self) -> list[int]:
        """Times in each reference answer (1 for "one" questions)."""
        return [q.n_events for q in self.queries]

    @property
    def durations_s(self) -> list[float]:
        return [c.duration_s for c in self.clips]


def concatenate(clips: Sequence[Clip], clip_id: str) -> Clip:
    """Join clips end to end; each segment moves by the length of the audio before it."""
    offset, audio, segments = 0, [], []
    for clip in clips:
        shift_s = offset / clip.sample_rate
        segments += [replace(s, start_s=s.start_s + shift_s, end_s=s.end_s + shift_s) for s in clip.segments]
        audio.append(clip.audio)
        offset += len(clip.audio)
    joined = np.concatenate(audio).astype(np.float32) if audio else np.zeros(0, np.float32)
    provenance = {"concatenated": [c.id for c in clips]}
    return Clip(clip_id, joined, "words", tuple(segments), " ".join(c.transcript for c in clips), provenance)


def cut_at_sample(clip: Clip, n_samples: int) -> Clip:
    """The first ``n_samples`` samples; segments starting there or later are dropped, ends clamp."""
    cut_s = n_samples / clip.sample_rate
    kept = tuple(
        Segment(s.label, s.start_s, min(s.end_s, cut_s), s.speaker) for s in clip.segments if s.start_s < cut_s
    )
    return replace(clip, audio=clip.audio[:n_samples], segments=kept)


def first_words(clip: Clip, n_words: int) -> Clip:
    """The clip cut just before its ``n_words + 1``-th word starts: exactly ``n_words`` words."""
    if len(clip.segments) < n_words:
        raise ValueError(f"clip {clip.id} has {len(clip.segments)} words, fewer than {n_words}")
    if len(clip.segments) == n_words:
        return clip
    cut = int(np.floor(clip.segments[n_words].start_s * clip.sample_rate))
    result = cut_at_sample(clip, cut)
    if len(result.segments) != n_words:  # two words starting in the same sample: cannot split them
        raise ValueError(f"cannot cut clip {clip.id} after exactly {n_words} words")
    return result


def fit_duration(clip: Clip, duration_s: float) -> Clip:
    """Exactly ``duration_s`` of audio: cut at a word start at or before it, then pad with silence."""
    n_samples = int(round(duration_s * clip.sample_rate))
    cut = min(n_samples, len(clip.audio))
    straddling = [s.start_s for s in clip.segments if s.start_s * clip.sample_rate < cut < s.end_s * clip.sample_rate]
    if straddling:  # never keep half a word: its start would be true, its sound incomplete
        cut = int(np.floor(min(straddling) * clip.sample_rate))
    result = cut_at_sample(clip, cut)
    padded = np.zeros(n_samples, dtype=np.float32)
    padded[: len(result.audio)] = result.audio
    return replace(result, audio=padded)


class ClipStream:
    """Test clips in a seeded order, cycled: every call to ``take`` continues where the last stopped."""

    def __init__(self, pool: Sequence[Clip], seed: Sequence[int]):
        self.pool = [c for c in pool if c.segments]
        if not self.pool:
            raise ValueError("no test clip with words to build benchmark inputs from")
        self.order = np.random.default_rng(list(seed)).permutation(len(self.pool))
        self.position = 0

    def _next(self) -> Clip:
        clip = self.pool[int(self.order[self.position % len(self.order)])]
        self.position += 1
        return clip

    def take(self, enough) -> list[Clip]:
        """Clips until ``enough(list so far)`` is true."""
        taken: list[Clip] = []
        while not taken or not enough(taken):
            taken.append(self._next())
        return taken


def clip_with_words(stream: ClipStream, n_words: int, clip_id: str) -> Clip:
    """An input with exactly ``n_words`` words (clips joined until there are enough; where two words
    start in the same sample at the cut, the next clips of the stream are tried)."""
    for _ in range(len(stream.pool)):
        parts = stream.take(lambda got: sum(len(c.segments) for c in got) > n_words)
        try:
            return first_words(concatenate(parts, clip_id), n_words)
        except ValueError:
            continue
    raise ValueError(f"no run of test clips can be cut after exactly {n_words} words")


def clip_of_duration(stream: ClipStream, duration_s: float, clip_id: str) -> Clip:
    """An input of exactly ``duration_s`` seconds (clips joined until they are long enough)."""
    parts = stream.take(lambda got: sum(c.duration_s for c in got) >= duration_s)
    return fit_duration(concatenate(parts, clip_id), duration_s)


def make_query(clip: Clip, mode: str, rng: np.random.Generator) -> Query:
    """The start question of ``mode`` about ``clip``: every word, or one (non-stop) word."""
    if mode == "all":
        return all_query(clip, "start")
    query = one_query(clip, "start", rng)
    if query is None:  # only stop words: ask for the first word
        first = clip.segments[0]
        word = task_named("word")
        query = Query(clip.id, word, "one", "start", word.question(first.label, 1, "start"),
                      (first.start_s,), (first.label,), first.label)  # fmt: skip
    return query


def similar_lengths(clips: Sequence[Clip], n: int) -> list[Clip]:
    """The ``n`` clips whose durations are closest to the median duration, in their original order."""
    durations = np.array([c.duration_s for c in clips])
    keep = np.sort(np.argsort(np.abs(durations - np.median(durations)), kind="stable")[:n])
    return [clips[i] for i in keep]


def build_batches(
    pool: Sequence[Clip], sweep: str, targets: Sequence[float], modes: Sequence[str], batch_size: int, seed: int,
) -> list[BenchBatch]:  # fmt: skip
    """One batch per (target, mode); the modes of one target ask about the same clips.

    Args:
        pool: test clips of the words subset.
        sweep: "events" (targets are word counts) or "duration" (targets are seconds).
        targets: word counts or audio lengths in seconds.
        modes: "one" and/or "all".
        batch_size: inputs per batch.
        seed: orders the clips and picks the word of "one" questions.
    """
    stream = ClipStream(pool, seed=(seed, SWEEPS.index(sweep)))
    batches = []
    for index, target in enumerate(targets):
        name = f"bench-{sweep}-{target:g}"
        if sweep == "events":
            # Speech rates differ from clip to clip: draw twice the batch and keep the inputs of most
            # similar length, as a length-bucketing batcher would, so that padding stays small.
            drawn = [clip_with_words(stream, int(target), f"{name}-{i}") for i in range(2 * batch_size)]
            clips = similar_lengths(drawn, batch_size)
        else:
            clips = [clip_of_duration(stream, float(target), f"{name}-{i}") for i in range(batch_size)]
        for mode in modes:
            rng = np.random.default_rng([seed, SWEEPS.index(sweep), index])
            batches.append(BenchBatch(sweep, target, mode, clips, [make_query(c, mode, rng) for c in clips]))
    return batches
