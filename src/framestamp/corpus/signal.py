"""Signal helpers for building clips: levels, speech regions, noise, placing and mixing."""

from __future__ import annotations

import numpy as np

from framestamp.audio import SAMPLE_RATE_HZ

_HOP = int(0.005 * SAMPLE_RATE_HZ)  # 5 ms analysis frames


def rms(audio: np.ndarray) -> float:
    """Root mean square of a signal (0 for an empty one)."""
    return float(np.sqrt(np.mean(np.square(audio, dtype=np.float64)))) if len(audio) else 0.0


def frame_levels_db(audio: np.ndarray) -> np.ndarray:
    """Level of each 5 ms frame in dB (power, relative to full scale)."""
    n = len(audio) // _HOP
    frames = audio[: n * _HOP].reshape(n, _HOP).astype(np.float64)
    return 10 * np.log10(np.mean(frames**2, axis=1) + 1e-12)


def speech_regions(audio: np.ndarray, min_gap_s: float = 0.3, above_floor_db: float = 20.0) -> list[tuple[float, float]]:
    """Voice activity of a clean studio recording: runs of 5 ms frames more than
    ``above_floor_db`` above its noise floor (5th percentile of frame levels) and within 50 dB
    of its loudest frame, merged across gaps shorter than ``min_gap_s``.

    Returns:
        [(start_s, end_s), ...] in time order.
    """
    level = frame_levels_db(audio)
    if len(level) == 0:
        return []
    active = level > max(np.percentile(level, 5) + above_floor_db, level.max() - 50.0)
    edges = np.flatnonzero(np.diff(np.concatenate([[0], active.astype(np.int8), [0]])))
    regions: list[list[float]] = []
    for start, end in zip(edges[::2] * 0.005, edges[1::2] * 0.005):
        if regions and start - regions[-1][1] < min_gap_s:
            regions[-1][1] = end
        else:
            regions.append([start, end])
    duration_s = len(audio) / SAMPLE_RATE_HZ
    return [(float(s), float(min(e, duration_s))) for s, e in regions]


def colored_noise(n_samples: int, rng: np.random.Generator, exponent: float) -> np.ndarray:
    """Noise with power spectrum 1/f^exponent (0 white, 1 pink, 2 brown), unit RMS."""
    spectrum = np.fft.rfft(rng.standard_normal(n_samples))
    freqs = np.fft.rfftfreq(n_samples)
    freqs[0] = freqs[1] if n_samples > 1 else 1.0
    noise = np.fft.irfft(spectrum / freqs ** (exponent / 2), n=n_samples)
    return (noise / (rms(noise) or 1.0)).astype(np.float32)


def add_at(mix: np.ndarray, sound: np.ndarray, start: int) -> None:
    """Add ``sound`` into ``mix`` starting at sample ``start`` (cut at the end of ``mix``)."""
    end = min(start + len(sound), len(mix))
    if end > start:
        mix[start:end] += sound[: end - start]


def db_to_gain(db: float) -> float:
    """Amplitude factor of a level change in dB."""
    return float(10 ** (db / 20))


def finish(mix: np.ndarray, rng: np.random.Generator, peak_db: tuple[float, float] = (-12.0, -1.0),
           floor_db: float = -70.0) -> np.ndarray:
    """Scale a mix to a random peak level and add a faint noise floor (no digital silence).

    Returns:
        float32 audio with peak at ``peak_db`` (dBFS, drawn uniformly) plus white noise at
        ``floor_db`` dBFS RMS.
    """
    peak = float(np.abs(mix).max()) if len(mix) else 0.0
    target = db_to_gain(rng.uniform(*peak_db))
    out = mix * (target / peak) if peak > 0 else mix.copy()
    out += rng.standard_normal(len(out)) * db_to_gain(floor_db)
    return np.clip(out, -1.0, 1.0).astype(np.float32)
