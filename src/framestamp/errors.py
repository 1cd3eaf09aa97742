"""Errors a user can fix, and caveats of answers given anyway. The CLI prints each as one line,
without a traceback."""

from __future__ import annotations

import warnings
from contextlib import contextmanager
from typing import Callable, Iterator


class FramestampError(Exception):
    """A problem with the user's input, files or setup, described in one line."""


class CheckpointError(FramestampError):
    """A checkpoint directory is missing, incomplete or corrupt."""


class ConfigError(FramestampError):
    """A configuration value is invalid."""


class AudioError(FramestampError):
    """An audio file cannot be used."""


class MissingDependencyError(FramestampError):
    """An optional dependency is not installed."""


class FramestampWarning(UserWarning):
    """The answer is given, with a caveat (the CLI prints these as one ``warning:`` line)."""


def one_line(text: object) -> str:
    """``text`` with every run of whitespace, newlines included, made one space."""
    return " ".join(str(text).split())


@contextmanager
def collecting_warnings() -> Iterator[Callable[[], list[str]]]:
    """Record the ``FramestampWarning``s issued inside the block, repeats included.

    Yields a function that returns the ones so far: each message on one line, in order, once.
    ``warnings.catch_warnings`` swaps process-wide state, so threads must not enter this block at
    the same time (the web app answers one request at a time inside it).
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", FramestampWarning)

        def noted() -> list[str]:
            ours = (w for w in caught if issubclass(w.category, FramestampWarning))
            return list(dict.fromkeys(one_line(w.message) for w in ours))

        yield noted
