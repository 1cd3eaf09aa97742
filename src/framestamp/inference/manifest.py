"""Many ``locate`` questions from a JSON Lines manifest, each model loaded once.

One manifest line is one question about one file::

    {"audio": "clips/a.wav", "word": "apple", "occurrence": 2}
    {"audio": "clips/b.flac", "speaker": 1, "end": true}
    {"audio": "/data/c.wav", "question": "When does each word start?", "all": true}

Fields: ``audio`` (required; a relative path is relative to the manifest's folder), exactly one
of ``word``, ``event``, ``speaker``, ``question``, and optionally ``occurrence`` (default 1),
``end`` (default false), ``all`` (default false: the question asks for every occurrence),
``id`` (copied to the answer). Each answer is one JSON object: the ``Located`` fields, or
``{"error": "..."}`` for an item that failed, plus ``line``, ``audio`` and ``warnings``. A bad
item never stops the others.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Callable, Iterator

import numpy as np

from ..audio import AudioRead, read_audio
from ..errors import FramestampError
from .api import FramestampWarning, Stamper

FIELDS = ("audio", "word", "event", "speaker", "question", "occurrence", "end", "all", "id")
DEFAULT_CHECKPOINT_OF = {"word": "words", "event": "events", "speaker": "speakers", "question": "words"}


def read_manifest(path: str | Path) -> Iterator[tuple[int, str]]:
    """``(line number, text)`` of each non-blank line of a manifest (``FramestampError`` if unreadable)."""
    path = Path(path)
    try:
        with path.open(encoding="utf-8") as handle:
            for number, text in enumerate(handle, 1):
                if text.strip():
                    yield number, text
    except FileNotFoundError:
        raise FramestampError(f"manifest not found: {path}") from None
    except (OSError, UnicodeDecodeError) as error:
        raise FramestampError(f"cannot read the manifest {path}: {error}") from None


def locate_manifest(
    path: str | Path, load_model: Callable[[str], Stamper], checkpoint: str | None = None
) -> Iterator[dict]:  # fmt: skip
    """Answer every line of the manifest at ``path``; yields one JSON-ready dict per line, in order.

    Args:
        path: the JSON Lines manifest.
        load_model: loads a checkpoint by name or directory (called once per distinct checkpoint).
        checkpoint: the checkpoint for every item; None picks the shipped one for each question
            kind (word: "words", event: "events", speaker: "speakers", free question: "words").
    """
    answerer = Answerer(Path(path).parent, load_model, checkpoint)
    for number, text in read_manifest(path):
        yield answerer.answer(number, text)


class Answerer:
    """Answers manifest lines, loading each checkpoint once and reading each audio file once for
    consecutive questions about it (its warnings are repeated in each of their answers)."""

    def __init__(self, folder: Path, load_model: Callable[[str], Stamper], checkpoint: str | None = None):
        self.folder, self.load_model, self.checkpoint = folder, load_model, checkpoint
        self.models: dict[str, Stamper | FramestampError] = {}
        self.last_read: tuple[Path, AudioRead | FramestampError] | None = None

    def answer(self, number: int, text: str) -> dict:
        """The answer (or error) dict of one manifest line; never raises except on interruption."""
        head: dict = {"line": number}
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", FramestampWarning)
            try:
                item = parse_item(text)
                head |= {k: item[k] for k in ("id", "audio") if k in item}
                kind = next((k for k in ("word", "event", "speaker", "question") if k in item), "question")
                model = self.model(self.checkpoint or DEFAULT_CHECKPOINT_OF[kind])
                result = model.locate(
                    self.waveform(item["audio"]), word=item.get("word"), occurrence=item.get("occurrence", 1),
                    end=item.get("end", False), event=item.get("event"), speaker=item.get("speaker"),
                    question=item.get("question"), every=item.get("all", False),
                )  # fmt: skip
                body = result.to_dict()
            except FramestampError as error:
                body = {"error": _one_line(str(error))}
            except Exception as error:  # one broken item must not stop the batch
                body = {"error": _one_line(f"{type(error).__name__}: {error}")}
        found = [str(w.message) for w in caught if issubclass(w.category, FramestampWarning)]
        return head | body | ({"warnings": found} if found else {})

    def model(self, name: str) -> Stamper:
        """Load each checkpoint once; a checkpoint that failed fails again without retrying."""
        if name not in self.models:
            try:
                self.models[name] = self.load_model(name)
            except FramestampError as error:
                self.models[name] = error
        if isinstance(self.models[name], FramestampError):
            raise self.models[name]
        return self.models[name]

    def waveform(self, audio: str) -> np.ndarray:
        """The samples of the manifest's ``audio`` (relative to its folder), read again only when
        the file differs from the previous item's; the read's warnings are issued every time."""
        path = Path(audio) if Path(audio).is_absolute() else self.folder / audio
        if self.last_read is None or self.last_read[0] != path:
            try:
                self.last_read = (path, read_audio(path))
            except FramestampError as error:
                self.last_read = (path, error)
        read = self.last_read[1]
        if isinstance(read, FramestampError):
            raise read
        for note in read.warnings:
            warnings.warn(note, FramestampWarning, stacklevel=2)
        return read.waveform


def parse_item(text: str) -> dict:
    """A manifest line as a dict with known fields of the right types (``FramestampError`` otherwise)."""
    try:
        item = json.loads(text)
    except json.JSONDecodeError as error:
        raise FramestampError(f"not valid JSON: {error}") from None
    if not isinstance(item, dict):
        raise FramestampError(f"expected a JSON object, got {type(item).__name__}")
    unknown = sorted(set(item) - set(FIELDS))
    if unknown:
        raise FramestampError(f"unknown field(s) {', '.join(unknown)}; known: {', '.join(FIELDS)}")
    if not isinstance(item.get("audio"), str) or not item["audio"]:
        raise FramestampError('each line needs "audio": the path of an audio file')
    for key, kind in (("occurrence", int), ("speaker", int), ("end", bool), ("all", bool)):
        if key in item and (type(item[key]) is not kind):
            raise FramestampError(f'"{key}" must be {"an integer" if kind is int else "true or false"}')
    for key in ("word", "event", "question"):
        if key in item and not isinstance(item[key], str):
            raise FramestampError(f'"{key}" must be a string')
    return item


def _one_line(text: str) -> str:
    return " ".join(text.split())
