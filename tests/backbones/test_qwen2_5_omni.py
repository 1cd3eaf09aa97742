"""The Qwen2.5-Omni thinker adapter, on the tiny config of the real class."""

import numpy as np
import pytest
import torch
from transformers.models.qwen2_5_omni.processing_qwen2_5_omni import _get_feat_extract_output_lengths

from dataclasses import replace

from framestamp.backbones.base import audio_bidirectional_mask, gap_before_audio, gather_audio_states
from framestamp.backbones.tiny_scratch import ScratchTinyBackbone

SR = 16_000


def noise(seconds, seed=0):
    return (np.random.default_rng(seed).standard_normal(int(seconds * SR)) * 0.1).astype(np.float32)


@pytest.mark.parametrize("seconds", [1.0, 3.3, 10.0, 31.7])
def test_audio_token_count_matches_processor_and_25_per_second(tiny_backbone, seconds):
    inputs = tiny_backbone.prepare(["when"], [noise(seconds)])
    n_tokens = int(inputs.n_audio_tokens[0])
    n_mel = int(seconds * SR) // 160
    assert n_tokens == int(_get_feat_extract_output_lengths(torch.tensor(n_mel)))
    assert n_tokens == tiny_backbone.count_audio_tokens(int(seconds * SR))
    assert abs(n_tokens - seconds * tiny_backbone.token_rate_hz) <= 1
    assert tiny_backbone.token_rate_hz == 25.0
    audio_id = tiny_backbone.tokenizer.convert_tokens_to_ids("<|AUDIO|>")
    assert int((inputs.input_ids[0] == audio_id).sum()) == n_tokens


def test_question_comes_before_audio(tiny_backbone):
    inputs = tiny_backbone.prepare(["when does the apple"], [noise(1.0)])
    ids = inputs.input_ids[0].tolist()
    apple = tiny_backbone.tokenizer.convert_tokens_to_ids("apple")
    assert ids.index(apple) < int(inputs.audio_start[0])


def test_batch_shapes_and_left_padding(tiny_backbone):
    inputs = tiny_backbone.prepare(["when", "when does the apple"], [noise(2.0), noise(0.8)])
    with torch.no_grad():
        out = tiny_backbone(inputs, need_logits=True)
    assert out.audio_hidden.shape == (2, 50, tiny_backbone.hidden_size)
    assert out.audio_mask.sum(1).tolist() == [50, 20]
    assert out.logits.shape[:2] == inputs.input_ids.shape
    assert bool((out.audio_hidden[1, 20:] == 0).all())
    assert inputs.attention_mask[:, -1].tolist() == [1, 1]  # left padding: rows end together


def test_audio_states_line_up_with_audio_time(tiny_backbone):
    """Changing audio from 4 s on changes, under the causal decoder, exactly the audio tokens
    from 4 s * 25 tokens/s = token 100 onwards. The change starts half an STFT window (200
    samples) after 4 s so that mel frame 399, whose window straddles 4 s, stays the same."""
    clean = noise(8.0, seed=1)
    changed = clean.copy()
    changed[4 * SR + 200 :] = noise(4.0, seed=2)[200:]
    with torch.no_grad():
        a = tiny_backbone(tiny_backbone.prepare(["when"], [clean])).audio_hidden[0]
        b = tiny_backbone(tiny_backbone.prepare(["when"], [changed])).audio_hidden[0]
    differs = (a - b).abs().amax(-1) > 1e-5
    assert int(torch.nonzero(differs)[0]) == 100
    assert bool(differs[100:].all())


