"""Timestamps from frame scores (docs/method.md section 4). numpy only, vectorised, memory linear in T.

Inputs are 1-D per-frame arrays for one clip: ``intensity`` (lambda_t >= 0, expected events per
frame, i.e. ``exp`` of the IHP head) or ``probabilities`` (sigmoid of the binary head). Frame t
covers ``[t, t + 1)`` in frame units; every output is in seconds, converted by
:func:`framestamp.frames.frames_to_seconds` on the grid's ``frame_rate_hz``.

Conventions shared by all decoders:
- ``n_events = 0`` returns an empty array; an empty clip (T = 0) raises ``ValueError``.
- Zero total intensity carries no information about where events are: the posterior decoders
  then treat the intensity as flat (events spread evenly), never NaN.
- ``n_events > T``: the posterior decoders (median, mode) still return ``n_events`` times, as a
  Poisson process may put several events in one frame. The peak decoders (iterative mode,
  binary) return one time per accepted peak, so fewer than ``n_events`` once every frame is
  accepted or suppressed.
- Peak decoders smooth with a boxcar of radius ``r = seconds_to_frames(tolerance_s)`` frames
  (window ``2r + 1`` frames, i.e. 2 x tolerance plus the centre frame; 5 frames for 20 ms at
  100 Hz), averaged over the frames inside the clip, and after each accepted peak suppress the
  frames within ``2r`` of it (9 frames in all at 20 ms / 100 Hz). ``2r``, not ``r``: one spike
  spreads over ``2r + 1`` smoothed frames, all tied, so a radius of ``r`` would accept the same
  event twice. Events closer than ``2r`` frames merge into one peak. Each peak found on the
  smoothed scores is then moved to the highest raw frame within ``r`` of it, so a spike
  narrower than the window is reported at its own frame, not at the first frame of the
  smoothed plateau. Peak decoders report frame centres.
"""

from __future__ import annotations

import numpy as np
from scipy.special import xlog1py, xlogy
from scipy.stats import beta

from framestamp.frames import frames_to_seconds, seconds_to_frames


def _as_scores(values) -> np.ndarray:
    """Validated float64 copy of a 1-D, non-empty array of non-negative, finite scores."""
    scores = np.asarray(values, dtype=np.float64)
    if scores.ndim != 1 or scores.size == 0:
        raise ValueError(f"expected a non-empty 1-D array of frame scores, got shape {scores.shape}")
    if not np.all((scores >= 0) & np.isfinite(scores)):
        raise ValueError("frame scores must be finite and non-negative")
    return scores


def _informative(intensity: np.ndarray) -> np.ndarray:
    """The intensity itself, or a flat one when its total is zero (no information)."""
    return intensity if intensity.sum() > 0 else np.ones_like(intensity)


def _cumulative_fraction(intensity: np.ndarray) -> np.ndarray:
    """``F`` at frame boundaries, length T + 1: ``F[0] = 0``, ``F[t + 1] = sum_{s <= t} / Lambda``."""
    cumulative = np.concatenate([[0.0], np.cumsum(intensity)])
    return cumulative / cumulative[-1]


def expected_count(intensity) -> float:
    """Expected number of events ``Lambda = sum_t lambda_t`` (intensity in events per frame)."""
    return float(_as_scores(intensity).sum())


def decode_count(intensity) -> int:
    """Estimated number of events: ``Lambda`` rounded to the nearest integer, halves up."""
    return int(np.floor(expected_count(intensity) + 0.5))


def decode_argmax(intensity, frame_rate_hz: float) -> float:
    """Single event: centre of the frame of highest intensity (first one on ties), in seconds."""
    return float(frames_to_seconds(np.argmax(_as_scores(intensity)), frame_rate_hz, offset=0.5))


def decode_median(intensity, frame_rate_hz: float) -> float:
    """Single event: the time where the cumulative intensity reaches half of Lambda, in seconds.

    The cumulative intensity is interpolated linearly inside frames, so the time is sub-frame.
    """
    return float(decode_posterior_median(intensity, 1, frame_rate_hz)[0])


