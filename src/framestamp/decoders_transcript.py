"""Word starts of a known transcript: the "each word" intensity and the words' lengths, together.

Given only the count, the peak decoder keeps the ``n`` highest peaks, so one spurious peak (a
long word heard as two) and one missed start shift the labels of every word between them. A
transcript says more than the count: how long each word is. The decoder below chooses one peak
per word, in order, maximising

    sum_i log m(c_i)  +  sum_i log p(log(t_{i+1} - t_i) - log(rate * letters_i))

where ``m(c)`` is the intensity mass within ``MASS_RADIUS_S`` of candidate ``c`` (a peak of the
smoothed intensity, or a start the peak decoder chose), ``letters_i`` the length of word ``i``,
and ``rate`` the clip's seconds per letter, read from the peak decoder's starts (the median of
gap / letters; robust to the few it gets wrong). ``p`` (``GapPrior``) is a mixture of two
normals: a word followed at once by the next, or by a pause; with one normal for every gap, a
long pause was cheaper cut in two at a spurious peak inside it, which put the words after it one
peak off for a whole phrase. It is a Viterbi search over candidates; a beam
of ``beam`` partial alignments, each moving on to the next ``reach`` candidates or the peak
decoder's next two starts, keeps long recordings linear in their length (a hard limit: the answer
is the best path the beam kept, or the peak decoder's own starts where those score higher). On
long recordings two constraints keep the search on track: a path moves only where candidates are
left for the words after it, and a word is placed only within ``band`` words of where the running
sum of the intensity puts it (``words_before``); without them the kept paths ran ahead by skipping
weak starts and lost the right one.
What it does to a trained model's starts: ``scripts/probe_transcript_decoder.py`` (stored in
results/probes/transcript-decoder-open.json; the closed-vocabulary model with the first prior,
one normal for every gap: transcript-decoder.json).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import decoders
from .frames import seconds_to_frames


@dataclass(frozen=True)
class GapPrior:
    """Log density (up to a constant) of log(gap / expected gap) from one word's start to the
    next: the next word at once (spread ``sigma``), or after a pause (``pause_share`` of the
    gaps, ``pause_shift`` longer in log, spread ``pause_sigma``). The defaults were chosen on the
    open corpus's dev clips (``scripts/probe_transcript_decoder.py``)."""

    sigma: float = 0.5
    pause_share: float = 0.2
    pause_shift: float = 0.7
    pause_sigma: float = 1.0

    def __call__(self, log_ratio: np.ndarray) -> np.ndarray:
        at_once = np.log1p(-self.pause_share) - np.log(self.sigma) - 0.5 * (log_ratio / self.sigma) ** 2
        if self.pause_share == 0:
            return at_once
        paused = (np.log(self.pause_share) - np.log(self.pause_sigma)
                  - 0.5 * ((log_ratio - self.pause_shift) / self.pause_sigma) ** 2)  # fmt: skip
        return np.logaddexp(at_once, paused)


# A word is placed within this many words of where the running sum of the intensity puts it: on a
# long recording the search otherwise kept paths that ran ahead, skipping weak starts, and lost the
# right one (results/probes/transcript-decoder-open.json, long recordings).
BAND_WORDS = 50
MASS_RADIUS_S = 0.045  # a candidate's evidence: the intensity within this of its frame
MIN_MASS = 1e-3  # a candidate with less evidence than this is no word start (silence, noise)
MIN_GAP_S = 0.04  # two words' starts are at least this far apart (the peak decoder's suppression)
SECONDS_PER_LETTER = (0.01, 0.5)  # the range a clip's speaking rate is kept in


