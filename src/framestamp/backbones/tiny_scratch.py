"""The ``tiny-scratch`` preset: the tiny thinker with an audio tower that learns to hear from nothing.

The ablation of the pre-trained ``tiny`` preset: the same thinker class, a small audio tower of
its own (2 layers, width 128) and the Whisper log-mel feature extractor Qwen2.5-Omni uses (128
bins, 10 ms hop), without padding to 30 s. It is saved and loaded with
``save_pretrained``/``from_pretrained`` like a hub checkpoint, and trains from scratch on a CPU.
"""

from __future__ import annotations

from typing import Iterable

from transformers import Qwen2_5OmniThinkerForConditionalGeneration, WhisperFeatureExtractor

from ..audio import SAMPLE_RATE_HZ
from ..errors import ConfigError
from .registry import register
from .tiny_thinker import TinyConfig, TinyThinkerBackbone, build_thinker_config, build_tokenizer, default_vocabulary


def build_feature_extractor() -> WhisperFeatureExtractor:
    """Whisper log-mel features as Qwen2.5-Omni uses them: 128 bins, 25 ms window, 10 ms hop."""
    return WhisperFeatureExtractor(feature_size=128, sampling_rate=SAMPLE_RATE_HZ, hop_length=160, n_fft=400)



@register("tiny-scratch")
class ScratchTinyBackbone(TinyThinkerBackbone):
    """The Qwen2.5-Omni thinker class at a size that trains from scratch on a CPU, tower included."""

    family = "tiny-scratch"

    @classmethod
    def create(cls, words: Iterable[str] | None = None, sizes: TinyConfig = TinyConfig(), seed: int = 0):
        """A freshly initialised tiny backbone whose vocabulary covers ``words``."""
        import torch

        tokenizer = build_tokenizer(default_vocabulary() if words is None else words)
        torch.manual_seed(seed)
        model = Qwen2_5OmniThinkerForConditionalGeneration(build_thinker_config(tokenizer, sizes))
        return cls(model.eval(), tokenizer, build_feature_extractor())

    @classmethod
    def create_options(cls, config) -> dict:
        if config.text_pieces is not None:
            raise ConfigError("text_pieces (the open vocabulary) needs the tiny preset: its piece embeddings come "
                              "with the Whisper tiny.en weights; tiny-scratch reads the corpus's words")  # fmt: skip
        if config.spoken_words:
            raise ConfigError("spoken_words needs the tiny preset: the asked word is heard by its pre-trained tower")
        return super().create_options(config)
