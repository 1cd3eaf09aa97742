"""Where the time of an answer goes, stage by stage, for whoever asks (``framestamp bench``).

Inside ``timing_stages()`` every stage of an answer adds its wall time to the returned
``StageTimes``: ``read`` (decoding the audio file), ``features`` (tokens and log-mel features),
``forward`` (the backbone), ``head`` (the frame head), ``decoder`` (scores to times) and
``output`` (the answer as text). Outside it the stages cost one context-variable read each. On a
GPU each stage waits for the device's queue at its end, so the time lands in the stage that
queued the work.
"""

from __future__ import annotations

import time
from collections import defaultdict
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Iterator

import torch

STAGES = ("read", "features", "forward", "head", "decoder", "output")


class StageTimes(defaultdict):
    """Seconds per stage name, summed over every answer timed."""

    def __init__(self):
        super().__init__(float)


_times: ContextVar[StageTimes | None] = ContextVar("framestamp_stage_times", default=None)


@contextmanager
def timing_stages() -> Iterator[StageTimes]:
    """Add the wall time of every stage run in this context to the ``StageTimes`` given."""
    times = StageTimes()
    token = _times.set(times)
    try:
        yield times
    finally:
        _times.reset(token)


@contextmanager
def stage(name: str) -> Iterator[None]:
    """One stage of an answer; timed only inside ``timing_stages``."""
    times = _times.get()
    if times is None:
        yield
        return
    started = time.perf_counter()
    try:
        yield
    finally:
        if torch.cuda.is_available() and torch.cuda.is_initialized():
            torch.cuda.synchronize()
        times[name] += time.perf_counter() - started