def test_bidirectional_audio_mask_and_effect(tiny_backbone):
    inputs = tiny_backbone.prepare(["when", "when does the apple"], [noise(1.0), noise(0.4)])
    mask = audio_bidirectional_mask(inputs)[:, 0]
    start, n = int(inputs.audio_start[1]), int(inputs.n_audio_tokens[1])
    assert bool(mask[1, start, start + n - 1])  # first audio token sees the last one
    assert not bool(mask[1, start - 1, start])  # text before audio stays causal
    assert not bool(mask[1, start + n, start + n + 1])  # text after audio stays causal
    assert not bool(mask[0, -1, 0]) or bool(inputs.attention_mask[0, 0])  # padding is never attended
    with torch.no_grad():
        causal = tiny_backbone(inputs).audio_hidden
        bidirectional = tiny_backbone(inputs, bidirectional_audio=True).audio_hidden
    # The last audio token already saw the whole block causally; earlier ones now see more.
    assert (causal[0, 0] - bidirectional[0, 0]).abs().max() > 1e-4


def test_causal_mask_passed_as_dict_reproduces_default(tiny_backbone):
    inputs = tiny_backbone.prepare(["when", "when does the apple"], [noise(1.0), noise(0.4)])
    padding = inputs.attention_mask.bool()
    length = padding.shape[1]
    steps = torch.arange(length)
    causal = (steps[None, :, None] >= steps[None, None, :]) & padding[:, None, :]
    causal |= torch.eye(length, dtype=torch.bool)[None] & ~padding[:, :, None]
    with torch.no_grad():
        default = tiny_backbone(inputs).audio_hidden
        hidden = tiny_backbone._decoder_hidden_states(
            inputs, {"full_attention": causal[:, None]}, tiny_backbone._position_ids(inputs)
        )[-1]
    via_dict, _ = gather_audio_states(hidden, inputs.audio_start, inputs.n_audio_tokens)
    torch.testing.assert_close(via_dict, default)


def test_a_position_gap_moves_the_audio_and_what_follows_away_from_the_question(tiny_backbone):
    inputs = tiny_backbone.prepare(["when", "when does the apple"], [noise(1.0), noise(0.4)])
    positions = tiny_backbone._position_ids(inputs)  # [3, B, S]: multimodal RoPE
    shifted = gap_before_audio(positions, inputs.audio_start, torch.tensor([0, 100]))
    start = int(inputs.audio_start[1])
    assert torch.equal(shifted[:, 0], positions[:, 0])
    assert torch.equal(shifted[:, 1, :start], positions[:, 1, :start])
    assert torch.equal(shifted[:, 1, start:], positions[:, 1, start:] + 100)
    flat = gap_before_audio(positions[0], inputs.audio_start, torch.tensor([0, 100]))  # [B, S]
    assert torch.equal(flat, shifted[0])
    with torch.no_grad():
        plain = tiny_backbone(inputs, bidirectional_audio=True).audio_hidden
        no_gap = tiny_backbone(replace(inputs, position_gaps=torch.tensor([0, 0])), bidirectional_audio=True)
        gapped = tiny_backbone(replace(inputs, position_gaps=torch.tensor([0, 100]))).audio_hidden
        causal = tiny_backbone(inputs).audio_hidden
    torch.testing.assert_close(no_gap.audio_hidden, plain)
    torch.testing.assert_close(gapped[0], causal[0])  # a zero gap, under the causal mask too
    assert (gapped[1] - causal[1]).abs().max() > 1e-4  # RoPE: the question is now 100 positions further


def test_generation_and_answer_labels(tiny_backbone):
    inputs = tiny_backbone.prepare(["when", "when"], [noise(1.0), noise(0.5)], answers=['[{"start": 1.5}]', "[]"])
    answer_ids = inputs.labels[0][inputs.labels[0] != -100]
    assert tiny_backbone.tokenizer.decode(answer_ids) == '[{"start":1.5}]<|im_end|>'
    inputs = tiny_backbone.prepare(["when", "when"], [noise(1.0), noise(0.5)])
    with torch.no_grad():
        first = tiny_backbone(inputs, need_logits=True).logits[:, -1].argmax(-1)
    # greedy: the first token is the forward pass's argmax, and longer answers continue it
    one = tiny_backbone.generate(inputs, 1)
    assert one == tiny_backbone.tokenizer.batch_decode(first[:, None], skip_special_tokens=True)
    texts = tiny_backbone.generate(inputs, 4)
    assert len(texts) == 2 and all(t.startswith(s) for t, s in zip(texts, one))


