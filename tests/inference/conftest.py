"""Fixtures of the inference tests: a stamper on the random tiny checkpoint (tests/conftest.py) and
generated audio files."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf


@pytest.fixture(scope="session")
def stamper(checkpoint):
    from framestamp.inference.api import InferenceConfig, load

    return load(checkpoint, device="cpu", config=InferenceConfig(progress=False))


@pytest.fixture(scope="session")
def clip(tmp_path_factory):
    """2 s of noise with a click at 1.23 s, mono 16 kHz WAV."""
    rng = np.random.default_rng(0)
    samples = (0.05 * rng.standard_normal(32_000)).astype(np.float32)
    samples[19_680] = 0.9
    path = tmp_path_factory.mktemp("audio") / "clip.wav"
    sf.write(path, samples, 16_000)
    return path
