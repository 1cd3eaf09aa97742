"""The auxiliary identity loss read at an inner layer (``TrainConfig.aux_identity_layer``) and on the
open text side (its sampled softmax), and the token objective's LM logits on the answer span."""

import numpy as np
import pytest
import torch

from framestamp.data.examples import Clip, Segment
from framestamp.errors import ConfigError
from framestamp.losses import token_loss
from framestamp.train.batches import QuerySampler, identity_targets
from framestamp.train.config import TrainConfig
from framestamp.train.loop import build_model
from framestamp.train.objectives import batch_loss
from framestamp.train.pipeline import tokenize



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


# ----- the open text side ---------------------------------------------------------------
OPEN_SIZES = {"text_width": 64, "text_layers": 1, "text_heads": 2, "text_kv_heads": 1, "ffn_width": 128}


def open_config(tmp_path, **overrides):
    model = {"backbone": "tiny", "text_pieces": 1024, "thinker_sizes": OPEN_SIZES}
    return config(tmp_path, **({"model": model} | overrides))


@pytest.fixture(scope="module")
def open_model(tmp_path_factory):
    torch.manual_seed(0)
    return build_model(open_config(tmp_path_factory.mktemp("open")).model).train()


def open_items(cfg):
    return QuerySampler(toy_clips(), cfg.data, seed=0).batch(0, 4)


def test_the_heard_word_is_named_by_its_first_piece_as_spelt_in_running_text(open_model, tmp_path):
    batch = open_items(open_config(tmp_path))
    tokenizer = open_model.backbone.tokenizer
    inputs = tokenize(open_model.backbone, batch, False)
    targets = identity_targets(batch, inputs.n_audio_tokens, open_model.backbone.token_rate_hz, tokenizer,
                               tokenizer.pad_token_id)  # fmt: skip
    apple = tokenizer(" apple", add_special_tokens=False)["input_ids"][0]
    assert tokenizer.convert_ids_to_tokens(apple) == "Ġapp"  # "apple" is 2 of the first 1024 pieces
    assert apple in targets[0].tolist()  # said at 0.30-0.50 s of every toy clip


def test_a_sampled_softmax_over_the_whole_vocabulary_is_the_full_softmax(open_model, tmp_path):
    vocabulary = len(open_model.backbone.tokenizer)
    batch = open_items(open_config(tmp_path))
    full = batch_loss(open_model, batch, open_config(tmp_path))["aux"]
    everything = batch_loss(open_model, batch, open_config(tmp_path, aux_identity_candidates=vocabulary))["aux"]
    sampled = batch_loss(open_model, batch, open_config(tmp_path, aux_identity_candidates=16))["aux"]
    torch.testing.assert_close(everything, full)
    assert torch.isfinite(sampled) and float(sampled.detach()) < float(full.detach())  # fewer classes to lose to


def test_the_token_objective_reads_the_lm_head_on_the_answer_span_only(open_model, tmp_path):
    cfg = open_config(tmp_path, objective="token")
    batch = open_items(cfg)
    inputs = tokenize(open_model.backbone, batch, True)
    out = open_model.backbone(inputs, need_logits=True)
    first_label = int((inputs.labels != -100).any(0).nonzero()[0])
    assert out.logits_from == first_label - 1
    assert out.logits.shape[1] == inputs.labels.shape[1] - out.logits_from
    full_logits = open_model.backbone.lm_head(out.all_hidden[-1])
    torch.testing.assert_close(batch_loss(open_model, batch, cfg)["token"], token_loss(full_logits, inputs.labels))


def test_a_word_the_tokenizer_cannot_name_has_no_identity_target(tmp_path):
    """A word-level model on open clips: "banana" is outside its vocabulary, so it is read as
    <|unk|>; its tokens are skipped, not taught to be the one class of every unknown word."""
    cfg = config(tmp_path)
    model = build_model(cfg.model)
    tokenizer = model.backbone.tokenizer
    assert tokenizer(" banana", add_special_tokens=False)["input_ids"] == [tokenizer.unk_token_id]
    batch = QuerySampler(toy_clips(), cfg.data, seed=0).batch(0, 2)
    inputs = tokenize(model.backbone, batch, False)
    rate = model.backbone.token_rate_hz
    targets = identity_targets(batch, inputs.n_audio_tokens, rate, tokenizer, tokenizer.pad_token_id)[0]
    token = lambda t: int(t * rate)  # noqa: E731
    assert tokenizer.unk_token_id not in targets.tolist()
    assert set(targets[token(0.62) : token(0.78)].tolist()) == {-100}  # banana
    assert set(targets[token(0.32) : token(0.48)].tolist()) == set(tokenizer(" apple", add_special_tokens=False)["input_ids"])
