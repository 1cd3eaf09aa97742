"""The decoders of :mod:`framestamp.decoders` in torch: the same answers, on the scores' device.

Each function takes a 1-D tensor of frame scores (intensities or probabilities; numpy arrays
are taken to the CPU) and follows its numpy namesake operation by operation, in float64, with
memory linear in T. Times come back as float64 tensors on the scores' device, counts and single
times as Python numbers; the conventions (frame grid, empty and zero inputs, ``n_events > T``)
are those of :mod:`framestamp.decoders`.

How close to numpy (``tests/test_decoders_torch.py`` checks each claim):

- On the CPU the answers are the numpy decoders' bit for bit: sums follow numpy's order
  (:mod:`framestamp.torch_sums`), a cumulative sum runs left to right in both, and the greedy
  peaks are the same picks (:mod:`framestamp.peaks_torch`). Two exceptions, both at float64
  rounding: the posterior mode compares ``log`` and ``log1p`` values that torch and numpy may
  round one unit apart, so frames that tie exactly (equal intensities) may be chosen
  differently, each reaching the maximum; and the peak decoders' smoothing windows of 16
  frames or more (a radius of 8 frames: ``tolerance_s >= 0.08`` at 100 Hz; the default is
  0.02) are summed by numpy's BLAS in an order of its own.
- On a GPU the cumulative sums (median, posterior decoders, ``local_count``) run in parallel and
  round differently, so their times agree to float64 rounding; argmax, counts and peak picks do
  not use them and stay equal.
- The Beta medians of the posterior median depend only on ``n_events`` and come from scipy on
  the host (torch has no inverse incomplete Beta function).
"""

from __future__ import annotations

import numpy as np
import torch
from scipy.stats import beta

from .decoding import LOCAL_PRESENCE_S
from .frames import seconds_to_frames
from .peaks_torch import suppressed_peaks
from .torch_sums import boxcar_sums, numpy_sum


def _as_scores(values) -> torch.Tensor:
    """Float64 tensor of a 1-D, non-empty row of non-negative, finite scores."""
    scores = torch.as_tensor(values, dtype=torch.float64)
    if scores.ndim != 1 or scores.numel() == 0:
        raise ValueError(f"expected a non-empty 1-D array of frame scores, got shape {tuple(scores.shape)}")
    if not bool(((scores >= 0) & torch.isfinite(scores)).all()):
        raise ValueError("frame scores must be finite and non-negative")
    return scores


def _to_seconds(frames: torch.Tensor, frame_rate_hz: float, offset: float = 0.0) -> torch.Tensor:
    """:func:`framestamp.frames.frames_to_seconds` on a tensor: ``(frame + offset) / rate``."""
    return (frames.to(torch.float64) + offset) / frame_rate_hz


def _informative(intensity: torch.Tensor) -> torch.Tensor:
    """The intensity itself, or a flat one when it is zero everywhere (no information)."""
    return intensity if bool((intensity > 0).any()) else torch.ones_like(intensity)


def _cumulative_fraction(intensity: torch.Tensor) -> torch.Tensor:
    """``F`` at frame boundaries, length T + 1: ``F[0] = 0``, ``F[t + 1] = sum_{s <= t} / Lambda``."""
    cumulative = torch.cat([intensity.new_zeros(1), torch.cumsum(intensity, dim=0)])
    return cumulative / cumulative[-1]


def expected_count(intensity) -> float:
    """Expected number of events ``Lambda = sum_t lambda_t`` (intensity in events per frame)."""
    return float(numpy_sum(_as_scores(intensity)))


def decode_count(intensity) -> int:
    """Estimated number of events: ``Lambda`` rounded to the nearest integer, halves up."""
    return int(np.floor(expected_count(intensity) + 0.5))


def decode_argmax(intensity, frame_rate_hz: float) -> float:
    """Single event: centre of the frame of highest intensity (first one on ties), in seconds."""
    return (int(torch.argmax(_as_scores(intensity))) + 0.5) / frame_rate_hz


def decode_median(intensity, frame_rate_hz: float) -> float:
    """Single event: the time (s) where the cumulative intensity, linear inside frames, reaches half of Lambda."""
    return float(decode_posterior_median(intensity, 1, frame_rate_hz)[0])


