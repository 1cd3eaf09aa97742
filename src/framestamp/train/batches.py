"""Training batches: sampled deterministically from (seed, step), so resuming is exact."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch

from ..data.examples import Clip
from ..tasks import Query, event_counts
from ..tasks.make import make_query, speaker_first_turns
from .config import DataConfig

MAX_TRIES_PER_ITEM = 50


@dataclass(frozen=True)
class Item:
    """One training example: a clip and a question about it."""

    clip: Clip
    query: Query


class QuerySampler:
    """Draws batches of (clip, query); batch ``step`` depends only on (seed, step, shard)."""

    def __init__(self, clips: Sequence[Clip], data: DataConfig, seed: int, shard: int = 0):
        if len(clips) == 0:
            raise ValueError("no training clips (check the corpus and the duration/target filters)")
        self.clips, self.data, self.seed, self.shard = clips, data, seed, shard

    def batch(self, step: int, batch_size: int) -> list[Item]:
        rng = np.random.default_rng([self.seed, step, self.shard])
        items: list[Item] = []
        for _ in range(batch_size * MAX_TRIES_PER_ITEM):
            clip = self.clips[int(rng.integers(len(self.clips)))]
            mode = self.data.modes[int(rng.integers(len(self.data.modes)))]
            boundary = self.data.boundaries[int(rng.integers(len(self.data.boundaries)))]
            query = make_query(clip, mode, boundary, rng, self.data.max_target_s)
            if query is not None:
                items.append(Item(clip, query))
            if len(items) == batch_size:
                return items
        raise ValueError("could not sample a batch: no clip has an askable target under the filters")


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

    Words and events: the first token of the segment's label; speakers: the digit of the
    speaker's onset order (1st speaker -> "1"); no segment: ``silence_id``; padding: -100.
    """
    n_max = int(n_audio_tokens.max())
    ids = torch.full((len(items), n_max), -100, dtype=torch.long)
    for row, item in enumerate(items):
        n = int(n_audio_tokens[row])
        centres = (np.arange(n) + 0.5) / token_rate_hz
        ids[row, :n] = torch.from_numpy(_heard_ids(item.clip, centres, tokenizer, silence_id))
    return ids.to(n_audio_tokens.device)


def _heard_ids(clip: Clip, times_s: np.ndarray, tokenizer, silence_id: int) -> np.ndarray:
    ids = np.full(len(times_s), silence_id, dtype=np.int64)
    labels = _segment_token_labels(clip)
    for segment, label in zip(clip.segments, labels):
        token = tokenizer(label, add_special_tokens=False)["input_ids"][:1] or [silence_id]
        inside = (times_s >= segment.start_s) & (times_s < segment.end_s)
        ids[inside] = token[0]
    return ids


def _segment_token_labels(clip: Clip) -> list[str]:
    if clip.subset != "speakers":
        return [segment.label for segment in clip.segments]
    order = {s.label: str(k % 10) for k, s in enumerate(speaker_first_turns(clip), 1)}
    return [order[segment.label] for segment in clip.segments]
