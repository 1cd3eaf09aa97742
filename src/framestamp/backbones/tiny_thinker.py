"""The tiny Qwen2.5-Omni thinker both tiny presets share: its sizes, tokenizer and config.

Same class as the paper's backbone (``Qwen2_5OmniThinkerForConditionalGeneration``) with a
small config and a word-level tokenizer of our own (``tokenizers`` WordLevel; every corpus word
is one token, so the LM head can name the word being spoken). The presets differ in their audio
tower: ``tiny`` hears through the frozen, pre-trained Whisper tiny.en encoder
(:mod:`framestamp.backbones.tiny_whisper`); ``tiny-scratch`` learns to hear from nothing
(:mod:`framestamp.backbones.tiny_scratch`).
"""

from __future__ import annotations

import abc
import string
from dataclasses import dataclass
from importlib import resources
from typing import Iterable

from torch import nn
from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers
from transformers import PreTrainedTokenizerFast, Qwen2_5OmniThinkerConfig, Qwen2_5OmniThinkerForConditionalGeneration

from ..tasks.prompts import PROMPT_WORDS
from .qwen2_5_omni import Qwen25OmniBackbone

PAD, UNK = "<|endoftext|>", "<|unk|>"
SPECIAL_TOKENS = [
    PAD, UNK, "<|im_start|>", "<|im_end|>", "<|audio_bos|>", "<|AUDIO|>", "<|audio_eos|>",
    "<|IMAGE|>", "<|VIDEO|>", "<|vision_bos|>", "<|vision_eos|>",
]  # fmt: skip


@dataclass(frozen=True)
class TinyConfig:
    """Sizes of the tiny thinker (the defaults give about 1.2 M parameters at vocabulary 512)."""

    audio_width: int = 128
    audio_layers: int = 2
    audio_heads: int = 4
    text_width: int = 128
    text_layers: int = 4
    text_heads: int = 4
    text_kv_heads: int = 2
    ffn_width: int = 512
    tie_embeddings: bool = True


def default_vocabulary() -> list[str]:
    """The shipped word list of the built-in corpus (one word a line)."""
    text = resources.files("framestamp.backbones").joinpath("tiny_vocabulary.txt").read_text()
    return [w for w in text.split() if w]


def _pre_tokenizer() -> pre_tokenizers.PreTokenizer:
    return pre_tokenizers.Sequence(
        [pre_tokenizers.WhitespaceSplit(), pre_tokenizers.Punctuation("isolated"), pre_tokenizers.Digits(True)]
    )


def build_tokenizer(words: Iterable[str]) -> PreTrainedTokenizerFast:
    """Word-level tokenizer: lower-cased words, single digits and punctuation are tokens.

    Decoding fuses tokens without spaces, so a JSON answer decodes to valid JSON.
    """
    pre = _pre_tokenizer()
    pieces = set(string.digits) | set(string.punctuation) | set(PROMPT_WORDS)
    for word in words:
        pieces.update(piece for piece, _ in pre.pre_tokenize_str(word.lower()))
    vocab = {token: i for i, token in enumerate(SPECIAL_TOKENS + sorted(pieces - set(SPECIAL_TOKENS)))}
    core = Tokenizer(models.WordLevel(vocab, unk_token=UNK))
    core.normalizer = normalizers.Lowercase()
    core.pre_tokenizer = pre
    core.decoder = decoders.Fuse()
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=core, pad_token=PAD, unk_token=UNK, eos_token="<|im_end|>")
    tokenizer.add_special_tokens({"additional_special_tokens": SPECIAL_TOKENS[2:]})
    return tokenizer


def build_thinker_config(tokenizer: PreTrainedTokenizerFast, sizes: TinyConfig) -> Qwen2_5OmniThinkerConfig:
    """A Qwen2.5-Omni thinker config of the given sizes, with token ids from ``tokenizer``."""
    ids = tokenizer.convert_tokens_to_ids
    head_dim = sizes.text_width // sizes.text_heads
    third = head_dim // 2 // 8
    mrope_section = [head_dim // 2 - 2 * 3 * third, 3 * third, 3 * third]
    return Qwen2_5OmniThinkerConfig(
        audio_config=dict(
            d_model=sizes.audio_width, encoder_layers=sizes.audio_layers, encoder_attention_heads=sizes.audio_heads,
            encoder_ffn_dim=sizes.ffn_width, num_mel_bins=128, output_dim=sizes.text_width,
        ),
        vision_config=dict(
            depth=1, hidden_size=16, intermediate_size=32, num_heads=2, out_hidden_size=sizes.text_width,
            fullatt_block_indexes=[0],
        ),
        text_config=dict(
            vocab_size=len(tokenizer), hidden_size=sizes.text_width, intermediate_size=sizes.ffn_width,
            num_hidden_layers=sizes.text_layers, num_attention_heads=sizes.text_heads,
            num_key_value_heads=sizes.text_kv_heads, max_position_embeddings=32768,
            rope_parameters={"rope_type": "default", "rope_theta": 10000.0, "mrope_section": mrope_section},
            tie_word_embeddings=sizes.tie_embeddings, pad_token_id=tokenizer.pad_token_id,
        ),
        audio_token_index=ids("<|AUDIO|>"), image_token_index=ids("<|IMAGE|>"), video_token_index=ids("<|VIDEO|>"),
        audio_start_token_id=ids("<|audio_bos|>"), audio_end_token_id=ids("<|audio_eos|>"),
        user_token_id=tokenizer("user", add_special_tokens=False)["input_ids"][0],
        vision_start_token_id=ids("<|vision_bos|>"),
        vision_end_token_id=ids("<|vision_eos|>"), tie_word_embeddings=sizes.tie_embeddings,
    )  # fmt: skip


def tie_embeddings(model: Qwen2_5OmniThinkerForConditionalGeneration) -> None:
    """Share the input embedding with the LM head (the thinker does not do it by itself); the open
    text side (:mod:`framestamp.backbones.whisper_text`) ties its own."""
    embedding = model.model.language_model.embed_tokens
    if isinstance(embedding, nn.Embedding):
        model.lm_head.weight = embedding.weight


class TinyThinkerBackbone(Qwen25OmniBackbone):
    """A tiny preset: the thinker made here (``create``), its embeddings tied when its config says so."""

    def __init__(self, model, tokenizer, feature_extractor, system_prompt: str | None = None):
        super().__init__(model, tokenizer, feature_extractor, system_prompt=system_prompt)
        if model.config.tie_word_embeddings:
            tie_embeddings(model)

    @classmethod
    @abc.abstractmethod
    def create(cls, words: Iterable[str] | None = None, sizes: TinyConfig = TinyConfig(), seed: int = 0, **options):
        """A freshly initialised backbone whose vocabulary covers ``words``."""

    @classmethod
    def create_options(cls, config) -> dict:
        """``create``'s keyword arguments from a ``ModelConfig``: the thinker's sizes."""
        return {"sizes": TinyConfig(**config.thinker_sizes)}

    @classmethod
    def from_pretrained(cls, name_or_path, **kwargs) -> "TinyThinkerBackbone":
        kwargs.setdefault("dtype", "float32")
        return super().from_pretrained(name_or_path, **kwargs)
