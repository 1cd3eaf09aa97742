"""Many files from a JSON Lines manifest, each model loaded once: one line, one file and what to ask.

``locate`` (one question about one file)::

    {"audio": "clips/a.wav", "word": "apple", "occurrence": 2}
    {"audio": "clips/b.flac", "speaker": 1, "end": true}
    {"audio": "/data/c.wav", "question": "When does each word start?", "all": true}

Fields: ``audio`` (required; a relative path is relative to the manifest's folder), exactly one
of ``word``, ``event``, ``speaker``, ``question``, and optionally ``occurrence`` (default 1),
``end`` (default false), ``all`` (default false: the question asks for every occurrence).

``align``, ``diarize``, ``events`` (every word, speaker or event of one file)::

    {"audio": "talks/1.wav", "transcript": "the apple fell far"}          # align
    {"audio": "meetings/2.wav", "ends": true, "max_speakers": 4}          # diarize
    {"audio": "street/3.flac", "classes": ["dog_bark", "siren"]}          # events

Fields: ``audio``, and optionally ``transcript`` (align), ``max_speakers`` (diarize, default 10),
``classes`` and ``max_occurrences`` (events, default 3), ``ends`` (default false). Every command
takes ``id`` (copied to the answer). Each answer is one JSON object: the ``Located`` or
``Timeline`` fields, or ``{"error": "..."}`` for an item that failed, plus ``line``, ``audio`` and
``warnings``. A bad item never stops the others.
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
from .defaults import class_names

# each command's fields, and the type of each field
FIELDS = {
    "locate": ("audio", "word", "event", "speaker", "question", "occurrence", "end", "all", "id"),
    "align": ("audio", "transcript", "ends", "id"),
    "diarize": ("audio", "ends", "max_speakers", "id"),
    "events": ("audio", "classes", "ends", "max_occurrences", "id"),
}
INTEGERS, FLAGS, TEXTS = ("occurrence", "speaker", "max_speakers", "max_occurrences"), ("end", "all", "ends"), (
    "word", "event", "question", "transcript")
DEFAULT_CHECKPOINT_OF = {"word": "words", "event": "events", "speaker": "speakers", "question": "words"}
DEFAULT_CHECKPOINT = {"align": "words-all", "diarize": "speakers", "events": "events"}
COMMANDS = tuple(FIELDS)


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


def answer_lines(
    path: str | Path, load_model: Callable[[str], Stamper], checkpoint: str | None = None, command: str = "locate"
) -> Iterator[dict]:  # fmt: skip
    """Answer every line of the manifest at ``path``; yields one JSON-ready dict per line, in order.

    Args:
        path: the JSON Lines manifest.
        load_model: loads a checkpoint by name or directory (called once per distinct checkpoint).
        checkpoint: the checkpoint for every item; None picks the shipped one: for ``locate``, by
            question kind (word: "words", event: "events", speaker: "speakers", free question:
            "words"); else the command's (align: "words-all", diarize: "speakers", events: "events").
        command: what each line asks (``COMMANDS``).
    """
    answerer = Answerer(Path(path).parent, load_model, checkpoint, command)
    for number, text in read_manifest(path):
        yield answerer.answer(number, text)


class Answerer:
    """Answers manifest lines, loading each checkpoint once and reading each audio file once for
    consecutive questions about it (its warnings are repeated in each of their answers)."""

    def __init__(
        self, folder: Path, load_model: Callable[[str], Stamper], checkpoint: str | None = None, command: str = "locate"
    ):  # fmt: skip
        if command not in FIELDS:
            raise ValueError(f"unknown command {command!r}; known: {', '.join(FIELDS)}")
        self.folder, self.load_model, self.checkpoint, self.command = folder, load_model, checkpoint, command
        self.models: dict[str, Stamper | FramestampError] = {}
        self.last_read: tuple[Path, AudioRead | FramestampError] | None = None

    def answer(self, number: int, text: str) -> dict:
        """The answer (or error) dict of one manifest line; never raises except on interruption."""
        head: dict = {"line": number}
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", FramestampWarning)
            try:
                item = parse_item(text, self.command)
                head |= {k: item[k] for k in ("id", "audio") if k in item}
                body = self._ask(item).to_dict()
            except FramestampError as error:
                body = {"error": _one_line(str(error))}
            except Exception as error:  # one broken item must not stop the batch
                body = {"error": _one_line(f"{type(error).__name__}: {error}")}
        found = [str(w.message) for w in caught if issubclass(w.category, FramestampWarning)]
        return head | body | ({"warnings": found} if found else {})

    def _ask(self, item: dict):
        """The ``Located`` or ``Timeline`` answer to one parsed line."""
        if self.command == "locate":
            kind = next((k for k in ("word", "event", "speaker", "question") if k in item), "question")
            model = self.model(self.checkpoint or DEFAULT_CHECKPOINT_OF[kind])
            return model.locate(
                self.waveform(item["audio"]), word=item.get("word"), occurrence=item.get("occurrence", 1),
                end=item.get("end", False), event=item.get("event"), speaker=item.get("speaker"),
                question=item.get("question"), every=item.get("all", False),
            )  # fmt: skip
        model = self.model(self.checkpoint or DEFAULT_CHECKPOINT[self.command])
        options = {key: item[key] for key in FIELDS[self.command] if key not in ("audio", "id") and key in item}
        return getattr(model, self.command)(self.waveform(item["audio"]), **options)  # its defaults for the rest

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


def parse_item(text: str, command: str = "locate") -> dict:
    """A manifest line of ``command`` as a dict with known fields of the right types
    (``FramestampError`` otherwise; ``classes`` become a list of names)."""
    try:
        item = json.loads(text)
    except json.JSONDecodeError as error:
        raise FramestampError(f"not valid JSON: {error}") from None
    if not isinstance(item, dict):
        raise FramestampError(f"expected a JSON object, got {type(item).__name__}")
    unknown = sorted(set(item) - set(FIELDS[command]))
    if unknown:
        known = ", ".join(FIELDS[command])
        raise FramestampError(f"unknown field(s) {', '.join(unknown)} for {command}; known: {known}")
    if not isinstance(item.get("audio"), str) or not item["audio"]:
        raise FramestampError('each line needs "audio": the path of an audio file')
    for key in INTEGERS:
        if key in item and type(item[key]) is not int:
            raise FramestampError(f'"{key}" must be an integer')
    for key in ("max_speakers", "max_occurrences"):
        if item.get(key, 1) < 1:
            raise FramestampError(f'"{key}" must be at least 1')
    for key in FLAGS:
        if key in item and type(item[key]) is not bool:
            raise FramestampError(f'"{key}" must be true or false')
    for key in TEXTS:
        if key in item and not isinstance(item[key], str):
            raise FramestampError(f'"{key}" must be a string')
    if "classes" in item:
        item["classes"] = _class_names(item["classes"])
    return item


def _class_names(classes) -> list[str]:
    """Event class names from a list of strings or one comma-separated string."""
    if not isinstance(classes, (str, list)) or not all(isinstance(c, str) for c in classes):
        raise FramestampError('"classes" must be a list of class names (or one comma-separated string)')
    names = class_names(classes)
    if not names:
        raise FramestampError('"classes" is empty')
    return names


def _one_line(text: str) -> str:
    return " ".join(text.split())
