"""Answers as text in the field's formats, and atomic file writes.

- ``table``: aligned plain text for people.
- ``json``: the result's fields (times in seconds).
- ``rttm``: NIST RTTM ``SPEAKER`` lines (diarization), as pyannote reads them.
- ``textgrid``: Praat TextGrid (long format) written by ``praatio``: an interval tier per label
  (words: one ``words`` tier), a point tier where only starts were decoded.
- ``tsv``: sed_eval / DCASE event lists, ``onset<TAB>offset<TAB>label`` per line, no header.
- ``srt`` / ``vtt``: SubRip and WebVTT captions, one cue per span.

Formats that need an end (RTTM, TextGrid intervals, TSV, captions) use, where no end was decoded,
the next span's start (captions) or the end of the audio (RTTM, TSV). TextGrid tiers cannot
overlap, so overlapping spans of one tier are clipped to start where the previous one ends.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Sequence

from .api import Located, Span, Timeline
from ..errors import FramestampError, MissingDependencyError
from ..tasks import task_for_subset

FORMATS = ("table", "json", "rttm", "textgrid", "tsv", "srt", "vtt")
LOCATE_FORMATS = ("table", "json")
MIN_SPAN_S = 0.001  # shortest interval written where a format needs end > start


class OutputError(FramestampError):
    """An answer cannot be written in the asked format or place."""


def formats_of(kind: str) -> tuple[str, ...]:
    """The formats a result of ``kind`` can be written in: "locate", or a timeline's task family
    by its results' name ("words", "speakers", "events")."""
    return LOCATE_FORMATS if kind == "locate" else task_for_subset(kind).output_formats


def check_format(kind: str, fmt: str) -> None:
    """Raise ``OutputError`` unless ``fmt`` is available for results of ``kind``."""
    if fmt not in formats_of(kind):
        raise OutputError(f"--format {fmt} is not available here; choose from {', '.join(formats_of(kind))}")


def render(result: Located | Timeline, fmt: str, name: str = "audio", extra: dict | None = None) -> str:
    """``result`` as text in format ``fmt``; ``name`` identifies the recording (RTTM uri),
    ``extra`` adds fields to the JSON (e.g. the audio path)."""
    check_format("locate" if isinstance(result, Located) else result.task, fmt)
    if fmt == "json":
        return json.dumps((extra or {}) | result.to_dict(), indent=2) + "\n"
    if fmt == "table":
        return located_table(result) if isinstance(result, Located) else timeline_table(result)
    writer = {"rttm": lambda t: to_rttm(t, name), "textgrid": to_textgrid, "tsv": to_tsv, "srt": to_srt, "vtt": to_vtt}
    return writer[fmt](result)


def render_answer(result: Located | Timeline, fmt: str, audio: str | Path, warnings: Sequence[str] = ()) -> str:
    """``result`` as the CLI writes it about the recording ``audio`` (a path or a file name): the
    file's stem names the recording (RTTM uri); JSON adds ``audio`` and, when any, ``warnings``."""
    extra = {"audio": str(audio)} | ({"warnings": list(warnings)} if warnings else {})
    return render(result, fmt, name=Path(audio).stem, extra=extra)


def located_table(result: Located) -> str:
    """Question, time(s), count estimate and presence decision, one per line."""
    times = ", ".join(f"{t:.3f}" for t in result.times_s) or "-"
    lines = [("question", result.question),
             ("time_s", times if result.present else f"not present (best guess {times})")]  # fmt: skip
    if result.generated_text is not None:  # the token baseline: what it wrote, and whether a time was read
        lines += [("answer_text", " ".join(result.generated_text.split())),
                  ("presence", "a time was read from the answer" if result.present else "no time in the answer")]
    else:
        comparison = ">=" if result.present else "<"
        guess = " (a guess: this model never saw an absent answer)" if result.presence_learned is False else ""
        lines += [("count_estimate", f"{result.count_estimate:.3f} (Lambda: expected number of events)"),
                  ("presence", f"{'present' if result.present else 'not present'}: P(N>=1) = "
                               f"{result.presence_probability:.3f} {comparison} {result.presence_threshold:.2f}{guess}")]
    lines += [("duration_s", f"{result.duration_s:.3f}"), ("method", result.method)]
    return "".join(f"{key:<16}{value}\n" for key, value in lines)


def timeline_table(result: Timeline) -> str:
    """One line per span (index, label, start, end) and a closing count line."""
    width = max([5] + [len(s.label) for s in result.spans])
    rows = [f"{'#':>5}  {'label':<{width}}  {'start_s':>10}  {'end_s':>10}"]
    for i, span in enumerate(result.spans, 1):
        end = "-" if span.end_s is None else f"{span.end_s:.3f}"
        rows.append(f"{i:>5}  {span.label:<{width}}  {span.start_s:>10.3f}  {end:>10}")
    rows.append(f"{len(result.spans)} {result.task}; count estimate {result.count_estimate:.2f} "
                f"over {result.duration_s:.2f} s")  # fmt: skip
    return "\n".join(rows) + "\n"


