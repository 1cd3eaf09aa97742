"""Voxtral (Mistral): a Whisper encoder at 50 Hz whose projector stacks 4 frames: 12.5 tokens per second.

Inputs are laid out as mistral_common's instruct tokenizer lays out a user turn whose content is
[text, audio] (``VoxtralProcessor`` delegates its chat template to mistral_common), that is with
the question before the audio, and the answer after ``[/INST]``:

    <s>[INST]{question}[BEGIN_AUDIO][AUDIO]...[AUDIO][/INST]{answer}</s>

Every clip is padded with zeros to a multiple of 30 s, as mistral_common does; the encoder sees each
30 s chunk on its own (its position table holds 1500 frames) and the projector makes 375 tokens of
each. A clip's chunks follow each other in one ``[AUDIO]`` block, in time order, so the block stays
contiguous in time across chunks, whatever the clip's length (memory grows with it). The tokens of
the padding after the clip's end stay in the sequence, as in training, but are not audio states
here: ``n_audio_tokens`` counts the tokens that cover the clip, ``ceil(floor(n / 160) / 8)``.

Token ids come from the tokenizer by name and the audio id from the model config, so the
``mistral-common`` package is not needed: transformers converts the checkpoint's ``tekken.json``
into a fast tokenizer by itself (``mistral_format=False`` below).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from transformers import AutoTokenizer, VoxtralForConditionalGeneration, WhisperFeatureExtractor

from .base import IGNORE_INDEX, SAMPLE_RATE_HZ, Backbone, BackboneInputs
from .masking import mask_for_attention, positions_from_padding
from .qwen2_5_omni import left_pad
from .registry import register

BOS, EOS, BEGIN_INST, END_INST, BEGIN_AUDIO = "<s>", "</s>", "[INST]", "[/INST]", "[BEGIN_AUDIO]"


@register("voxtral")
class VoxtralBackbone(Backbone):
    """``VoxtralForConditionalGeneration`` behind the backbone protocol."""

    family = "voxtral"

    def __init__(self, model, tokenizer, feature_extractor):
        super().__init__(model, tokenizer, feature_extractor)
        self._ids = {name: self._special_id(name) for name in (BOS, EOS, BEGIN_INST, END_INST, BEGIN_AUDIO)}

    def _special_id(self, name: str) -> int:
        token_id = self.tokenizer.convert_tokens_to_ids(name)
        if token_id is None or token_id == self.tokenizer.unk_token_id:
            raise ValueError(f"the tokenizer has no {name} token; is it Voxtral's?")
        return token_id

    # ----- audio geometry --------------------------------------------------------------------
    @property
    def _frames_per_token(self) -> int:
        """Encoder frames the projector stacks into one token (4: its input is 4 x d_model wide)."""
        audio = self.model.config.audio_config
        if audio.intermediate_size % audio.hidden_size:
            raise ValueError("the projector input must be a whole number of encoder frames")
        return audio.intermediate_size // audio.hidden_size

    @property
    def _mel_frames_per_token(self) -> int:
        tower = self.model.model.audio_tower
        return tower.conv1.stride[0] * tower.conv2.stride[0] * self._frames_per_token

    @property
    def chunk_samples(self) -> int:
        """Samples the encoder takes at once (30 s): its whole position table."""
        tower = self.model.model.audio_tower
        n_mel_frames = tower.max_source_positions * tower.conv1.stride[0] * tower.conv2.stride[0]
        return n_mel_frames * self.feature_extractor.hop_length

    @property
    def tokens_per_chunk(self) -> int:
        """Audio tokens each 30 s chunk puts in the sequence (375)."""
        return self.chunk_samples // self.feature_extractor.hop_length // self._mel_frames_per_token

    @property
    def token_rate_hz(self) -> float:
        # 100 mel frames per second, conv stride 2, then 4 frames per token.
        return SAMPLE_RATE_HZ / self.feature_extractor.hop_length / self._mel_frames_per_token

    def count_audio_tokens(self, n_samples: int) -> int:
        """Tokens covering a clip of ``n_samples``: ``ceil(floor(n / hop) / 8)`` (mistral_common's count).

        The sequence holds ``375 * ceil(n / 480000)`` audio tokens; the rest cover the zero padding.
        """
        n_mel_frames = n_samples // self.feature_extractor.hop_length
        return math.ceil(n_mel_frames / self._mel_frames_per_token)

    def count_sequence_audio_tokens(self, n_samples: int) -> int:
        """``[AUDIO]`` tokens the clip puts in the sequence, padding included."""
        return math.ceil(n_samples / self.chunk_samples) * self.tokens_per_chunk

    @property
    def hidden_size(self) -> int:
        return self.model.config.text_config.hidden_size

    @property
    def lm_head(self):
        return self.model.lm_head

    # ----- inputs -----------------------------------------------------------------------------
    def _chunk_features(self, waveform: np.ndarray) -> torch.Tensor:
        """``[n_chunks, n_mel, 3000]`` log-mel features of one clip, zero-padded to whole chunks."""
        if self.count_audio_tokens(len(waveform)) < 1:
            raise ValueError(f"a clip of {len(waveform)} samples is too short for one audio token")
        features = self.feature_extractor(
            waveform,
            sampling_rate=SAMPLE_RATE_HZ,
            padding="longest",
            pad_to_multiple_of=self.chunk_samples,
            truncation=False,
            return_tensors="pt",
        )["input_features"][0]
        chunk_frames = self.chunk_samples // self.feature_extractor.hop_length
        return features.reshape(features.shape[0], -1, chunk_frames).transpose(0, 1)

    def _token_ids(self, text: str) -> list[int]:
        return self.tokenizer.encode(text, add_special_tokens=False)

    @property
    def _pad_id(self) -> int:
        pad = self.tokenizer.pad_token_id
        return pad if pad is not None else self._ids[EOS]

    def prepare(
        self, questions: Sequence[str], waveforms: Sequence[np.ndarray], answers: Sequence[str] | None = None
    ) -> BackboneInputs:
        waveforms = [np.asarray(w, dtype=np.float32) for w in waveforms]
        # The chunks of all clips, clip after clip: the model fills the [AUDIO] tokens in this order.
        features = torch.cat([self._chunk_features(w) for w in waveforms])
        audio_id, ids = self.model.config.audio_token_id, self._ids
        rows, label_rows, starts = [], [], []
        for i, question in enumerate(questions):
            prompt = [ids[BOS], ids[BEGIN_INST], *self._token_ids(question), ids[BEGIN_AUDIO]]
            starts.append(len(prompt))
            prompt += [audio_id] * self.count_sequence_audio_tokens(len(waveforms[i])) + [ids[END_INST]]
            answer = self._token_ids(answers[i].rstrip(" ")) + [ids[EOS]] if answers is not None else []
            rows.append(prompt + answer)
            label_rows.append([IGNORE_INDEX] * len(prompt) + answer)
        input_ids, attention_mask, shift = left_pad(rows, self._pad_id)
        labels = left_pad(label_rows, IGNORE_INDEX)[0] if answers is not None else None
        n_tokens = torch.tensor([self.count_audio_tokens(len(w)) for w in waveforms])
        model_kwargs = {"input_ids": input_ids, "attention_mask": attention_mask, "input_features": features}
        return BackboneInputs(model_kwargs, torch.tensor(starts) + shift, n_tokens, labels)

    # ----- forward and generation -------------------------------------------------------------
    def _position_ids(self, inputs: BackboneInputs) -> torch.Tensor:
        return positions_from_padding(inputs.attention_mask)

    def _decoder_hidden_states(self, inputs, attention_mask, position_ids):
        if isinstance(attention_mask, dict):
            # LlamaModel takes a ready 4-D mask as it is, but not a dict per layer type.
            implementation = self.model.model.language_model.config._attn_implementation
            attention_mask = mask_for_attention(attention_mask["full_attention"], implementation, self.model.dtype)
        if position_ids is None:
            position_ids = self._position_ids(inputs)
        kwargs = dict(inputs.model_kwargs, attention_mask=attention_mask, position_ids=position_ids)
        return self.model.model(**kwargs, output_hidden_states=True, use_cache=False).hidden_states

    def generate(self, inputs: BackboneInputs, max_new_tokens: int, bidirectional_audio: bool = False) -> list[str]:
        return self._generate_with_hf(inputs, max_new_tokens, bidirectional_audio, self._ids[EOS], self._pad_id)

    def save_pretrained(self, directory: str | Path, state_dict: dict | None = None) -> None:
        self.model.save_pretrained(directory, state_dict=state_dict)
        self.tokenizer.save_pretrained(directory)
        self.feature_extractor.save_pretrained(directory)

    @classmethod
    def from_pretrained(cls, name_or_path: str | Path, **kwargs) -> "VoxtralBackbone":
        """Load ``mistralai/Voxtral-Mini-3B-2507`` (hub name) or a local directory.

        Keyword arguments: ``dtype`` (default "auto") and ``attn_implementation`` (default: the
        model's, SDPA). The tokenizer is the fast one transformers builds from ``tekken.json``.
        """
        model_kwargs = {"dtype": kwargs.pop("dtype", "auto")}
        if "attn_implementation" in kwargs:
            model_kwargs["attn_implementation"] = kwargs.pop("attn_implementation")
        model = VoxtralForConditionalGeneration.from_pretrained(name_or_path, **model_kwargs)
        tokenizer = AutoTokenizer.from_pretrained(name_or_path, mistral_format=False)
        feature_extractor = WhisperFeatureExtractor.from_pretrained(name_or_path)
        return cls(model, tokenizer, feature_extractor, **kwargs)
