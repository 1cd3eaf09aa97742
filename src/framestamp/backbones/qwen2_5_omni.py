"""Qwen2.5-Omni thinker (the paper's backbone): 25 audio tokens per second.

Inputs are built here from the checkpoint's tokenizer and Whisper feature extractor, the two
audio-relevant parts of ``Qwen2_5OmniProcessor`` (the full processor also needs torchvision for
its image and video parts, which an audio-only tool should not require). The prompt is ChatML
with the question before the audio block ``<|audio_bos|><|AUDIO|>...<|audio_eos|>``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from transformers import AutoTokenizer, Qwen2_5OmniThinkerForConditionalGeneration, WhisperFeatureExtractor
from transformers.models.qwen2_5_omni.processing_qwen2_5_omni import _get_feat_extract_output_lengths

from ..errors import ConfigError
from .log_mel import log_mel
from .masking import mask_for_attention
from .base import IGNORE_INDEX, SAMPLE_RATE_HZ, Backbone, BackboneInputs, audio_bidirectional_mask
from .registry import register

QWEN_SYSTEM_PROMPT = (
    "You are Qwen, a virtual human developed by the Qwen Team, Alibaba Group, capable of "
    "perceiving auditory and visual inputs, as well as generating text and speech."
)
AUDIO_BOS, AUDIO_TOKEN, AUDIO_EOS, END_OF_TURN = "<|audio_bos|>", "<|AUDIO|>", "<|audio_eos|>", "<|im_end|>"


def chatml_turn(system_prompt: str | None, before_audio: str, after_audio: str) -> tuple[str, str]:
    """Text before and after the audio tokens of a ChatML user turn (with an optional system turn)."""
    system = f"<|im_start|>system\n{system_prompt}{END_OF_TURN}\n" if system_prompt else ""
    return f"{system}<|im_start|>user\n{before_audio}", f"{after_audio}{END_OF_TURN}\n<|im_start|>assistant\n"


def chatml_prompt(question: str, system_prompt: str | None) -> tuple[str, str]:
    """Text before and after the audio block of a ChatML user turn that asks ``question``."""
    return chatml_turn(system_prompt, f"{question}{AUDIO_BOS}", AUDIO_EOS)


@register("qwen2.5-omni")
class Qwen25OmniBackbone(Backbone):
    """``Qwen2_5OmniThinkerForConditionalGeneration`` behind the backbone protocol."""

    family = "qwen2.5-omni"
    # True: ``prepare`` computes log-mel features on the model's device with :func:`log_mel`: on
    # the CPU the same numbers bit for bit, on a GPU the same up to its FFT's float32 rounding.
    features_on_device: bool = False

    def __init__(self, model, tokenizer, feature_extractor, system_prompt: str | None = QWEN_SYSTEM_PROMPT):
        super().__init__(model, tokenizer, feature_extractor)
        self.system_prompt = system_prompt

    @property
    def token_rate_hz(self) -> float:
        # 100 mel frames per second, two stride-2 reductions in the audio tower.
        return SAMPLE_RATE_HZ / self.feature_extractor.hop_length / 4

    @property
    def hidden_size(self) -> int:
        return self.model.config.text_config.hidden_size

    @property
    def lm_head(self):
        return self.model.lm_head

    @property
    def final_norm(self):
        return self.model.model.language_model.norm

    def count_audio_tokens(self, n_samples: int) -> int:
        n_mel_frames = n_samples // self.feature_extractor.hop_length
        return int(_get_feat_extract_output_lengths(torch.tensor(n_mel_frames)))

    def _token_ids(self, text: str) -> list[int]:
        return self.tokenizer(text, add_special_tokens=False)["input_ids"]

    def prepare(
        self, questions: Sequence[str], waveforms: Sequence[np.ndarray], answers: Sequence[str] | None = None,
        written: Sequence[bool] | None = None,
    ) -> BackboneInputs:
        """The base class's batch; ``written`` (training a model that hears asked words): per
        question, whether its text names its asked word (False: the spoken block alone names it);
        None: as the backbone says (``question_text``)."""
        if written is not None and not all(written) and not self.hears_asked_words:
            raise ConfigError("a question can leave its word unwritten only for a model that hears asked words")
        # Each row's audios in prompt order: the question's own audio block if it has one
        # (``question_audio``), then the clip. The thinker fills audio tokens in that order.
        spoken = [self.question_audio(question) for question in questions]
        audios = [a for said, clip in zip(spoken, waveforms) for a in ((clip,) if said is None else (said, clip))]
        features = self._input_features(audios)
        # A clip's mel frames are n_samples // hop whatever it is batched with (the extractor's
        # mask of a padded row would give ceil instead, one token more for some lengths).
        n_mel = torch.tensor([len(w) // self.feature_extractor.hop_length for w in audios])
        feature_mask = (torch.arange(features.shape[-1])[None, :] < n_mel[:, None]).long()
        n_tokens_of = iter(_get_feat_extract_output_lengths(n_mel).tolist())
        audio_id = self.tokenizer.convert_tokens_to_ids(AUDIO_TOKEN)
        between = self._token_ids(AUDIO_EOS + AUDIO_BOS)
        rows, label_rows, starts, n_clip_tokens = [], [], [], []
        row_answers = answers if answers is not None else [None] * len(questions)
        row_written = written if written is not None else [True] * len(questions)
        for question, said, answer, names_word in zip(questions, spoken, row_answers, row_written):
            before, after = chatml_prompt(self.question_text(question, names_word), self.system_prompt)
            prompt = self._token_ids(before)
            if said is not None:
                prompt += [audio_id] * next(n_tokens_of) + between
            starts.append(len(prompt))
            n_clip_tokens.append(next(n_tokens_of))
            prompt += [audio_id] * n_clip_tokens[-1] + self._token_ids(after)
            answer_ids = self._token_ids(answer + END_OF_TURN) if answer is not None else []
            rows.append(prompt + answer_ids)
            label_rows.append([IGNORE_INDEX] * len(prompt) + answer_ids)
        input_ids, attention_mask, shift = left_pad(rows, self.tokenizer.pad_token_id)
        labels = left_pad(label_rows, IGNORE_INDEX)[0] if answers is not None else None
        model_kwargs = {
            "input_ids": input_ids,
            "attention_mask": attention_mask,
            "input_features": features,
            "feature_attention_mask": feature_mask,
        }
        return BackboneInputs(model_kwargs, torch.tensor(starts) + shift, torch.tensor(n_clip_tokens), labels)

    def question_text(self, question: str, written: bool = True) -> str:
        """The question's text as the thinker reads it (as asked, here; ``written`` is for backbones
        that hear asked words)."""
        return question

    def question_audio(self, question: str) -> np.ndarray | None:
        """An audio block the question carries before the clip's (16 kHz mono), or None: none here
        (the tiny preset's spoken words, :mod:`framestamp.backbones.spoken_words`)."""
        return None

    def _input_features(self, waveforms: Sequence[np.ndarray]) -> torch.Tensor:
        """``[B, n_mel, longest // hop]`` log-mel features, zero-padded to the longest clip."""
        if self.features_on_device:
            return log_mel(self.feature_extractor, waveforms, self.device)
        return self.feature_extractor(
            [np.asarray(w, dtype=np.float32) for w in waveforms],
            sampling_rate=SAMPLE_RATE_HZ,
            padding="longest",
            truncation=False,
            return_attention_mask=True,
            return_tensors="pt",
        )["input_features"]

    def _position_ids(self, inputs: BackboneInputs) -> torch.Tensor:
        position_ids, _ = self.model.model.get_rope_index(
            inputs.input_ids,
            attention_mask=inputs.attention_mask,
            audio_seqlens=inputs.model_kwargs["feature_attention_mask"].sum(-1),
        )
        return position_ids

    def _decoder_hidden_states(self, inputs, attention_mask, position_ids):
        if isinstance(attention_mask, dict):
            implementation = self.model.config.text_config._attn_implementation
            allowed = attention_mask["full_attention"]
            attention_mask = {"full_attention": mask_for_attention(allowed, implementation, self.model.dtype)}
        kwargs = dict(inputs.model_kwargs, attention_mask=attention_mask, position_ids=position_ids)
        return self.model.model(**kwargs, output_hidden_states=True, use_cache=False).hidden_states

    def generate(self, inputs: BackboneInputs, max_new_tokens: int, bidirectional_audio: bool = False) -> list[str]:
        """Greedy answers as text (see ``generate_ids``)."""
        new_tokens = self.generate_ids(inputs, max_new_tokens, bidirectional_audio)
        return self.tokenizer.batch_decode(new_tokens, skip_special_tokens=True)

    @torch.no_grad()
    def generate_ids(self, inputs: BackboneInputs, max_new_tokens: int, bidirectional_audio: bool = False):
        """Greedy decoding with a KV cache, stopping at ``<|im_end|>``; ``[B, n_new]`` token ids.

        The prompt is encoded with the attention pattern the model was trained with (audio
        block bidirectional when asked), then answer tokens attend causally to everything before
        them. ``generation_config.min_new_tokens`` is honoured (the benchmark's fixed length).
        """
        end_id = self.tokenizer.convert_tokens_to_ids(END_OF_TURN)
        min_new_tokens = self.model.generation_config.min_new_tokens or 0
        attention = inputs.attention_mask
        if bidirectional_audio:
            implementation = self.model.config.text_config._attn_implementation
            allowed = audio_bidirectional_mask(inputs)
            attention = {"full_attention": mask_for_attention(allowed, implementation, self.model.dtype)}
        positions = self._position_ids(inputs)
        out = self.model.model(**dict(inputs.model_kwargs, attention_mask=attention, position_ids=positions),
                               use_cache=True)  # fmt: skip
        mask, cache = inputs.attention_mask, out.cache
        next_positions = positions[..., -1:] + 1
        finished = torch.zeros(mask.shape[0], dtype=torch.bool, device=mask.device)
        generated = []
        for step in range(max_new_tokens):
            logits = self.lm_head(out.last_hidden_state[:, -1]).float()  # the next token's only
            if step < min_new_tokens:
                logits[:, end_id] = -torch.inf
            token = torch.where(finished, torch.full_like(finished, end_id, dtype=torch.long), logits.argmax(-1))
            generated.append(token)
            finished |= token == end_id
            if bool(finished.all()) or step == max_new_tokens - 1:
                break
            mask = torch.cat([mask, torch.ones_like(mask[:, :1])], dim=1)
            out = self.model.model(input_ids=token[:, None], attention_mask=mask, position_ids=next_positions,
                                   cache=cache, use_cache=True)  # fmt: skip
            cache, next_positions = out.cache, next_positions + 1
        return torch.stack(generated, dim=1) if generated else mask[:, :0]

    def save_pretrained(self, directory: str | Path, state_dict: dict | None = None) -> None:
        self.model.save_pretrained(directory, state_dict=state_dict)
        self.tokenizer.save_pretrained(directory)
        self.feature_extractor.save_pretrained(directory)

    @classmethod
    def from_pretrained(cls, name_or_path: str | Path, **kwargs) -> "Qwen25OmniBackbone":
        """Load ``Qwen/Qwen2.5-Omni-3B``/``-7B`` (hub name) or a local directory."""
        dtype = kwargs.pop("dtype", "auto")
        model = Qwen2_5OmniThinkerForConditionalGeneration.from_pretrained(name_or_path, dtype=dtype)
        tokenizer = AutoTokenizer.from_pretrained(name_or_path)
        feature_extractor = WhisperFeatureExtractor.from_pretrained(name_or_path)
        return cls(model, tokenizer, feature_extractor, **kwargs)


def left_pad(rows: list[list[int]], pad_value: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Left-pad token rows; return ids ``[B, S]``, attention mask ``[B, S]`` and each row's shift."""
    length = max(len(r) for r in rows)
    ids = torch.full((len(rows), length), pad_value, dtype=torch.long)
    mask = torch.zeros((len(rows), length), dtype=torch.long)
    shift = torch.tensor([length - len(r) for r in rows])
    for i, row in enumerate(rows):
        ids[i, length - len(row) :] = torch.tensor(row, dtype=torch.long)
        mask[i, length - len(row) :] = 1
    return ids, mask, shift