def _position_of_fraction(fraction: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """Fractional frame positions where the piecewise-linear ``F`` reaches ``targets`` in (0, 1]."""
    # Frame t with F[t] < target <= F[t + 1]: it has positive width, so the division is safe.
    frame = np.clip(np.searchsorted(fraction, targets, side="left") - 1, 0, fraction.size - 2)
    low, high = fraction[frame], fraction[frame + 1]
    inside = np.divide(targets - low, high - low, out=np.full(targets.shape, 0.5), where=high > low)
    return frame + np.clip(inside, 0.0, 1.0)


def decode_posterior_median(intensity, n_events: int, frame_rate_hz: float) -> np.ndarray:
    """Posterior-median time of each of ``n_events`` events, sorted, in seconds.

    Given n events drawn i.i.d. with density ``lambda_t / Lambda``, the k-th has
    ``F(t_k) ~ Beta(k, n - k + 1)``; ``t_k = F^-1(median)`` with ``F`` interpolated linearly
    inside frames. O(T + n log T) time, O(T + n) memory.

    Returns:
        float64 array of ``n_events`` times in seconds.
    """
    fraction = _cumulative_fraction(_informative(_as_scores(intensity)))
    if n_events <= 0:
        return np.zeros(0)
    k = np.arange(1, n_events + 1)
    return frames_to_seconds(_position_of_fraction(fraction, beta.median(k, n_events - k + 1)), frame_rate_hz)


def _beta_log_term(u: np.ndarray, k: np.ndarray, n_events: int) -> np.ndarray:
    """``g_k(u) = (k - 1) log u + (n - k) log(1 - u)``, with ``0 log 0 = 0``."""
    return xlogy(k - 1, u) + xlog1py(n_events - k, -u)


def _mode_value(log_intensity, fraction, frame, peak_u, k, n_events):
    """Best log posterior of event k inside ``frame``: ``z_t + g_k(clamp(u*, F[t], F[t + 1]))``."""
    u = np.clip(peak_u, fraction[frame], fraction[frame + 1])
    return log_intensity[frame] + _beta_log_term(u, k, n_events)


def _segment_argmax(values: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Index (into ``values``) of the first maximum of each segment beginning at ``starts``."""
    lengths = np.diff(np.append(starts, values.size))
    is_max = values == np.repeat(np.maximum.reduceat(values, starts), lengths)
    return np.minimum.reduceat(np.where(is_max, np.arange(values.size), values.size), starts)


def _best_in_ranges(log_intensity, fraction, k, n_events, peak_u, first, last):
    """For each k, the first frame in ``[first, last]`` (inclusive) maximising the mode value."""
    lengths = last - first + 1
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    owner = np.repeat(np.arange(k.size), lengths)
    frame = first[owner] + np.arange(owner.size) - starts[owner]
    values = _mode_value(log_intensity, fraction, frame, peak_u[owner], k[owner], n_events)
    return frame[_segment_argmax(values, starts)]


def _monotone_argmax(log_intensity, fraction, n_events):
    """First maximising frame of every k, by divide and conquer over k.

    ``g_k(u) = (n - 1) log(1 - u) + (k - 1) logit(u)``, so the best value of frame t,
    ``max over u in [F[t], F[t + 1]]``, has increasing differences in (t, k): later frames gain
    more from a larger k. Hence the first maximiser is non-decreasing in k, and solving the
    middle k of every open range bounds the frames of the ks on either side. Each of the
    log2(n) rounds scores at most T + n (k, frame) pairs: O((T + n) log n) time, O(T + n) memory.
    Where two frames tie exactly in exact arithmetic, rounding may pick the other one; its value
    is then the maximum to within float64 rounding.
    """
    n_frames = log_intensity.size
    best = np.zeros(n_events + 2, dtype=np.int64)  # slot i holds k = i; slots 0, n + 1 are sentinels
    best[-1] = n_frames - 1
    below, above = np.array([0]), np.array([n_events + 1])
    while below.size:
        k = (below + above) // 2
        best[k] = _best_in_ranges(
            log_intensity, fraction, k, n_events, (k - 1) / (n_events - 1), best[below], best[above]
        )
        below, above = np.concatenate([below, k]), np.concatenate([k, above])
        still_open = above - below > 1
        below, above = below[still_open], above[still_open]
    return best[1:-1]


def decode_posterior_mode(intensity, n_events: int, frame_rate_hz: float) -> np.ndarray:
    """Posterior-mode time of each of ``n_events`` events, sorted, in seconds.

    Event k maximises ``z_t + (k - 1) log u + (n - k) log(1 - u)`` over frames t (``z_t = log
    lambda_t``) and ``u`` in the frame's interval ``[F[t], F[t + 1]]``; within the winning frame
    ``u = clamp((k - 1) / (n - 1), F[t], F[t + 1])`` and the linear position of ``u`` inside the
    frame gives the sub-frame time. Ties go to the earliest frame. With ``n = 1`` the Beta term
    is flat, so the answer is the centre of the highest-intensity frame. Never builds a T x n
    array (see :func:`_monotone_argmax`).

    Returns:
        float64 array of ``n_events`` times in seconds.
    """
    values = _informative(_as_scores(intensity))
    if n_events <= 0:
        return np.zeros(0)
    if n_events == 1:
        return np.array([decode_argmax(values, frame_rate_hz)])
    fraction = _cumulative_fraction(values)
    with np.errstate(divide="ignore"):
        frame = _monotone_argmax(np.log(values), fraction, n_events)
    u = np.clip(np.arange(n_events) / (n_events - 1), fraction[frame], fraction[frame + 1])
    inside = (u - fraction[frame]) / (fraction[frame + 1] - fraction[frame])
    return np.sort(frames_to_seconds(frame + inside, frame_rate_hz))


def _boxcar(scores: np.ndarray, radius: int) -> np.ndarray:
    """Mean of ``scores`` over frames ``[t - radius, t + radius]`` that lie inside the clip."""
    if radius <= 0:
        return scores
    window = np.ones(2 * radius + 1)
    return np.convolve(scores, window, mode="same") / np.convolve(np.ones_like(scores), window, mode="same")


def suppressed_peaks(scores: np.ndarray, n_max: int, radius: int, min_score: float = -np.inf) -> np.ndarray:
    """Greedy peak picking: highest score first, each pick suppressing frames within ``radius``.

    Equivalent to "argmax, zero a window of ``2 radius + 1`` frames around it, repeat" for
    positive scores (ties to the earliest frame), but one sort plus a single pass instead of
    ``n_max`` full argmaxes. Stops after ``n_max`` picks, when the next score is below
    ``min_score``, or when every frame is picked or suppressed.

    Returns:
        int64 frame indices in the order picked (descending score).
    """
    order = np.argsort(-scores, kind="stable")
    order = order[: np.count_nonzero(scores >= min_score)]
    blocked, picked = bytearray(scores.size), []
    ones = b"\x01" * (2 * radius + 1)
    for frame in order.tolist():
        if len(picked) >= n_max:
            break
        if not blocked[frame]:
            picked.append(frame)
            low, high = max(frame - radius, 0), min(frame + radius + 1, scores.size)
            blocked[low:high] = ones[: high - low]
    return np.array(picked, dtype=np.int64)


def _refine(scores: np.ndarray, peaks: np.ndarray, radius: int) -> np.ndarray:
    """Move each peak to the highest raw frame within ``radius`` of it (first one on ties)."""
    if radius <= 0 or peaks.size == 0:
        return peaks
    window = np.clip(peaks[:, None] + np.arange(-radius, radius + 1)[None, :], 0, scores.size - 1)
    return np.unique(window[np.arange(peaks.size), np.argmax(scores[window], axis=1)])


def _decode_peaks(scores, n_max, frame_rate_hz, tolerance_s, min_raw_score=None) -> np.ndarray:
    """Sorted frame-centre times (s) of suppressed peaks of the boxcar-smoothed scores, each
    refined to its highest raw frame; with ``min_raw_score``, only peaks whose raw score
    reaches it."""
    scores = _as_scores(scores)
    radius = int(seconds_to_frames(tolerance_s, frame_rate_hz))
    peaks = _refine(scores, suppressed_peaks(_boxcar(scores, radius), n_max, 2 * radius), radius)
    if min_raw_score is not None:
        peaks = peaks[scores[peaks] >= min_raw_score]
    return frames_to_seconds(np.sort(peaks), frame_rate_hz, offset=0.5)


def decode_iterative_mode(intensity, n_events: int, frame_rate_hz: float, tolerance_s: float = 0.02) -> np.ndarray:
    """Iterative mode with suppression (the paper's fast decoder), sorted times in seconds.

    Smooths the intensity with a boxcar of radius ``tolerance_s``, then repeatedly takes the
    highest frame and suppresses frames within ``2 x tolerance_s`` of it. Returns at most
    ``n_events`` frame centres (fewer when the clip runs out of unsuppressed frames).
    O(T log T) time, O(T) memory.
    """
    return _decode_peaks(intensity, n_events, frame_rate_hz, tolerance_s)


def decode_binary_topn(probabilities, n_events: int, frame_rate_hz: float, tolerance_s: float = 0.02) -> np.ndarray:
    """Binary head, known n: the ``n_events`` best suppressed peaks of the smoothed
    probabilities, as sorted frame-centre times in seconds (fewer if the clip runs out)."""
    return _decode_peaks(probabilities, n_events, frame_rate_hz, tolerance_s)


def decode_binary_threshold(
    probabilities, frame_rate_hz: float, threshold: float = 0.5, tolerance_s: float = 0.02
) -> np.ndarray:
    """Binary head, unknown n: every suppressed peak whose probability is ``>= threshold``,
    as sorted frame-centre times in seconds."""
    scores = _as_scores(probabilities)
    return _decode_peaks(scores, scores.size, frame_rate_hz, tolerance_s, min_raw_score=threshold)


def decode_batch(decoder, scores, lengths, n_events=None, **kwargs) -> list[np.ndarray]:
    """Apply a one-clip decoder to each row of padded ``scores`` ``[B, T]``.

    Args:
        decoder: one of this module's decoders, e.g. ``decode_posterior_median``.
        scores: ``[B, T]`` intensities or probabilities; row b is real up to ``lengths[b]``.
        lengths: ``[B]`` number of real frames per row.
        n_events: None for decoders without it, else an int or ``[B]`` event counts.
        **kwargs: passed to every call, e.g. ``frame_rate_hz=100.0``.

    Returns:
        One decoder output per row (times in seconds).
    """
    rows = [np.asarray(row)[:length] for row, length in zip(scores, np.asarray(lengths).tolist())]
    if n_events is None:
        return [decoder(row, **kwargs) for row in rows]
    counts = np.broadcast_to(n_events, (len(rows),)).tolist()
    return [decoder(row, int(count), **kwargs) for row, count in zip(rows, counts)]
