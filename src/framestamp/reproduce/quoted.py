"""Numbers quoted in prose, read from the stored results: the report's hand-written notes, and the
docs.

A number is written as a reference to the stored value, ``{{SOURCE: WHAT | FORM}}``:

- ``{{words-ihp: test one 50ms | %}}``: experiment ``words-ihp``'s evaluation on ``test`` in mode
  ``one``, its accuracy within 50 ms; selectors ``corpus=C`` and ``copy=K`` pick an evaluation of
  another corpus's clips or of a copy (``{{words-ihp: test one copy=8khz 50ms | %}}``); instead of a
  tolerance, a ``/``-separated path into the record's metrics (``test presence balanced_accuracy``,
  ``test all count_accuracy``); a standard evaluation (``diarize``, ``events_f1``) is found too.
  A path that is not in the metrics is looked up in the record itself (``test_long one
  by_time/0-4 s/accuracy/0.05``).
- ``{{words-ihp: /train/steps}}``: a ``/``-separated path into the experiment's whole summary.
- ``{{probes/transcript-decoder-open.json: splits/test:open/clips}}``: any JSON file under the
  results folder: a path into it (keys may hold spaces; path parts are split at ``/`` only), or,
  for a copy of an experiment's summary, an evaluation as above.
- ``{{probes/run.csv: step=1000/aux}}``: a stored CSV (a run's ``metrics.csv``): the row whose
  first column holds that value, and a column of it.

``FORM``: ``%`` (a share as a percentage, one decimal), ``%0`` (no decimal), ``points`` (a
difference of shares, in points), ``,`` (a whole number with thousands separators), or a Python
format spec (``.2f``). Without one: a whole number (or one of 1,000 or more) with thousands
separators, anything else with four significant digits; a share is never shown as a percentage
unless asked.

``results/notes.md`` holds references, which the report replaces by their values
(:func:`render_notes`). Markdown read as it is stored (``docs/``) holds each value beside its
reference, ``<!-- {{REF}} -->63.8%<!-- / -->`` (the comment does not show on a rendered page):
``python -m framestamp.reproduce.published`` rewrites the values (:func:`fill_marked`) and a test
fails when one differs from the stored results (:func:`stale_marked`).

Limits: a key holding ``/`` or ``|`` cannot be named, runs of spaces in a path are read as one,
and ``{{`` always opens a reference (the notes cannot show the syntax itself).
"""

from __future__ import annotations

import csv
import io
import json
import re
import warnings
from pathlib import Path
from typing import Callable

from ..errors import FramestampError, FramestampWarning
from .stored import STANDARD_EVALUATIONS, evaluation

REFERENCE = re.compile(r"\{\{(.+?)\}\}", re.S)
MARKED = re.compile(r"(<!-- \{\{(.+?)\}\} -->)(.*?)(<!-- / -->)", re.S)


class NotStoredError(FramestampError):
    """A reference names nothing stored."""


def fill_marked(text: str, results_dir: Path) -> str:
    """``text`` with the value beside every marked reference (``<!-- {{REF}} -->VALUE<!-- / -->``)
    made the stored one.

    Raises:
        NotStoredError: naming the first reference that resolves to nothing.
    """
    load = _loader(results_dir)
    return MARKED.sub(lambda m: m.group(1) + _shown(m.group(2), load) + m.group(4), text)


def stale_marked(text: str, results_dir: Path) -> list[str]:
    """The marked references of ``text`` whose value beside them is not the stored one."""
    load = _loader(results_dir)
    return [m.group(2).strip() for m in MARKED.finditer(text) if m.group(3) != _shown(m.group(2), load)]


def render_notes(text: str, results_dir: Path, strict: bool = True) -> str:
    """``text`` with every ``{{...}}`` reference replaced by the stored value it names.

    Raises:
        NotStoredError: naming the first reference that resolves to nothing (without ``strict``, the
            reference is left in the text, marked, with a warning: a report written at the end
            of a long reproduction is not lost to one bad note).
    """
    load = _loader(results_dir)

    def shown(match: re.Match) -> str:
        try:
            return _shown(match.group(1), load)
        except NotStoredError as error:
            if strict:
                raise
            warnings.warn(str(error), FramestampWarning, stacklevel=3)
            return f"**[not stored: `{match.group(0)}`]**"

    return REFERENCE.sub(shown, text)


