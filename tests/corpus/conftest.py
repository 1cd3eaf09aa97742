"""Shared fixtures: the tiny built-in corpus, built once per test session."""

from __future__ import annotations

import time

import pytest

@pytest.fixture(scope="session")
def tiny_build(tmp_path_factory):
    """(directory, CPU seconds) of the tiny corpus built into a fresh directory.

    CPU time, not wall time: the build machine is shared, and the budget (30 s) is about the
    work a build does.
    """
    from framestamp.corpus import build_corpus

    out = tmp_path_factory.mktemp("corpus")
    started = time.process_time()
    root = build_corpus("tiny", seed=0, out=out, progress=False)
    return root, time.process_time() - started


@pytest.fixture(scope="session")
def tiny_corpus(tiny_build):
    """Directory of the tiny corpus."""
    return tiny_build[0]
