"""Reading audio for framestamp: any file soundfile reads, as float32 mono at 16 kHz."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf

from .data.audio import to_mono_16k
from .errors import AudioError

SAMPLE_RATE_HZ = 16_000
MAX_DURATION_S = 6 * 3600.0  # longer than any sensible recording; beyond this is a mistake


def prepare_waveform(waveform: np.ndarray, sample_rate_hz: int, name: str = "audio") -> np.ndarray:
    """Check and convert samples to float32 mono 16 kHz.

    Raises ``AudioError`` for empty audio, non-finite samples or absurd lengths.
    """
    waveform = np.asarray(waveform, dtype=np.float32)
    if waveform.size == 0:
        raise AudioError(f"{name}: the audio is empty (0 samples)")
    if not np.isfinite(waveform).all():
        raise AudioError(f"{name}: the audio contains NaN or infinite samples")
    if waveform.shape[0] / sample_rate_hz > MAX_DURATION_S:
        raise AudioError(f"{name}: {waveform.shape[0] / sample_rate_hz / 3600:.1f} h of audio is longer than "
                         f"the {MAX_DURATION_S / 3600:.0f} h framestamp accepts")
    return to_mono_16k(waveform, sample_rate_hz)


def load_audio(path: str | Path) -> np.ndarray:
    """Read an audio file (WAV, FLAC, OGG, MP3, ...) as float32 mono at 16 kHz.

    Raises ``AudioError`` with a one-line reason when the file is missing or unreadable.
    """
    path = Path(path)
    if not path.is_file():
        raise AudioError(f"audio file not found: {path}")
    try:
        waveform, rate = sf.read(path, dtype="float32", always_2d=False)
    except (sf.LibsndfileError, RuntimeError, ValueError) as error:
        raise AudioError(f"cannot read {path} as audio: {str(error).splitlines()[0]}") from None
    return prepare_waveform(waveform, rate, name=str(path))
