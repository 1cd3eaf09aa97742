"""The page's four questions: read from the submitted form, answered by one ``Stamper`` method each.

| kind       | the page asks                           | ``Stamper`` method | default checkpoint |
|------------|-----------------------------------------|--------------------|--------------------|
| `word`     | a word and its occurrence               | ``locate``         | `words`            |
| `words`    | every word, with an optional transcript | ``align``          | `words-all`        |
| `speakers` | every speaker's onset                   | ``diarize``        | `speakers`         |
| `events`   | event onsets, of the classes given      | ``events``         | `events`           |

The defaults are those of the matching CLI commands (``locate --word``, ``align``, ``diarize``,
``events``).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Mapping

import numpy as np

from ..inference.api import Located, QuestionError, Stamper, Timeline


class QuestionKind(str, Enum):
    word = "word"
    words = "words"
    speakers = "speakers"
    events = "events"


DEFAULT_CHECKPOINTS = {
    QuestionKind.word: "words", QuestionKind.words: "words-all",
    QuestionKind.speakers: "speakers", QuestionKind.events: "events",
}  # fmt: skip


@dataclass(frozen=True)
class Question:
    """One question of the page.

    Attributes:
        kind: which question.
        word, occurrence: the word asked about and which occurrence (1 = first); ``word`` only.
        transcript: the words spoken, when known; ``words`` only.
        classes: the event classes asked about (none: every onset, for a head trained on it).
    """

    kind: QuestionKind
    word: str | None = None
    occurrence: int = 1
    transcript: str | None = None
    classes: tuple[str, ...] = ()

    @classmethod
    def from_form(cls, form: Mapping[str, object]) -> "Question":
        """The question in a submitted form (fields ``kind``, ``word``, ``occurrence``,
        ``transcript``, ``classes``); ``QuestionError`` with one line for the page when it is incomplete."""
        kind = _text(form, "kind")
        if kind not in QuestionKind.__members__:
            raise QuestionError(f"unknown question '{kind}'; choose one of {', '.join(QuestionKind.__members__)}")
        word = _text(form, "word") or None
        if kind == QuestionKind.word and word is None:
            raise QuestionError("type the word to look for")
        occurrence = _text(form, "occurrence") or "1"
        if not occurrence.isdigit() or int(occurrence) < 1:
            raise QuestionError(f"the occurrence is a whole number from 1, got '{occurrence}'")
        classes = tuple(name.strip() for name in _text(form, "classes").split(",") if name.strip())
        return cls(QuestionKind(kind), word, int(occurrence), _text(form, "transcript") or None, classes)

    @property
    def default_checkpoint(self) -> str:
        return DEFAULT_CHECKPOINTS[self.kind]

    @property
    def label(self) -> str:
        """What the markers of a single answer are called on the page."""
        return self.word if self.kind == QuestionKind.word else self.kind.value

    def ask(self, model: Stamper, waveform: np.ndarray) -> Located | Timeline:
        """Answer with ``model`` about ``waveform`` (float32 mono 16 kHz), as the CLI command would."""
        if self.kind == QuestionKind.word:
            return model.locate(waveform, word=self.word, occurrence=self.occurrence)
        if self.kind == QuestionKind.words:
            return model.align(waveform, transcript=self.transcript)
        if self.kind == QuestionKind.speakers:
            return model.diarize(waveform)
        return model.events(waveform, classes=list(self.classes) or None)


def _text(form: Mapping[str, object], key: str) -> str:
    value = form.get(key)
    return value.strip() if isinstance(value, str) else ""
