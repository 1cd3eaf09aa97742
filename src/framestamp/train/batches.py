"""Training batches: sampled deterministically from (seed, step), so resuming is exact."""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Sequence

import numpy as np
import torch

from ..backbones.base import IGNORE_INDEX
from ..data.augment import augment_clip, nonspeech_clip
from ..data.examples import Clip, crop_to_words, join_clips
from ..tasks import Query, event_counts
from ..tasks.families import first_turns
from ..tasks.make import absent_query, make_query, subjects_of, task_of
from .config import DataConfig

MAX_TRIES_PER_ITEM = 50
NONSPEECH_LATER_PROB = 0.2  # chance that a non-speech question asks for a later occurrence than the 1st
NONSPEECH_LATER_K = (2, 3)  # ... and which (uniform)


@dataclass(frozen=True)
class Item:
    """One training example: a clip, a question about it, and the gap of position ids between them."""

    clip: Clip
    query: Query
    position_gap_s: float = 0.0
    word_written: bool = True  # False: the question's text names its word as unknown (spoken block only)


class QuerySampler:
    """Draws training items; the global batch of step ``s`` depends only on (seed, s).

    The global batch of an optimisation step holds ``G = batch_size x accumulation x processes``
    items, drawn as one list from (seed, step). Micro-batch ``m`` of process ``p`` is the slice
    ``[(m * P + p) * b, (m * P + p + 1) * b)`` of it (``P`` processes, ``b`` = batch_size). So:

    - the items of a step do not depend on how ``G`` is split: P processes x b clips trains on
      exactly the items of one process with P x b clips (or b clips and P x accumulation);
    - a run resumes exactly from the step number alone (no sampler state to save);
    - with one process and no accumulation, step ``s`` is the first ``b`` askable items of
      ``default_rng([seed, s, 0])``, as in runs made before sharding existed.

    ``data.order`` picks the clips: ``random`` draws each clip independently (with replacement);
    ``epochs`` walks shuffled passes over the clips (item ``k`` of the run is position ``k`` of
    the concatenated passes), drawing a random clip instead only when a clip has no askable target.
    With ``data.crop_words`` set, each words clip drawn is first cut to a random run of that many
    consecutive words (a stream of its own), and the question is drawn about the cut clip.
    With ``data.absent_share`` > 0, that share of single-occurrence questions is replaced by a
    question whose answer is not in the clip (``tasks.make.absent_query``). With
    ``data.max_position_gap_s`` > 0, each item gets a gap drawn from its own stream, so the
    questions are those of a run without gaps. With ``data.joined_share`` > 0, that share of
    single-occurrence items (drawn from a stream of their own) hears its clip followed by another
    training clip and is asked only about a target in the first: long audio, early targets.
    With ``data.augment_share`` > 0, that share of items (drawn from a stream of their own) has
    its clip augmented (``data.augment``: late start, background, level, telephone band, bit
    depth) by a generator of its own, seeded with (seed, step, slot), after its question is
    drawn: the questions are those of a run without augmentation, and target times move with
    the audio (a late start shifts them, staying below ``data.max_target_s``).
    With ``data.nonspeech_share`` > 0, that share of single-occurrence items (drawn from a stream
    of their own, after every question is drawn, so the other items are those of a run without)
    is replaced by a question about a generated clip with no speech, speaker or event in it
    (``framestamp.data.augment.nonspeech_clip``: silence, tones, noise, music, mixes), made by a generator of
    its own seeded with (seed, step, slot); its answer is empty. It is not augmented.
    With ``data.unwritten_word_share`` > 0, that share of items (a stream of their own) has its
    question's word left unwritten for a model that hears asked words: the spoken block alone names it.
    """

    def __init__(
        self, clips: Sequence[Clip], data: DataConfig, seed: int, process_index: int = 0, num_processes: int = 1
    ):  # fmt: skip
        if len(clips) == 0:
            raise ValueError("no training clips (check the corpus and the duration/target filters)")
        if not 0 <= process_index < num_processes:
            raise ValueError(f"process_index {process_index} outside 0..{num_processes - 1}")
        self.clips, self.data, self.seed = clips, data, seed
        self.process_index, self.num_processes = process_index, num_processes
        self._cached: tuple[int, int, list[Item]] | None = None
        self._subjects = subjects_of(clips) if data.absent_share or data.nonspeech_share else []
        self._orders: dict[int, np.ndarray] = {}

    def batch(self, step: int, batch_size: int, micro: int = 0, accumulation: int = 1) -> list[Item]:
        """This process's micro-batch ``micro`` (of ``accumulation``) of optimisation step ``step``."""
        size = batch_size * accumulation * self.num_processes
        first = (micro * self.num_processes + self.process_index) * batch_size
        return self.global_batch(step, size)[first : first + batch_size]

    def global_batch(self, step: int, size: int) -> list[Item]:
        """All ``size`` items of optimisation step ``step``, over every process and micro-batch."""
        if self._cached is None or self._cached[:2] != (step, size):
            self._cached = (step, size, self._draw(step, size))
        return self._cached[2]

    def _draw(self, step: int, size: int) -> list[Item]:
        rng = np.random.default_rng([self.seed, step, 0])
        tries_left = size * MAX_TRIES_PER_ITEM
        crops = np.random.default_rng([self.seed, step, 8])
        joins = np.random.default_rng([self.seed, step, 3])
        joined = joins.random(size) < self.data.joined_share
        partners = joins.integers(len(self.clips), size=size)
        items: list[Item] = []
        for slot in range(size):
            # In epoch order the slot's own clip comes first; random clips stand in if it has no target.
            clip = self.clips[self._clip_at(step * size + slot)] if self.data.order == "epochs" else None
            while True:
                if tries_left == 0:
                    raise ValueError("could not sample a batch: no clip has an askable target under the filters")
                tries_left -= 1
                query_clip = clip if clip is not None else self.clips[int(rng.integers(len(self.clips)))]
                clip = None
                if self.data.crop_words is not None:
                    query_clip = self._cropped(query_clip, crops)
                mode = self.data.modes[int(rng.integers(len(self.data.modes)))]
                boundary = self.data.boundaries[int(rng.integers(len(self.data.boundaries)))]
                latest = self.data.max_target_s
                if joined[slot] and mode == "one":
                    latest = min(math.inf if latest is None else latest, query_clip.duration_s)
                    query_clip = join_clips(query_clip, self.clips[int(partners[slot])])
                query = make_query(query_clip, mode, boundary, rng, latest)
                absent_share = self.data.absent_share if mode == "one" else 0.0
                if query is not None and absent_share and rng.random() < absent_share:
                    query = absent_query(query_clip, boundary, rng, self._subjects)
                if query is not None:
                    items.append(Item(query_clip, query))
                    break
        nonspeech = np.zeros(size, bool)
        if self.data.nonspeech_share > 0:
            drawn = np.random.default_rng([self.seed, step, 6]).random(size) < self.data.nonspeech_share
            nonspeech = drawn & np.array([item.query.mode == "one" and self._asks_nonspeech(item) for item in items])
            items = [self._nonspeech(item, step, slot) if nonspeech[slot] else item for slot, item in enumerate(items)]
        if self.data.augment_share > 0:
            chosen = np.random.default_rng([self.seed, step, 4]).random(size) < self.data.augment_share
            chosen &= ~nonspeech
            items = [self._augmented(item, step, slot) if chosen[slot] else item for slot, item in enumerate(items)]
        if self.data.unwritten_word_share > 0:
            unwritten = np.random.default_rng([self.seed, step, 9]).random(size) < self.data.unwritten_word_share
            items = [replace(item, word_written=False) if u else item for item, u in zip(items, unwritten)]
        if self.data.max_position_gap_s > 0:
            gaps = np.random.default_rng([self.seed, step, 2]).uniform(0.0, self.data.max_position_gap_s, size)
            items = [replace(item, position_gap_s=float(gap)) for item, gap in zip(items, gaps)]
        if self.data.group_by_length:  # stable: items of equal length keep their drawn order
            items = sorted(items, key=lambda item: len(item.clip.audio))
        return items

    def _cropped(self, clip: Clip, rng: np.random.Generator) -> Clip:
        """A random run of ``data.crop_words`` consecutive words of a words clip (others unchanged)."""
        if clip.subset != "words" or not clip.segments:
            return clip
        low, high = self.data.crop_words
        n = int(rng.integers(min(low, len(clip.segments)), min(high, len(clip.segments)) + 1))
        first = int(rng.integers(0, len(clip.segments) - n + 1))
        return crop_to_words(clip, first, n)

    def _augmented(self, item: Item, step: int, slot: int) -> Item:
        """``item`` with its clip augmented by the generator of (seed, step, slot), targets moved along."""
        rng = np.random.default_rng([self.seed, step, 5, slot])
        latest = self.data.max_target_s
        max_shift = math.inf if latest is None or not item.query.targets_s else latest - max(item.query.targets_s)
        clip, shift = augment_clip(item.clip, rng, self.data.augment, max_shift)
        query = replace(item.query, targets_s=tuple(t + shift for t in item.query.targets_s)) if shift else item.query
        return replace(item, clip=clip, query=query)

    def _asks_nonspeech(self, item: Item) -> bool:
        """Whether an item of this clip's subset may become a non-speech question (events: only
        when ``data.nonspeech_event_kinds`` allows some kind)."""
        return item.clip.subset != "events" or bool(self.data.nonspeech_event_kinds)

    def _nonspeech(self, item: Item, step: int, slot: int) -> Item:
        """A question about a generated non-speech clip (no targets) in place of ``item``.

        Drawn from the generator of (seed, step, slot): the subject, as an absent question draws
        it (any subject of the training vocabulary; speakers: the 1st speaker), the k-th
        occurrence (1st, or with chance ``NONSPEECH_LATER_PROB`` one of ``NONSPEECH_LATER_K``;
        speakers always 1st), then the clip. The boundary is the replaced item's. Events clips
        are only silence or steady noise (``data.nonspeech_event_kinds``, no level changes).
        """
        rng = np.random.default_rng([self.seed, step, 7, slot])
        data, subset = self.data, item.clip.subset
        task, boundary = task_of(item.clip), item.query.boundary
        if task.ordinal_only:
            subject, k = "1", 1
        else:
            subject = self._subjects[int(rng.integers(len(self._subjects)))]
            later = rng.random() < NONSPEECH_LATER_PROB
            k = int(rng.integers(NONSPEECH_LATER_K[0], NONSPEECH_LATER_K[1] + 1)) if later else 1
        low, high = data.nonspeech_s
        if data.max_duration_s is not None:  # the run trains on clips shorter than this
            high = min(high, data.max_duration_s)
            low = min(low, high)
        events = subset == "events"
        kinds = data.nonspeech_event_kinds if events else data.nonspeech_kinds
        clip = nonspeech_clip(f"nonspeech-{self.seed}-{step}-{slot}", subset, rng, (low, high), tuple(kinds),
                              tuple(data.nonspeech_level_db), level_changes=not events)  # fmt: skip
        query = Query(clip.id, task, "one", boundary, task.question(subject, k, boundary), (), (), subject, k)
        return Item(clip, query)

    def _clip_at(self, position: int) -> int:
        """Index of the clip at ``position`` of the concatenated shuffled passes."""
        n = len(self.clips)
        epoch = position // n
        if epoch not in self._orders:
            self._orders = {epoch: np.random.default_rng([self.seed, epoch, 1]).permutation(n)}
        return int(self._orders[epoch][position % n])