def _position_of_fraction(fraction: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Fractional frame positions where the piecewise-linear ``F`` reaches ``targets`` in (0, 1]."""
    frame = torch.clamp(torch.searchsorted(fraction, targets) - 1, 0, fraction.numel() - 2)
    low, high = fraction[frame], fraction[frame + 1]
    inside = torch.where(high > low, (targets - low) / (high - low), 0.5)
    return frame + torch.clamp(inside, 0.0, 1.0)


def decode_posterior_median(intensity, n_events: int, frame_rate_hz: float) -> torch.Tensor:
    """Posterior-median time (s) of each of ``n_events`` events, sorted: ``F^-1`` of the median of
    ``Beta(k, n - k + 1)`` (see :func:`framestamp.decoders.decode_posterior_median`)."""
    fraction = _cumulative_fraction(_informative(_as_scores(intensity)))
    if n_events <= 0:
        return fraction.new_zeros(0)
    k = np.arange(1, n_events + 1)
    targets = torch.from_numpy(beta.median(k, n_events - k + 1)).to(fraction.device)
    return _to_seconds(_position_of_fraction(fraction, targets), frame_rate_hz)


def _mode_value(log_intensity, fraction, frame, peak_u, k, n_events):
    """Best log posterior of event k inside ``frame``: ``z_t + g_k(clamp(u*, F[t], F[t + 1]))``."""
    u = torch.clamp(peak_u, fraction[frame], fraction[frame + 1])
    return log_intensity[frame] + (torch.xlogy(k - 1, u) + torch.special.xlog1py(n_events - k, -u))


def _segment_argmax(values: torch.Tensor, owner: torch.Tensor, n_segments: int) -> torch.Tensor:
    """Index (into ``values``) of the first maximum of each segment; ``owner`` numbers the segments."""
    best = values.new_full((n_segments,), -torch.inf).scatter_reduce(0, owner, values, "amax")
    index = torch.arange(values.numel(), device=values.device)
    max_index = torch.where(values == best[owner], index, values.numel())
    return index.new_full((n_segments,), values.numel()).scatter_reduce(0, owner, max_index, "amin")


def _best_in_ranges(log_intensity, fraction, k, n_events, peak_u, first, last):
    """For each k, the first frame in ``[first, last]`` (inclusive) maximising the mode value."""
    lengths = last - first + 1
    starts = torch.cumsum(lengths, dim=0) - lengths
    owner = torch.repeat_interleave(torch.arange(k.numel(), device=k.device), lengths)
    frame = first[owner] + torch.arange(owner.numel(), device=k.device) - starts[owner]
    values = _mode_value(log_intensity, fraction, frame, peak_u[owner], k[owner], n_events)
    return frame[_segment_argmax(values, owner, k.numel())]


def _monotone_argmax(log_intensity, fraction, n_events):
    """First maximising frame of every k, by divide and conquer over k (the first maximiser is
    non-decreasing in k; see :func:`framestamp.decoders._monotone_argmax`)."""
    device = log_intensity.device
    best = torch.zeros(n_events + 2, dtype=torch.int64, device=device)  # slot i holds k = i; 0, n + 1 are sentinels
    best[-1] = log_intensity.numel() - 1
    below = torch.tensor([0], device=device)
    above = torch.tensor([n_events + 1], device=device)
    while below.numel():
        k = (below + above) // 2
        peak_u = (k - 1).to(torch.float64) / (n_events - 1)
        best[k] = _best_in_ranges(log_intensity, fraction, k, n_events, peak_u, best[below], best[above])
        below, above = torch.cat([below, k]), torch.cat([k, above])
        still_open = above - below > 1
        below, above = below[still_open], above[still_open]
    return best[1:-1]


def decode_posterior_mode(intensity, n_events: int, frame_rate_hz: float) -> torch.Tensor:
    """Posterior-mode time (s) of each of ``n_events`` events, sorted, never building a T x n
    array (see :func:`framestamp.decoders.decode_posterior_mode`)."""
    values = _informative(_as_scores(intensity))
    if n_events <= 0:
        return values.new_zeros(0)
    if n_events == 1:
        return values.new_tensor([decode_argmax(values, frame_rate_hz)])
    fraction = _cumulative_fraction(values)
    frame = _monotone_argmax(torch.log(values), fraction, n_events)
    grid = torch.arange(n_events, dtype=torch.float64, device=values.device) / (n_events - 1)
    u = torch.clamp(grid, fraction[frame], fraction[frame + 1])
    inside = (u - fraction[frame]) / (fraction[frame + 1] - fraction[frame])
    return torch.sort(_to_seconds(frame + inside, frame_rate_hz)).values


def _refine(scores: torch.Tensor, peaks: torch.Tensor, radius: int) -> torch.Tensor:
    """Move each peak to the highest raw frame within ``radius`` of it (first one on ties); sorted, unique."""
    if radius <= 0 or peaks.numel() == 0:
        return peaks
    offsets = torch.arange(-radius, radius + 1, device=peaks.device)
    window = torch.clamp(peaks[:, None] + offsets[None, :], 0, scores.numel() - 1)
    return torch.unique(window.gather(1, scores[window].argmax(dim=1, keepdim=True))[:, 0])


def _decode_peaks(scores, n_max, frame_rate_hz, tolerance_s, min_raw_score=None) -> torch.Tensor:
    """Sorted frame-centre times (s) of suppressed peaks of the boxcar-smoothed scores, each
    refined to its highest raw frame; with ``min_raw_score``, only peaks whose raw score reaches it."""
    scores = _as_scores(scores)
    radius = int(seconds_to_frames(tolerance_s, frame_rate_hz))
    smoothed = scores
    if radius > 0:
        sums, counts = boxcar_sums(scores, radius)
        smoothed = sums / counts
    # A peak whose window lies in the clip has a raw maximum <= its window's sum, <= (2r + 1) x its
    # smoothed score (and rounding is monotone): a smoothed score below threshold / (2r + 1) can
    # give no accepted peak. Leaving those frames out changes no better-ranked pick.
    floor = -torch.inf
    if min_raw_score is not None and scores.numel() == smoothed.numel():
        floor = min_raw_score / (2 * radius + 1)
    peaks = _refine(scores, suppressed_peaks(smoothed, n_max, 2 * radius, floor), radius)
    if min_raw_score is not None:
        peaks = peaks[scores[peaks] >= min_raw_score]
    return _to_seconds(torch.sort(peaks).values, frame_rate_hz, offset=0.5)


def decode_iterative_mode(intensity, n_events: int, frame_rate_hz: float, tolerance_s: float = 0.02) -> torch.Tensor:
    """Iterative mode with suppression: at most ``n_events`` sorted frame-centre times (s) (see
    :func:`framestamp.decoders.decode_iterative_mode`)."""
    return _decode_peaks(intensity, n_events, frame_rate_hz, tolerance_s)


def decode_binary_topn(probabilities, n_events: int, frame_rate_hz: float, tolerance_s: float = 0.02) -> torch.Tensor:
    """Binary head, known n: the ``n_events`` best suppressed peaks, sorted frame-centre times (s)."""
    return _decode_peaks(probabilities, n_events, frame_rate_hz, tolerance_s)


def decode_binary_threshold(
    probabilities, frame_rate_hz: float, threshold: float = 0.5, tolerance_s: float = 0.02
) -> torch.Tensor:
    """Binary head, unknown n: every suppressed peak whose probability is ``>= threshold``, sorted times (s)."""
    scores = _as_scores(probabilities)
    return _decode_peaks(scores, scores.numel(), frame_rate_hz, tolerance_s, min_raw_score=threshold)


def local_count(intensity, frame_rate_hz: float, window_s: float = LOCAL_PRESENCE_S) -> float:
    """The largest sum of ``intensity`` over ``window_s`` seconds of consecutive frames (the whole
    sum when the row is shorter); see :func:`framestamp.decoding.local_count`."""
    intensity = torch.as_tensor(intensity, dtype=torch.float64)
    width = max(1, int(round(window_s * frame_rate_hz)))
    if intensity.numel() <= width:
        return float(numpy_sum(intensity))
    running = torch.cat([intensity.new_zeros(1), torch.cumsum(intensity, dim=0)])
    return float(torch.max(running[width:] - running[:-width]))
