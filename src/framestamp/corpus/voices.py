"""Speakers of the corpus: espeak-ng voices (accent x variant, with pitch and rate) and the two
professional voices of the asterisk prompts.

A synthetic speaker's identity is its accent and variant (``espeak:en-gb-x-rp+f3``); pitch and
rate are drawn per clip and recorded in the provenance. Distinct speakers of one clip always
have distinct variants, so they differ in timbre, not only in pitch. The Spanish and English
asterisk prompts are the same person (Allison Smith): she is one speaker, ``asterisk:allison``.
"""

from __future__ import annotations

import numpy as np

from framestamp.corpus.espeak import Voice

# English accents of espeak-ng. Not en-gb-scotland: its trilled r is modulated by a glottal
# cycle counter that persists across utterances, so its audio depends on synthesis order.
ACCENTS = ("en-us", "en", "en-gb-x-rp", "en-029", "en-us-nyc", "en-gb-x-gbclan", "en-gb-x-gbcwmd")
# espeak-ng variants that sound like a (synthetic) human voice: robots, whispers, croaks and
# joke voices are left out, and so are Klatt-synthesis variants (Reed, caleb), whose noise
# source keeps state across utterances, and iven (voicing 530), which overflows and so changes
# espeak's gain control for later utterances: either would make builds depend on the order of
# synthesis.
VARIANTS = (
    "f1", "f2", "f3", "f4", "f5", "m1", "m2", "m3", "m4", "m5", "m6", "m7", "m8",
    "Alex", "Alicia", "Andrea", "Andy", "Annie", "Denis", "Diogo", "Gene", "Henrique", "Hugo",
    "Jacky", "Lee", "Mario", "Michael", "Mike", "Nguyen", "adam", "anika", "antonio",
    "aunty", "belinda", "benjamin", "boris", "david", "ed", "edward", "grandma",
    "grandpa", "gustave", "ian", "john", "linda", "marcelo", "max", "michel", "miguel",
    "norbert", "pablo", "paul", "pedro", "quincy", "rob", "robert", "sandro", "shelby", "steph",
    "travis", "victor", "zac",
)
RATE_WPM = (130, 230)
PITCH = (25, 75)

# Recorded voices usable as speakers (directory under /usr/share/asterisk/sounds -> speaker id).
REAL_SPEAKERS = {"es_MX_f_Allison": "asterisk:allison", "it_IT_m_Carlo": "asterisk:carlo"}


def espeak_speaker_id(voice: Voice) -> str:
    """Speaker id of a synthetic voice: its accent and variant."""
    return f"espeak:{voice.name}"


def random_voice(rng: np.random.Generator, variant: str | None = None) -> Voice:
    """A random accent, variant (unless given), rate and pitch."""
    accent = str(rng.choice(ACCENTS))
    variant = variant or str(rng.choice(VARIANTS))
    return Voice(
        name=f"{accent}+{variant}",
        rate_wpm=int(rng.integers(RATE_WPM[0], RATE_WPM[1] + 1)),
        pitch=int(rng.integers(PITCH[0], PITCH[1] + 1)),
        pitch_range=int(rng.integers(30, 80)),
    )


def distinct_voices(rng: np.random.Generator, k: int) -> list[Voice]:
    """``k`` random voices with pairwise different variants."""
    variants = rng.choice(len(VARIANTS), size=k, replace=False)
    return [random_voice(rng, VARIANTS[i]) for i in variants]
