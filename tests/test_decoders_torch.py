"""The torch decoders against the numpy decoders they replace (tests/test_decoders.py pins those).

"Equal" here means bit for bit (``np.array_equal``), on hand-built rows with ties, plateaus,
ramps and peaks at the clip's edges, on random rows, and on hour-long rows.
"""

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch
from scipy.special import xlog1py, xlogy

from framestamp import decoders as dec
from framestamp import decoders_torch as dt
from framestamp import peaks_torch
from framestamp.decoding import local_count
from framestamp.torch_sums import boxcar_sums, numpy_sum

RATE_HZ = 100.0
TOLERANCES_S = [0.0, 0.01, 0.02, 0.05, 0.07]  # smoothing radius 0, 1, 2, 5, 7 frames at 100 Hz


def spikes(n_frames, at, height=1.0, background=0.0):
    row = np.full(n_frames, background)
    row[at] = height
    return row


STRUCTURED = {
    "one frame": np.array([0.7]),
    "two equal frames": np.array([0.5, 0.5]),
    "shorter than the smoothing window": np.array([0.2, 0.9, 0.4]),
    "spike on the first frame": spikes(50, [0]),
    "spike on the last frame": spikes(50, [49]),
    "spikes on both edges": spikes(60, [0, 59], 0.8, 1e-4),
    "spikes 30 ms apart": spikes(60, [10, 13, 30, 50], np.array([1.0, 0.8, 1.0, 0.9])),
    "all zero": np.zeros(30),
    "plateau": np.full(120, 0.1),
    "half an event in total": np.full(5, 0.1),
    "box of equal frames": spikes(100, slice(40, 60), 0.3, 0.01),
    "ramp up": np.linspace(0.01, 1.0, 200),
    "ramp down": np.linspace(1.0, 0.01, 200),
    "sawtooth": np.tile(np.linspace(0.1, 0.9, 17), 12),
    "alternating": np.tile([0.2, 0.8], 50),
    "integers with ties": np.random.default_rng(7).integers(0, 4, 150).astype(float),
}


def random_rows(seed, count, max_frames=400):
    """Log-normal intensities of random spread and length, a random third of the frames zero."""
    rng = np.random.default_rng(seed)
    rows = []
    for _ in range(count):
        n_frames = int(rng.integers(1, max_frames))
        row = np.exp(rng.normal(-2, rng.uniform(0, 4), n_frames))
        row[rng.random(n_frames) < rng.uniform(0, 0.5)] = 0.0
        rows.append(row)
    return rows


ROWS = list(STRUCTURED.values()) + random_rows(0, 150)
ROW_IDS = list(STRUCTURED) + [f"random {i}" for i in range(150)]


def as_numpy(value):
    return value.numpy() if isinstance(value, torch.Tensor) else np.asarray(value)


def assert_identical(expected, got):
    assert np.array_equal(np.asarray(expected), as_numpy(got)), (expected, got)
    assert np.asarray(expected).shape == as_numpy(got).shape


# ----- sums in numpy's order ----------------------------------------------------------------------
@pytest.mark.parametrize("n_values", [*range(0, 300, 7), 128, 129, 1_000, 8_193, 360_000, 2_160_000])
def test_numpy_sum_rounds_as_np_sum(n_values):
    values = np.exp(np.random.default_rng(n_values).normal(0, 4, n_values))
    assert float(numpy_sum(torch.from_numpy(values))) == values.sum()


@pytest.mark.parametrize("radius", range(1, 8))
def test_boxcar_sums_round_as_np_convolve_up_to_15_frame_windows(radius):
    window = np.ones(2 * radius + 1)
    for row in random_rows(radius, 40, max_frames=60) + [random_rows(radius, 1, 2_000)[0]]:
        sums, counts = boxcar_sums(torch.from_numpy(row), radius)
        assert_identical(np.convolve(row, window, mode="same"), sums)  # longer than the row if the row is short
        assert_identical(np.convolve(np.ones_like(row), window, mode="same"), counts)


@pytest.mark.parametrize("radius", [8, 12, 30])
def test_boxcar_sums_of_wider_windows_agree_to_rounding(radius):
    """Numpy sums windows of 16 frames or more with BLAS, in an order of its own."""
    for row in random_rows(radius, 20, max_frames=200):
        sums, _ = boxcar_sums(torch.from_numpy(row), radius)
        np.testing.assert_allclose(sums.numpy(), np.convolve(row, np.ones(2 * radius + 1), mode="same"), rtol=1e-13)


