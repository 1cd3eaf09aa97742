"""The checkpoints the page may use: offered by name, loaded on first use, kept, used one at a time.

The browser picks a checkpoint by a name from :meth:`ModelShelf.names`, never by a path. Models
are loaded lazily (the first question that needs one waits for it) and cached for the server's
life. Every answer runs under one lock: a ``Stamper`` is not meant to answer two questions at
once (its backbone may reuse the frozen tower's output of the recording it heard last), and the
warnings of one answer must not be caught by another (:func:`framestamp.errors.collecting_warnings`).
"""

from __future__ import annotations

import threading
from contextlib import contextmanager
from typing import Callable, Iterator

from ..errors import FramestampError
from ..inference.api import SHIPPED_CHECKPOINTS, InferenceConfig, Stamper, load, shipped_checkpoints_dir


class UnknownCheckpointError(FramestampError):
    """The page asked for a checkpoint the server does not offer."""


def installed_shipped_names() -> list[str]:
    """The shipped checkpoint names whose directories are installed."""
    folder = shipped_checkpoints_dir()
    return [name for name in SHIPPED_CHECKPOINTS if (folder / name).is_dir()]


class ModelShelf:
    """Checkpoints by name, each loaded once, lent out one at a time.

    Args:
        names: what the page may choose: shipped names or checkpoint directories, as given.
        device: torch device for every model (None: cuda when available, else cpu).
        loader: loads one checkpoint (default :func:`framestamp.load`, without a progress bar).
    """

    def __init__(self, names: list[str], device: str | None = None, loader: Callable[[str], Stamper] | None = None):
        self._names = list(names)
        self._load = loader or (lambda name: load(name, device=device, config=InferenceConfig(progress=False)))
        self._loaded: dict[str, Stamper] = {}
        self._lock = threading.Lock()

    def names(self) -> list[str]:
        return list(self._names)

    @contextmanager
    def using(self, name: str) -> Iterator[Stamper]:
        """The model ``name`` (loaded now if it is not yet), held by this thread alone until the block ends."""
        if name not in self._names:
            raise UnknownCheckpointError(f"checkpoint '{name}' is not offered here; choose one of "
                                         f"{', '.join(self._names)}")  # fmt: skip
        with self._lock:
            if name not in self._loaded:
                self._loaded[name] = self._load(name)
            yield self._loaded[name]