def frame_targets(items: Sequence[Item], frame_mask: torch.Tensor, frame_rate_hz: float) -> torch.Tensor:
    """``[B, T]`` event counts per frame for the queries of a batch (zeros on padding)."""
    targets = torch.zeros(frame_mask.shape, dtype=torch.float32)
    for row, item in enumerate(items):
        n_frames = int(frame_mask[row].sum())
        targets[row, :n_frames] = torch.from_numpy(event_counts(item.query.targets_s, n_frames, frame_rate_hz))
    return targets.to(frame_mask.device)


def identity_targets(
    items: Sequence[Item], n_audio_tokens: torch.Tensor, token_rate_hz: float, tokenizer, silence_id: int
) -> torch.Tensor:
    """``[B, N]`` id of what is heard at each audio token (the auxiliary identity loss).

    Words and events: the first token of the segment's label as spelt in running text (after a
    space: a byte-level BPE spells a word there as in a question about it); speakers: the digit of the
    speaker's onset order (1st speaker -> "1"); no segment: ``silence_id``; padding and a word read
    as ``<|unk|>``: ``IGNORE_INDEX``.
    """
    n_max = int(n_audio_tokens.max())
    ids = torch.full((len(items), n_max), IGNORE_INDEX, dtype=torch.long)
    for row, item in enumerate(items):
        n = int(n_audio_tokens[row])
        centres = (np.arange(n) + 0.5) / token_rate_hz
        ids[row, :n] = torch.from_numpy(_heard_ids(item.clip, centres, tokenizer, silence_id))
    return ids.to(n_audio_tokens.device)


