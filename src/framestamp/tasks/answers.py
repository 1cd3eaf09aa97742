"""Reading the token baseline's textual answers, with the paper's fallbacks."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

_JSON_BLOCK = re.compile(r"```(?:json)?\s*(.*?)(?:```|$)", re.DOTALL)
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")
# The number right after the asked key, in JSON or not ("start": 3.4, start=3.4, 'end': "3.4"):
# the key must not be the tail of a longer name ("restart", "my_start").
_KEY_VALUE = r"""(?<![\w])["']?{key}["']?\s*[:=]\s*["']?(-?\d+(?:\.\d+)?)"""


@dataclass(frozen=True)
class ParsedAnswer:
    """Times read from an answer; ``parse_error`` when nothing usable was found."""

    times_s: tuple[float, ...]
    parse_error: bool
    method: str  # "json", "key", "number" or "none"


def parse_answer(text: str, boundary: str = "start", mode: str = "one") -> ParsedAnswer:
    """Times in a generated answer, read by the first of these steps that finds any.

    1. ``"json"``: the answer (or its ```json block) is valid JSON, a list (or one object) of
       items holding ``boundary`` (bare numbers count as times too). An empty list is a valid
       answer with no times, not a parse error.
    2. ``"key"``: the number written right after the ``boundary`` key anywhere in the text,
       which reads broken or truncated JSON (``[{"speaker": 2, "start": 1.2``) without taking
       other fields (a speaker ordinal, a count) for times.
    3. ``"number"``: the paper's fallback, the bare numbers of the text.
    4. ``"none"``: nothing numeric, a parse error.

    Args:
        text: the generated answer.
        boundary: the key holding the time in JSON items ("start" or "end").
        mode: "one" keeps the first time only; "all" keeps every time, sorted.
    """
    times = _from_json(text, boundary)
    method = "json"
    if times is None:
        times, method = _from_key(text, boundary), "key"
    if not times and method == "key":
        times, method = [float(x) for x in _NUMBER.findall(text)], "number"
    if not times and method == "number":
        return ParsedAnswer((), True, "none")
    times = times[:1] if mode == "one" else sorted(times)
    return ParsedAnswer(tuple(times), False, method)


def _from_json(text: str, boundary: str) -> list[float] | None:
    """Times of a valid JSON answer; None when it is not valid JSON or no item holds ``boundary``."""
    match = _JSON_BLOCK.search(text)
    body = match.group(1) if match else text
    try:
        items = json.loads(body.strip())
    except (json.JSONDecodeError, ValueError):
        return None
    if isinstance(items, dict):
        items = [items]
    if not isinstance(items, list):
        return None
    times = []
    for item in items:
        value = item.get(boundary) if isinstance(item, dict) else item
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            times.append(float(value))
    if items and not times:
        return None  # items without the asked key: read on, as for broken JSON
    return times


def _from_key(text: str, boundary: str) -> list[float]:
    """Every number written right after the ``boundary`` key, in the order of the text."""
    pattern = re.compile(_KEY_VALUE.format(key=re.escape(boundary)), re.IGNORECASE)
    return [float(x) for x in pattern.findall(text)]
