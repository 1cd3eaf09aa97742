"""How far each answer in progress has got, by a job name the page chose, for the page to poll.

The page names its question with a random ``job`` field; while the answer runs, the engine's
window listener (:mod:`framestamp.inference.progress`) records ``(done, total)`` windows under
that name, and ``GET /api/progress/{job}`` reads them. A job is forgotten when its answer is sent.
"""

from __future__ import annotations

import re
import threading
from contextlib import contextmanager
from typing import Iterator

from ..errors import FramestampError
from ..inference.progress import reporting_windows

JOB_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")


class BadJobNameError(FramestampError):
    """A job name the page may not use."""


def check_job_name(name: str) -> str:
    """``name`` when it is 1-64 letters, digits, '-' or '_'; else ``BadJobNameError``."""
    if not JOB_NAME.fullmatch(name):
        raise BadJobNameError("a job name is 1-64 letters, digits, '-' or '_'")
    return name


class JobBoard:
    """``{"done", "total"}`` windows of each running job (``total`` is None until the windows are planned)."""

    def __init__(self):
        self._jobs: dict[str, dict] = {}
        self._lock = threading.Lock()

    @contextmanager
    def tracking(self, job: str | None) -> Iterator[None]:
        """Record the windows of the answers run in this block under ``job`` (no-op for None)."""
        if job is None:
            yield
            return
        with self._lock:
            if job in self._jobs:
                raise BadJobNameError(f"job '{job}' is already running; name each question anew")
            self._jobs[job] = {"done": 0, "total": None}

        def heard(done: int, total: int) -> None:
            with self._lock:
                self._jobs[job] = {"done": done, "total": total}

        try:
            with reporting_windows(heard):
                yield
        finally:
            with self._lock:
                self._jobs.pop(job, None)

    def get(self, job: str) -> dict | None:
        """The job's progress, or None when no job of that name runs (not started, or answered)."""
        with self._lock:
            state = self._jobs.get(job)
            return None if state is None else dict(state)
