"""Shared fixtures: the tiny built-in corpus, built once per test session."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def tiny_corpus(tmp_path_factory):
    """Directory of the tiny corpus, built into a fresh directory."""
    from framestamp.corpus import build_corpus

    return build_corpus("tiny", seed=0, out=tmp_path_factory.mktemp("corpus"), progress=False)