def _loader(results_dir: Path) -> Callable[[str], object]:
    """Reads a reference's source under ``results_dir`` (once)."""
    files: dict[Path, object] = {}

    def load(source: str) -> object:
        path = results_dir / (source if source.endswith((".json", ".csv")) else f"metrics/{source}.json")
        if path not in files:
            if not path.is_file():
                raise NotStoredError(f"{{{{{source}: ...}}}}: no stored results {path}")
            text = path.read_text()
            files[path] = _csv_rows(text) if path.suffix == ".csv" else json.loads(text)
        return files[path]

    return load


def _shown(reference: str, load) -> str:
    body, _, form = reference.partition("|")
    source, separator, what = body.partition(":")
    if not separator or not what.strip():
        raise NotStoredError(f"{{{{{reference}}}}}: write {{{{SOURCE: WHAT}}}}")
    source, what = source.strip(), " ".join(what.split())
    stored = load(source)
    try:
        summary = isinstance(stored, dict) and "evaluations" in stored
        value = _evaluation_value(stored, what) if summary and not what.startswith("/") else _path(stored, what)
    except (KeyError, IndexError, TypeError, ValueError) as error:
        raise NotStoredError(f"{{{{{reference.strip()}}}}} names nothing stored ({error})") from None
    try:
        return _format(value, form.strip())
    except ValueError as error:
        raise NotStoredError(f"{{{{{reference.strip()}}}}}: {error}") from None


def _csv_rows(text: str) -> dict[str, dict[str, float | str]]:
    """A stored CSV (a run's ``metrics.csv``) as {"COLUMN=VALUE" of its first column: row}."""
    rows = list(csv.DictReader(io.StringIO(text)))
    first = next(iter(rows[0])) if rows else ""
    return {f"{first}={row[first]}": {k: _number(v) for k, v in row.items()} for row in rows}


def _number(text: str) -> float | int | str:
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def _path(stored: object, path: str) -> object:
    value = stored
    for key in (part for part in path.split("/") if part):
        value = value[int(key)] if isinstance(value, list) else value[key]
    return value


def _evaluation_value(summary: dict, what: str) -> object:
    words = what.split(" ")
    if len(words) < 3:
        raise ValueError("write SPLIT MODE [corpus=C] [copy=K] TOLERANCE-or-metric")
    split, mode, rest = words[0], words[1], words[2:]
    selectors = []
    while len(rest) > 1 and re.fullmatch(r"\w+=[^/]*", rest[0]):
        selectors.append(rest.pop(0))
    key = " ".join(rest)  # a path's keys may hold spaces
    options = dict(selector.split("=", 1) for selector in selectors)
    unknown = set(options) - {"corpus", "copy"}
    if unknown:
        raise ValueError(f"unknown selector {sorted(unknown)[0]!r}")
    record = evaluation(summary, split, mode, copy=options.get("copy"), corpus=options.get("corpus"))
    if record is None:
        record = evaluation(summary, split, mode, STANDARD_EVALUATIONS, options.get("copy"), options.get("corpus"))
    if record is None:
        raise KeyError(f"no {split} {mode} evaluation")
    milliseconds = re.fullmatch(r"(\d+)ms", key)
    if milliseconds:
        return record["metrics"]["accuracy"][f"{int(milliseconds.group(1)) / 1000:g}"]
    try:
        return _path(record["metrics"], key)
    except (KeyError, IndexError, TypeError, ValueError):
        return _path(record, key)  # what the record keeps beside its metrics (by_time, by_source, ...)


def _format(value: object, form: str) -> str:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        if form:
            raise ValueError(f"a form ({form!r}) for a value that is no number ({value!r})")
        return str(value)
    if form == "%":
        return f"{value:.1%}"
    if form == "%0":
        return f"{value:.0%}"
    if form == "points":
        return f"{value * 100:.1f} points"
    if form == ",":
        return f"{int(round(value)):,}"
    if form:
        return format(value, form)
    if isinstance(value, int) or abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:.4g}"
