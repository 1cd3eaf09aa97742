"""Question templates (the paper's wording for starts; ours for ends and "each" questions).

The task families (:mod:`framestamp.tasks.families`) choose among them; call those.
"""

from __future__ import annotations

import re

# Words of the prompts and answers every task uses, so a word-level vocabulary never misses them
# (``backbones.tiny_thinker``): every word of the templates below (ordinals are digits then
# st/nd/rd/th) and the JSON answer keys. Adding one grows the vocabulary, hence the embedding, of
# newly built models only; saved models keep the tokenizer they were saved with.
PROMPT_WORDS = (
    "system user assistant when does the occurrence of word event speaker start end starts ends "
    "speaking st nd rd th what is are every all words events speakers in this audio clip give "
    "time times onset onsets offset offsets json start_s end_s occur stop each sound"
).split()


def ordinal(k: int) -> str:
    """1 -> '1st', 2 -> '2nd', 11 -> '11th', 23 -> '23rd'."""
    suffix = "th" if 10 <= k % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(k % 10, "th")
    return f"{k}{suffix}"


def word_question(word: str, k: int, boundary: str) -> str:
    verb = "occur" if boundary == "start" else "end"
    return f"When does the {ordinal(k)} occurrence of the word '{word}' {verb}?"


_WORD_QUESTION = re.compile(r"When does the \d+(?:st|nd|rd|th) occurrence of the word '(.+)' (?:occur|end)\?")


def asked_word(question: str) -> str | None:
    """The word a ``word_question`` asks about (None for any other question)."""
    found = _WORD_QUESTION.fullmatch(question)
    return found.group(1) if found else None


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
