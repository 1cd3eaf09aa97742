"""Reading the token baseline's textual answers, with the paper's fallbacks."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

_JSON_BLOCK = re.compile(r"```(?:json)?\s*(.*?)(?:```|$)", re.DOTALL)
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")


@dataclass(frozen=True)
class ParsedAnswer:
    """Times read from an answer; ``parse_error`` when nothing usable was found."""

    times_s: tuple[float, ...]
    parse_error: bool
    method: str  # "json", "number" or "none"


def parse_answer(text: str, boundary: str = "start", mode: str = "one") -> ParsedAnswer:
    """Times in a generated answer: JSON first, then bare numbers, else a parse error.

    Args:
        text: the generated answer.
        boundary: the key holding the time in JSON items ("start" or "end").
        mode: "one" keeps the first time only; "all" keeps every time, sorted.
    """
    times = _from_json(text, boundary)
    method = "json"
    if times is None:
        times, method = [float(x) for x in _NUMBER.findall(text)], "number"
    if not times and method == "number":
        return ParsedAnswer((), True, "none")
    times = times[:1] if mode == "one" else sorted(times)
    return ParsedAnswer(tuple(times), False, method)


def _from_json(text: str, boundary: str) -> list[float] | None:
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
    return times
