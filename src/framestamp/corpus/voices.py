"""Voices of the corpus and their split: espeak-ng (accent x variant, with pitch and rate),
Festival and Flite voices (with tempo), and the two professional voices of the asterisk prompts.

A voice's id names it: ``espeak:en-gb-x-rp+f3``, ``festival:kal_diphone``, ``flite:slt``,
``asterisk:allison``. Pitch, rate and tempo are drawn per clip and recorded in the provenance.

Who a voice is, its *identity*, decides its split: an espeak-ng variant whatever the accent
(``en-us+f3`` and ``en-gb-x-rp+f3`` share the variant's timbre: ``espeak-variant:f3``), and for
Festival and Flite the recorded person behind the voice (Festival's kal_diphone and Flite's kal
and kal16 are one diphone database, ``person:kal``; Festival's slt HTS voice and Flite's slt are
both trained on the CMU ARCTIC slt recordings, ``person:slt``). The asterisk prompts: the Spanish
and English prompts are the same person (Allison Smith), ``person:allison``.

Identities are assigned to train / dev / test (``VOICE_FRACTIONS``, 70/15/15) once and for all,
independently of the seed (``voice_splits``): within each family of engines that share
identities (espeak-ng; Festival + Flite), identities are ordered by a SHA-256 hash of their id,
dev and test get ``round(0.15 n)`` each (at least one where the family has three or more), and
the order is rotated, from the hash order on, until every engine of the family with at least
three identities has one in every split. The recorded voices are a fixed decision, not hashed:
Allison is heard in every split (her English prompts are the only real speech of the words
subset; they stay split by prompt) and is marked as a seen voice, and Carlo, the other recorded
voice of the speakers subset, is held out for test. Train never hears a dev or test voice, in
any subset (the babble of the events subset included).

Distinct speakers of one clip always have distinct identities, so they differ in timbre, not
only in pitch or tempo.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache

import numpy as np

from framestamp.corpus.espeak import Synthesizer, Utterance, Voice
from framestamp.corpus.festival import FESTIVAL_VOICES, Festival, FestivalVoice
from framestamp.corpus.flite import FLITE_VOICES, Flite, FliteVoice

ENGINES = ("espeak", "festival", "flite")
SPLITS = ("train", "dev", "test")
VOICE_FRACTIONS = {"train": 0.70, "dev": 0.15, "test": 0.15}
SEEN = "shared"  # split of a voice heard in every split (Allison)

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
SPEED = (0.8, 1.25)  # tempo range of Festival and Flite voices (1: the voice's own)

# The person behind each Festival and Flite voice (see the module doc).
PERSON = {
    "festival:kal_diphone": "person:kal", "flite:kal": "person:kal", "flite:kal16": "person:kal",
    "festival:ked_diphone": "person:ked",
    "festival:cmu_us_slt_arctic_hts": "person:slt", "flite:slt": "person:slt",
    "flite:awb": "person:awb", "flite:rms": "person:rms",
}
# Recorded voices usable as speakers (directory under /usr/share/asterisk/sounds -> speaker id).
REAL_SPEAKERS = {"es_MX_f_Allison": "asterisk:allison", "it_IT_m_Carlo": "asterisk:carlo"}
# Their splits: a decision (module doc). Allison's English prompts (words subset) are hers too.
RECORDED_SPLIT = {"asterisk:allison": SEEN, "asterisk:carlo": "test"}
RECORDED_PERSON = {"asterisk:allison": "person:allison", "asterisk:carlo": "person:carlo"}


def espeak_speaker_id(voice: Voice) -> str:
    """Speaker id of a synthetic voice: its accent and variant."""
    return f"espeak:{voice.name}"


def voice_ids(engine: str) -> tuple[str, ...]:
    """Every voice id of an engine ("espeak", "festival", "flite" or "asterisk")."""
    if engine == "espeak":
        return tuple(f"espeak:{a}+{v}" for a in ACCENTS for v in VARIANTS)
    if engine == "festival":
        return tuple(f"festival:{n}" for n in FESTIVAL_VOICES)
    if engine == "flite":
        return tuple(f"flite:{n}" for n in FLITE_VOICES)
    if engine == "asterisk":
        return tuple(RECORDED_SPLIT)
    raise ValueError(f"unknown engine {engine!r}")


def identity(voice_id: str) -> str:
    """Who a voice is (module doc): what its split is decided by."""
    engine, name = voice_id.split(":", 1)
    if engine == "espeak":
        return f"espeak-variant:{name.split('+', 1)[1] if '+' in name else ''}"
    if voice_id in PERSON:
        return PERSON[voice_id]
    if voice_id in RECORDED_PERSON:
        return RECORDED_PERSON[voice_id]
    raise ValueError(f"unknown voice {voice_id!r}")


def _unit_hash(text: str) -> float:
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big") / 2**64


def _assign_family(engines_of: dict[str, set[str]]) -> dict[str, str]:
    """Identity -> split for one family of engines (the rule of the module doc)."""
    ordered = sorted(engines_of, key=lambda ident: (_unit_hash(ident), ident))
    n = len(ordered)
    held = max(round(VOICE_FRACTIONS["test"] * n), 1) if n >= 3 else 0
    quota = {"test": held, "dev": max(round(VOICE_FRACTIONS["dev"] * n), 1) if n >= 3 else 0}
    engines = {e for es in engines_of.values() for e in es}
    candidates = []
    for shift in range(max(n, 1)):
        order = ordered[shift:] + ordered[:shift]
        split = {ident: "test" for ident in order[: quota["test"]]}
        split |= {ident: "dev" for ident in order[quota["test"] : quota["test"] + quota["dev"]]}
        split |= {ident: "train" for ident in order[quota["test"] + quota["dev"] :]}
        candidates.append(split)
        covered = all(
            {split[i] for i in engines_of if engine in engines_of[i]} == set(SPLITS)
            for engine in engines
            if sum(engine in es for es in engines_of.values()) >= 3
        )
        if covered:
            return split
    return candidates[0]


@lru_cache(maxsize=1)
def voice_splits() -> dict[str, str]:
    """Voice id -> "train", "dev", "test" or "shared" (heard in every split), for every voice."""
    engines_of: dict[str, set[str]] = {}
    for engine in ENGINES:
        for vid in voice_ids(engine):
            engines_of.setdefault(identity(vid), set()).add(engine)
    # Families: engines linked by a shared identity are assigned together.
    families: list[set[str]] = []
    for engines in engines_of.values():
        joined = [f for f in families if f & engines]
        merged = set(engines).union(*joined)
        families = [f for f in families if not f & engines] + [merged]
    by_identity: dict[str, str] = {}
    for family in sorted(families, key=sorted):
        by_identity |= _assign_family({i: es for i, es in engines_of.items() if es & family})
    table = {vid: by_identity[identity(vid)] for engine in ENGINES for vid in voice_ids(engine)}
    return table | dict(RECORDED_SPLIT)


def voice_split(voice_id: str) -> str:
    """The split of a voice: "train", "dev", "test", or "shared" for a voice heard in every split."""
    return voice_splits()[voice_id]


def voice_record(voice_id: str, held_out: bool = True) -> dict:
    """What provenance records about a voice: engine, identity, split, and ``new_voice`` (true
    when no train clip has it: a dev or test voice of a held-out build)."""
    split = voice_split(voice_id)
    return {"engine": voice_id.split(":", 1)[0], "identity": identity(voice_id),
            "voice_split": split if held_out else SEEN, "new_voice": held_out and split in ("dev", "test")}


def in_pool(voice_id: str, pool: str, held_out: bool = True) -> bool:
    """Whether clips of ``pool`` may use the voice."""
    split = voice_split(voice_id)
    return not held_out or split in (SEEN, pool)


def random_voice(rng: np.random.Generator, variant: str | None = None) -> Voice:
    """A random espeak-ng accent, variant (unless given), rate and pitch (any split)."""
    accent = str(rng.choice(ACCENTS))
    variant = variant or str(rng.choice(VARIANTS))
    return Voice(
        name=f"{accent}+{variant}",
        rate_wpm=int(rng.integers(RATE_WPM[0], RATE_WPM[1] + 1)),
        pitch=int(rng.integers(PITCH[0], PITCH[1] + 1)),
        pitch_range=int(rng.integers(30, 80)),
    )


@lru_cache(maxsize=None)
def _pool_identities(engine: str, pool: str, held_out: bool) -> dict[str, tuple[str, ...]]:
    """Identity -> voice ids of an engine that clips of ``pool`` may use (sorted)."""
    table: dict[str, list[str]] = {}
    for vid in voice_ids(engine):
        if in_pool(vid, pool, held_out):
            table.setdefault(identity(vid), []).append(vid)
    return {ident: tuple(vids) for ident, vids in sorted(table.items())}


def pool_identities(engine: str, pool: str, held_out: bool = True) -> tuple[str, ...]:
    """Identities of an engine that clips of ``pool`` may use."""
    return tuple(_pool_identities(engine, pool, held_out))


def draw_voice(rng: np.random.Generator, engine: str, pool: str, held_out: bool = True,
               exclude: frozenset = frozenset()):
    """A random voice of ``engine`` allowed in ``pool`` whose identity is not in ``exclude``,
    with random prosody (espeak-ng: accent, rate, pitch; Festival and Flite: tempo); None if
    there is none."""
    table = _pool_identities(engine, pool, held_out)
    identities = [i for i in table if i not in exclude]
    if not identities:
        return None
    ident = identities[rng.integers(len(identities))]
    if engine == "espeak":
        return random_voice(rng, ident.split(":", 1)[1])
    vids = table[ident]
    name = vids[rng.integers(len(vids))].split(":", 1)[1]
    speed = round(float(rng.uniform(*SPEED)), 3)
    return FestivalVoice(name, speed) if engine == "festival" else FliteVoice(name, speed)


def draw_engine(rng: np.random.Generator, weights: dict[str, float], available=None) -> str:
    """An engine drawn by ``weights`` (engine -> share), among ``available`` ones if given."""
    engines = [e for e in ENGINES if weights.get(e, 0) > 0 and (available is None or e in available)]
    if not engines:
        raise ValueError(f"no engine to draw from: weights {weights}, available {available}")
    p = np.array([weights[e] for e in engines], dtype=np.float64)
    return engines[int(rng.choice(len(engines), p=p / p.sum()))]


def distinct_voices(rng: np.random.Generator, k: int, pool: str, weights: dict[str, float],
                    held_out: bool = True, exclude: frozenset = frozenset()) -> list:
    """``k`` random voices of ``pool`` with pairwise different identities (none in ``exclude``),
    each of an engine drawn by ``weights`` among those with an identity left; when none is left,
    espeak-ng voices whose variant repeats (with a new accent, so the ids still differ)."""
    voices, used = [], set(exclude)
    for _ in range(k):
        left = [e for e in ENGINES if weights.get(e, 0) > 0
                and any(i not in used for i in _pool_identities(e, pool, held_out))]
        if not left:
            voices.append(_repeat_variant(rng, pool, held_out, {voice_id(v) for v in voices}))
            continue
        voice = draw_voice(rng, draw_engine(rng, weights, left), pool, held_out, frozenset(used))
        used.add(identity(voice_id(voice)))
        voices.append(voice)
    return voices


def _repeat_variant(rng, pool, held_out, taken: set[str]) -> Voice:
    options = [v for ids in _pool_identities("espeak", pool, held_out).values() for v in ids if v not in taken]
    name = options[rng.integers(len(options))].split(":", 1)[1]
    base = random_voice(rng, name.split("+", 1)[1])
    return Voice(name, base.rate_wpm, base.pitch, base.pitch_range)


def voice_id(voice) -> str:
    """Id of a synthetic voice (espeak-ng ``Voice``, ``FestivalVoice`` or ``FliteVoice``)."""
    return espeak_speaker_id(voice) if isinstance(voice, Voice) else voice.id


def engine_of(voice) -> str:
    return "espeak" if isinstance(voice, Voice) else voice.engine


def native_rate(voice) -> int:
    """Sample rate the voice's engine produces."""
    from framestamp.corpus.espeak import ESPEAK_RATE_HZ

    return ESPEAK_RATE_HZ if isinstance(voice, Voice) else voice.sample_rate


def synthesize(text: str, voice) -> Utterance | None:
    """Speak ``text`` with a voice of any engine: the engine's ``Utterance`` (audio at its native
    rate, word spans in its samples), or None when Flite's alignment fails."""
    if isinstance(voice, Voice):
        return Synthesizer.get().synthesize(text, voice)
    if isinstance(voice, FestivalVoice):
        return Festival.get().synthesize(text, voice)
    return Flite.get().synthesize(text, voice)
