"""A picture of an answer: waveform, spectrogram, frame intensities and the decoded times.

matplotlib (Agg backend, no display needed) is imported only here, when a plot is asked for.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .api import Located, Timeline
from ..audio import SAMPLE_RATE_HZ
from ..errors import MissingDependencyError
from ..frames import frames_to_seconds
from .outputs import OutputError, atomic_path

MAX_WAVEFORM_POINTS = 200_000  # plotting every sample of an hour of audio helps nobody
MAX_SPECTROGRAM_COLUMNS = 4000  # so the picture's memory does not grow with the audio
FFT_SIZE = 512


def plot_answer(result: Located | Timeline, waveform: np.ndarray, path: str | Path, title: str = "") -> None:
    """Save a three-panel figure of ``result`` on ``waveform`` (16 kHz mono) to ``path``.

    Panels: the waveform, its log spectrogram, and each question's per-frame intensity (IHP,
    events per frame) or probability (binary head); every decoded start is a solid line, every
    end a dashed one. The format follows the suffix of ``path`` (png, pdf, svg, ...).
    """
    plt = _pyplot()
    times_s = np.arange(waveform.size) / SAMPLE_RATE_HZ
    step = max(1, waveform.size // MAX_WAVEFORM_POINTS)
    figure, (wave_ax, spec_ax, curve_ax) = plt.subplots(3, 1, sharex=True, figsize=(12, 7), constrained_layout=True)
    wave_ax.plot(times_s[::step], waveform[::step], linewidth=0.5, color="0.3")
    wave_ax.set_ylabel("waveform")
    wave_ax.set_title(title or _default_title(result))
    spec_ax.imshow(_log_spectrogram(waveform), origin="lower", aspect="auto", cmap="magma",
                   extent=(0.0, waveform.size / SAMPLE_RATE_HZ, 0.0, SAMPLE_RATE_HZ / 2))  # fmt: skip
    spec_ax.set_ylabel("Hz")
    for name, curve in result.curves.items():
        curve_ax.plot(frames_to_seconds(np.arange(curve.size), result.frame_rate_hz, offset=0.5), curve,
                      linewidth=0.8, label=name)  # fmt: skip
    curve_ax.set_ylabel("intensity / frame")
    curve_ax.set_xlabel("time (s)")
    if len(result.curves) > 1:
        curve_ax.legend(fontsize="x-small", loc="upper right")
    for ax in (wave_ax, spec_ax, curve_ax):
        _mark(ax, result)
    curve_ax.set_xlim(0, max(times_s[-1] if times_s.size else 0.0, 1e-3))
    _save(figure, path)
    plt.close(figure)


def _log_spectrogram(waveform: np.ndarray) -> np.ndarray:
    """``[FFT_SIZE / 2 + 1, columns]`` dB magnitudes of Hann-windowed frames, at most
    ``MAX_SPECTROGRAM_COLUMNS`` frames spread evenly over the audio."""
    padded = np.pad(waveform, (0, max(0, FFT_SIZE - waveform.size)))
    hop = max(FFT_SIZE // 4, padded.size // MAX_SPECTROGRAM_COLUMNS)
    frames = np.lib.stride_tricks.sliding_window_view(padded, FFT_SIZE)[::hop]
    magnitude = np.abs(np.fft.rfft(frames * np.hanning(FFT_SIZE), axis=-1))
    return 20 * np.log10(magnitude.T + 1e-6)


def _pyplot():
    try:
        import matplotlib
    except ImportError:
        raise MissingDependencyError("--plot needs matplotlib: pip install 'framestamp[plot]'") from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _mark(ax, result: Located | Timeline) -> None:
    """Vertical lines at the decoded times (dotted when the answer is "not present")."""
    if isinstance(result, Located):
        for t in result.times_s:
            ax.axvline(t, color="tab:red", linestyle="-" if result.present else ":", linewidth=1.0)
        return
    for span in result.spans:
        ax.axvline(span.start_s, color="tab:green", linewidth=0.8)
        if span.end_s is not None:
            ax.axvline(span.end_s, color="tab:red", linestyle="--", linewidth=0.8)


def _default_title(result: Located | Timeline) -> str:
    if isinstance(result, Located):
        verdict = "present" if result.present else "not present"
        return f"{result.question}  ({verdict}, Lambda = {result.count_estimate:.2f})"
    return f"{len(result.spans)} {result.task} (count estimate {result.count_estimate:.2f})"


def _save(figure, path: str | Path) -> None:
    path = Path(path)
    fmt = path.suffix.lstrip(".").lower() or "png"
    if fmt not in figure.canvas.get_supported_filetypes():
        raise OutputError(f"cannot plot to {path}: unknown image type .{fmt} (use .png, .pdf or .svg)")
    with atomic_path(path) as temporary:
        figure.savefig(temporary, format=fmt, dpi=100)
