"""Test clips as users' files often are: saved at 8 kHz, or with 8-bit samples, then read back.

Each copy is written with libsndfile into memory in that format and read back through the same
checks and resampling a user's file goes through (:func:`framestamp.audio.prepare_waveform`), so
an evaluation on copies measures what a user with such a file gets. Segment times do not change.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from ..audio import SAMPLE_RATE_HZ, prepare_waveform, resample, through_wav
from ..data.examples import Clip

# name: (sample rate of the file, libsndfile subtype)
COPIES = {
    "8khz": (8_000, "PCM_16"),  # telephone-rate WAV, 16-bit
    "8bit": (SAMPLE_RATE_HZ, "PCM_U8"),  # full-rate WAV with unsigned 8-bit samples
}


def as_copy(clip: Clip, kind: str) -> Clip:
    """``clip`` saved as a WAV of ``kind`` (:data:`COPIES`) and read back as a user's file is."""
    if kind not in COPIES:
        raise ValueError(f"unknown copy {kind!r}; known: {', '.join(COPIES)}")
    rate, subtype = COPIES[kind]
    audio = np.clip(resample(clip.audio, SAMPLE_RATE_HZ, rate), -1.0, 1.0)
    read = through_wav(audio, rate, subtype, dtype="float32")
    return replace(clip, audio=prepare_waveform(read, rate, name=f"{clip.id} ({kind})"))
