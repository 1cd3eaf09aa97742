"""What a corpus build makes: clips per split, their durations, and how they are mixed.

A ``CorpusConfig`` plus a seed fully determine the corpus. Its hash (with the versions of the
sources and tools it reads) names the cache directory, so a build is reused until a setting,
a source package or the generation code (``CORPUS_VERSION``) changes.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field, replace

from framestamp.config import Config, register_config
from framestamp.data.examples import SUBSETS

# Bump when the generation code changes what a given config and seed produce.
# 3: Festival and Flite voices; voices held out by split (``framestamp.corpus.voices``).
# 4: the same, with Flite's word times from its own segments (3 was only ever an unfinished
#    version of this change: builds cached under it are not reused).
CORPUS_VERSION = 4

# Splits draw sentences and recordings from three disjoint pools; test_long reuses the test pool
# (it differs from test only in clip length), so every split is disjoint from train and dev.
POOL_OF_SPLIT = {"train": "train", "dev": "dev", "test": "test", "test_long": "test", "test_unseen": "test"}
# Settings added after CORPUS_VERSION 4 that enter the settings hash only when set, so that the
# builds made before them keep their names.
_LATER_SETTINGS = {"open_word_share": 0.0}
POOL_FRACTIONS = {"train": 0.8, "dev": 0.1, "test": 0.1}


@dataclass(frozen=True)
class SplitSpec:
    """Clips of one split: how many, and the range their durations are drawn from (seconds)."""

    n_clips: int
    min_duration_s: float
    max_duration_s: float

    def __post_init__(self):
        if self.n_clips < 0 or not 0 < self.min_duration_s <= self.max_duration_s:
            raise ValueError(f"invalid split spec {self}")


def _splits(train: int, dev: int, test: int, long: int, lo: float, hi: float, long_hi: float = 60.0):
    return {
        "train": SplitSpec(train, lo, hi),
        "dev": SplitSpec(dev, lo, hi),
        "test": SplitSpec(test, lo, hi),
        "test_long": SplitSpec(long, max(hi, 10.0), long_hi),
    }


@register_config
@dataclass
class CorpusConfig(Config):
    """Settings of the built-in corpus (all durations in seconds, levels in dB); round-trips
    through JSON and YAML like every framestamp config (split specs as mappings)."""

    words: dict = field(default_factory=lambda: _splits(4000, 200, 400, 200, 1.0, 20.0),
                        metadata={"help": "words subset: split name -> SplitSpec"})
    speakers: dict = field(default_factory=lambda: _splits(3000, 200, 400, 200, 5.0, 12.0),
                           metadata={"help": "speakers subset: split name -> SplitSpec"})
    events: dict = field(default_factory=lambda: _splits(3000, 200, 400, 200, 10.0, 10.0),
                         metadata={"help": "events subset: split name -> SplitSpec"})
    subsets: tuple = field(default=SUBSETS, metadata={"help": "which subsets to build"})
    real_speech_fraction: float = field(default=0.25, metadata={
        "help": "share of words clips made of recorded prompts (the rest is synthetic speech)"})
    engine_weights: dict = field(default_factory=lambda: {"espeak": 0.6, "festival": 0.2, "flite": 0.2}, metadata={
        "help": "synthetic speech by engine: share of synthetic words clips, and the chance of each "
                "engine for a synthetic speaker of a speakers clip (babble is espeak-ng)"})
    held_out_voices: bool = field(default=True, metadata={
        "help": "give train, dev and test their own voices (framestamp.corpus.voices; else every "
                "split uses every voice, sentences and recordings staying disjoint either way)"})
    repeat_word_prob: float = field(default=0.5, metadata={
        "help": "chance that a sentence reuses a noun of the previous sentence of its clip"})
    max_speakers: int = field(default=10, metadata={"help": "speakers per clip range from 1 to this"})
    conversation_fraction: float = field(default=0.5, metadata={
        "help": "share of speakers clips that are turn-taking conversations (the rest are "
                "LibriCount-style mixtures: speaker 1 at 0 s, the others at a uniform offset)"})
    mixture_max_offset_s: float = field(default=4.0, metadata={"help": "largest mixture offset"})
    real_voice_prob: float = field(default=0.3, metadata={
        "help": "chance that a speakers clip includes each recorded voice (es Allison, it Carlo)"})
    events_per_10s: float = field(default=4.0, metadata={
        "help": "most events per 10 s of clip (at least 1; 0 to this many, uniformly)"})
    snr_db: tuple = field(default=(0.0, 20.0), metadata={"help": "event-to-background SNR range"})
    held_out_effects: bool = field(default=True, metadata={
        "help": "give dev and test their own recordings of every event class (else all splits "
                "share the effect files; backgrounds stay disjoint either way)"})
    train_max_duration_s: float | None = field(default=None, metadata={
        "help": "cap on train clip durations (length-generalisation studies)"})
    open_word_share: float = field(default=0.0, metadata={
        "help": "share of the grammar's content words replaced by frequent English words "
                "(framestamp.corpus.lexicon); > 0 also holds some of those out of train and dev, and the "
                "words subset may have a test_unseen split made of them (0: the grammar's words alone)"})

    def __post_init__(self):
        for subset in SUBSETS:  # split specs read from a file arrive as mappings
            specs = getattr(self, subset)
            setattr(self, subset, {name: spec if isinstance(spec, SplitSpec) else SplitSpec(**spec)
                                   for name, spec in specs.items()})
        self.subsets, self.snr_db = tuple(self.subsets), tuple(self.snr_db)
        unknown = set(self.subsets) - set(SUBSETS)
        if unknown:
            raise ValueError(f"unknown subsets {sorted(unknown)}; expected some of {SUBSETS}")
        if not 1 <= self.max_speakers <= 10:
            raise ValueError("max_speakers must be within 1..10")
        if not 0 <= self.open_word_share <= 1:
            raise ValueError(f"open_word_share must be within [0, 1], got {self.open_word_share}")
        if self.open_word_share == 0 and "test_unseen" in self.words:
            raise ValueError("a test_unseen split needs an open corpus (open_word_share > 0)")
        if not 0 <= self.real_speech_fraction <= 1 or not 0 <= self.conversation_fraction <= 1:
            raise ValueError("fractions must be within [0, 1]")
        engines = ("espeak", "festival", "flite")
        self.engine_weights = {e: float(w) for e, w in dict(self.engine_weights).items()}
        if set(self.engine_weights) - set(engines) or any(w < 0 for w in self.engine_weights.values()) \
                or sum(self.engine_weights.values()) <= 0:
            raise ValueError(f"engine_weights must map some of {engines} to weights >= 0, not all 0")

    def splits(self, subset: str) -> dict[str, SplitSpec]:
        """Split specs of a subset, with ``train_max_duration_s`` applied to train."""
        specs = dict(getattr(self, subset))
        cap = self.train_max_duration_s
        if cap is not None and "train" in specs:
            train = specs["train"]
            specs["train"] = replace(train, min_duration_s=min(train.min_duration_s, cap),
                                     max_duration_s=min(train.max_duration_s, cap))
        return specs

    def to_dict(self) -> dict:
        """Plain JSON-able settings (split specs as dicts); settings added after version 4 only
        when they differ from their default."""
        values = json.loads(json.dumps(asdict(self)))
        return {k: v for k, v in values.items() if k not in _LATER_SETTINGS or v != _LATER_SETTINGS[k]}


SIZES = {
    "tiny": CorpusConfig(
        words=_splits(24, 8, 8, 2, 1.0, 6.0, long_hi=20.0),
        speakers=_splits(24, 8, 8, 2, 3.0, 6.0, long_hi=20.0),
        events=_splits(24, 8, 8, 2, 4.0, 6.0, long_hi=20.0),
        max_speakers=4,
    ),
    "small": CorpusConfig(
        words=_splits(400, 50, 100, 50, 1.0, 20.0),
        speakers=_splits(300, 50, 100, 50, 5.0, 12.0),
        events=_splits(300, 50, 100, 50, 10.0, 10.0),
    ),
    "default": CorpusConfig(),
    # The default words subset with half the content words from ordinary English, some held out of
    # training and asked about in test_unseen (the open-vocabulary word models; words only).
    "open": CorpusConfig(
        words=_splits(4000, 200, 400, 200, 1.0, 20.0) | {"test_unseen": SplitSpec(400, 1.0, 20.0)},
        subsets=("words",), open_word_share=0.5,
    ),
    "large": CorpusConfig(
        words=_splits(20000, 500, 1000, 500, 1.0, 20.0),
        speakers=_splits(15000, 500, 1000, 500, 5.0, 12.0),
        events=_splits(15000, 500, 1000, 500, 10.0, 10.0),
    ),
}


def settings_hash(config: CorpusConfig, seed: int, versions: dict) -> str:
    """Hex digest of everything a build depends on: settings, seed, code and source versions."""
    payload = {"config": config.to_dict(), "seed": seed, "corpus_version": CORPUS_VERSION, "versions": versions}
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()
