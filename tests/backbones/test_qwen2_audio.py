"""The Qwen2-Audio adapter, on a tiny randomly initialised config of the real class (no downloads)."""

import dataclasses

import numpy as np
import pytest
import torch
from transformers import Qwen2AudioConfig, Qwen2AudioForConditionalGeneration

from framestamp.backbones import backbone_class
from framestamp.backbones.base import IGNORE_INDEX, audio_bidirectional_mask
from framestamp.backbones.qwen2_audio import Qwen2AudioBackbone
from framestamp.backbones.tiny_scratch import build_feature_extractor
from framestamp.backbones.tiny_thinker import build_tokenizer

SR = 16_000


def noise(seconds, seed=0):
    return (np.random.default_rng(seed).standard_normal(round(seconds * SR)) * 0.1).astype(np.float32)


def tiny_qwen2_audio(seed=0) -> Qwen2AudioBackbone:
    tokenizer = build_tokenizer("you are a helpful assistant apple".split())
    config = Qwen2AudioConfig(
        audio_config=dict(
            model_type="qwen2_audio_encoder", d_model=16, encoder_layers=1, encoder_attention_heads=2,
            encoder_ffn_dim=32, num_mel_bins=128, max_source_positions=1500,
        ),
        text_config=dict(
            model_type="qwen2", vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64,
            num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=2048,
            pad_token_id=tokenizer.pad_token_id,
        ),
        audio_token_index=tokenizer.convert_tokens_to_ids("<|AUDIO|>"),
    )  # fmt: skip
    torch.manual_seed(seed)
    model = Qwen2AudioForConditionalGeneration(config).eval()
    return Qwen2AudioBackbone(model, tokenizer, build_feature_extractor())


@pytest.fixture(scope="module")
def backbone():
    return tiny_qwen2_audio()


def causal_mask(inputs):
    """The base class's mask with an empty audio block: causal, with the same padding handling."""
    return audio_bidirectional_mask(dataclasses.replace(inputs, n_audio_tokens=torch.zeros_like(inputs.n_audio_tokens)))


def test_registered_by_name():
    assert backbone_class("qwen2-audio") is Qwen2AudioBackbone


@pytest.mark.parametrize(("seconds", "expected"), [(1.0, 25), (3.3, 82), (10.0, 250), (30.0, 750), (16_001 / SR, 25)])
def test_audio_token_count_matches_model_formula_and_25_per_second(backbone, seconds, expected):
    # Closed form: m = ceil(n / 160) mel frames, conv stride 2 -> (m - 1) // 2 + 1, pool 2 -> (x - 2) // 2 + 1.
    n_samples = round(seconds * SR)
    inputs = backbone.prepare(["when"], [noise(seconds)])
    audio_id = backbone.model.config.audio_token_id
    assert backbone.token_rate_hz == 25.0
    assert int(inputs.n_audio_tokens[0]) == backbone.count_audio_tokens(n_samples) == expected
    assert int((inputs.input_ids[0] == audio_id).sum()) == expected
    assert abs(expected - seconds * backbone.token_rate_hz) <= 1


def test_audio_token_count_does_not_depend_on_the_batch(backbone):
    # Every clip is padded to 30 s (a multiple of the hop), so the feature mask of a clip is
    # ceil(n / 160) frames whether or not it is the longest of its batch.
    lengths = [16_000, 16_001, 16_322, 52_810]
    inputs = backbone.prepare(["when"] * 5, [np.zeros(n, dtype=np.float32) for n in lengths + [30 * SR]])
    assert inputs.n_audio_tokens[:4].tolist() == [backbone.count_audio_tokens(n) for n in lengths] == [25, 25, 26, 83]


def test_prompt_puts_question_before_a_contiguous_audio_block(backbone):
    inputs = backbone.prepare(["when does the apple"], [noise(1.0)])
    tokens = backbone.tokenizer.convert_ids_to_tokens(inputs.input_ids[0])
    start, n = int(inputs.audio_start[0]), int(inputs.n_audio_tokens[0])
    assert tokens.index("apple") < tokens.index("audio") < start
    assert tokens[start - 1] == "<|audio_bos|>" and tokens[start + n] == "<|audio_eos|>"
    assert set(tokens[start : start + n]) == {"<|AUDIO|>"}
    assert tokens[-2:] == ["<|im_start|>", "assistant"]


def test_longer_than_30_s_is_refused_and_30_s_is_not(backbone):
    backbone.prepare(["when"], [np.zeros(30 * SR, dtype=np.float32)])
    with pytest.raises(ValueError, match="at most 30 s"):
        backbone.prepare(["when"], [np.zeros(30 * SR + 1, dtype=np.float32)])
    with pytest.raises(ValueError, match="too short"):
        backbone.prepare(["when"], [np.zeros(800, dtype=np.float32)])


