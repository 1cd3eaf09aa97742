"""Audio for framestamp, in one place: the sample rate, reading any file soundfile reads as
float32 mono at 16 kHz, resampling, and the FLAC bytes the corpus stores.

A user's file is read faithfully or not at all: a truncated WAV is refused; channels that cancel
when averaged, or float samples far outside [-1, 1], are handled by a stated rule and reported
(:class:`AudioRead` ``.warnings``, issued as ``FramestampWarning`` by :func:`load_audio`).

``datasets`` decodes its ``Audio`` feature with torchcodec (and needs it even to encode); we
read and write the raw ``{"bytes", "path"}`` storage with soundfile instead, so neither
framestamp nor its tests need torchcodec or FFmpeg.
"""

from __future__ import annotations

import io
import struct
import warnings
from dataclasses import dataclass
from math import gcd
from pathlib import Path

import numpy as np
import soundfile as sf
from scipy.signal import resample_poly

from .errors import AudioError, FramestampWarning

SAMPLE_RATE_HZ = 16_000
MAX_DURATION_S = 6 * 3600.0  # longer than any sensible recording; beyond this is a mistake
CANCELLED_RATIO = 0.1  # the channels' average this far (-20 dB) below the loudest channel: they cancel
MAX_PEAK = 2.0  # float audio may overshoot full scale a little; a peak beyond 6 dB over it is not in [-1, 1] units
STREAMED_LENGTH = 0xFFFFFFFF  # what streaming writers put in a WAV header before the length is known


@dataclass(frozen=True)
class AudioRead:
    """Samples ready for the model, and what was done to make them so.

    Attributes:
        waveform: float32 mono samples at 16 kHz.
        warnings: one line for each decision the user should know of (a channel picked, a level changed).
    """

    waveform: np.ndarray
    warnings: tuple[str, ...] = ()


def conform_waveform(waveform: np.ndarray, sample_rate_hz: int, name: str = "audio") -> AudioRead:
    """Check samples (shape (n,) or (n, channels)) and make them float32 mono 16 kHz in about [-1, 1].

    Channels that cancel when averaged give the loudest channel (:func:`downmix`); float samples
    beyond ``MAX_PEAK`` are scaled to peak 1. Each such decision is a line of ``warnings``.
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
    mono, channel_note = downmix(waveform)
    peak = float(np.abs(mono).max())
    notes = [f"{name}: {channel_note}"] if channel_note else []
    if peak > MAX_PEAK:
        mono = mono / peak
        notes.append(f"{name}: samples reach {peak:.3g}, far outside [-1, 1]; scaled to peak 1")
    return AudioRead(resample(mono, sample_rate_hz), tuple(notes))


def prepare_waveform(waveform: np.ndarray, sample_rate_hz: int, name: str = "audio") -> np.ndarray:
    """:func:`conform_waveform`'s samples; its warnings are issued as ``FramestampWarning``."""
    return _warned(conform_waveform(waveform, sample_rate_hz, name))


def read_audio(path: str | Path) -> AudioRead:
    """Read a user's audio file (WAV, FLAC, OGG, MP3, ...) with :func:`conform_waveform`.

    Raises ``AudioError`` with a one-line reason when the file is missing, unreadable or truncated.
    """
    path = Path(path)
    if path.is_dir():
        raise AudioError(f"{path} is a folder, not an audio file")
    if not path.is_file():
        raise AudioError(f"audio file not found: {path}")
    if path.stat().st_size == 0:
        raise AudioError(f"{path}: the file is empty (0 bytes)")
    check_wav_length(path)
    try:
        waveform, rate = sf.read(path, dtype="float32", always_2d=False)
    except (sf.LibsndfileError, RuntimeError, ValueError) as error:
        raise AudioError(f"cannot read {path} as audio: {str(error).splitlines()[0]}") from None
    return conform_waveform(waveform, rate, name=str(path))


def load_audio(path: str | Path) -> np.ndarray:
    """:func:`read_audio`'s float32 mono 16 kHz samples; its warnings are issued as ``FramestampWarning``."""
    return _warned(read_audio(path))


def _warned(read: AudioRead) -> np.ndarray:
    """The samples of ``read``, its warnings issued where the CLI and the manifest collect them."""
    for note in read.warnings:
        warnings.warn(note, FramestampWarning, stacklevel=3)
    return read.waveform