def test_layer_choice(tiny_backbone):
    inputs = tiny_backbone.prepare(["when"], [noise(1.0)])
    with torch.no_grad():
        first = tiny_backbone(inputs, layer=1).audio_hidden
        last = tiny_backbone(inputs, layer=-1).audio_hidden
    assert first.shape == last.shape and (first - last).abs().max() > 1e-4


def test_save_and_reload_like_a_hub_checkpoint(tiny_backbone, tmp_path):
    tiny_backbone.save_pretrained(tmp_path)
    assert (tmp_path / "model.safetensors").exists() and (tmp_path / "tokenizer.json").exists()
    reloaded = ScratchTinyBackbone.from_pretrained(tmp_path)
    assert reloaded.model.lm_head.weight is reloaded.model.model.language_model.embed_tokens.weight
    inputs = tiny_backbone.prepare(["when"], [noise(1.0)])
    with torch.no_grad():
        torch.testing.assert_close(reloaded(inputs).audio_hidden, tiny_backbone(inputs).audio_hidden)


def test_token_count_does_not_depend_on_the_batch(tiny_backbone):
    for n_samples in (16_322, 16_001, 17_279):
        alone = tiny_backbone.prepare(["when"], [noise(n_samples / SR)])
        batched = tiny_backbone.prepare(["when", "when"], [noise(n_samples / SR), noise(2.0)])
        assert int(alone.n_audio_tokens[0]) == int(batched.n_audio_tokens[0]) == tiny_backbone.count_audio_tokens(n_samples)
        with torch.no_grad():
            a = tiny_backbone(alone).audio_hidden[0]
            b = tiny_backbone(batched).audio_hidden[0, : a.shape[0]]
        # Only the last mel frame differs: its STFT window sees zero padding in a batch and the
        # reflected signal alone.
        torch.testing.assert_close(a, b, atol=1e-3, rtol=1e-3)


def test_bidirectional_audio_under_eager_attention_matches_sdpa(tiny_backbone):
    inputs = tiny_backbone.prepare(["when", "when does the apple"], [noise(1.0), noise(0.4)])
    with torch.no_grad():
        sdpa = tiny_backbone(inputs, bidirectional_audio=True).audio_hidden
        tiny_backbone.model.set_attn_implementation("eager")
        try:
            eager = tiny_backbone(inputs, bidirectional_audio=True).audio_hidden
        finally:
            tiny_backbone.model.set_attn_implementation("sdpa")
    torch.testing.assert_close(eager, sdpa, atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("bidirectional", [False, True])
def test_cached_greedy_generation_matches_a_teacher_forced_pass(bidirectional):
    """Each generated token is the argmax of one full forward pass over prompt + answer so far,
    with the prompt's audio block attended as in training."""
    backbone = ScratchTinyBackbone.create(["apple", "banana", "cherry", "the"], seed=3)
    with torch.no_grad():
        for parameter in backbone.model.parameters():
            parameter.add_(torch.randn_like(parameter) * 0.3)  # varied tokens from a random model
    questions, audio = ["when", "when does the apple"], [noise(1.0), noise(0.6)]
    ids = backbone.generate_ids(backbone.prepare(questions, audio), 5, bidirectional_audio=bidirectional)
    assert len(set(ids.flatten().tolist())) > 2
    for row in range(len(questions)):
        answer = ids[row].tolist()
        forced = backbone.prepare([questions[row]], [audio[row]])
        full = torch.cat([forced.input_ids, ids[row : row + 1]], dim=1)
        forced.model_kwargs["input_ids"] = full
        forced.model_kwargs["attention_mask"] = torch.ones_like(full)
        with torch.no_grad():
            out = backbone(forced, bidirectional_audio=bidirectional, need_logits=True)
        prompt_length = full.shape[1] - len(answer)
        predicted = out.logits[0, prompt_length - 1 : -1].argmax(-1).tolist()
        assert predicted == answer
