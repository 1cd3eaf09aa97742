"""Ten minutes of audio through the tiny model: bounded batches and global times."""

from __future__ import annotations

import numpy as np
import pytest

from framestamp.inference.api import InferenceConfig, Stamper
from framestamp.inference.windows import WindowConfig, plan_windows

pytestmark = pytest.mark.slow  # ten minutes of audio through the tiny model (about 10 s)

SR, MINUTES = 16_000, 10


class Spy:
    """Wraps the model and records the shape of every forward pass."""

    def __init__(self, model):
        self.model, self.calls = model, []

    def __getattr__(self, name):
        return getattr(self.model, name)

    def score(self, questions, waveforms):
        self.calls.append([w.size for w in waveforms])
        return self.model.score(questions, waveforms)


def test_ten_minutes_are_encoded_window_by_window_on_the_global_timeline(stamper):
    waveform = (0.05 * np.random.default_rng(1).standard_normal(MINUTES * 60 * SR)).astype(np.float32)
    spy = Spy(stamper.model)
    config = InferenceConfig(windows=WindowConfig(window_s=30.0, overlap_s=5.0), progress=False)
    timeline = Stamper(spy, config, "tiny").align(waveform, ends=True)

    plan = plan_windows(waveform.size, 100.0, 25.0, config.windows)
    assert len(spy.calls) == len(plan) == 24
    assert all(len(call) == 2 and max(call) <= 30 * SR for call in spy.calls)  # one window x 2 questions at a time
    assert timeline.duration_s == pytest.approx(600.0)
    curves = list(timeline.curves.values())
    assert [c.shape for c in curves] == [(60_000,), (60_000,)]
    assert all(0.0 <= s.start_s <= 600.0 for s in timeline.spans)
    assert timeline.count_estimate == pytest.approx(float(curves[0].astype(np.float64).sum()), rel=1e-5)

    # frames of window i, scored alone, sit at the window's offset on the stitched timeline
    question = timeline.questions[0]
    regions = plan.regions(60_000)
    for i in (0, 7, len(plan) - 1):
        alone = stamper.model.score([question], [waveform[plan.starts[i] : plan.ends[i]]])[0]
        first, last = regions[i]
        local = slice(first - plan.frame_offsets[i], last - plan.frame_offsets[i])
        np.testing.assert_allclose(curves[0][first:last], np.exp(alone[local]), rtol=1e-4)
