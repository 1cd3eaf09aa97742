"""Spoken words: a question about a word also carries how the word sounds.

A tiny thinker cannot learn from a few thousand training words how any English spelling sounds,
so the open-vocabulary word models read the asked word twice: as text (the paper's question, word
for word) and as a short audio block right after the question, the word said by espeak-ng's base
US-English voice (a voice no corpus clip uses, without the process-dependent flutter) and heard by the same frozen tower as the clip. The
thinker then matches sound against sound, which the tower makes easy for any word espeak-ng can
say (a name, a number, a word never heard in training), instead of spelling against sound.

The prompt: ``<question><|audio_bos|>[the word]<|audio_eos|><|audio_bos|>[the clip]<|audio_eos|>``.
Questions that name no word (speakers, events, "each word") have no spoken block.

The word is spoken without the question's quotes, trimmed to espeak-ng's own span of it (20 ms
of silence on each side), peak at -6 dBFS, at 16 kHz. The library and its voice data (PyPI
``espeakng-loader``) are pinned with the project; a checkpoint records both versions and warns
when another one speaks.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from ..audio import SAMPLE_RATE_HZ, resample
from ..errors import ConfigError

VOICE = "en-us+plain"  # espeak-ng's base US voice, steady; every corpus voice has another variant
MARGIN_S = 0.02
PEAK = 0.5  # -6 dBFS
CACHE_WORDS = 65_536


@dataclass(frozen=True)
class SpokenSpec:
    """How a checkpoint's asked words are spoken (``spoken_words.json``)."""

    engine: str = "espeak-ng"
    voice: str = VOICE
    version: str = ""  # the library's
    package: str = ""  # the PyPI package holding the library and its voice data, with its version
    # False: the question's text names the word as unknown (the tokenizer's unknown token), so the
    # spoken block alone names it, for a word of the vocabulary too (every question trains hearing)
    with_text: bool = True

    @classmethod
    def current(cls, with_text: bool = True) -> "SpokenSpec":
        from importlib.metadata import version

        from ..corpus.espeak import Synthesizer

        return cls(version=Synthesizer.version(), package=f"espeakng-loader=={version('espeakng-loader')}",
                   with_text=with_text)  # fmt: skip

    def check(self) -> None:
        """Warn when the installed espeak-ng is not the one the checkpoint was trained with."""
        installed = SpokenSpec.current()
        if (self.version, self.package) != (installed.version, installed.package):
            warnings.warn(f"asked words are spoken by espeak-ng {installed.version} ({installed.package}); the model "
                          f"was trained with {self.version} ({self.package}); answers may differ slightly",
                          stacklevel=3)  # fmt: skip


@lru_cache(maxsize=CACHE_WORDS)
def word_audio(word: str, voice: str = VOICE) -> np.ndarray:
    """``word`` said by espeak-ng's ``voice``: float32 mono at 16 kHz (see the module doc)."""
    from ..corpus.espeak import Synthesizer, Voice

    text = " ".join(word.split())
    if not text:
        raise ConfigError("an empty word cannot be spoken")
    utterance = Synthesizer.get().synthesize(text, Voice(voice))
    audio = utterance.audio / 32768.0
    if utterance.words:
        margin = int(MARGIN_S * utterance.sample_rate)
        start = max(utterance.words[0][1] - margin, 0)
        end = min(utterance.words[-1][2] + margin, len(audio))
        audio = audio[start:end] if end > start else audio
    audio = resample(audio, utterance.sample_rate, SAMPLE_RATE_HZ)
    peak = float(np.abs(audio).max()) if len(audio) else 0.0
    if peak == 0.0:
        raise ConfigError(f"espeak-ng says nothing for {word!r}")
    audio = (audio * (PEAK / peak)).astype(np.float32)
    audio.flags.writeable = False  # one array per word, shared by every caller
    return audio
