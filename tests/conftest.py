import numpy as np
import pytest
import torch

torch.set_num_threads(1)


@pytest.fixture(scope="session")
def tiny_backbone():
    from framestamp.backbones.tiny_scratch import ScratchTinyBackbone

    return ScratchTinyBackbone.create(["apple", "banana", "cherry", "the"], seed=0)


@pytest.fixture
def rng():
    return np.random.default_rng(0)


CHECKPOINT_WORDS = ["apple", "banana", "cherry", "the", "dog", "bark", "occur", "speech"]


@pytest.fixture(scope="session")
def checkpoint(tmp_path_factory):
    """A saved random tiny model (IHP head) whose vocabulary holds ``CHECKPOINT_WORDS``."""
    from framestamp.backbones.tiny_scratch import ScratchTinyBackbone
    from framestamp.model import FrameStampModel, ModelConfig

    directory = tmp_path_factory.mktemp("checkpoint") / "tiny"
    FrameStampModel(ScratchTinyBackbone.create(CHECKPOINT_WORDS, seed=0), ModelConfig()).save_pretrained(directory)
    return directory
