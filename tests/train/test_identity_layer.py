"""The auxiliary identity loss read at an inner layer (``TrainConfig.aux_identity_layer``)."""

import numpy as np
import pytest
import torch

from framestamp.data.examples import Clip, Segment
from framestamp.errors import ConfigError
from framestamp.train.batches import QuerySampler
from framestamp.train.config import TrainConfig
from framestamp.train.loop import build_model
from framestamp.train.objectives import batch_loss



def toy_clips(n=4, seconds=2.0):
    """Noise with two tones where "apple" and "banana" are said."""
    audio = (np.random.default_rng(0).standard_normal(int(16000 * seconds)) * 0.01).astype(np.float32)
    spans = (("apple", 0.30, 0.50), ("banana", 0.60, 0.80))
    for _, start, _end in spans:
        first = int(round(start * 16000))
        audio[first : first + 3200] += np.sin(np.arange(3200) * 0.3) * 0.5
    segments = tuple(Segment(w, s, e) for w, s, e in spans)
    return [Clip(f"toy{i}", audio, "words", segments) for i in range(n)]


def config(tmp_path, **overrides):
    values = {
        "objective": "ihp", "max_steps": 2, "batch_size": 2, "warmup_steps": 1, "aux_identity_weight": 1.0,
        "output_dir": str(tmp_path / "run"), "data": {"modes": ["one"]},
    } | overrides  # fmt: skip
    return TrainConfig.from_dict(values)


def identity_gradients(cfg):
    torch.manual_seed(0)
    model = build_model(cfg.model).train()
    items = QuerySampler(toy_clips(), cfg.data, seed=0).batch(0, 4)
    aux = batch_loss(model, items, cfg)["aux"]
    assert torch.isfinite(aux) and float(aux.detach()) > 0
    aux.backward()
    grads = {name: p.grad for name, p in model.backbone.named_parameters()}
    return aux, grads


def reached(grads, part):
    return any(g is not None and float(g.abs().sum()) > 0 for name, g in grads.items() if part in name)


def test_the_last_layer_by_default_trains_every_decoder_layer(tmp_path):
    assert TrainConfig().aux_identity_layer == -1
    _, grads = identity_gradients(config(tmp_path))
    assert reached(grads, "language_model.layers.3.") and reached(grads, "audio_tower.proj")


def test_layer_zero_reads_the_audio_tokens_as_the_thinker_gets_them(tmp_path):
    """At layer 0 the loss asks the audio tower's output to be the spoken word's embedding: it
    reaches the tower's projection and the (tied) embeddings, and no decoder layer."""
    aux, grads = identity_gradients(config(tmp_path, aux_identity_layer=0))
    assert reached(grads, "audio_tower.proj") and reached(grads, "embed_tokens")
    assert not reached(grads, "language_model.layers.")
    # the final norm scales the embeddings' space for the LM head, as it does for the last layer
    assert reached(grads, "language_model.norm")
    last, _ = identity_gradients(config(tmp_path, aux_identity_layer=-1))
    assert not torch.equal(aux, last)


def test_an_inner_layer_trains_the_layers_below_it_only(tmp_path):
    _, grads = identity_gradients(config(tmp_path, aux_identity_layer=2))
    assert reached(grads, "language_model.layers.1.")
    assert not reached(grads, "language_model.layers.2.") and not reached(grads, "language_model.layers.3.")


def test_a_layer_the_backbone_does_not_have_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="aux_identity_layer 9"):
        identity_gradients(config(tmp_path, aux_identity_layer=9))
