"""Fixtures of the multi-process tests."""

import pytest

from framestamp.train.config import DataConfig
from framestamp.train.loop import training_clips


@pytest.fixture(scope="session")
def tiny_words():
    """The built-in tiny corpus, built (or found in the cache) here once, so launched processes only read it."""
    return training_clips(DataConfig(corpus="tiny", subset="words"))
