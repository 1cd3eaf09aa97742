"""The match probe read as an answer (``evaluate.probe_reading``)."""

import numpy as np
import pytest
import torch
from torch import nn

from framestamp.data.examples import Clip, Segment
from framestamp.errors import ConfigError
from framestamp.evaluate.probe_reading import probe_answers, probe_reading, run_starts
from framestamp.evaluate.run import EvalItem
from framestamp.tasks import Query
from framestamp.train.config import TrainConfig
from framestamp.train.loop import build_model


def test_run_starts():
    assert run_starts(np.array([0, 1, 1, 0, 1, 0, 0, 1], dtype=bool)).tolist() == [1, 4, 7]
    assert run_starts(np.array([1, 1, 0], dtype=bool)).tolist() == [0]
    assert run_starts(np.zeros(3, dtype=bool)).tolist() == []


class FixedProbe(nn.Module):
    """Says "heard" at audio tokens 5-7 and 15-17 whatever the hidden states."""

    def __init__(self, hidden: int):
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(1, hidden))

    def forward(self, states):
        logits = torch.full(states.shape[:-1] + (1,), -1.0)
        logits[:, 5:8] = logits[:, 15:18] = 1.0
        return logits


def item(k: int, target_s: float) -> EvalItem:
    audio = (np.random.default_rng(k).standard_normal(32000) * 0.01).astype(np.float32)  # 2 s: 50 tokens
    clip = Clip(f"c{k}", audio, "words", (Segment("apple", 0.2, 0.3), Segment("apple", 0.6, 0.7)))
    return EvalItem(clip, Query(clip.id, "word", "one", "start", f"when is apple {k}?", (target_s,), ("apple",), "apple", k))


def test_the_kth_run_of_heard_tokens_answers_the_kth_occurrence():
    model = build_model(TrainConfig.from_dict({"aux_match_weight": 1.0, "model": {"backbone": "tiny-scratch"}}).model)
    model.match_probe = FixedProbe(model.match_probe.weight.shape[-1])
    items = [item(1, 0.22), item(2, 0.62), item(3, 1.0)]
    assert probe_answers(model, items, batch_size=2) == [pytest.approx(5.5 / 25), pytest.approx(15.5 / 25), None]
    metrics = probe_reading(model, items)
    assert metrics["answered"] == pytest.approx(2 / 3)
    assert metrics["accuracy"]["0.02"] == pytest.approx(2 / 3) and metrics["missing_rate"] == pytest.approx(1 / 3)


def test_a_model_without_a_probe_is_refused():
    with pytest.raises(ConfigError, match="no match probe"):
        probe_answers(build_model(TrainConfig.from_dict({"model": {"backbone": "tiny-scratch"}}).model), [item(1, 0.22)])
