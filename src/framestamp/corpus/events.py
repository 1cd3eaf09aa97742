"""Clips of the events subset: real sound effects at known onsets over a background.

Each clip has a background (music on hold, coloured noise, synthetic babble, or near-silence)
and 0..N events; a class may occur more than once. An effect is trimmed to its first and last
samples above 1 % of its peak (``framestamp.corpus.sources.read_effect``), so the sample where
it is placed is its exact onset and its last sample its offset; an event cut by the end of the
clip ends at the clip length ("runs to the end", as in AudioSet). The event's level is set by
its SNR: the RMS of the (trimmed) effect against the RMS of the background, or a reference
level for the near-silent background.
"""

from __future__ import annotations

import json

import numpy as np

from framestamp.corpus.config import SplitSpec
from framestamp.corpus.pools import Pools
from framestamp.corpus.signal import add_at, colored_noise, db_to_gain, finish, rms
from framestamp.corpus.sources import MUSIC, read_effect
from framestamp.audio import encode_flac
from framestamp.audio import SAMPLE_RATE_HZ

SR = SAMPLE_RATE_HZ
BACKGROUNDS = ("music", "noise", "babble", "quiet")
_BACKGROUND_PROBS = (0.3, 0.3, 0.25, 0.15)
_BACKGROUND_RMS = 0.05
_REPEAT_CLASS_PROB = 0.3
_FIRST_ONSET_S = 0.05  # no event at 0 s: that would read as "started before the clip"


def make_events_row(pools: Pools, pool: str, spec: SplitSpec, rng: np.random.Generator, clip_id: str) -> dict:
    """One row of the events subset (corpus schema)."""
    n = int(rng.uniform(spec.min_duration_s, spec.max_duration_s) * SR)
    kind = str(rng.choice(BACKGROUNDS, p=_BACKGROUND_PROBS))
    background, background_info = _background(pools, pool, kind, n, rng)
    mix = background * _BACKGROUND_RMS
    max_events = max(int(round(pools.config.events_per_10s * n / SR / 10.0)), 1)
    events, placed = [], []
    for _ in range(int(rng.integers(0, max_events + 1))):
        name, effect = _draw_effect(pools, pool, [e["event_name"] for e in events], rng)
        sound = read_effect(effect)
        latest = max(n - min(len(sound), SR // 2), int(_FIRST_ONSET_S * SR) + 1)
        start = int(rng.integers(int(_FIRST_ONSET_S * SR), latest))
        snr_db = rng.uniform(*pools.config.snr_db)
        gain = _BACKGROUND_RMS * db_to_gain(snr_db) / (rms(sound) or 1.0)
        add_at(mix, sound * gain, start)
        end = min(start + len(sound), n)
        events.append({"event_name": name, "start": start / SR, "end": end / SR})
        placed.append({"event_name": name, "file": effect.file, "package": effect.package,
                       "onset_s": start / SR, "snr_db": round(snr_db, 3)})
    audio = finish(mix, rng)
    order = sorted(range(len(events)), key=lambda i: (events[i]["start"], events[i]["end"], events[i]["event_name"]))
    provenance = {"background": background_info, "events": [placed[i] for i in order],
                  "snr": "effect RMS over background RMS (reference RMS for the quiet background)"}
    return {
        "id": clip_id,
        "video_id": clip_id,
        "audio": {"bytes": encode_flac(audio), "path": f"{clip_id}.flac"},
        "events": [events[i] for i in order],
        "duration": n / SR,
        "provenance": json.dumps(provenance, sort_keys=True),
    }


def _draw_effect(pools: Pools, pool: str, so_far: list[str], rng: np.random.Generator):
    classes = pools.effects[pool]
    if so_far and rng.random() < _REPEAT_CLASS_PROB:
        name = so_far[rng.integers(len(so_far))]
    else:
        names = sorted(classes)
        name = names[rng.integers(len(names))]
    files = classes[name]
    return name, files[rng.integers(len(files))]


def _background(pools: Pools, pool: str, kind: str, n: int, rng: np.random.Generator):
    """Unit-RMS background of ``n`` samples and its provenance."""
    if kind == "noise":
        exponent = float(rng.choice([0.0, 1.0, 2.0]))
        return colored_noise(n, rng, exponent), {"kind": "noise", "spectrum_exponent": exponent}
    if kind == "quiet":
        return np.zeros(n, np.float32), {"kind": "quiet"}
    if kind == "babble":
        index = int(rng.integers(pools.N_BABBLE))
        track = pools.babble(pool, index)
        start = int(rng.integers(len(track)))
        audio = np.roll(np.tile(track, n // len(track) + 2), -start)[:n]
        return audio, {"kind": "babble", "track": index, "offset_s": start / SR, "voices": "espeak-ng",
                       "voice_ids": pools.babble_voice_ids(pool, index)}
    return _music(pools, pool, n, rng)


def _music(pools: Pools, pool: str, n: int, rng: np.random.Generator):
    """Music from the pool's part of random tracks, joined end to end until ``n`` samples."""
    parts, pieces, got = [], [], 0
    while got < n:
        name, track = pools.music[rng.integers(len(pools.music))]
        lo, hi = pools.music_range(pool, len(track))
        start = int(rng.integers(lo, max(hi - SR, lo + 1)))
        piece = track[start : min(hi, start + n - got)]
        parts.append(piece)
        pieces.append({"file": f"{MUSIC[1]}/{name}", "offset_s": start / SR, "length_s": len(piece) / SR})
        got += len(piece)
    audio = np.concatenate(parts)[:n]
    return audio / (rms(audio) or 1.0), {"kind": "music", "package": MUSIC[0], "pieces": pieces}
