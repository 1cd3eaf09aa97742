"""Audio for framestamp, in one place: the sample rate, reading any file soundfile reads as
float32 mono at 16 kHz, resampling, and the FLAC bytes the corpus stores.

``datasets`` decodes its ``Audio`` feature with torchcodec (and needs it even to encode); we
read and write the raw ``{"bytes", "path"}`` storage with soundfile instead, so neither
framestamp nor its tests need torchcodec or FFmpeg.
"""

from __future__ import annotations

import io
from math import gcd
from pathlib import Path

import numpy as np
import soundfile as sf
from scipy.signal import resample_poly

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

def resample(audio: np.ndarray, from_hz: int, to_hz: int = SAMPLE_RATE_HZ) -> np.ndarray:
    """Polyphase resampling of a mono signal (e.g. 22,050 -> 16,000 Hz is up 320, down 441).

    Args:
        audio: samples, shape (n,).
        from_hz: sample rate of ``audio``.
        to_hz: wanted sample rate.

    Returns:
        float32 samples at ``to_hz``; times are preserved (zero-phase filter).
    """
    if from_hz == to_hz:
        return np.asarray(audio, dtype=np.float32)
    g = gcd(int(from_hz), int(to_hz))
    return resample_poly(audio, to_hz // g, from_hz // g).astype(np.float32)


def to_mono_16k(audio: np.ndarray, sample_rate: int) -> np.ndarray:
    """Average channels (shape (n, channels) -> (n,)) and resample to 16 kHz float32."""
    audio = np.asarray(audio, dtype=np.float32)
    if audio.ndim == 2:
        audio = audio.mean(axis=1)
    return resample(audio, sample_rate)


def read_audio_file(path: str | Path) -> np.ndarray:
    """Read any file libsndfile understands (wav, flac, ogg/oga, mp3) as 16 kHz mono float32."""
    audio, sample_rate = sf.read(str(path), dtype="float32", always_2d=True)
    return to_mono_16k(audio, sample_rate)


def decode_audio(value: dict) -> np.ndarray:
    """Decode a ``datasets`` Audio cell ``{"bytes", "path"}`` (or already-decoded ``{"array",
    "sampling_rate"}``) to 16 kHz mono float32."""
    if value.get("array") is not None:
        return to_mono_16k(np.asarray(value["array"]), int(value["sampling_rate"]))
    if value.get("bytes"):
        audio, sample_rate = sf.read(io.BytesIO(value["bytes"]), dtype="float32", always_2d=True)
        return to_mono_16k(audio, sample_rate)
    if value.get("path"):
        return read_audio_file(value["path"])
    raise ValueError("audio cell has neither bytes, a path nor an array")


def encode_flac(audio: np.ndarray, sample_rate: int = SAMPLE_RATE_HZ) -> bytes:
    """16-bit FLAC bytes of a mono float signal (clipped to [-1, 1]); lossless at 16 bits."""
    buffer = io.BytesIO()
    sf.write(buffer, np.clip(audio, -1.0, 1.0), sample_rate, format="FLAC", subtype="PCM_16")
    return buffer.getvalue()
