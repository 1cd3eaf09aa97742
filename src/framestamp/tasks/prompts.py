"""Question templates (the paper's wording for starts; ours for ends and "each" questions).

The task families (:mod:`framestamp.tasks.families`) choose among them; call those.
"""

from __future__ import annotations


def ordinal(k: int) -> str:
    """1 -> '1st', 2 -> '2nd', 11 -> '11th', 23 -> '23rd'."""
    suffix = "th" if 10 <= k % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(k % 10, "th")
    return f"{k}{suffix}"


def word_question(word: str, k: int, boundary: str) -> str:
    verb = "occur" if boundary == "start" else "end"
    return f"When does the {ordinal(k)} occurrence of the word '{word}' {verb}?"


def speaker_question(k: int, boundary: str) -> str:
    if boundary == "start":
        return f"When does the {ordinal(k)} speaker start speaking?"
    return f"When does the {ordinal(k)} speaker stop speaking?"


def event_question(event: str, k: int, boundary: str) -> str:
    verb = "occur" if boundary == "start" else "end"
    return f"When does the {ordinal(k)} occurrence of the event '{event}' {verb}?"


def each_question(thing: str, boundary: str) -> str:
    return f"When does each {thing} {boundary}?"


def each_speaker_question(boundary: str) -> str:
    return f"When does each speaker {'start' if boundary == 'start' else 'stop'} speaking?"
