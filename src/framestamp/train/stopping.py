"""Stopping a training run without losing its steps: on SIGTERM or SIGINT (Ctrl-C) the loop finishes
the step under way, saves a checkpoint and stops; the same command then continues from it. A
second signal, a moment after the first, stops at once, as if none were caught (one that comes
with the first, as ``torchrun`` passes the terminal's Ctrl-C on to processes that got it already,
is the same request). A run in a worker process of ``framestamp reproduce`` also stops when its
parent asks (``share_stop_requests``)."""

from __future__ import annotations

import signal
import threading
import time
from types import FrameType
from typing import Callable

from ..errors import FramestampError

SIGNALS = (signal.SIGTERM, signal.SIGINT)
SAME_REQUEST_S = 1.0  # a signal this soon after the first is the same request
_PARENT_REQUEST = None  # a multiprocessing Event the parent sets, in a worker process


class StoppedOnRequest(FramestampError):
    """A run stopped on request, after saving a checkpoint of its last step."""


def share_stop_requests(event) -> None:
    """In a worker process: stop training when ``event`` is set. Ctrl-C is ignored outside
    training, so that the terminal's does not kill the worker between experiments (the parent
    asks it instead); SIGTERM still ends it."""
    global _PARENT_REQUEST
    _PARENT_REQUEST = event
    signal.signal(signal.SIGINT, signal.SIG_IGN)


class StopRequests:
    """While entered (in the main thread; elsewhere it catches nothing), ``requested`` names the
    first SIGTERM or SIGINT received, or says the parent process asked."""

    def __init__(self, on_request: Callable[[str], object] | None = None, interrupt_on_second: bool = False) -> None:
        """``on_request(signal name)`` runs on the first signal; with ``interrupt_on_second`` a second
        one raises KeyboardInterrupt whichever it is (the caller ends what it runs), else it acts
        as if no handler were installed."""
        self._received: str | None = None
        self._interrupt_on_second = interrupt_on_second
        self._received_at = 0.0
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
            self._received, self._received_at = signal.Signals(number).name, time.monotonic()
            if self._on_request is not None:
                self._on_request(self._received)
            return
        if time.monotonic() - self._received_at < SAME_REQUEST_S:
            return
        self._restore()
        if self._interrupt_on_second:
            raise KeyboardInterrupt
        signal.raise_signal(number)

    def _restore(self) -> None:
        for number, handler in self._previous.items():
            signal.signal(number, handler)
        self._previous = {}
