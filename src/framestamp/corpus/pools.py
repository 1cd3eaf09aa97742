"""Disjoint pools of sentences and recordings for train, dev and test.

Every split draws from one pool (``POOL_OF_SPLIT``): sentences by a hash of their text, voices
by ``framestamp.corpus.voices`` (each voice belongs to one pool, Allison to all), prompts by a
hash of their transcript (English) or name (all of a held-out recorded voice's prompts go to its
pool), event recordings per class by a hash of the family's first file name, and music by time
range within each track (first 80 % train, next 10 % dev, last 10 % test). The partition does
not depend on the seed: every build tests on the same held-out material.
"""

from __future__ import annotations

import hashlib
from functools import cached_property, lru_cache

import numpy as np

from framestamp.corpus.config import POOL_FRACTIONS, CorpusConfig
from framestamp.corpus.espeak import Synthesizer
from framestamp.corpus.sources import (
    Effect,
    Prompt,
    english_prompts,
    event_classes,
    music_tracks,
    read_prompt,
    voice_prompts,
)
from framestamp.corpus.signal import add_at, rms, speech_regions
from framestamp.corpus.lexicon import lexicon
from framestamp.corpus.text import OpenFill, make_sentence, split_of
from framestamp.corpus.voices import distinct_voices, espeak_speaker_id
from framestamp.audio import SAMPLE_RATE_HZ, resample

POOLS = tuple(POOL_FRACTIONS)
# Recorded prompts used as speaker utterances: single letters and digits are too short to be a
# turn, and the longest (demo announcements up to 70 s) would swamp a clip.
MIN_PROMPT_S, MAX_PROMPT_S = 0.8, 8.0


def _unit_hash(text: str) -> float:
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big") / 2**64


def _hash_ordered(families) -> list:
    """The recording families of one event class in a fixed order: by a hash of their first file."""
    return sorted(families, key=lambda family: _unit_hash(family[0].file))


def held_out_families(families):
    """Pool -> recording families of one event class when each pool gets its own recordings: in
    hash order, the first goes to test, the second to dev, the rest to train."""
    ordered = _hash_ordered(families)
    return {"test": ordered[:1], "dev": ordered[1:2], "train": ordered[2:]}