def check_wav_length(path: Path) -> None:
    """Raise ``AudioError`` when a WAV file holds less audio than its header promises (a copy or
    download cut short: libsndfile would quietly read the part that is there)."""
    sizes = _wav_data_sizes(path)
    if sizes is None:
        return
    promised, held, bytes_per_s = sizes
    if promised > held:
        raise AudioError(f"{path}: truncated: its header promises {promised / bytes_per_s:.2f} s of audio, "
                         f"the file holds {held / bytes_per_s:.2f} s")


def _wav_data_sizes(path: Path) -> tuple[int, int, int] | None:
    """(bytes the ``data`` chunk declares, bytes the file has after that chunk's header, bytes per
    second) of a RIFF WAVE file; None for other files, an unknown (streamed) length, or chunks
    that cannot be followed (libsndfile judges those)."""
    file_bytes = path.stat().st_size
    bytes_per_s = None
    with path.open("rb") as handle:
        head = handle.read(12)
        if len(head) < 12 or head[:4] != b"RIFF" or head[8:] != b"WAVE":
            return None
        while len(chunk := handle.read(8)) == 8:
            name, length = chunk[:4], struct.unpack("<I", chunk[4:])[0]
            if name == b"data":
                if not bytes_per_s or length in (0, STREAMED_LENGTH):
                    return None
                return length, file_bytes - handle.tell(), bytes_per_s
            padded = length + length % 2  # chunks are padded to an even length
            if name != b"fmt ":
                handle.seek(padded, io.SEEK_CUR)
            elif len(body := handle.read(padded)) >= 12:
                bytes_per_s = struct.unpack("<I", body[8:12])[0]
    return None


def downmix(audio: np.ndarray) -> tuple[np.ndarray, str | None]:
    """Mono samples of ``audio`` (shape (n,) or (n, channels)) and, when not the plain average, why.

    Channels are averaged unless they cancel (the average's RMS below ``CANCELLED_RATIO`` of the
    loudest channel's, e.g. one channel the negative of the other): then the loudest one is taken.
    """
    if audio.ndim == 1:
        return audio, None
    mean = audio.mean(axis=1)
    channel_rms = np.sqrt(np.mean(np.square(audio, dtype=np.float64), axis=0))
    loudest = int(np.argmax(channel_rms))
    if np.sqrt(np.mean(np.square(mean, dtype=np.float64))) >= CANCELLED_RATIO * channel_rms[loudest]:
        return mean, None
    below_db, channel = -20 * np.log10(CANCELLED_RATIO), loudest + 1
    return np.ascontiguousarray(audio[:, loudest]), (
        f"its {audio.shape[1]} channels cancel when averaged (the mix is over {below_db:.0f} dB quieter than "
        f"channel {channel}); channel {channel}, the loudest, is used alone")


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
    """Mix channels down (shape (n, channels) -> (n,), :func:`downmix`) and resample to 16 kHz float32."""
    return resample(downmix(np.asarray(audio, dtype=np.float32))[0], sample_rate)


def read_audio_file(path: str | Path) -> np.ndarray:
    """Read a corpus source file libsndfile understands (wav, flac, ogg/oga, mp3) as 16 kHz mono
    float32, without the checks of a user's file (:func:`read_audio`)."""
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


def through_wav(samples: np.ndarray, sample_rate: int, subtype: str, dtype: str = "float64") -> np.ndarray:
    """``samples`` written as an in-memory WAV of libsndfile ``subtype`` (e.g. ``PCM_U8``, ``ULAW``)
    and read back as ``dtype``: what saving in that format does to them."""
    buffer = io.BytesIO()
    sf.write(buffer, samples, sample_rate, format="WAV", subtype=subtype)
    buffer.seek(0)
    return sf.read(buffer, dtype=dtype)[0]


def encode_flac(audio: np.ndarray, sample_rate: int = SAMPLE_RATE_HZ) -> bytes:
    """16-bit FLAC bytes of a mono float signal (clipped to [-1, 1]); lossless at 16 bits."""
    buffer = io.BytesIO()
    sf.write(buffer, np.clip(audio, -1.0, 1.0), sample_rate, format="FLAC", subtype="PCM_16")
    return buffer.getvalue()
