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