def decode_transcript_starts(
    intensity, letters, frame_rate_hz: float, prior: GapPrior = GapPrior(), tolerance_s: float = 0.02,
    beam: int = 256, reach: int = 64, band: float = BAND_WORDS,
) -> np.ndarray:  # fmt: skip
    """Start time (s) of each word of a transcript, in order (``len(letters)`` increasing times).

    Args:
        intensity: ``[T]`` expected word starts per frame (the "each word" question's curve).
        letters: each word's length in letters (positive), in transcript order.
        frame_rate_hz: the intensity's frame rate.
        prior: how the gap between consecutive starts spreads around its expected value.
        tolerance_s: the peak decoder's smoothing half-width (as ``decode_iterative_mode``).
        beam, reach: partial alignments kept per word, and candidates ahead each may move to.
        band: how many words from where the running sum of the intensity puts it a word may be placed.
    """
    intensity = decoders._as_scores(intensity)
    letters = np.asarray(letters, dtype=np.float64)
    if letters.ndim != 1 or letters.size == 0 or np.any(letters <= 0):
        raise ValueError("letters must be a non-empty list of positive word lengths")
    n = letters.size
    chosen = peak_starts(intensity, n, frame_rate_hz, tolerance_s)
    if n == 1:
        return chosen
    times, evidence = candidates(intensity, frame_rate_hz, chosen, tolerance_s)
    low, high = SECONDS_PER_LETTER
    rate = float(np.clip(np.median(np.diff(chosen) / letters[:-1]), low, high))
    expected = np.log(rate * letters[:-1])
    # the peak decoder's starts among the candidates: reachable from every state, so a stretch of
    # more than ``reach`` candidates (noise, music) can be crossed where the peak decoder crossed it
    anchors = np.unique(np.searchsorted(times, (np.floor(chosen * frame_rate_hz) + 0.5) / frame_rate_hz))
    banded = (words_before(intensity, times, frame_rate_hz, n), band)
    found = _viterbi(times, evidence, expected, prior, beam, reach, anchors, banded)
    fallback = _score(times, evidence, expected, prior, anchors) if anchors.size == n else -np.inf
    if found is None or found[1] < fallback:
        return chosen
    return times[found[0]]


def words_before(intensity: np.ndarray, times_s: np.ndarray, frame_rate_hz: float, words: int) -> np.ndarray:
    """How many of ``words`` words start before each time, by the intensity: its running sum,
    scaled so that the whole recording holds exactly ``words`` starts."""
    cumulative = np.concatenate([[0.0], np.cumsum(intensity)])
    frames = np.clip(np.floor(np.asarray(times_s) * frame_rate_hz).astype(np.int64), 0, intensity.size)
    return cumulative[frames] * words / max(cumulative[-1], 1e-9)


def drift_in_words(intensity, starts_s: np.ndarray, frame_rate_hz: float) -> np.ndarray:
    """For each placed word, how many words it is from where the intensity puts it
    (:func:`words_before` against its place in the transcript): a few on a good alignment,
    hundreds where a placement ran off."""
    intensity = decoders._as_scores(intensity)
    starts_s = np.asarray(starts_s, dtype=np.float64)
    return np.abs(words_before(intensity, starts_s, frame_rate_hz, starts_s.size) - np.arange(starts_s.size))


def peak_starts(intensity: np.ndarray, n: int, frame_rate_hz: float, tolerance_s: float = 0.02) -> np.ndarray:
    """The peak decoder's ``n`` starts (s), which the candidates always hold: its ``n`` highest
    peaks, or the posterior median's ``n`` starts where the clip has fewer peaks."""
    chosen = decoders.decode_iterative_mode(intensity, n, frame_rate_hz, tolerance_s)
    if chosen.size < n:
        chosen = decoders.decode_posterior_median(intensity, n, frame_rate_hz)
    return chosen


def candidates(
    intensity: np.ndarray, frame_rate_hz: float, chosen: np.ndarray, tolerance_s: float = 0.02
) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """Sorted candidate start times (s) and their log evidence: every local maximum of the
    boxcar-smoothed intensity, moved to its highest raw frame (as the peak decoder does), whose
    mass reaches ``MIN_MASS``, and every start in ``chosen``."""
    radius = int(seconds_to_frames(tolerance_s, frame_rate_hz))
    smooth = decoders._boxcar(intensity, radius)
    rising = np.r_[True, smooth[1:] > smooth[:-1]]
    falling = np.r_[smooth[:-1] >= smooth[1:], True]
    peaks = decoders._refine(intensity, np.flatnonzero(rising & falling), radius)
    frames = np.unique(np.r_[peaks, np.floor(chosen * frame_rate_hz).astype(np.int64)].clip(0, intensity.size - 1))
    mass = _mass(intensity, frames, int(round(MASS_RADIUS_S * frame_rate_hz)))
    keep = (mass >= MIN_MASS) | np.isin(frames, np.floor(chosen * frame_rate_hz).astype(np.int64))
    return (frames[keep] + 0.5) / frame_rate_hz, np.log(mass[keep] + 1e-9)