def match_targets(items: Sequence[Item], n_audio_tokens: torch.Tensor, token_rate_hz: float) -> torch.Tensor:
    """``[B, N]`` 1.0 at each audio token during which the asked subject is heard (the auxiliary match loss).

    Audio token ``i`` covers ``[i / rate, (i + 1) / rate)``; it is 1 when a segment of the subject
    overlaps that span by more than nothing (``start < token end`` and ``end > token start``).
    The subject is every occurrence of it in the clip, whole spans, whatever ``k`` and boundary
    the question asks (see :func:`asked_segments`), so a question about a subject the clip does
    not hold is all zeros. Padding is 0 (masked by the loss).
    """
    n_max = int(n_audio_tokens.max()) if n_audio_tokens.numel() else 0
    targets = torch.zeros((len(items), n_max), dtype=torch.float32)
    for row, item in enumerate(items):
        n = int(n_audio_tokens[row])
        starts, ends = np.arange(n) / token_rate_hz, np.arange(1, n + 1) / token_rate_hz
        heard = np.zeros(n, dtype=bool)
        for segment in asked_segments(item.clip, item.query):
            heard |= (starts < segment.end_s) & (ends > segment.start_s)
        targets[row, :n] = torch.from_numpy(heard.astype(np.float32))
    return targets.to(n_audio_tokens.device)


