"""Greedy peak picking with suppression, in torch: the picks of
:func:`framestamp.decoders.suppressed_peaks`, found in vectorised rounds instead of a frame loop.

Rank every frame by (score descending, index ascending), the order the numpy loop visits them.
A frame is picked exactly when no picked frame of better rank lies within ``radius`` of it. So
a frame whose rank is the best among the still undecided frames within ``radius`` is certainly
picked: every better frame near it is already suppressed by an earlier pick. Each round picks
all such frames at once (a sliding minimum of ranks, ``max_pool1d``) and suppresses their
neighbourhoods (a sliding maximum); the best undecided frame is picked in every round, so the
rounds end. Picks that rank above every undecided frame are final and come first, so the rounds
also end once ``n_max`` of them exist. Memory is O(T).

Rounds are few when peaks are separated by lower frames. A long monotone run (a ramp, or a
plateau of equal scores, whose ties rank left to right) resolves one pick per round; after
``MAX_ROUNDS`` rounds the frames still undecided are finished on the host by the numpy loop's
rule, which gives the same picks.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

MAX_ROUNDS = 16  # a peak's flank longer than 16 suppression radii is rare in a head's scores


def _sliding_max(values: torch.Tensor, radius: int) -> torch.Tensor:
    """Maximum of ``values`` (float) over frames ``[t - radius, t + radius]`` inside the row."""
    return F.max_pool1d(values[None, None], 2 * radius + 1, stride=1, padding=radius)[0, 0]


def _frame_ranks(scores: torch.Tensor) -> torch.Tensor:
    """Rank of each frame when frames are visited by score, highest first, ties left to right (int64)."""
    order = torch.sort(scores, descending=True, stable=True).indices
    ranks = torch.empty_like(order)
    ranks[order] = torch.arange(order.numel(), device=order.device)
    return ranks


def _finish_on_host(ranks, picked, undecided, n_max, radius) -> torch.Tensor:
    """Visit picked and undecided frames by rank, as the numpy loop does: a picked frame counts,
    an undecided one is picked unless a pick of this loop lies within ``radius``."""
    frames = torch.nonzero(picked | undecided)[:, 0]
    frames = frames[torch.argsort(ranks[frames])].tolist()
    already = set(torch.nonzero(picked)[:, 0].tolist())
    blocked, chosen = bytearray(ranks.numel()), []
    for frame in frames:
        if len(chosen) >= n_max:
            break
        if frame in already:
            chosen.append(frame)
        elif not blocked[frame]:
            chosen.append(frame)
            low, high = max(frame - radius, 0), min(frame + radius + 1, len(blocked))
            blocked[low:high] = bytes([1]) * (high - low)
    return torch.tensor(chosen, dtype=torch.int64, device=ranks.device)


def suppressed_peaks(
    scores: torch.Tensor, n_max: int, radius: int, min_score: float = -math.inf, max_rounds: int = MAX_ROUNDS
) -> torch.Tensor:
    """The frames :func:`framestamp.decoders.suppressed_peaks` picks, in the same order.

    Args:
        scores: ``[T]`` float64 scores.
        n_max: at most this many picks, the best-ranked ones.
        radius: frames within this distance of a pick are suppressed.
        min_score: frames scoring below it are never picked and suppress nothing.
        max_rounds: vectorised rounds before the rest is finished on the host.

    Returns:
        int64 frame indices in the order picked (descending score), on the device of ``scores``.
    """
    if n_max <= 0:
        return torch.zeros(0, dtype=torch.int64, device=scores.device)
    ranks = _frame_ranks(scores)
    undecided = scores >= min_score
    picked = torch.zeros_like(undecided)
    unranked = float(scores.numel())  # worse than every rank: marks frames out of the running
    for _ in range(max_rounds):
        candidate_ranks = torch.where(undecided, ranks.to(scores.dtype), unranked)
        new = undecided & (candidate_ranks == -_sliding_max(-candidate_ranks, radius))
        picked |= new
        undecided &= _sliding_max(new.to(scores.dtype), radius) == 0
        best_undecided = torch.where(undecided, ranks, scores.numel()).min()
        if int((picked & (ranks < best_undecided)).sum()) >= n_max or not bool(undecided.any()):
            break
    else:
        if bool(undecided.any()):
            return _finish_on_host(ranks, picked, undecided, n_max, radius)
    frames = torch.nonzero(picked)[:, 0]
    return frames[torch.argsort(ranks[frames])][:n_max]
