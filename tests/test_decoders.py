"""Decoders against hand cases, closed forms, brute-force references and hour-long inputs."""

import tracemalloc

import numpy as np
import pytest
from scipy.special import xlog1py, xlogy
from scipy.stats import beta, norm

from framestamp import decoders as dec

RATE_HZ = 100.0


def bumps(centres_frames, n_frames, sigma_frames=0.5, background=1e-6):
    """Intensity per frame: exact frame integrals of unit-mass Gaussian bumps, plus a floor.

    Centres must lie at least 6 frames inside the clip (mass beyond 6 frames is dropped).
    """
    centres = np.asarray(centres_frames, dtype=float)[:, None]
    near = np.floor(centres).astype(int) + np.arange(-6, 7)[None, :]
    mass = norm.cdf(near + 1, centres, sigma_frames) - norm.cdf(near, centres, sigma_frames)
    intensity = np.full(n_frames, background)
    np.add.at(intensity, near.ravel(), mass.ravel())
    return intensity


def brute_force_mode_values(intensity, n_events):
    """The T x n table of ``z_t + g_k(clamp(u*, F[t], F[t+1]))`` the decoder must not build."""
    cumulative = np.concatenate([[0.0], np.cumsum(intensity)])
    fraction = cumulative / cumulative[-1]
    with np.errstate(divide="ignore"):
        z = np.log(intensity)
    k = np.arange(1, n_events + 1)[None, :]
    u = np.clip((k - 1) / (n_events - 1), fraction[:-1, None], fraction[1:, None])
    return z[:, None] + xlogy(k - 1, u) + xlog1py(n_events - k, -u), fraction


def brute_force_mode(intensity, n_events):
    values, fraction = brute_force_mode_values(intensity, n_events)
    frame = values.argmax(axis=0)
    u = np.clip(np.arange(n_events) / (n_events - 1), fraction[frame], fraction[frame + 1])
    return np.sort((frame + (u - fraction[frame]) / (fraction[frame + 1] - fraction[frame])) / RATE_HZ)


def test_count():
    assert dec.expected_count([0.5, 1.0, 1.0]) == pytest.approx(2.5)
    assert dec.decode_count([0.5, 1.0, 1.0]) == 3
    assert dec.decode_count([0.2, 0.2]) == 0
    assert dec.decode_count(np.zeros(4)) == 0


def test_argmax_reports_frame_centre_on_the_given_grid():
    intensity = np.array([0.1, 0.2, 0.1, 0.1, 0.1, 0.1, 0.1, 0.9, 0.3])
    assert dec.decode_argmax(intensity, 100.0) == pytest.approx(0.075)
    assert dec.decode_argmax(intensity, 25.0) == pytest.approx(7.5 / 25.0)


def test_median_interpolates_inside_frames():
    # Lambda = 4; half (2) is reached a third of the way into frame 1 (F goes 1 -> 4 there).
    assert dec.decode_median([1.0, 3.0], RATE_HZ) == pytest.approx((1 + 1 / 3) / RATE_HZ)
    assert dec.decode_median([0.0, 0.0, 1.0, 1.0, 0.0], RATE_HZ) == pytest.approx(0.03)


def test_median_is_sub_frame_precise_on_a_single_bump():
    centre = 10.3
    intensity = bumps(np.array([centre]), 30)
    assert abs(dec.decode_median(intensity, RATE_HZ) * RATE_HZ - centre) < 0.1
    assert abs(dec.decode_argmax(intensity, RATE_HZ) * RATE_HZ - centre) == pytest.approx(0.2)


def test_posterior_median_on_flat_intensity_is_the_beta_median_grid():
    n_frames, n_events = 40, 7
    times = dec.decode_posterior_median(np.full(n_frames, 0.2), n_events, RATE_HZ)
    k = np.arange(1, n_events + 1)
    np.testing.assert_allclose(times, n_frames * beta.median(k, n_events - k + 1) / RATE_HZ)
    np.testing.assert_allclose(times + times[::-1], n_frames / RATE_HZ)  # symmetric, evenly spread
    assert np.all(np.diff(times) > 0)