# ----- greedy peaks -----------------------------------------------------------------------------------
PEAK_ROWS = {
    "random": random_rows(1, 1, 300)[0],
    "plateau": np.full(300, 0.4),
    "ramp": np.linspace(0, 1, 300),
    "zeros and spikes": spikes(300, [3, 100, 101, 299]),
    "sawtooth": np.tile(np.linspace(0, 1, 30), 10),
}


@pytest.mark.parametrize("max_rounds", [0, 1, 3, 10_000])
@pytest.mark.parametrize("name", PEAK_ROWS)
def test_suppressed_peaks_in_rounds_on_the_host_or_both_are_the_numpy_picks(name, max_rounds):
    scores = PEAK_ROWS[name]
    for radius in range(0, 7):
        for n_max in (0, 1, 5, 40, 300):
            got = peaks_torch.suppressed_peaks(torch.from_numpy(scores), n_max, radius, max_rounds=max_rounds)
            assert_identical(dec.suppressed_peaks(scores, n_max, radius), got)
        got = peaks_torch.suppressed_peaks(torch.from_numpy(scores), 300, 2, min_score=0.5, max_rounds=max_rounds)
        assert_identical(dec.suppressed_peaks(scores, 300, 2, min_score=0.5), got)


def test_separated_peaks_are_resolved_without_the_host_loop(monkeypatch, hour_of_events):
    def host_loop(*args):
        raise AssertionError("the host loop ran")

    monkeypatch.setattr(peaks_torch, "_finish_on_host", host_loop)
    intensity, _ = hour_of_events
    assert dt.decode_iterative_mode(torch.from_numpy(intensity), 5_000, RATE_HZ).shape == (5_000,)


# ----- decoders -----------------------------------------------------------------------------------
@pytest.mark.parametrize("row", ROWS, ids=ROW_IDS)
def test_counts_single_times_and_presence_equal_numpy(row):
    tensor = torch.from_numpy(row)
    assert dt.expected_count(tensor) == dec.expected_count(row)
    assert dt.decode_count(tensor) == dec.decode_count(row)
    assert dt.decode_argmax(tensor, RATE_HZ) == dec.decode_argmax(row, RATE_HZ)
    assert dt.decode_median(tensor, RATE_HZ) == dec.decode_median(row, RATE_HZ)
    for rate_hz in (RATE_HZ, 25.0):  # a 2 s window of 200 and of 50 frames: rows shorter and longer
        assert dt.local_count(tensor, rate_hz) == local_count(row, rate_hz)


@pytest.mark.parametrize("row", ROWS, ids=ROW_IDS)
def test_posterior_median_equals_numpy(row):
    for n_events in (0, 1, 2, 7, len(row) + 3):
        assert_identical(dec.decode_posterior_median(row, n_events, RATE_HZ),
                         dt.decode_posterior_median(torch.from_numpy(row), n_events, RATE_HZ))  # fmt: skip


@pytest.mark.parametrize("row", ROWS, ids=ROW_IDS)
def test_peak_decoders_equal_numpy(row):
    probabilities = np.clip(row, 0.0, 1.0)
    tensor, probability_tensor = torch.from_numpy(row), torch.from_numpy(probabilities)
    for tolerance_s in TOLERANCES_S:
        for n_events in (0, 1, 3, len(row) + 3):  # the last: more events than frames, let alone peaks
            assert_identical(dec.decode_iterative_mode(row, n_events, RATE_HZ, tolerance_s),
                             dt.decode_iterative_mode(tensor, n_events, RATE_HZ, tolerance_s))  # fmt: skip
            assert_identical(dec.decode_binary_topn(probabilities, n_events, RATE_HZ, tolerance_s),
                             dt.decode_binary_topn(probability_tensor, n_events, RATE_HZ, tolerance_s))  # fmt: skip
        for threshold in (0.0, 0.05, 0.3, 0.5, 1.0):
            assert_identical(dec.decode_binary_threshold(probabilities, RATE_HZ, threshold, tolerance_s),
                             dt.decode_binary_threshold(probability_tensor, RATE_HZ, threshold, tolerance_s))  # fmt: skip


