"""The transcript decoder: one start per word, in order, from the intensity and the words' lengths."""

import itertools

import numpy as np
import pytest

from framestamp.decoders import decode_iterative_mode
from framestamp.decoders_transcript import (
    MIN_GAP_S, GapPrior, _viterbi, candidates, decode_transcript_starts, drift_in_words,
)

RATE = 100.0


def bumps(frames_and_heights, length):
    """An intensity of narrow bumps (3 frames each) at the given frames."""
    intensity = np.full(length, 1e-5)
    for frame, height in frames_and_heights:
        intensity[frame - 1 : frame + 2] += height * np.array([0.25, 0.5, 0.25])
    return intensity


def test_a_long_word_heard_as_two_keeps_every_label_on_its_own_word():
    # "a", "wonderful", "day", "to", "go": starts 0.50, 0.62, 1.30, 1.62, 1.82 s (0.07-0.08 s per letter),
    # the long word also fires at 0.95 s, more strongly than the faint "to"
    truth = [50, 62, 130, 162, 182]
    intensity = bumps([(50, 1.0), (62, 1.0), (95, 0.9), (130, 1.0), (162, 0.5), (182, 1.0)], 240)
    top_n = decode_iterative_mode(intensity, 5, RATE)
    assert np.allclose(top_n, (np.array([50, 62, 95, 130, 182]) + 0.5) / RATE)  # "day" labelled at 0.95 s
    starts = decode_transcript_starts(intensity, [len(w) for w in ("a", "wonderful", "day", "to", "go")], RATE)
    assert np.allclose(starts, (np.array(truth) + 0.5) / RATE)


def test_a_pause_between_phrases_does_not_pull_a_word_onto_a_peak_inside_it():
    # two phrases of four 4-letter words 0.3 s apart, a 1.6 s pause between them holding a spurious
    # peak (a breath) stronger than the faint first word after it
    truth = [50, 80, 110, 140, 300, 330, 360, 390]
    intensity = bumps([(f, 0.3 if f == 300 else 1.0) for f in truth] + [(220, 0.6)], 450)
    starts = decode_transcript_starts(intensity, [4] * 8, RATE)
    assert np.allclose(starts, (np.array(truth) + 0.5) / RATE)
    # with one normal for every gap (no pauses), the pause is cheaper cut in two by the breath
    starts = decode_transcript_starts(intensity, [4] * 8, RATE, prior=GapPrior(sigma=0.7, pause_share=0.0))
    assert np.isclose(starts, 2.205).any() and not np.isclose(starts, 3.005).any()


def test_clean_peaks_are_the_peak_decoders_starts():
    frames = [30, 70, 120, 150, 200]
    intensity = bumps([(f, 1.0) for f in frames], 260)
    starts = decode_transcript_starts(intensity, [3, 4, 2, 5, 3], RATE)
    assert np.allclose(starts, decode_iterative_mode(intensity, 5, RATE))


@pytest.mark.parametrize("seed", range(12))
def test_the_search_finds_the_best_alignment_of_brute_force(seed):
    rng = np.random.default_rng(seed)
    times = np.sort(rng.choice(np.arange(5, 120), size=9, replace=False)) / RATE
    evidence = rng.normal(size=times.size)
    expected = np.log(rng.uniform(0.05, 0.4, size=3))  # 4 words
    prior = GapPrior() if seed % 2 else GapPrior(sigma=0.7, pause_share=0.0)

    def score(path):
        gaps = np.diff(times[list(path)])
        if np.any(gaps <= MIN_GAP_S):
            return -np.inf
        return evidence[list(path)].sum() + prior(np.log(gaps) - expected).sum()

    best = max(itertools.combinations(range(times.size), 4), key=score)
    anchors = np.sort(rng.choice(times.size, size=4, replace=False))
    path, found = _viterbi(times, evidence, expected, prior, beam=64, reach=64, anchors=anchors)
    assert tuple(path) == best and found == pytest.approx(score(best))
    # a beam and a reach smaller than the candidates: a path no worse than the anchors' own
    path, found = _viterbi(times, evidence, expected, prior, beam=2, reach=2, anchors=anchors)
    assert found >= score(tuple(anchors)) - 1e-9 or score(tuple(anchors)) == -np.inf
    assert found == pytest.approx(score(tuple(path)))


def test_every_word_gets_one_start_in_order_whatever_the_intensity():
    rng = np.random.default_rng(3)
    for intensity in (rng.exponential(0.02, 500), np.zeros(300), bumps([(40, 1.0)], 100)):
        starts = decode_transcript_starts(intensity, [4, 2, 7, 3, 5, 1], RATE)
        assert starts.shape == (6,) and np.all(np.diff(starts) >= 0)
        assert np.all((starts >= 0) & (starts <= intensity.size / RATE))
    one = decode_transcript_starts(bumps([(40, 1.0), (80, 2.0)], 100), [5], RATE)
    assert np.allclose(one, [0.805])  # one word: the strongest peak


