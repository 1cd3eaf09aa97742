"""An answer as the page gets it: the CLI's JSON answer, markers, curves to draw and files to download.

Curves and the waveform are cut to at most ``MAX_POINTS`` points, by the largest value of each
stretch (a peak of intensity, the loudest samples), so an hour of audio costs the page no more
than a minute does and no peak disappears.
"""

from __future__ import annotations

import json

import numpy as np

from ..audio import SAMPLE_RATE_HZ
from ..inference.api import Located, Timeline
from ..inference.outputs import formats_of, render_answer

MAX_POINTS = 2000  # more than a screen is wide
FILE_SUFFIXES = {"table": "txt", "json": "json", "rttm": "rttm", "textgrid": "TextGrid", "tsv": "tsv",
                 "srt": "srt", "vtt": "vtt"}  # fmt: skip


def answer_payload(
    result: Located | Timeline, audio_name: str, waveform: np.ndarray, notes: list[str], label: str = "answer"
) -> dict:  # fmt: skip
    """What the page shows of ``result`` about ``waveform`` (float32 mono 16 kHz) named ``audio_name``.

    Keys: ``answer`` (the CLI's JSON answer, ``warnings`` included), ``markers`` (seconds),
    ``curves`` (per-frame intensity or probability of each question), ``waveform`` (its envelope),
    ``files`` (every format the answer can be written in, as the CLI writes it), ``warnings``.
    ``label`` names the markers of a single answer (a timeline's spans have their own).
    """
    kind = "locate" if isinstance(result, Located) else result.task
    stem = audio_name.rsplit(".", 1)[0] or "answer"
    files = {fmt: {"filename": f"{stem}.{FILE_SUFFIXES[fmt]}", "text": render_answer(result, fmt, audio_name, notes)}
             for fmt in formats_of(kind)}  # fmt: skip
    return {
        "answer": json.loads(files["json"]["text"]),
        "markers": markers(result, label),
        "curves": curves(result),
        "waveform": envelope(waveform),
        "files": files,
        "warnings": notes,
    }


def markers(result: Located | Timeline, label: str = "answer") -> list[dict]:
    """One marker per decoded time: its label, start and end (s), and, for a single answer, its
    presence probability and decision (None on a timeline's spans, which have neither)."""
    if isinstance(result, Located):
        return [{"label": label, "start_s": t, "end_s": None, "presence_probability": result.presence_probability,
                 "present": result.present} for t in result.times_s]  # fmt: skip
    return [{"label": s.label, "start_s": s.start_s, "end_s": s.end_s, "presence_probability": None, "present": None}
            for s in result.spans]  # fmt: skip


def curves(result: Located | Timeline) -> list[dict]:
    """Each question's curve: ``name``, ``step_s`` (seconds per point, point i covering
    ``[i * step_s, (i + 1) * step_s)``) and ``values``, the largest frame value of each point."""
    out = []
    for name, curve in result.curves.items():
        values, frames_per_point = peaks(np.asarray(curve, dtype=np.float32))
        out.append({"name": name, "step_s": frames_per_point / result.frame_rate_hz, "values": _rounded(values)})
    return out


def envelope(waveform: np.ndarray) -> dict:
    """``duration_s``, ``step_s`` and the ``low`` and ``high`` sample of each stretch of the waveform."""
    high, samples_per_point = peaks(waveform)
    low, _ = peaks(waveform, reduce=np.min)
    return {"duration_s": waveform.size / SAMPLE_RATE_HZ, "step_s": samples_per_point / SAMPLE_RATE_HZ,
            "low": _rounded(low), "high": _rounded(high)}  # fmt: skip


def peaks(values: np.ndarray, max_points: int = MAX_POINTS, reduce=np.max) -> tuple[np.ndarray, int]:
    """The largest (``reduce=np.min``: smallest) of every ``n`` consecutive ``values``, the last
    stretch possibly shorter, and ``n``: the smallest stretch that gives at most ``max_points`` points.
    Whole stretches are reduced through a view, so an hour of audio is not copied."""
    n = max(1, -(-values.size // max_points))
    whole = values.size // n * n
    points = reduce(values[:whole].reshape(-1, n), axis=1)
    return (np.append(points, reduce(values[whole:])) if whole < values.size else points), n


def _rounded(values: np.ndarray) -> list[float]:
    """Four significant digits: what a plot can show, in a quarter of the text."""
    return [float(f"{v:.4g}") for v in values.tolist()]