@pytest.mark.parametrize("row", ROWS[len(STRUCTURED) :] + [STRUCTURED["ramp up"], STRUCTURED["sawtooth"]])
def test_posterior_mode_equals_numpy_where_no_two_frames_tie(row):
    for n_events in (0, 1, 2, 5, 20, len(row) + 3):
        assert_identical(dec.decode_posterior_mode(row, n_events, RATE_HZ),
                         dt.decode_posterior_mode(torch.from_numpy(row), n_events, RATE_HZ))  # fmt: skip


def mode_values(intensity, n_events):
    """The T x n table of ``z_t + g_k(clamp(u*, F[t], F[t+1]))`` (brute force, small rows only)."""
    fraction = np.concatenate([[0.0], np.cumsum(intensity)]) / intensity.sum()
    with np.errstate(divide="ignore"):
        z = np.log(intensity)
    k = np.arange(1, n_events + 1)[None, :]
    u = np.clip((k - 1) / (n_events - 1), fraction[:-1, None], fraction[1:, None])
    return z[:, None] + xlogy(k - 1, u) + xlog1py(n_events - k, -u)


def test_posterior_mode_reaches_the_maximum_where_frames_tie():
    """Equal intensities make exact ties (so does a row that reads the same backwards), which
    torch's and numpy's ``log`` may break apart differently (one unit of float64 rounding): the
    frames chosen still reach the maximum."""
    rng = np.random.default_rng(3)
    rows = [np.full(int(rng.integers(2, 60)), 0.1) for _ in range(100)] + [STRUCTURED["spikes on both edges"]]
    rows += [rng.integers(0, 4, int(rng.integers(2, 60))).astype(float) for _ in range(200)]
    differ = 0
    for row in [r for r in rows if r.sum() > 0]:
        n_events = int(rng.integers(2, 40))
        tensor = torch.from_numpy(row)
        frames = dt._monotone_argmax(torch.log(tensor), dt._cumulative_fraction(tensor), n_events).numpy()
        values = mode_values(row, n_events)
        np.testing.assert_allclose(values[frames, np.arange(n_events)], values.max(axis=0), rtol=1e-12)
        differ += not np.array_equal(dec.decode_posterior_mode(row, n_events, RATE_HZ),
                                     dt.decode_posterior_mode(tensor, n_events, RATE_HZ).numpy())  # fmt: skip
    assert differ < len(rows) // 10, f"{differ} of {len(rows)} tied rows decoded differently"


def test_numpy_input_and_bad_scores():
    assert_identical(dec.decode_posterior_median([1.0, 3.0], 2, RATE_HZ),
                     dt.decode_posterior_median([1.0, 3.0], 2, RATE_HZ))  # fmt: skip
    for bad in (np.zeros(0), np.zeros((2, 2)), np.array([0.1, -0.2]), np.array([0.1, np.nan]), np.array([np.inf])):
        with pytest.raises(ValueError):
            dt.decode_posterior_mode(torch.from_numpy(bad), 2, RATE_HZ)
        with pytest.raises(ValueError):
            dt.decode_iterative_mode(torch.from_numpy(bad), 2, RATE_HZ)


# ----- hour-long rows -----------------------------------------------------------------------------
HOUR_FRAMES, HOUR_EVENTS = 360_000, 5_000


def hour_row(seed=5):
    """An hour at 100 Hz: one narrow bump (its mass spread over 3 frames) per 72-frame slot, on a floor."""
    rng = np.random.default_rng(seed)
    spacing = HOUR_FRAMES // HOUR_EVENTS
    centres = spacing * np.arange(HOUR_EVENTS) + rng.integers(10, spacing - 10, HOUR_EVENTS)
    intensity = np.full(HOUR_FRAMES, 1e-4)
    heights = rng.uniform(0.5, 1.0, HOUR_EVENTS)
    for offset, share in ((-1, 0.2), (0, 0.6), (1, 0.2)):
        intensity[centres + offset] += share * heights
    return intensity, centres


@pytest.fixture(scope="module")
def hour_of_events():
    return hour_row()


HOUR_DECODERS = ["decode_posterior_median", "decode_posterior_mode", "decode_iterative_mode", "decode_binary_topn"]


@pytest.mark.parametrize("name", HOUR_DECODERS)
def test_hour_long_rows_equal_numpy(name, hour_of_events):
    intensity, _ = hour_of_events
    for n_events in (HOUR_EVENTS, 12 * HOUR_EVENTS):  # 12 x: more events than peaks
        assert_identical(getattr(dec, name)(intensity, n_events, RATE_HZ),
                         getattr(dt, name)(torch.from_numpy(intensity), n_events, RATE_HZ))  # fmt: skip