def test_silence_holds_no_candidates_but_the_peak_decoders_starts():
    intensity = bumps([(100, 1.0), (400, 1.0)], 500)
    times, _ = candidates(intensity, RATE, decode_iterative_mode(intensity, 2, RATE))
    assert np.allclose(times, [1.005, 4.005])


def test_a_long_recording_is_aligned_by_its_beam_in_linear_time():
    # 47 minutes: 9,000 words, a spurious peak after every 50th, a pause after every 200th
    rng = np.random.default_rng(0)
    letters = rng.integers(2, 9, size=9000)
    gaps = 0.06 * letters + np.where(np.arange(9000) % 200 == 199, 3.0, 0.0)
    frames = np.round(np.r_[0.5, 0.5 + np.cumsum(gaps[:-1])] * RATE).astype(int)
    spurious = frames[49::50] + np.round(0.5 * gaps[49::50] * RATE).astype(int)
    intensity = bumps([(f, 1.0) for f in frames] + [(f, 0.8) for f in spurious], frames[-1] + 400)
    starts = decode_transcript_starts(intensity, letters, RATE)
    assert np.mean(np.abs(starts - (frames + 0.5) / RATE) <= 0.05) > 0.99


def test_a_noisy_stretch_of_more_candidates_than_the_reach_is_crossed_where_the_words_are():
    # 10 words, 30 s of music-like bumps (300 weak candidates, more than reach=64), 10 words
    before = 50 + 30 * np.arange(10)
    noise = 400 + 10 * np.arange(300)
    after = 3500 + 30 * np.arange(10)
    intensity = bumps([(f, 1.0) for f in (*before, *after)] + [(f, 0.05) for f in noise], 3900)
    starts = decode_transcript_starts(intensity, [3] * 20, RATE)
    assert np.allclose(starts, (np.r_[before, after] + 0.5) / RATE)


def test_bad_lengths_are_refused():
    with pytest.raises(ValueError, match="positive word lengths"):
        decode_transcript_starts(np.ones(10), [], RATE)
    with pytest.raises(ValueError, match="positive word lengths"):
        decode_transcript_starts(np.ones(10), [3, 0], RATE)


def test_a_path_never_runs_out_of_candidates_for_the_words_left():
    # as many candidates as words, gaps that invite skipping ahead, a beam of one: the only viable
    # path takes every candidate (a path that ran ahead died at the end, and the answer with it)
    times = np.arange(10) * 0.2 + 0.5
    expected = np.full(9, np.log(2.0))  # each word expected 2 s after the one before
    path, _ = _viterbi(times, np.zeros(10), expected, GapPrior(), beam=1, reach=64, anchors=np.arange(10))
    assert path.tolist() == list(range(10))


def test_drift_counts_how_far_placed_words_are_from_where_the_intensity_puts_them():
    frames = np.arange(100) * 30 + 50  # 100 words, one every 0.3 s
    intensity = bumps([(f, 1.0) for f in frames], 3100)
    placed = (frames + 0.5) / RATE
    assert drift_in_words(intensity, placed, RATE).max() < 1.0
    # every word placed 20 starts later (a path that ran ahead): its last words crowd the end
    ahead = np.r_[placed[20:], np.linspace(placed[-1] + 0.05, 30.9, 20)]
    assert drift_in_words(intensity, ahead, RATE)[10:80].min() > 19


def test_align_warns_when_the_placement_ran_off():
    from types import SimpleNamespace

    from framestamp.errors import FramestampWarning
    from framestamp.inference.api import Stamper

    frames = np.arange(400) * 30 + 50
    row = bumps([(f, 1.0) for f in frames], 12100)
    stamper = SimpleNamespace(head=SimpleNamespace(curve=lambda r: r), model=SimpleNamespace(frame_rate_hz=RATE))
    placed = (frames + 0.5) / RATE
    Stamper._warn_on_drift(stamper, row, list(placed))  # in place: nothing said
    ahead = np.r_[placed[40:], np.linspace(placed[-1] + 0.05, 120.9, 40)]
    with pytest.warns(FramestampWarning, match=r"from about 13 s on, the words are placed up to 40 words away"):
        Stamper._warn_on_drift(stamper, row, list(ahead))


def test_every_word_is_placed_within_the_band_of_where_the_intensity_puts_it():
    rng = np.random.default_rng(5)
    frames = np.cumsum(rng.integers(15, 60, size=300)) + 50  # 300 words
    heights = rng.choice([1.0, 1.0, 1.0, 0.2], size=frames.size)  # some weak starts
    spurious = [(int(f) + 8, 0.9) for f in frames[::7]]  # and strong peaks inside words
    intensity = bumps([*zip(frames.tolist(), heights), *spurious], int(frames[-1]) + 100)
    letters = rng.integers(1, 12, size=frames.size)
    free = decode_transcript_starts(intensity, letters, RATE, band=np.inf)
    assert drift_in_words(intensity, free, RATE).max() > 2  # word lengths unlike the gaps: the path wanders
    starts = decode_transcript_starts(intensity, letters, RATE, band=2)
    assert drift_in_words(intensity, starts, RATE).max() <= 2 and np.all(np.diff(starts) > 0)
