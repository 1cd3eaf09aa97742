"""Question templates (the paper's wording for starts; ours for ends and "all" questions)."""

from __future__ import annotations

from .base import ordinal


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


def all_question(task: str, boundary: str) -> str:
    thing = {"word": "word", "speaker": "speaker", "event": "sound event"}[task]
    if task == "speaker":
        return f"When does each speaker {'start' if boundary == 'start' else 'stop'} speaking?"
    return f"When does each {thing} {boundary}?"