@pytest.mark.parametrize("decoder", [dec.decode_posterior_median, dec.decode_posterior_mode])
def test_zero_intensity_is_treated_as_flat(decoder):
    zero = decoder(np.zeros(20), 4, RATE_HZ)
    assert np.all(np.isfinite(zero))
    np.testing.assert_allclose(zero, decoder(np.ones(20), 4, RATE_HZ))
    assert dec.decode_median(np.zeros(5), RATE_HZ) == pytest.approx(2.5 / RATE_HZ)  # the middle of a flat clip


ALL_N_DECODERS = [dec.decode_posterior_median, dec.decode_posterior_mode, dec.decode_iterative_mode,
                  dec.decode_binary_topn]


@pytest.mark.parametrize("decoder", ALL_N_DECODERS)
def test_no_event_gives_empty_array(decoder):
    out = decoder(np.ones(10), 0, RATE_HZ)
    assert out.shape == (0,)


def test_empty_clip_and_bad_scores_raise():
    with pytest.raises(ValueError):
        dec.decode_posterior_median(np.zeros(0), 1, RATE_HZ)
    with pytest.raises(ValueError):
        dec.decode_iterative_mode(np.array([0.1, -0.2]), 1, RATE_HZ)
    with pytest.raises(ValueError):
        dec.decode_posterior_mode(np.array([0.1, np.nan]), 2, RATE_HZ)


@pytest.mark.parametrize("decoder", [dec.decode_posterior_median, dec.decode_posterior_mode])
def test_more_events_than_frames_posterior_decoders_return_all(decoder):
    intensity = np.array([0.5, 2.0, 0.0, 1.0])
    times = decoder(intensity, 11, RATE_HZ)
    assert times.shape == (11,)
    assert np.all(np.diff(times) >= 0) and times[0] >= 0 and times[-1] <= 4 / RATE_HZ


def test_more_events_than_frames_peak_decoders_return_fewer():
    times = dec.decode_iterative_mode(np.linspace(1, 2, 10), 50, RATE_HZ, tolerance_s=0.02)
    frames = np.round(times * RATE_HZ - 0.5).astype(int)
    assert 0 < times.size < 50
    assert np.all(np.diff(frames) > 0)  # distinct frames, even after refinement on a ramp


@pytest.mark.parametrize("n_events", [1, 2, 5, 20, 50])
def test_posterior_median_recovers_bumps_within_half_a_frame(n_events):
    rng = np.random.default_rng(n_events)
    centres = 20 + 40 * np.arange(n_events) + rng.uniform(0, 1, n_events)
    intensity = bumps(centres, 40 * n_events + 40)
    times = dec.decode_posterior_median(intensity, n_events, RATE_HZ)
    assert np.max(np.abs(times * RATE_HZ - centres)) < 0.5


@pytest.mark.parametrize("n_events", [2, 5, 20, 50])
def test_posterior_mode_recovers_equal_bumps_within_half_a_frame(n_events):
    # Equal peak heights: with unequal heights the marginal mode of event k may legitimately
    # move to a higher neighbouring bump once n is large.
    centres = 20.5 + 40 * np.arange(n_events)
    times = dec.decode_posterior_mode(bumps(centres, 40 * n_events + 40, sigma_frames=0.3), n_events, RATE_HZ)
    assert np.max(np.abs(times * RATE_HZ - centres)) <= 0.5 + 1e-9


def test_posterior_mode_matches_brute_force_exactly_on_random_inputs():
    rng = np.random.default_rng(0)
    for _ in range(300):
        n_frames, n_events = rng.integers(1, 30), rng.integers(2, 40)
        intensity = np.exp(rng.normal(0, rng.uniform(0, 6), n_frames))
        intensity[rng.random(n_frames) < 0.3] = 0.0
        if intensity.sum() == 0:
            continue
        np.testing.assert_array_equal(dec.decode_posterior_mode(intensity, n_events, RATE_HZ),
                                      brute_force_mode(intensity, n_events))