def _mass(intensity: np.ndarray, frames: np.ndarray, radius: int) -> np.ndarray:
    cumulative = np.concatenate([[0.0], np.cumsum(intensity)])
    return cumulative[np.minimum(frames + radius + 1, intensity.size)] - cumulative[np.maximum(frames - radius, 0)]


def _viterbi(
    times: np.ndarray, evidence: np.ndarray, expected_log_gaps: np.ndarray, prior: GapPrior, beam: int, reach: int,
    anchors: np.ndarray, banded: tuple[np.ndarray, float] | None = None,
) -> tuple[np.ndarray, float] | None:  # fmt: skip
    """Indices into ``times`` of the best increasing path with one candidate per word, and its
    score (None when the beam keeps no such path). A state moves to the next ``reach`` candidates
    and to the next two ``anchors``, and only where enough candidates are left for the words after
    it (a path that ran ahead would otherwise die at the end, with every other kept path); with
    ``banded`` = (each candidate's :func:`words_before`, band), word ``w`` only where that is within
    ``band`` of ``w``. The first word starts at one of the earliest ``beam`` candidates or at the
    first anchor."""
    count, words = times.size, expected_log_gaps.size + 1
    before, band = banded if banded is not None else (np.zeros(count), np.inf)
    states = np.union1d(np.arange(min(beam, count)), anchors[:1])
    states = states[(count - 1 - states >= words - 1) & (before[states] <= band)]
    scores = evidence[states]
    kept, parents = [states], []
    for word, expected in enumerate(expected_log_gaps, start=1):
        following = np.searchsorted(anchors, states, side="right")[:, None] + np.arange(2)[None, :]
        successor = np.concatenate([states[:, None] + np.arange(1, reach + 1)[None, :],
                                    anchors[np.minimum(following, anchors.size - 1)]], axis=1)  # fmt: skip
        inside = np.concatenate([successor[:, :reach] < count, following < anchors.size], axis=1)
        successor = np.minimum(successor, count - 1)
        gap = times[successor] - times[states][:, None]
        allowed = (inside & (gap > MIN_GAP_S) & (count - 1 - successor >= words - 1 - word)
                   & (np.abs(before[successor] - word) <= band))  # fmt: skip
        gap_score = prior(np.log(np.where(allowed, gap, 1.0)) - expected)
        width = successor.shape[1]
        total = np.where(allowed, scores[:, None] + gap_score + evidence[successor], -np.inf).ravel()
        successor = successor.ravel()
        best = _best_into_each(successor, total)
        if best.size == 0:
            return None
        if best.size > beam:
            best = best[np.argpartition(-total[best], beam - 1)[:beam]]
        states, scores = successor[best], total[best]
        kept.append(states)
        parents.append(best // width)  # the previous word's state each kept one came from
    position = int(np.argmax(scores))
    score, path = float(scores[position]), [kept[-1][position]]
    for states, parent in zip(reversed(kept[:-1]), reversed(parents)):
        position = int(parent[position])
        path.append(states[position])
    return np.array(path[::-1], dtype=np.int64), score


def _score(times: np.ndarray, evidence: np.ndarray, expected_log_gaps: np.ndarray, prior: GapPrior,
           path: np.ndarray) -> float:  # fmt: skip
    """The objective of one path (indices into ``times``, one per word), as :func:`_viterbi` scores it."""
    gaps = np.diff(times[path])
    if np.any(gaps <= MIN_GAP_S):
        return -np.inf
    return float(evidence[path].sum() + prior(np.log(gaps) - expected_log_gaps).sum())


def _best_into_each(successor: np.ndarray, total: np.ndarray) -> np.ndarray:
    """For each distinct ``successor`` reached with a finite ``total``, the flat index of its best
    way in (the first one on ties)."""
    base = successor.min()
    slot = successor - base
    best_total = np.full(slot.max() + 1, -np.inf)
    np.maximum.at(best_total, slot, total)
    winners = np.flatnonzero(np.isfinite(total) & (total == best_total[slot]))
    first = np.full(best_total.size, total.size)
    np.minimum.at(first, slot[winners], winners)
    return first[first < total.size]

