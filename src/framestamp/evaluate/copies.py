"""Test clips as users' recordings often are: saved at 8 kHz or with 8-bit samples, or starting late.

A file copy is written with libsndfile into memory in that format and read back through the same
checks and resampling a user's file goes through (:func:`framestamp.audio.prepare_waveform`), so
an evaluation on copies measures what a user with such a file gets; its segment times do not
change. The ``late`` copy is the clip after a lead-in of ``LATE_SECONDS`` of silence or low noise
(drawn from the clip's id, :func:`framestamp.data.augment.late_start`): its first word or speaker
starts anywhere in the first 30 s, and every segment moves by the lead-in.
"""

from __future__ import annotations

from dataclasses import replace

import zlib

import numpy as np

from ..audio import SAMPLE_RATE_HZ, prepare_waveform, resample, through_wav
from ..data.augment import late_start
from ..data.examples import Clip

# name: (sample rate of the file, libsndfile subtype)
COPIES = {
    "8khz": (8_000, "PCM_16"),  # telephone-rate WAV, 16-bit
    "8bit": (SAMPLE_RATE_HZ, "PCM_U8"),  # full-rate WAV with unsigned 8-bit samples
}
LATE = "late"
LATE_SECONDS = (1.0, 30.0)
KINDS = (*COPIES, LATE)


def as_copy(clip: Clip, kind: str) -> Clip:
    """``clip`` saved as a WAV of ``kind`` (:data:`COPIES`) and read back as a user's file is, or
    after a lead-in (``late``)."""
    if kind not in KINDS:
        raise ValueError(f"unknown copy {kind!r}; known: {', '.join(KINDS)}")
    if kind == LATE:
        rng = np.random.default_rng([zlib.crc32(clip.id.encode()), 17])
        return late_start(clip, rng, seconds=LATE_SECONDS)
    rate, subtype = COPIES[kind]
    audio = np.clip(resample(clip.audio, SAMPLE_RATE_HZ, rate), -1.0, 1.0)
    read = through_wav(audio, rate, subtype, dtype="float32")
    return replace(clip, audio=prepare_waveform(read, rate, name=f"{clip.id} ({kind})"))
