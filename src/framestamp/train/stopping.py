"""Stopping a training run without losing its steps: on SIGTERM or SIGINT (Ctrl-C) the loop finishes
the step under way, saves a checkpoint and stops; the same command then continues from it. A second
signal stops at once, as if none were caught. A run in a worker process of ``framestamp reproduce``
also stops when its parent asks (``share_stop_requests``)."""

from __future__ import annotations

import signal
import threading
from types import FrameType
from typing import Callable

from ..errors import FramestampError

SIGNALS = (signal.SIGTERM, signal.SIGINT)
_PARENT_REQUEST = None  # a multiprocessing Event the parent sets, in a worker process


class TrainingStopped(FramestampError):
    """A run stopped on request after saving a checkpoint."""


def share_stop_requests(event) -> None:
    """In a worker process: stop training when ``event`` is set. Signals themselves are ignored
    outside training, so that Ctrl-C at the terminal does not kill the worker between experiments."""
    global _PARENT_REQUEST
    _PARENT_REQUEST = event
    for number in SIGNALS:
        signal.signal(number, signal.SIG_IGN)


class StopRequests:
    """While entered (in the main thread; elsewhere it catches nothing), ``requested`` names the
    first SIGTERM or SIGINT received, or says the parent process asked."""

    def __init__(self, on_request: Callable[[str], object] | None = None) -> None:
        self._received: str | None = None
        self._on_request = on_request
        self._previous: dict[int, object] = {}

    @property
    def requested(self) -> str | None:
        if self._received is None and _PARENT_REQUEST is not None and _PARENT_REQUEST.is_set():
            return "the parent process"
        return self._received

    def __enter__(self) -> StopRequests:
        if threading.current_thread() is threading.main_thread():
            self._previous = {number: signal.signal(number, self._receive) for number in SIGNALS}
        return self

    def __exit__(self, *exc_info) -> None:
        self._restore()

    def _receive(self, number: int, frame: FrameType | None) -> None:
        if self._received is None:
            self._received = signal.Signals(number).name
            if self._on_request is not None:
                self._on_request(self._received)
            return
        self._restore()
        signal.raise_signal(number)

    def _restore(self) -> None:
        for number, handler in self._previous.items():
            signal.signal(number, handler)
        self._previous = {}
