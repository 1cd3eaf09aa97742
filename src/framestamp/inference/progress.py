"""Progress of a long answer, window by window, for callers that show it their own way.

The terminal gets a tqdm bar (``EngineConfig.progress``). A caller with its own display (the web
app polls it for a page) listens instead: inside ``reporting_windows(listener)`` every long
answer calls ``listener(done, total)`` with the windows encoded so far and the windows planned,
first with ``done == 0``. The listener belongs to the calling context (a ``ContextVar``), so
answers running side by side in other threads report to their own listeners only.
"""

from __future__ import annotations

from contextlib import contextmanager
from contextvars import ContextVar
from typing import Callable, Iterator

WindowListener = Callable[[int, int], None]

_listener: ContextVar[WindowListener | None] = ContextVar("framestamp_window_listener", default=None)


@contextmanager
def reporting_windows(listener: WindowListener) -> Iterator[None]:
    """Send ``(done, total)`` windows of every long answer in this context to ``listener``."""
    token = _listener.set(listener)
    try:
        yield
    finally:
        _listener.reset(token)


def windows_done(done: int, total: int) -> None:
    """Tell this context's listener, if any, that ``done`` of ``total`` windows are encoded."""
    listener = _listener.get()
    if listener is not None:
        listener(done, total)
