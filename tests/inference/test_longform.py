"""Windowing and stitching, checked without a model: synthetic scores must land on global frames."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from framestamp.errors import AudioError
from framestamp.inference.progress import reporting_windows
from framestamp.inference.windows import WindowConfig, plan_windows, score_long, stitch

RATE_HZ, TOKEN_RATE_HZ, SR = 100.0, 25.0, 16_000


class RampModel:
    """Stands in for a model: frame f of a window scores the window's sample at f x 160 (a ramp of
    global seconds), plus 1000 x the question's index. Records each batch it is given."""

    frame_rate_hz = RATE_HZ

    def __init__(self):
        self.calls: list[list[int]] = []

    def score(self, questions, waveforms):
        self.calls.append([w.size for w in waveforms])
        index = {q: i for i, q in enumerate(dict.fromkeys(questions))}
        return [w[::160][: w.size // 160] + 1000.0 * index[q] for q, w in zip(questions, waveforms)]


def ramp(seconds: float) -> np.ndarray:
    return np.arange(int(seconds * SR), dtype=np.float64) / SR


@pytest.mark.parametrize("seconds", [0.5, 30.0, 31.0, 55.0, 100.0, 137.77])
def test_plan_covers_the_audio_with_full_windows_on_the_token_grid(seconds):
    n = int(seconds * SR)
    plan = plan_windows(n, RATE_HZ, TOKEN_RATE_HZ)
    assert plan.starts[0] == 0 and plan.ends[-1] == n
    assert all(s % 640 == 0 for s in plan.starts)  # 40 ms audio-token grid
    assert all(b > a for a, b in zip(plan.starts, plan.starts[1:]))
    assert all(e - s == min(n, 30 * SR) for s, e in zip(plan.starts[:-1], plan.ends[:-1]))
    assert plan.ends[-1] - plan.starts[-1] > min(n, 30 * SR) - 640  # the last window keeps (almost) full length
    for i, cut in enumerate(plan.cuts):  # cut at the overlap midpoint = between the window centres
        assert cut == int((plan.starts[i + 1] + plan.ends[i]) / 2 / 160)
        assert plan.starts[i + 1] / 160 < cut < plan.ends[i] / 160


def test_stitch_takes_each_frame_from_the_window_owning_it():
    n_frames = 10_000
    truth = np.arange(n_frames, dtype=np.float64)
    plan = plan_windows(n_frames * 160, RATE_HZ, TOKEN_RATE_HZ, WindowConfig(window_s=20.0, overlap_s=4.0))
    pieces = []
    for i, offset in enumerate(plan.frame_offsets):
        piece = truth[offset : offset + (plan.ends[i] - plan.starts[i]) // 160].copy()
        owned = plan.owned(i, piece.size)
        piece[: owned.start] = -1e9  # frames owned by a neighbour must be dropped
        piece[owned.stop :] = -1e9
        pieces.append(np.stack([piece, 2 * piece]))
    stitched = stitch(pieces, plan)
    np.testing.assert_array_equal(stitched[0], truth)
    np.testing.assert_array_equal(stitched[1], 2 * truth)


def test_score_long_puts_every_frame_at_its_global_time():
    model = RampModel()
    waveform = ramp(137.77)
    long = score_long(model, ["q0", "q1"], waveform, TOKEN_RATE_HZ, WindowConfig(windows_per_batch=2), progress=False)
    n_frames = waveform.size // 160
    assert long.scores.shape == (2, n_frames)
    np.testing.assert_allclose(long.scores[0], np.arange(n_frames) / RATE_HZ, atol=1e-3)
    np.testing.assert_allclose(long.scores[1], 1000 + np.arange(n_frames) / RATE_HZ, atol=1e-3)
    assert long.regions[0][0] == 0 and long.regions[-1][1] == n_frames
    assert all(a[1] == b[0] for a, b in zip(long.regions, long.regions[1:]))
    assert long.duration_s == pytest.approx(137.77, abs=1e-4)


def test_intensities_stay_additive_across_windows():
    """A constant intensity integrates to the same count however the audio is windowed."""
    waveform = np.zeros(int(95.0 * SR))

    class Constant(RampModel):
        def score(self, questions, waveforms):
            return [np.full(w.size // 160, np.log(0.01)) for w in waveforms]

    for config in (WindowConfig(window_s=10.0, overlap_s=2.0), WindowConfig(), WindowConfig(window_s=200.0)):
        long = score_long(Constant(), ["q"], waveform, TOKEN_RATE_HZ, config, progress=False)
        assert np.exp(long.scores[0].astype(np.float64)).sum() == pytest.approx(95.0, rel=1e-5)


def test_one_window_batch_at_a_time_bounds_memory():
    model = RampModel()
    config = WindowConfig(window_s=30.0, overlap_s=5.0, windows_per_batch=3)
    score_long(model, ["a", "b"], ramp(300.0), TOKEN_RATE_HZ, config, progress=False)
    assert all(len(call) <= 3 * 2 for call in model.calls)
    assert max(size for call in model.calls for size in call) == 30 * SR
    assert sum(len(call) for call in model.calls) == 2 * len(plan_windows(300 * SR, RATE_HZ, TOKEN_RATE_HZ))


def test_too_short_audio_is_a_clear_error():
    with pytest.raises(AudioError, match="too short"):
        score_long(RampModel(), ["q"], np.zeros(100), TOKEN_RATE_HZ, progress=False)


@pytest.mark.parametrize("values", [dict(window_s=0.0), dict(window_s=30.0, overlap_s=20.0), dict(overlap_s=-1.0),
                                    dict(windows_per_batch=0)])  # fmt: skip
def test_window_config_is_validated(values):
    with pytest.raises(ValueError):
        WindowConfig(**values)


def test_unset_lengths_resolve_to_the_given_then_the_models_window_and_a_fifth_of_it_as_overlap():
    assert WindowConfig(window_s=12.0, overlap_s=1.0).resolved(15.0) == WindowConfig(12.0, 1.0)
    assert WindowConfig(windows_per_batch=2).resolved(15.0) == WindowConfig(15.0, 3.0, 2)
    assert WindowConfig().resolved(None) == WindowConfig(30.0, 5.0)  # a model without its own window
    assert WindowConfig().resolved(60.0) == WindowConfig(60.0, 5.0)  # the overlap stops at 5 s
    assert WindowConfig(window_s=10.0).resolved(30.0) == WindowConfig(10.0, 2.0)
    assert WindowConfig(overlap_s=0.0).resolved(20.0) == WindowConfig(20.0, 0.0)
    with pytest.raises(ValueError, match="overlap_s"):
        WindowConfig(overlap_s=8.0).resolved(15.0)  # more than half the model's window
    assert len(plan_windows(100 * SR, RATE_HZ, TOKEN_RATE_HZ, WindowConfig())) == 4  # unset: 30 s, 5 s


def test_the_progress_bar_can_be_forced_on(capsys):
    score_long(RampModel(), ["q"], ramp(70.0), TOKEN_RATE_HZ, progress=True)
    assert "window" in capsys.readouterr().err


def test_a_listener_hears_each_batch_of_windows_as_it_is_encoded():
    heard = []
    config = WindowConfig(window_s=30.0, overlap_s=5.0, windows_per_batch=2)
    n_windows = len(plan_windows(100 * SR, RATE_HZ, TOKEN_RATE_HZ, config))
    with reporting_windows(lambda done, total: heard.append((done, total))):
        score_long(RampModel(), ["q"], ramp(100.0), TOKEN_RATE_HZ, config, progress=False)
    assert n_windows == 4
    assert heard == [(0, 4), (2, 4), (4, 4)]
    score_long(RampModel(), ["q"], ramp(100.0), TOKEN_RATE_HZ, config, progress=False)
    assert len(heard) == 3  # outside the block nobody listens


def test_answers_in_other_threads_report_to_their_own_listeners():
    heard: dict[str, list] = {"short": [], "long": []}

    def answer(name: str, seconds: float) -> None:
        with reporting_windows(lambda done, total: heard[name].append(total)):
            score_long(RampModel(), ["q"], ramp(seconds), TOKEN_RATE_HZ, WindowConfig(), progress=False)

    threads = [threading.Thread(target=answer, args=args) for args in (("short", 20.0), ("long", 200.0))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert set(heard["short"]) == {1} and set(heard["long"]) == {len(plan_windows(200 * SR, RATE_HZ, TOKEN_RATE_HZ))}