def asked_segments(clip: Clip, query: Query) -> list:
    """The segments of ``clip`` that ``query`` asks about: every occurrence of its subject.

    "all" questions: every segment (words: speech; speakers: every turn; events: every event).
    Families asked by ordinal (speakers): every turn of the ``k``-th speaker to start (none when
    the clip has fewer). Words and events: every segment labelled ``subject``. ``k`` and the
    boundary do not matter: the k-th occurrence after the last (an absent question about a
    subject the clip holds) still marks the occurrences there are.
    """
    if query.mode == "all":
        return list(clip.segments)
    if query.task.ordinal_only:
        turns = first_turns(clip)
        if not 1 <= query.k <= len(turns):
            return []
        label = turns[query.k - 1].label
    else:
        label = query.subject
    return [segment for segment in clip.segments if segment.label == label]


def _heard_ids(clip: Clip, times_s: np.ndarray, tokenizer, silence_id: int) -> np.ndarray:
    """A word the tokenizer cannot name (``<|unk|>``) has no target: one class for every such
    word would teach the audio tokens of thousands of different words to look alike."""
    ids = np.full(len(times_s), silence_id, dtype=np.int64)
    labels = _segment_token_labels(clip)
    unknown = getattr(tokenizer, "unk_token_id", None)
    for segment, label in zip(clip.segments, labels):
        token = tokenizer(" " + label, add_special_tokens=False)["input_ids"][:1] or [silence_id]
        inside = (times_s >= segment.start_s) & (times_s < segment.end_s)
        ids[inside] = IGNORE_INDEX if unknown is not None and token[0] == unknown else token[0]
    return ids


def _segment_token_labels(clip: Clip) -> list[str]:
    if clip.subset != "speakers":
        return [segment.label for segment in clip.segments]
    order = {s.label: str(k % 10) for k, s in enumerate(first_turns(clip), 1)}
    return [order[segment.label] for segment in clip.segments]
