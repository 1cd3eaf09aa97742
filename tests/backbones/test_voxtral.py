"""The Voxtral adapter, on a tiny randomly initialised config of the real class (no downloads).

The tokenizer is a word-level stand-in for tekken with Voxtral's special-token names; the adapter
finds every id by name (the audio id from the model config), as with the real checkpoint.
"""

import dataclasses

import numpy as np
import pytest
import torch
from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers
from transformers import PreTrainedTokenizerFast, VoxtralConfig, VoxtralForConditionalGeneration

from framestamp.backbones import backbone_class
from framestamp.backbones.base import IGNORE_INDEX, audio_bidirectional_mask
from framestamp.backbones.tiny_scratch import build_feature_extractor
from framestamp.backbones.voxtral import VoxtralBackbone

SR = 16_000
SPECIAL_TOKENS = ["<unk>", "<s>", "</s>", "[INST]", "[/INST]", "<pad>", "[AUDIO]", "[BEGIN_AUDIO]"]
WORDS = "when does the apple start ? . 0 1 2 3 4 5 6 7 8 9".split()


def noise(seconds, seed=0, scale=0.1):
    return (np.random.default_rng(seed).standard_normal(round(seconds * SR)) * scale).astype(np.float32)


def build_tokenizer() -> PreTrainedTokenizerFast:
    vocab = {token: i for i, token in enumerate(SPECIAL_TOKENS + WORDS)}
    core = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    core.normalizer = normalizers.Lowercase()
    core.pre_tokenizer = pre_tokenizers.Sequence(
        [pre_tokenizers.WhitespaceSplit(), pre_tokenizers.Punctuation("isolated"), pre_tokenizers.Digits(True)]
    )
    core.decoder = decoders.Fuse()
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=core, bos_token="<s>", eos_token="</s>", unk_token="<unk>", pad_token="<pad>"
    )
    tokenizer.add_special_tokens({"additional_special_tokens": ["[INST]", "[/INST]", "[AUDIO]", "[BEGIN_AUDIO]"]})
    return tokenizer


def tiny_voxtral(seed=0) -> VoxtralBackbone:
    tokenizer = build_tokenizer()
    config = VoxtralConfig(
        # intermediate_size = 4 x hidden_size, as in the real encoder: the projector stacks 4 frames.
        audio_config=dict(
            model_type="voxtral_encoder", hidden_size=16, intermediate_size=64, num_hidden_layers=1,
            num_attention_heads=2, num_mel_bins=128, max_source_positions=1500,
        ),
        text_config=dict(
            model_type="llama", vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64,
            num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2, head_dim=8,
            max_position_embeddings=4096,
        ),
        audio_token_id=tokenizer.convert_tokens_to_ids("[AUDIO]"),
    )  # fmt: skip
    torch.manual_seed(seed)
    model = VoxtralForConditionalGeneration(config).eval()
    return VoxtralBackbone(model, tokenizer, build_feature_extractor())


@pytest.fixture(scope="module")
def backbone():
    return tiny_voxtral()


def causal_mask(inputs):
    """The base class's mask with an empty audio block: causal, with the same padding handling."""
    return audio_bidirectional_mask(dataclasses.replace(inputs, n_audio_tokens=torch.zeros_like(inputs.n_audio_tokens)))


def test_registered_by_name():
    assert backbone_class("voxtral") is VoxtralBackbone