def to_rttm(result: Timeline, uri: str) -> str:
    """``SPEAKER uri 1 onset duration <NA> <NA> label <NA> <NA>`` per span (a turn without a
    decoded end lasts to the end of the audio)."""
    uri = re.sub(r"\s+", "_", uri) or "audio"
    lines = []
    for span in result.spans:
        end = result.duration_s if span.end_s is None else span.end_s
        lines.append(f"SPEAKER {uri} 1 {span.start_s:.3f} {max(end - span.start_s, 0.0):.3f} "
                     f"<NA> <NA> {span.label} <NA> <NA>")  # fmt: skip
    return "".join(line + "\n" for line in lines)


def to_tsv(result: Timeline) -> str:
    """sed_eval-style ``onset<TAB>offset<TAB>label`` lines (no end: the end of the audio)."""
    return "".join(
        f"{s.start_s:.3f}\t{(result.duration_s if s.end_s is None else s.end_s):.3f}\t{s.label}\n"
        for s in result.spans
    )


def _cues(result: Timeline) -> list[tuple[float, float, str]]:
    """Caption cues: each span's end, else the next start (else the audio end), at least 10 ms."""
    spans = sorted(result.spans, key=lambda s: s.start_s)
    cues = []
    for i, span in enumerate(spans):
        end = span.end_s
        if end is None:
            end = spans[i + 1].start_s if i + 1 < len(spans) else result.duration_s
        cues.append((span.start_s, max(end, span.start_s + 0.01), span.label))
    return cues


def _clock(seconds: float, separator: str) -> str:
    millis = int(round(max(seconds, 0.0) * 1000))
    hours, millis = divmod(millis, 3_600_000)
    minutes, millis = divmod(millis, 60_000)
    return f"{hours:02d}:{minutes:02d}:{millis // 1000:02d}{separator}{millis % 1000:03d}"


def to_srt(result: Timeline) -> str:
    """SubRip captions: numbered cues ``HH:MM:SS,mmm --> HH:MM:SS,mmm``."""
    return "\n".join(
        f"{i}\n{_clock(start, ',')} --> {_clock(end, ',')}\n{label}\n"
        for i, (start, end, label) in enumerate(_cues(result), 1)
    )


def to_vtt(result: Timeline) -> str:
    """WebVTT captions: a ``WEBVTT`` header and cues ``HH:MM:SS.mmm --> HH:MM:SS.mmm``."""
    cues = "".join(f"{_clock(start, '.')} --> {_clock(end, '.')}\n{label}\n\n" for start, end, label in _cues(result))
    return "WEBVTT\n\n" + cues


def to_textgrid(result: Timeline) -> str:
    """A Praat TextGrid (long format) written by praatio: one tier per label (words: one tier)."""
    try:
        from praatio import textgrid
    except ImportError:
        raise MissingDependencyError("TextGrid output needs praatio: pip install praatio") from None
    end_s = max([result.duration_s] + [s.end_s or s.start_s for s in result.spans])
    grid = textgrid.Textgrid()
    for name, spans in _tiers(result).items():
        if all(s.end_s is not None for s in spans):
            grid.addTier(textgrid.IntervalTier(name, _intervals(spans, end_s), 0.0, end_s))
        else:
            points = {round(s.start_s, 4): s.label for s in spans}
            grid.addTier(textgrid.PointTier(name, sorted(points.items()), 0.0, end_s))
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "out.TextGrid"
        grid.save(str(path), format="long_textgrid", includeBlankSpaces=True)
        return path.read_text(encoding="utf-8")


def _tiers(result: Timeline) -> dict[str, list[Span]]:
    if not task_for_subset(result.task).tier_per_label:
        return {result.task: list(result.spans)}
    tiers: dict[str, list[Span]] = {}
    for span in result.spans:
        tiers.setdefault(span.label, []).append(span)
    return tiers or {result.task: []}


def _intervals(spans: list[Span], end_s: float) -> list[tuple[float, float, str]]:
    """Non-overlapping ``(start, end, label)`` of positive length inside ``[0, end_s]``."""
    out, previous_end = [], 0.0
    for span in sorted(spans, key=lambda s: s.start_s):
        start = max(round(span.start_s, 4), previous_end)
        end = min(max(round(span.end_s, 4), start + MIN_SPAN_S), end_s)
        if end > start:
            out.append((start, end, span.label))
            previous_end = end
    return out


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """A temporary path beside ``path``; renamed onto ``path`` when the block succeeds, removed
    when it fails, so an existing file is never truncated or half-written."""
    path = Path(path)
    check_output_path(path)
    try:
        handle, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as error:
        raise OutputError(f"cannot write {path}: {error.strerror}") from None
    os.close(handle)
    try:
        yield Path(name)
        os.chmod(name, _file_mode(path))
        os.replace(name, path)
    finally:
        if os.path.exists(name):
            os.unlink(name)


def check_output_path(path: Path) -> None:
    """Raise ``OutputError`` when ``path`` is a folder or its folder is missing."""
    if path.is_dir():
        raise OutputError(f"cannot write {path}: it is a folder; give a file name")
    if path.parent.exists() and not path.parent.is_dir():
        raise OutputError(f"cannot write {path}: {path.parent} is not a folder")
    if not path.parent.is_dir():
        raise OutputError(f"cannot write {path}: the folder {path.parent} does not exist")


def _file_mode(path: Path) -> int:
    """The existing file's permissions, else the usual ones for a new file (0666 less umask)."""
    if path.exists():
        return path.stat().st_mode & 0o7777
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def write_atomic(path: str | Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically (see :func:`atomic_path`)."""
    with atomic_path(path) as temporary:
        temporary.write_text(text, encoding="utf-8")