def test_hour_long_thresholds_and_plateaus_equal_numpy(hour_of_events):
    intensity, _ = hour_of_events
    for threshold in (0.0, 0.3, 0.5):
        assert_identical(dec.decode_binary_threshold(intensity, RATE_HZ, threshold),
                         dt.decode_binary_threshold(torch.from_numpy(intensity), RATE_HZ, threshold))  # fmt: skip
    sparse = spikes(HOUR_FRAMES, slice(0, None, 997))  # exact zeros between spikes: one long plateau
    assert_identical(dec.decode_iterative_mode(sparse, 20_000, RATE_HZ),
                     dt.decode_iterative_mode(torch.from_numpy(sparse), 20_000, RATE_HZ))  # fmt: skip
    assert dt.expected_count(torch.from_numpy(intensity)) == dec.expected_count(intensity)
    assert dt.local_count(torch.from_numpy(intensity), RATE_HZ) == local_count(intensity, RATE_HZ)


MEMORY_SCRIPT = """
    import resource, sys
    import numpy as np, torch
    from framestamp import decoders_torch as dt
    sys.path.insert(0, {tests!r})
    from test_decoders_torch import HOUR_EVENTS, hour_row
    intensity = torch.from_numpy(hour_row()[0])
    torch.ones(3).sum()  # the first torch operation allocates its own buffers
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    for name in {decoders!r}:
        getattr(dt, name)(intensity, HOUR_EVENTS, 100.0)
    dt.decode_binary_threshold(intensity, 100.0, 0.0)
    print((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) * 1024)
"""


def test_hour_long_rows_memory_is_linear_in_frames():
    """Peak resident memory of a fresh process, above what it held before decoding: a T x n
    float64 table would be 14.4 GB; allow 32 float64 rows of T (92 MB; about 17 are used). Every
    allocation of 64 kB or more is its own mapping, returned when freed, so the peak is that of
    live memory, not of the allocator's reuse."""
    script = textwrap.dedent(MEMORY_SCRIPT).format(tests=str(Path(__file__).parent), decoders=HOUR_DECODERS)
    environment = dict(os.environ, MALLOC_MMAP_THRESHOLD_="65536")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True, env=environment)
    assert int(result.stdout.split()[-1]) < 32 * HOUR_FRAMES * 8


# ----- on a GPU -----------------------------------------------------------------------------------
@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_on_cuda_counts_and_peaks_equal_numpy_and_posteriors_agree_to_rounding(hour_of_events):
    """Additions, divisions, sorting and maxima round the same on a GPU; its cumulative sums do not."""
    intensity, _ = hour_of_events
    for i, row in enumerate(ROWS + [intensity]):
        cuda = torch.from_numpy(row).cuda()
        assert dt.decode_count(cuda) == dec.decode_count(row)
        assert dt.decode_argmax(cuda, RATE_HZ) == dec.decode_argmax(row, RATE_HZ)
        n_events = max(2, dec.decode_count(row))
        times = dt.decode_iterative_mode(cuda, n_events, RATE_HZ)
        assert times.device.type == "cuda"
        assert_identical(dec.decode_iterative_mode(row, n_events, RATE_HZ), times.cpu())
        np.testing.assert_allclose(dt.decode_posterior_median(cuda, n_events, RATE_HZ).cpu().numpy(),
                                   dec.decode_posterior_median(row, n_events, RATE_HZ), rtol=0, atol=1e-9)  # fmt: skip
        if i >= len(STRUCTURED):  # random rows and the hour: no exact ties for rounding to break apart
            mode_s = dt.decode_posterior_mode(cuda, n_events, RATE_HZ).cpu().numpy()
            np.testing.assert_allclose(mode_s, dec.decode_posterior_mode(row, n_events, RATE_HZ), rtol=0, atol=1e-9)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_on_cuda_hour_long_memory_is_linear_in_frames(hour_of_events):
    cuda = torch.from_numpy(hour_of_events[0]).cuda()
    torch.cuda.reset_peak_memory_stats()
    start = torch.cuda.memory_allocated()
    for name in HOUR_DECODERS:
        getattr(dt, name)(cuda, HOUR_EVENTS, RATE_HZ)
    assert torch.cuda.max_memory_allocated() - start < 32 * HOUR_FRAMES * 8