class Pools:
    """Material of each pool, computed on first use and shared by all clips of a process.

    Args:
        config: the corpus settings.
        seed: the build seed (only the babble backgrounds depend on it).
        alignments: prompt name -> word times (``framestamp.corpus.align``) for English prompts.
    """

    N_BABBLE = 4  # babble tracks per pool
    BABBLE_S = 30.0

    def __init__(self, config: CorpusConfig, seed: int, alignments: dict | None = None):
        self.config = config
        self.seed = seed
        self.alignments = alignments or {}
        self._babble: dict[tuple[str, int], tuple[np.ndarray, list[str]]] = {}

    def sentence(self, rng: np.random.Generator, pool: str, reuse: tuple[str, ...] = (), unseen: bool = False) -> str:
        """A sentence of the pool (rejection sampling on the text hash); in an open corpus its content
        words are partly open words training hears, or, ``unseen``, all held-out ones."""
        fill = self.fill(unseen)
        for attempt in range(1000):
            text = make_sentence(rng, reuse if attempt < 20 else (), fill)
            if split_of(text, POOL_FRACTIONS) == pool:
                return text
        raise RuntimeError("could not draw a sentence for pool " + pool)

    def fill(self, unseen: bool = False) -> OpenFill | None:
        """The open fill of sentences (None: the grammar alone); ``unseen``: every content word a
        held-out word (the words subset's ``test_unseen`` split)."""
        share = self.config.open_word_share
        if unseen and share <= 0:
            raise ValueError("a test_unseen split needs an open corpus (open_word_share > 0)")
        if share <= 0:
            return None
        return OpenFill(lexicon(held_out=True), 1.0) if unseen else OpenFill(lexicon(held_out=False), share)

    @cached_property
    def english(self) -> dict[str, list[tuple[Prompt, list]]]:
        """Pool -> aligned English prompts [(prompt, word times)], by transcript hash (no prompt
        holds a held-out word: ``corpus.lexicon`` never holds out a recorded word)."""
        pools: dict[str, list] = {p: [] for p in POOLS}
        for prompt in english_prompts():
            words = self.alignments.get(prompt.name)
            if words:
                pools[split_of(prompt.text, POOL_FRACTIONS)].append((prompt, words))
        return pools

    @cached_property
    def real_voices(self) -> dict[str, dict[str, list[Prompt]]]:
        """Voice directory -> pool -> prompts of ``MIN_PROMPT_S`` to ``MAX_PROMPT_S`` s: by name
        hash for a voice heard in every split, all of them in its own pool for a held-out voice."""
        from framestamp.corpus.voices import REAL_SPEAKERS, SEEN, voice_split

        table: dict[str, dict[str, list[Prompt]]] = {}
        for voice_dir, speaker in REAL_SPEAKERS.items():
            own = voice_split(speaker) if self.config.held_out_voices else SEEN
            pools: dict[str, list[Prompt]] = {p: [] for p in POOLS}
            for prompt in voice_prompts(voice_dir):
                if MIN_PROMPT_S <= len(read_prompt(prompt)) / SAMPLE_RATE_HZ <= MAX_PROMPT_S and prompt_speech(prompt):
                    pools[split_of(prompt.name, POOL_FRACTIONS) if own == SEEN else own].append(prompt)
            table[voice_dir] = pools
        return table

    @cached_property
    def effects(self) -> dict[str, dict[str, tuple[Effect, ...]]]:
        """Pool -> event class -> effect files. With ``held_out_effects`` each class's families
        are ordered by a hash of their first file: the first goes to test, the second to dev,
        the rest to train; without it every pool has every file."""
        table: dict[str, dict[str, tuple[Effect, ...]]] = {p: {} for p in POOLS}
        for name, families in event_classes().items():
            parts = held_out_families(families)
            for pool in POOLS:
                chosen = parts[pool] if self.config.held_out_effects else _hash_ordered(families)
                table[pool][name] = tuple(e for fam in chosen for e in fam)
        return table

    def music_range(self, pool: str, n_samples: int) -> tuple[int, int]:
        """Sample range of a music track that belongs to the pool."""
        bounds = {"train": (0.0, 0.8), "dev": (0.8, 0.9), "test": (0.9, 1.0)}[pool]
        return int(bounds[0] * n_samples), int(bounds[1] * n_samples)

    @cached_property
    def music(self):
        return music_tracks()

    def babble(self, pool: str, index: int) -> np.ndarray:
        """Babble track ``index`` (of ``N_BABBLE``) of a pool: 4-7 espeak-ng voices of the pool talking at once."""
        key = (pool, index)
        if key not in self._babble:
            self._babble[key] = self._make_babble(pool, index)
        return self._babble[key][0]

    def babble_voice_ids(self, pool: str, index: int) -> list[str]:
        """Voice ids of babble track ``index`` of a pool."""
        self.babble(pool, index)
        return self._babble[(pool, index)][1]

    def _make_babble(self, pool: str, index: int) -> tuple[np.ndarray, list[str]]:
        rng = np.random.default_rng([self.seed, 7919, POOLS.index(pool), index])
        n = int(self.BABBLE_S * SAMPLE_RATE_HZ)
        mix = np.zeros(n, np.float32)
        voices = distinct_voices(rng, int(rng.integers(4, 8)), pool, {"espeak": 1.0}, self.config.held_out_voices)
        for voice in voices:
            t = int(rng.integers(0, SAMPLE_RATE_HZ))
            while t < n:
                utt = Synthesizer.get().synthesize(self.sentence(rng, pool), voice)
                speech = resample(utt.audio, utt.sample_rate)
                add_at(mix, speech / (rms(speech) or 1.0), t)
                t += len(speech) + int(rng.integers(1600, 8000))
        return mix / (rms(mix) or 1.0), [espeak_speaker_id(v) for v in voices]


@lru_cache(maxsize=None)
def prompt_speech(prompt: Prompt) -> list[tuple[float, float]]:
    """Speech regions of a recorded prompt (energy-based; the recordings are studio-clean)."""
    return speech_regions(read_prompt(prompt))
