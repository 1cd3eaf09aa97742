"""Timestamps from frame scores (METHOD.md section 4). numpy only, vectorised, memory linear in T.

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
  100 Hz), averaged over the frames inside the clip, and suppress frames within ``r`` of an
  accepted peak. They report frame centres.
"""

from __future__ import annotations

import numpy as np
from scipy.special import xlog1py, xlogy
from scipy.stats import beta

from framestamp.frames import frames_to_seconds, seconds_to_frames

_CHUNK_MIN = 1 << 16  # candidate (k, frame) pairs scored at once in the posterior mode, at least


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


def _bisect_level(k, n_events, peak_u, level, towards):
    """Point between ``peak_u`` and ``towards`` (0 or 1) where the concave ``g_k`` falls to ``level``.

    Returned slightly on the far side (where ``g_k < level``), so no frame is wrongly excluded.
    """
    inner, outer = peak_u.copy(), np.full_like(peak_u, float(towards))
    above = _beta_log_term(outer, k, n_events) >= level
    for _ in range(52):  # enough halvings to reach float64 resolution on [0, 1]
        middle = 0.5 * (inner + outer)
        keep = _beta_log_term(middle, k, n_events) >= level
        inner, outer = np.where(keep, middle, inner), np.where(keep, outer, middle)
    return np.where(above, float(towards), outer)


def _mode_windows(log_intensity, fraction, k, n_events, peak_u):
    """Inclusive frame ranges ``[first, last]`` outside which event k's mode cannot lie.

    Reference: the best value near the frame holding ``u* = (k - 1) / (n - 1)``. A frame t can
    only beat it if ``max(z) + g_k(clamp(u*, F[t], F[t + 1])) >= reference``; since ``g_k`` is
    concave with its peak at ``u*``, those frames form one window around ``u*``.
    """
    n_frames = log_intensity.size
    last_positive = np.flatnonzero(np.isfinite(log_intensity))[-1]
    home = np.searchsorted(fraction[1:], peak_u, side="right")  # F[t] <= u* < F[t + 1]
    home = np.where(home >= n_frames, last_positive, home)
    reference = np.full(peak_u.shape, -np.inf)
    for step in range(-3, 4):
        near = np.clip(home + step, 0, n_frames - 1)
        reference = np.maximum(reference, _mode_value(log_intensity, fraction, near, peak_u, k, n_events))
    level = reference - log_intensity.max() - 1e-9 * (1.0 + np.abs(reference))
    u_first = _bisect_level(k, n_events, peak_u, level, towards=0)
    u_last = _bisect_level(k, n_events, peak_u, level, towards=1)
    first = np.minimum(np.searchsorted(fraction[1:], u_first, side="left"), home)
    last = np.maximum(np.searchsorted(fraction[:-1], u_last, side="right") - 1, home)
    return first, last


def _segment_argmax(values: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Index (into ``values``) of the first maximum of each segment beginning at ``starts``."""
    lengths = np.diff(np.append(starts, values.size))
    is_max = values == np.repeat(np.maximum.reduceat(values, starts), lengths)
    return np.minimum.reduceat(np.where(is_max, np.arange(values.size), values.size), starts)


def _best_frames(log_intensity, fraction, k, n_events, peak_u, first, last):
    """For each k, the frame in ``[first, last]`` maximising the mode value; chunked over k."""
    lengths = last - first + 1
    budget = max(log_intensity.size, _CHUNK_MIN)
    chunk_of = np.cumsum(lengths) // budget  # consecutive ks whose windows fit one chunk
    best = np.empty(k.size, dtype=np.int64)
    for chunk in np.split(np.arange(k.size), np.flatnonzero(np.diff(chunk_of)) + 1):
        starts = np.concatenate([[0], np.cumsum(lengths[chunk])[:-1]])
        owner = np.repeat(chunk, lengths[chunk])
        frame = first[owner] + np.arange(owner.size) - np.repeat(starts, lengths[chunk])
        values = _mode_value(log_intensity, fraction, frame, peak_u[owner], k[owner], n_events)
        best[chunk] = frame[_segment_argmax(values, starts)]
    return best


def decode_posterior_mode(intensity, n_events: int, frame_rate_hz: float) -> np.ndarray:
    """Posterior-mode time of each of ``n_events`` events, sorted, in seconds.

    Event k maximises ``z_t + (k - 1) log u + (n - k) log(1 - u)`` over frames t (``z_t = log
    lambda_t``) and ``u`` in the frame's interval ``[F[t], F[t + 1]]``; within the winning frame
    ``u = clamp((k - 1) / (n - 1), F[t], F[t + 1])`` and the linear position of ``u`` inside the
    frame gives the sub-frame time. Ties go to the earliest frame. With ``n = 1`` the Beta term
    is flat, so the answer is the centre of the highest-intensity frame. Never builds a T x n
    array: each k only scores the window of frames that could beat a nearby reference.

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
        log_intensity = np.log(values)
    k = np.arange(1, n_events + 1)
    peak_u = (k - 1) / (n_events - 1)
    first, last = _mode_windows(log_intensity, fraction, k, n_events, peak_u)
    frame = _best_frames(log_intensity, fraction, k, n_events, peak_u, first, last)
    u = np.clip(peak_u, fraction[frame], fraction[frame + 1])
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


def _decode_peaks(scores, n_max, frame_rate_hz, tolerance_s, min_score=-np.inf) -> np.ndarray:
    """Sorted frame-centre times (s) of suppressed peaks of the boxcar-smoothed scores."""
    scores = _as_scores(scores)
    radius = int(seconds_to_frames(tolerance_s, frame_rate_hz))
    peaks = suppressed_peaks(_boxcar(scores, radius), n_max, radius, min_score)
    return frames_to_seconds(np.sort(peaks), frame_rate_hz, offset=0.5)


def decode_iterative_mode(intensity, n_events: int, frame_rate_hz: float, tolerance_s: float = 0.02) -> np.ndarray:
    """Iterative mode with suppression (the paper's fast decoder), sorted times in seconds.

    Smooths the intensity with a boxcar of radius ``tolerance_s``, then repeatedly takes the
    highest frame and suppresses frames within ``tolerance_s`` of it. Returns at most
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
    """Binary head, unknown n: every suppressed peak whose smoothed probability is
    ``>= threshold``, as sorted frame-centre times in seconds."""
    scores = _as_scores(probabilities)
    return _decode_peaks(scores, scores.size, frame_rate_hz, tolerance_s, min_score=threshold)


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
