"""The one place where seconds become frame indices and frame indices become seconds.

A frame grid has a rate in frames per second. Frame ``i`` covers ``[i / rate, (i + 1) / rate)``.
Every other module converts times through these two functions, parameterised by the rate of
the grid it works on (the backbone's audio-token rate times the head's frames per token).
"""

from __future__ import annotations

import numpy as np

DEFAULT_FRAME_RATE_HZ = 100.0  # 10 ms frames


def seconds_to_frames(seconds, frame_rate_hz: float, n_frames: int | None = None) -> np.ndarray:
    """Index of the frame holding each time: ``floor(t * rate)``, clamped to ``[0, n_frames - 1]``.

    Args:
        seconds: a time or an array of times, in seconds.
        frame_rate_hz: frames per second of the grid.
        n_frames: number of frames of the clip; when given, indices are clamped into the clip.

    Returns:
        int64 array of frame indices with the shape of ``seconds``.
    """
    # A small epsilon keeps exact multiples (0.03 s * 100 = 2.9999999) in their own frame.
    index = np.floor(np.asarray(seconds, dtype=np.float64) * frame_rate_hz + 1e-9).astype(np.int64)
    if n_frames is not None:
        index = np.clip(index, 0, max(n_frames - 1, 0))
    return index


def frames_to_seconds(frames, frame_rate_hz: float, offset: float = 0.0) -> np.ndarray:
    """Time of a (possibly fractional) frame position: ``(frame + offset) / rate``.

    Args:
        frames: frame index or fractional frame position (array-like).
        frame_rate_hz: frames per second of the grid.
        offset: where inside the frame to report, in frames (0.5 = frame centre).

    Returns:
        float64 array of times in seconds.
    """
    return (np.asarray(frames, dtype=np.float64) + offset) / frame_rate_hz