@pytest.mark.parametrize(
    ("seconds", "expected", "in_sequence"),
    [(1.0, 13, 375), (3.3, 42, 375), (10.0, 125, 375), (30.0, 375, 375), (31.0, 388, 750), (16_001 / SR, 13, 375)],
)
def test_audio_token_count_is_12_5_per_second_and_the_sequence_holds_whole_chunks(
    backbone, seconds, expected, in_sequence
):
    # Closed form (mistral_common): ceil(floor(n / 160) / 8) tokens cover the clip; each 30 s chunk adds 375.
    n_samples = round(seconds * SR)
    inputs = backbone.prepare(["when"], [noise(seconds)])
    assert backbone.token_rate_hz == 12.5
    assert int(inputs.n_audio_tokens[0]) == backbone.count_audio_tokens(n_samples) == expected
    assert abs(expected - seconds * backbone.token_rate_hz) <= 1
    assert int((inputs.input_ids[0] == backbone.model.config.audio_token_id).sum()) == in_sequence
    assert inputs.model_kwargs["input_features"].shape == (in_sequence // 375, 128, 3000)


def test_prompt_puts_question_before_a_contiguous_audio_block(backbone):
    inputs = backbone.prepare(["when does the apple start?"], [noise(1.0)], answers=["1.5"])
    tokens = backbone.tokenizer.convert_ids_to_tokens(inputs.input_ids[0])
    start = int(inputs.audio_start[0])
    assert tokens[:7] == ["<s>", "[INST]", "when", "does", "the", "apple", "start"]
    assert tokens[start - 1] == "[BEGIN_AUDIO]"
    assert set(tokens[start : start + 375]) == {"[AUDIO]"}
    assert tokens[start + 375 :] == ["[/INST]", "1", ".", "5", "</s>"]


def test_answers_become_labels_at_the_end(backbone):
    inputs = backbone.prepare(["when", "when does the apple"], [noise(1.0), noise(31.0)], answers=["1.5 ", "2"])
    labels = inputs.labels[0]
    assert backbone.tokenizer.convert_ids_to_tokens(labels[labels != IGNORE_INDEX]) == ["1", ".", "5", "</s>"]
    assert inputs.input_ids[0, -4:].tolist() == labels[-4:].tolist()
    with torch.no_grad():
        loss = backbone.model(**inputs.model_kwargs, labels=inputs.labels).loss
    assert torch.isfinite(loss)


def test_forward_shapes_with_left_padding_and_several_chunks(backbone):
    inputs = backbone.prepare(["when", "when does the apple"], [noise(31.0), noise(3.3)])
    with torch.no_grad():
        out = backbone(inputs, need_logits=True)
    assert inputs.model_kwargs["input_features"].shape == (3, 128, 3000)  # 2 chunks, then 1
    assert out.audio_hidden.shape == (2, 388, backbone.hidden_size)
    assert out.audio_mask.sum(1).tolist() == [388, 42]
    assert out.logits.shape == (*inputs.input_ids.shape, backbone.model.config.text_config.vocab_size)
    assert inputs.attention_mask[:, -1].tolist() == [1, 1] and inputs.attention_mask[:, 0].tolist() == [1, 0]


def test_audio_block_stays_in_time_order_across_chunks(backbone):
    """Changing the audio after 30 s changes, under the causal decoder, exactly the tokens from
    30 s * 12.5 = token 375 on: the second chunk follows the first in the block. The change starts
    half an STFT window (200 samples) after 30 s, as the last mel frame of the first chunk reaches
    that far; the first 30 s are louder, so the log-mel ceiling (the clip's maximum) stays put."""
    loud = (0.5 * np.sin(2 * np.pi * 440 * np.arange(30 * SR + 200) / SR)).astype(np.float32)
    clean = np.concatenate([loud, noise(2.0, seed=1, scale=0.01)[200:]])
    changed = np.concatenate([loud, noise(2.0, seed=2, scale=0.01)[200:]])
    with torch.no_grad():
        a = backbone(backbone.prepare(["when"], [clean])).audio_hidden[0]
        b = backbone(backbone.prepare(["when"], [changed])).audio_hidden[0]
    differs = (a - b).abs().amax(-1) > 1e-5
    assert a.shape[0] == 400
    assert int(torch.nonzero(differs)[0]) == 375 and bool(differs[375:].all())


def test_a_clip_gives_the_same_states_alone_and_in_a_padded_batch(backbone):
    with torch.no_grad():
        alone = backbone(backbone.prepare(["when"], [noise(1.0)])).audio_hidden[0]
        batched = backbone(backbone.prepare(["when does the apple", "when"], [noise(3.3, 1), noise(1.0)]))
    torch.testing.assert_close(batched.audio_hidden[1, :13], alone, atol=1e-5, rtol=1e-5)


def test_causal_4d_mask_reproduces_default_and_bidirectional_differs(backbone):
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
    backbone = tiny_voxtral()
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
    loaded = VoxtralBackbone.from_pretrained(tmp_path, dtype=torch.float32)
    inputs = backbone.prepare(["when does the apple"], [noise(1.0)])
    assert torch.equal(loaded.prepare(["when does the apple"], [noise(1.0)]).input_ids, inputs.input_ids)
    with torch.no_grad():
        assert torch.equal(loaded(inputs).audio_hidden, backbone(inputs).audio_hidden)
