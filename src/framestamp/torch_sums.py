"""Float64 sums in torch that round exactly as numpy's do, so that the torch decoders
(:mod:`framestamp.decoders_torch`) give the numpy decoders' answers bit for bit.

Floating-point addition is not associative: a sum depends on the order of its additions. Each
function here follows the order of the numpy routine it replaces, using only additions of
float64 tensors, which round the same on every device:

- :func:`numpy_sum` is ``np.sum``'s pairwise summation (blocks of at most 128 elements summed
  with 8 accumulators, halves added recursively).
- :func:`boxcar_sums` is ``np.convolve(x, np.ones(2 r + 1), mode="same")``: each window summed
  from its first frame to its last (from its last to its first when the clip is shorter than
  the window, as numpy then swaps the two arrays). Numpy hands windows of 16 frames or more
  (``r >= 8``) to the BLAS dot product, whose order depends on the CPU; there the sums agree
  with numpy's to float64 rounding only.
"""

from __future__ import annotations

from functools import lru_cache

import torch
import torch.nn.functional as F

PAIRWISE_BLOCK = 128  # numpy's PW_BLOCKSIZE: longer runs are split in two
UNROLL = 8  # accumulators numpy's pairwise sum uses inside a block


@lru_cache(maxsize=64)
def _pairwise_plan(n: int) -> tuple[torch.Tensor, torch.Tensor, tuple]:
    """Numpy's pairwise recursion over ``n`` elements: its blocks (start, length) in order, and
    its additions ``(left, right, result)`` as node ids, grouped so that each group needs only
    earlier ones. Blocks are nodes ``0 .. n_blocks - 1``; the root is the last node."""
    starts, lengths, additions = [], [], []  # additions: (height, left, right), numbered later

    def visit(start: int, length: int) -> tuple[tuple[str, int], int]:
        if length <= PAIRWISE_BLOCK:
            starts.append(start)
            lengths.append(length)
            return ("block", len(starts) - 1), 0
        half = length // 2
        half -= half % UNROLL
        (left, left_height), (right, right_height) = visit(start, half), visit(start + half, length - half)
        height = max(left_height, right_height) + 1
        additions.append((height, left, right))
        return ("sum", len(additions) - 1), height

    visit(0, n)
    node = lambda ref: ref[1] if ref[0] == "block" else len(starts) + ref[1]  # noqa: E731
    groups = []
    for height in range(1, max((a[0] for a in additions), default=0) + 1):
        members = [(node(left), node(right), len(starts) + i)
                   for i, (h, left, right) in enumerate(additions) if h == height]  # fmt: skip
        groups.append(tuple(torch.tensor(column) for column in zip(*members)))
    return torch.tensor(starts), torch.tensor(lengths), tuple(groups)


def _block_sums(values: torch.Tensor, starts: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """Numpy's sum of each block of at most 128 elements: 8 running sums over the whole groups of
    8, combined as ``((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))``, then the rest one by one.
    Missing elements read as 0.0, whose addition is exact."""
    padded = torch.cat([values, values.new_zeros(1)])
    missing = values.numel()
    whole = lengths - lengths % UNROLL
    offset = torch.arange(PAIRWISE_BLOCK, device=values.device).view(PAIRWISE_BLOCK // UNROLL, UNROLL)
    grouped = padded[torch.where(offset < whole[:, None, None], starts[:, None, None] + offset, missing)]
    running = grouped[:, 0]
    for group in range(1, PAIRWISE_BLOCK // UNROLL):
        running = running + grouped[:, group]
    r = running.unbind(dim=1)
    total = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]))
    for extra in range(UNROLL - 1):
        at = whole + extra
        total = total + padded[torch.where(at < lengths, starts + at, missing)]
    return total


def numpy_sum(values: torch.Tensor) -> torch.Tensor:
    """``np.sum`` of a 1-D float64 tensor, rounded exactly as numpy rounds it (0-d tensor)."""
    if values.numel() == 0:
        return values.new_zeros(())
    starts, lengths, groups = _pairwise_plan(values.numel())
    device = values.device
    nodes = values.new_empty(starts.numel() + sum(len(group[0]) for group in groups))
    nodes[: starts.numel()] = _block_sums(values, starts.to(device), lengths.to(device))
    for left, right, result in groups:
        nodes[result.to(device)] = nodes[left.to(device)] + nodes[right.to(device)]
    return nodes[-1]


def boxcar_sums(values: torch.Tensor, radius: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Sums and sizes of ``np.convolve(values, np.ones(2 radius + 1), mode="same")``'s windows.

    Output ``i`` sums ``values[i + h - 2 radius .. i + h]`` (inside the clip), with
    ``h = (min(T, 2 radius + 1) - 1) // 2``; there are ``max(T, 2 radius + 1)`` outputs. For
    ``T >= 2 radius + 1`` that is the window centred on ``i``.

    Returns:
        float64 sums and float64 frame counts, each of length ``max(T, 2 radius + 1)``.
    """
    n_frames, width = values.numel(), 2 * radius + 1
    n_out, centre = max(n_frames, width), (min(n_frames, width) - 1) // 2
    padded = F.pad(values, (2 * radius - centre, n_out + centre - n_frames))
    sums = values.new_zeros(n_out)
    for shift in range(width) if n_frames >= width else reversed(range(width)):
        sums = sums + padded[shift : shift + n_out]
    first = torch.arange(n_out, device=values.device) + centre - 2 * radius
    counts = (torch.clamp(first + 2 * radius, max=n_frames - 1) - torch.clamp(first, min=0) + 1).to(values.dtype)
    return sums, counts
