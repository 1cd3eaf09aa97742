"""Qwen2-Audio-7B-Instruct: a Whisper-like encoder with average pooling, 25 audio tokens per second.

Inputs are built here from the checkpoint's tokenizer and Whisper feature extractor, as
``Qwen2AudioProcessor`` does, but with the question before the audio (the checkpoint's chat
template renders the content items in order, "Audio 1: " in front of each audio):

    <|im_start|>system\\nYou are a helpful assistant.<|im_end|>\\n
    <|im_start|>user\\n{question}\\nAudio 1: <|audio_bos|><|AUDIO|>...<|audio_eos|>\\n<|im_end|>\\n
    <|im_start|>assistant\\n

The encoder's position table holds 1500 frames after its stride-2 convolution, so every clip is
padded to exactly 30 s of log-mel frames (3000); the padded frames are masked out inside the
encoder and only the tokens of the real audio enter the decoder. Clips longer than 30 s cannot be
encoded in one pass and are refused (windowing belongs to another module).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from transformers import AutoTokenizer, Qwen2AudioForConditionalGeneration, WhisperFeatureExtractor

from .base import IGNORE_INDEX, SAMPLE_RATE_HZ, Backbone, BackboneInputs
from .masking import mask_for_attention, positions_from_padding
from .qwen2_5_omni import chatml_turn, left_pad
from .registry import register

DEFAULT_SYSTEM_PROMPT = "You are a helpful assistant."
AUDIO_BOS, AUDIO_TOKEN, AUDIO_EOS, END_OF_TURN = "<|audio_bos|>", "<|AUDIO|>", "<|audio_eos|>", "<|im_end|>"
# With at most one audio token in every row, the model takes its legacy path (it expands one
# placeholder itself) and our layout breaks; two tokens need about 70 ms of audio.
MIN_AUDIO_TOKENS = 2


def qwen2_audio_prompt(question: str, system_prompt: str | None) -> tuple[str, str]:
    """Text before and after the ``<|AUDIO|>`` tokens of a user turn that asks ``question``."""
    # The template joins content items without a separator; the newline keeps the question apart.
    return chatml_turn(system_prompt, f"{question}\nAudio 1: {AUDIO_BOS}", f"{AUDIO_EOS}\n")


@register("qwen2-audio")
class Qwen2AudioBackbone(Backbone):
    """``Qwen2AudioForConditionalGeneration`` behind the backbone protocol."""

    family = "qwen2-audio"

    def __init__(self, model, tokenizer, feature_extractor, system_prompt: str | None = DEFAULT_SYSTEM_PROMPT):
        super().__init__(model, tokenizer, feature_extractor)
        self.system_prompt = system_prompt

    @property
    def _audio_tower(self):
        return self.model.model.audio_tower

    @property
    def _mel_frames_per_token(self) -> int:
        tower = self._audio_tower
        return tower.conv1.stride[0] * tower.conv2.stride[0] * tower.avg_pooler.stride[0]

    @property
    def max_samples(self) -> int:
        """Longest clip the encoder takes in one pass (30 s): its whole position table."""
        tower = self._audio_tower
        n_mel_frames = tower.max_source_positions * tower.conv1.stride[0] * tower.conv2.stride[0]
        return n_mel_frames * self.feature_extractor.hop_length

    @property
    def token_rate_hz(self) -> float:
        # 100 mel frames per second; conv stride 2, then average pooling by 2.
        return SAMPLE_RATE_HZ / self.feature_extractor.hop_length / self._mel_frames_per_token

    @property
    def hidden_size(self) -> int:
        return self.model.config.text_config.hidden_size

    @property
    def lm_head(self):
        return self.model.lm_head

    def _tokens_of_mel_frames(self, n_mel_frames: torch.Tensor) -> torch.Tensor:
        return self._audio_tower._get_feat_extract_output_lengths(n_mel_frames)[1]

    def count_audio_tokens(self, n_samples: int) -> int:
        """Audio tokens of a clip: ``m = ceil(n / 160)`` mel frames, then ``((m - 1) // 2 + 1 - 2) // 2 + 1``.

        The feature extractor marks ``ceil(n / hop)`` frames as real (its mask samples every hop-th
        waveform sample of the padded clip); the model turns them into tokens with the formula above.
        """
        n_mel_frames = math.ceil(n_samples / self.feature_extractor.hop_length)
        return int(self._tokens_of_mel_frames(torch.tensor(n_mel_frames)))

    def _check_lengths(self, waveforms: Sequence[np.ndarray]) -> None:
        for i, waveform in enumerate(waveforms):
            if len(waveform) > self.max_samples:
                raise ValueError(
                    f"clip {i} lasts {len(waveform) / SAMPLE_RATE_HZ:.2f} s; Qwen2-Audio encodes at most "
                    f"{self.max_samples / SAMPLE_RATE_HZ:.0f} s in one pass: cut longer audio into windows"
                )
            if self.count_audio_tokens(len(waveform)) < MIN_AUDIO_TOKENS:
                raise ValueError(f"clip {i} ({len(waveform)} samples) is too short for {MIN_AUDIO_TOKENS} audio tokens")

    def _token_ids(self, text: str) -> list[int]:
        return self.tokenizer(text, add_special_tokens=False)["input_ids"]

    @property
    def _pad_id(self) -> int:
        pad = self.tokenizer.pad_token_id
        return pad if pad is not None else self.tokenizer.convert_tokens_to_ids(END_OF_TURN)

    def prepare(
        self, questions: Sequence[str], waveforms: Sequence[np.ndarray], answers: Sequence[str] | None = None
    ) -> BackboneInputs:
        waveforms = [np.asarray(w, dtype=np.float32) for w in waveforms]
        self._check_lengths(waveforms)
        features = self.feature_extractor(
            waveforms,
            sampling_rate=SAMPLE_RATE_HZ,
            padding="max_length",
            max_length=self.max_samples,
            truncation=False,
            return_attention_mask=True,
            return_tensors="pt",
        )
        n_tokens = self._tokens_of_mel_frames(features["attention_mask"].sum(-1)).long()
        audio_id = self.model.config.audio_token_id
        rows, label_rows, starts = [], [], []
        for i, question in enumerate(questions):
            before, after = qwen2_audio_prompt(question, self.system_prompt)
            prompt = self._token_ids(before)
            starts.append(len(prompt))
            prompt += [audio_id] * int(n_tokens[i]) + self._token_ids(after)
            answer = self._token_ids(answers[i] + END_OF_TURN) if answers is not None else []
            rows.append(prompt + answer)
            label_rows.append([IGNORE_INDEX] * len(prompt) + answer)
        input_ids, attention_mask, shift = left_pad(rows, self._pad_id)
        labels = left_pad(label_rows, IGNORE_INDEX)[0] if answers is not None else None
        model_kwargs = {
            "input_ids": input_ids,
            "attention_mask": attention_mask,
            "input_features": features["input_features"],
            "feature_attention_mask": features["attention_mask"],
        }
        return BackboneInputs(model_kwargs, torch.tensor(starts) + shift, n_tokens, labels)

    def _position_ids(self, inputs: BackboneInputs) -> torch.Tensor:
        return positions_from_padding(inputs.attention_mask)

    def _decoder_hidden_states(self, inputs, attention_mask, position_ids):
        if isinstance(attention_mask, dict):
            # Qwen2Model takes a ready mask per layer type; Qwen2-Audio's decoder has full attention only.
            layer_types = set(self.model.config.text_config.layer_types)
            if layer_types != {"full_attention"}:
                raise NotImplementedError(f"custom masks for layer types {sorted(layer_types)}")
            implementation = self.model.model.language_model.config._attn_implementation
            dtype = self.model.dtype
            attention_mask = {kind: mask_for_attention(m, implementation, dtype) for kind, m in attention_mask.items()}
        if position_ids is None:
            position_ids = self._position_ids(inputs)
        kwargs = dict(inputs.model_kwargs, attention_mask=attention_mask, position_ids=position_ids)
        return self.model.model(**kwargs, output_hidden_states=True, use_cache=False).hidden_states

    def generate(self, inputs: BackboneInputs, max_new_tokens: int, bidirectional_audio: bool = False) -> list[str]:
        return self._generate_with_hf(inputs, max_new_tokens, bidirectional_audio, self.tokenizer.convert_tokens_to_ids(END_OF_TURN), self._pad_id)

    def save_pretrained(self, directory: str | Path, state_dict: dict | None = None) -> None:
        self.model.save_pretrained(directory, state_dict=state_dict)
        self.tokenizer.save_pretrained(directory)
        self.feature_extractor.save_pretrained(directory)

    @classmethod
    def from_pretrained(cls, name_or_path: str | Path, **kwargs) -> "Qwen2AudioBackbone":
        """Load ``Qwen/Qwen2-Audio-7B-Instruct`` (hub name) or a local directory.

        Keyword arguments: ``dtype`` (default "auto"), ``attn_implementation`` (default: the
        model's, SDPA), the rest go to the constructor (``system_prompt``).
        """
        model_kwargs = {"dtype": kwargs.pop("dtype", "auto")}
        if "attn_implementation" in kwargs:
            model_kwargs["attn_implementation"] = kwargs.pop("attn_implementation")
        model = Qwen2AudioForConditionalGeneration.from_pretrained(name_or_path, **model_kwargs)
        tokenizer = AutoTokenizer.from_pretrained(name_or_path)
        feature_extractor = WhisperFeatureExtractor.from_pretrained(name_or_path)
        return cls(model, tokenizer, feature_extractor, **kwargs)
