"""Shared fixtures: the tiny built-in corpus, built once per test session."""

from __future__ import annotations

import time

import pytest

@pytest.fixture(scope="session")
def tiny_build(tmp_path_factory):
    """(directory, seconds) of the tiny corpus built into a fresh directory."""
    from framestamp.corpus import build_corpus

    out = tmp_path_factory.mktemp("corpus")
    started = time.perf_counter()
    root = build_corpus("tiny", seed=0, out=out, progress=False)
    return root, time.perf_counter() - started


@pytest.fixture(scope="session")
def tiny_corpus(tiny_build):
    """Directory of the tiny corpus."""
    return tiny_build[0]
