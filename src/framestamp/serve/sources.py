"""Where the page's audio comes from: an example picked by name, or an uploaded file.

The browser never names a path on the server. Examples are the audio files of one folder,
listed when the app starts and looked up by file name in that list; an upload is written to a
fresh temporary folder, read, and deleted. Audio is read exactly as the CLI reads it
(:func:`framestamp.audio.read_audio`), and its one-line errors and warnings name the file as the
browser knows it, not where the server put it.
"""

from __future__ import annotations

import re
import shutil
import tempfile
from dataclasses import replace
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from ..audio import AudioRead, read_audio
from ..errors import AudioError, FramestampError

AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".oga", ".mp3")


class UnknownExampleError(FramestampError):
    """The page asked for an example the server does not offer."""


class Examples:
    """The audio files directly inside ``folder`` (none when it is None or missing), by file name."""

    def __init__(self, folder: str | Path | None):
        folder = Path(folder) if folder is not None else None
        files = sorted(folder.iterdir()) if folder is not None and folder.is_dir() else []
        self._paths = {p.name: p for p in files if p.is_file() and p.suffix.lower() in AUDIO_SUFFIXES}

    def names(self) -> list[str]:
        return list(self._paths)

    def path(self, name: str) -> Path:
        """The file of the example called ``name`` (``UnknownExampleError`` for any other name)."""
        if name not in self._paths:
            raise UnknownExampleError(f"no example called '{name}'; the examples are: "
                                      f"{', '.join(self._paths) or 'none'}")  # fmt: skip
        return self._paths[name]

    def read(self, name: str) -> AudioRead:
        return read_named(self.path(name), name)


def read_upload(file: BinaryIO, filename: str) -> tuple[str, AudioRead]:
    """(the name to show, the audio) of an uploaded file; its suffix is kept for the decoder."""
    name = upload_name(filename)
    suffix = PurePosixPath(name).suffix
    with tempfile.TemporaryDirectory(prefix="framestamp-upload-") as folder:
        path = Path(folder) / ("upload" + (suffix if re.fullmatch(r"\.[A-Za-z0-9]{1,8}", suffix) else ""))
        with path.open("wb") as copy:
            shutil.copyfileobj(file, copy)
        return name, read_named(path, name)


def upload_name(filename: str) -> str:
    """The last part of a browser's file name (any folders dropped), or "upload" when it has none."""
    name = PurePosixPath(filename.replace("\\", "/")).name.strip()
    return name if name not in ("", ".", "..") else "upload"


def read_named(path: Path, name: str) -> AudioRead:
    """:func:`read_audio` of ``path``, with ``name`` in place of the path in its errors and warnings."""
    try:
        audio = read_audio(path)
    except AudioError as error:
        raise AudioError(str(error).replace(str(path), name)) from None
    return replace(audio, warnings=tuple(note.replace(str(path), name) for note in audio.warnings))