def test_posterior_mode_reaches_brute_force_maximum_with_many_ties():
    rng = np.random.default_rng(1)
    for _ in range(300):
        n_frames, n_events = rng.integers(1, 40), rng.integers(2, 80)
        intensity = rng.integers(0, 4, n_frames).astype(float)
        if intensity.sum() == 0:
            continue
        values, _ = brute_force_mode_values(intensity, n_events)
        frames = np.floor(dec.decode_posterior_mode(intensity, n_events, RATE_HZ) * RATE_HZ - 1e-9)
        chosen = dec._monotone_argmax(np.log(intensity, where=intensity > 0, out=np.full(n_frames, -np.inf)),
                                      np.concatenate([[0.0], np.cumsum(intensity)]) / intensity.sum(), n_events)
        assert np.all(frames <= chosen) and np.all(chosen - frames <= 1)  # times lie in the chosen frames
        np.testing.assert_allclose(values[chosen, np.arange(n_events)], values.max(axis=0), rtol=1e-12)


def test_posterior_mode_is_the_maximum_of_the_continuous_density():
    # Independent of the clamp formula: scan the order-statistic log density on a fine grid.
    rng = np.random.default_rng(2)
    intensity, n_events = rng.uniform(0.1, 3.0, 8), 5
    x = np.linspace(0, 8, 8 * 4000 + 1)[1:-1]
    fraction = np.interp(x, np.arange(9), np.concatenate([[0.0], np.cumsum(intensity)]) / intensity.sum())
    k = np.arange(1, n_events + 1)[:, None]
    density = np.log(intensity[x.astype(int)]) + (k - 1) * np.log(fraction) + (n_events - k) * np.log1p(-fraction)
    times = dec.decode_posterior_mode(intensity, n_events, RATE_HZ)
    np.testing.assert_allclose(times * RATE_HZ, np.sort(x[density.argmax(axis=1)]), atol=2 / 4000)


def naive_iterative_peaks(scores, n_max, radius):
    scores, picked = scores.copy(), []
    for _ in range(n_max):
        frame = int(np.argmax(scores))
        picked.append(frame)
        scores[max(frame - radius, 0):frame + radius + 1] = 0.0
    return picked