def test_forward_shapes_with_left_padding(backbone):
    inputs = backbone.prepare(["when", "when does the apple"], [noise(3.3), noise(1.0)])
    with torch.no_grad():
        out = backbone(inputs, need_logits=True)
    assert inputs.model_kwargs["input_features"].shape == (2, 128, 3000)
    assert out.audio_hidden.shape == (2, 82, backbone.hidden_size)
    assert out.audio_mask.sum(1).tolist() == [82, 25]
    assert out.hidden.shape == (*inputs.input_ids.shape, backbone.hidden_size)
    assert out.logits.shape == (*inputs.input_ids.shape, backbone.model.config.text_config.vocab_size)
    assert inputs.attention_mask[:, -1].tolist() == [1, 1] and inputs.attention_mask[:, 0].tolist() == [1, 0]


def test_a_clip_gives_the_same_states_alone_and_in_a_padded_batch(backbone):
    with torch.no_grad():
        alone = backbone(backbone.prepare(["when"], [noise(1.0)])).audio_hidden[0]
        batched = backbone(backbone.prepare(["when does the apple", "when"], [noise(3.3, 1), noise(1.0)]))
    torch.testing.assert_close(batched.audio_hidden[1, :25], alone, atol=1e-5, rtol=1e-5)


def test_answers_become_labels_at_the_end(backbone):
    inputs = backbone.prepare(["when", "when does the apple"], [noise(1.0), noise(1.0)], answers=["1.5", "2"])
    answer = backbone.tokenizer("1.5<|im_end|>", add_special_tokens=False)["input_ids"]
    row = inputs.labels[0]
    assert row[row != IGNORE_INDEX].tolist() == answer
    assert row[-len(answer) :].tolist() == answer
    assert inputs.input_ids[0, -len(answer) :].tolist() == answer
    with torch.no_grad():
        loss = backbone.model(**inputs.model_kwargs, labels=inputs.labels).loss
    assert torch.isfinite(loss)


def test_causal_mask_passed_as_dict_reproduces_default_and_bidirectional_differs(backbone):
    inputs = backbone.prepare(["when", "when does the apple"], [noise(1.0), noise(0.6, 1)])
    real = inputs.attention_mask.bool()
    with torch.no_grad():
        default = backbone(inputs).hidden
        causal = backbone._decoder_hidden_states(
            inputs, {"full_attention": causal_mask(inputs)}, backbone._position_ids(inputs)
        )[-1]
        bidirectional = backbone(inputs, bidirectional_audio=True).hidden
    assert torch.equal(causal[real], default[real])
    for row in range(2):
        start, n = int(inputs.audio_start[row]), int(inputs.n_audio_tokens[row])
        before = real[row, :start]  # the real text before the audio
        assert torch.equal(bidirectional[row, :start][before], default[row, :start][before])
        changed = (bidirectional[row, start : start + n - 1] - default[row, start : start + n - 1]).abs().amax(-1)
        assert bool((changed > 1e-4).all())  # every audio token but the last now sees later audio


def test_eager_attention_gets_an_additive_mask():
    backbone = tiny_qwen2_audio()
    inputs = backbone.prepare(["when", "when does the apple"], [noise(1.0), noise(0.6, 1)])
    real = inputs.attention_mask.bool()
    with torch.no_grad():
        sdpa = backbone(inputs, bidirectional_audio=True).hidden
        backbone.model.set_attn_implementation("eager")
        eager = backbone(inputs, bidirectional_audio=True).hidden
    torch.testing.assert_close(eager[real], sdpa[real], atol=1e-5, rtol=1e-5)


def test_greedy_generation_starts_with_the_argmax_of_the_forward_pass(backbone):
    inputs = backbone.prepare(["when", "when does the apple"], [noise(1.0), noise(0.6, 1)])
    with torch.no_grad():
        first = backbone(inputs, need_logits=True).logits[:, -1].argmax(-1)
    assert backbone.generate(inputs, max_new_tokens=1) == backbone.tokenizer.batch_decode(
        first[:, None], skip_special_tokens=True
    )
    texts = backbone.generate(inputs, max_new_tokens=3)
    assert len(texts) == 2 and all(isinstance(t, str) for t in texts)


def test_save_and_load_round_trip(backbone, tmp_path):
    backbone.save_pretrained(tmp_path)
    loaded = Qwen2AudioBackbone.from_pretrained(tmp_path, dtype=torch.float32)
    inputs = backbone.prepare(["when does the apple"], [noise(1.0)])
    assert torch.equal(loaded.prepare(["when does the apple"], [noise(1.0)]).input_ids, inputs.input_ids)
    with torch.no_grad():
        assert torch.equal(loaded(inputs).audio_hidden, backbone(inputs).audio_hidden)