def test_suppressed_peaks_equal_repeated_argmax_and_zeroing():
    rng = np.random.default_rng(3)
    for _ in range(200):
        scores = rng.uniform(0.01, 1.0, rng.integers(20, 200))
        radius = int(rng.integers(0, 4))
        n_max = int(rng.integers(1, scores.size // (2 * radius + 1) + 1))
        np.testing.assert_array_equal(dec.suppressed_peaks(scores, n_max, radius),
                                      naive_iterative_peaks(scores, n_max, radius))


@pytest.mark.parametrize("n_events", [1, 5, 50])
def test_iterative_mode_and_binary_topn_recover_bumps_within_tolerance(n_events):
    rng = np.random.default_rng(10 + n_events)
    centres = 20 + 40 * np.arange(n_events) + rng.uniform(0, 1, n_events)
    intensity = bumps(centres, 40 * n_events + 40)
    for times in (dec.decode_iterative_mode(intensity, n_events, RATE_HZ, tolerance_s=0.02),
                  dec.decode_binary_topn(np.clip(intensity, 0, 1), n_events, RATE_HZ, tolerance_s=0.02)):
        assert times.shape == (n_events,)
        assert np.max(np.abs(times - centres / RATE_HZ)) <= 0.02 + 0.5 / RATE_HZ


def test_peak_decoders_resolve_events_only_beyond_twice_the_tolerance():
    intensity = np.zeros(60)
    intensity[[10, 13, 30, 50]] = [1.0, 0.8, 1.0, 0.9]  # spikes: 10 and 13 are 30 ms apart
    np.testing.assert_allclose(dec.decode_iterative_mode(intensity, 4, RATE_HZ, tolerance_s=0.0),
                               [0.105, 0.135, 0.305, 0.505])
    # At 20 ms the first two merge (closer than 2 x 20 ms); each spike is still picked once.
    merged = dec.decode_iterative_mode(intensity, 3, RATE_HZ, tolerance_s=0.02)
    assert merged.size == 3 and np.all(np.diff(merged) > 0.04)
    assert dec.decode_binary_threshold(intensity, RATE_HZ, threshold=0.15, tolerance_s=0.02).size == 3


def test_binary_threshold_finds_peaks_above_threshold():
    probabilities = np.full(100, 0.02)
    probabilities[[10, 11, 12]] = [0.7, 0.95, 0.7]
    probabilities[50] = 0.99  # a one-frame spike: one event, reported at its own frame
    probabilities[80] = 0.25  # below threshold
    times = dec.decode_binary_threshold(probabilities, RATE_HZ, threshold=0.3, tolerance_s=0.01)
    np.testing.assert_allclose(times, [0.115, 0.505])
    assert dec.decode_binary_threshold(probabilities, RATE_HZ, threshold=0.99, tolerance_s=0.0).size == 1
    assert dec.decode_binary_threshold(probabilities, RATE_HZ, threshold=0.999, tolerance_s=0.0).size == 0


def test_decode_batch_matches_per_row_calls():
    rng = np.random.default_rng(4)
    scores = rng.uniform(0, 1, (3, 50))
    lengths = [50, 20, 33]
    out = dec.decode_batch(dec.decode_posterior_median, scores, lengths, n_events=[3, 1, 0], frame_rate_hz=RATE_HZ)
    for row, count, times in zip(range(3), [3, 1, 0], out):
        np.testing.assert_array_equal(times, dec.decode_posterior_median(scores[row, : lengths[row]], count, RATE_HZ))
    counts = dec.decode_batch(dec.decode_count, scores, lengths)
    assert counts == [dec.decode_count(scores[row, : lengths[row]]) for row in range(3)]


HOUR_FRAMES, HOUR_EVENTS = 360_000, 5_000


@pytest.fixture(scope="module")
def hour_of_events():
    rng = np.random.default_rng(5)
    spacing = HOUR_FRAMES // HOUR_EVENTS  # 72 frames; each event placed at random in its own slot
    centres = spacing * np.arange(HOUR_EVENTS) + rng.uniform(10, spacing - 10, HOUR_EVENTS)
    return bumps(centres, HOUR_FRAMES, sigma_frames=0.8, background=1e-4), centres


HOUR_DECODERS = [dec.decode_posterior_median, dec.decode_posterior_mode, dec.decode_iterative_mode]


@pytest.mark.parametrize("decoder", HOUR_DECODERS)
def test_an_hour_long_clip_is_decoded(decoder, hour_of_events):
    """An hour of frames and thousands of events (its speed is the bench's: results/bench/)."""
    intensity, centres = hour_of_events
    times = decoder(intensity, HOUR_EVENTS, RATE_HZ)
    assert times.shape == (HOUR_EVENTS,)
    if decoder is not dec.decode_posterior_mode:  # the marginal mode may jump to a higher neighbour
        assert np.median(np.abs(times * RATE_HZ - centres)) < 2.0


@pytest.mark.parametrize("decoder", HOUR_DECODERS)
def test_hour_long_clip_memory_is_linear_in_frames(decoder, hour_of_events):
    intensity, _ = hour_of_events
    tracemalloc.start()
    try:
        decoder(intensity, HOUR_EVENTS, RATE_HZ)
        peak_bytes = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    # A T x n float64 table would be 14.4 GB; allow 32 float64 arrays of length T (92 MB).
    assert peak_bytes < 32 * HOUR_FRAMES * 8


def test_peak_decoders_report_a_narrow_spike_at_its_own_frame():
    intensity = np.full(200, 1e-4)
    intensity[[40, 120]] = 0.9
    np.testing.assert_allclose(dec.decode_iterative_mode(intensity, 2, RATE_HZ, tolerance_s=0.02), [0.405, 1.205])


def test_presence_is_decided_from_the_busiest_two_seconds_not_the_whole_row():
    from framestamp.decoding import head_kind, local_count

    rate = 100.0
    faint = np.full(int(3600 * rate), np.log(1e-4))  # an hour of faint intensity: 360 expected in total
    poisson = head_kind("ihp")
    assert local_count(np.exp(faint), rate) == pytest.approx(200 * 1e-4)
    assert poisson.presence_probability(faint, rate) == pytest.approx(1 - np.exp(-0.02))
    peak = np.full(1000, -30.0)
    peak[400:403] = np.log(0.5)  # 1.5 expected within 30 ms: the same locally and in total
    assert poisson.presence_probability(peak, rate) == pytest.approx(1 - np.exp(-1.5), rel=1e-6)
    short = np.full(50, np.log(0.01))  # shorter than the window: the whole row
    assert local_count(np.exp(short), rate) == pytest.approx(0.5)
