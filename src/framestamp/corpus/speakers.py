"""Clips of the speakers subset: k = 1..10 distinct voices, with onsets and turns.

Two kinds of clip:
- mixture (LibriCount-style): every speaker says one utterance; speaker 1 starts at 0 s and
  the others at a uniform offset in [0, ``mixture_max_offset_s``]; the sum is cut to the clip
  length and peak-normalised;
- conversation: speakers take turns (gaps from -0.4 s, an overlap, to 0.8 s); new speakers join
  at turns spread over the clip, so late onsets occur in long clips (test_long is all
  conversations).
A speaker is a synthetic voice of the clip's pool (espeak-ng, Festival or Flite, the engine
drawn by ``engine_weights``; distinct identities within a clip, see
``framestamp.corpus.voices``) or one of the recorded voices of asterisk-core-sounds-es-wav
(Allison, in every split) and -it-wav (Carlo, held out for test). Turns are speech regions: a
sentence from its first word's start to its last word's end for espeak-ng and Festival speech,
from the first to the last speech segment Flite reports for Flite sentences
(``Flite.speech_span``: no alignment needed), the energy-based speech regions for recordings.
``first_word_start_sec`` of a speaker is the start of their first turn.
"""

from __future__ import annotations

import hashlib
import json

import numpy as np

from framestamp.corpus.config import SplitSpec
from framestamp.corpus.pools import Pools, prompt_speech
from framestamp.corpus.flite import Flite
from framestamp.corpus.signal import add_at, db_to_gain, finish, rms
from framestamp.corpus.sources import read_prompt
from framestamp.corpus.voices import (
    REAL_SPEAKERS,
    distinct_voices,
    engine_of,
    identity,
    synthesize,
    voice_id,
    voice_record,
)
from framestamp.audio import encode_flac, resample
from framestamp.audio import SAMPLE_RATE_HZ

SR = SAMPLE_RATE_HZ
_MIN_TURN_GAP_S = 0.3  # a speaker's regions closer than this form one turn


class Speaker:
    """A voice that can say utterances: (audio at 16 kHz, speech regions in s, description)."""

    def __init__(self, pools: Pools, pool: str, rng: np.random.Generator, voice=None, voice_dir=None):
        self.pools, self.pool, self.rng = pools, pool, rng
        self.voice, self.voice_dir = voice, voice_dir
        self.id = voice_id(voice) if voice else REAL_SPEAKERS[voice_dir]

    def describe(self) -> dict:
        record = voice_record(self.id, self.pools.config.held_out_voices)
        if self.voice:
            source = {"espeak": "espeak-ng", "festival": "festival", "flite": "flite"}[engine_of(self.voice)]
            return {"speaker_id": self.id, "source": source, "synthesis": self.voice.as_dict(), **record}
        return {"speaker_id": self.id, "source": f"asterisk-core-sounds-{self.voice_dir[:2]}-wav", **record}

    def say(self, min_s: float, max_pieces: int = 3) -> tuple[np.ndarray, list, list[str]]:
        """An utterance of pieces (sentences or prompts) separated by short pauses, at least
        ``min_s`` long unless ``max_pieces`` is reached first."""
        chunks, regions, names, t = [], [], [], 0
        while len(names) < max_pieces and (not names or t / SR < min_s):
            if names:
                pause = int(self.rng.uniform(0.15, 0.5) * SR)
                chunks.append(np.zeros(pause, np.float32))
                t += pause
            audio, piece_regions, name = self._piece()
            regions += [(t / SR + s, t / SR + e) for s, e in piece_regions]
            chunks.append(audio)
            names.append(name)
            t += len(audio)
        audio = np.concatenate(chunks)
        return audio / (rms(audio) or 1.0), regions, names

    def _piece(self):
        if self.voice and engine_of(self.voice) == "flite":
            # A turn needs only where the speech starts and ends: from Flite's own segments
            # (no alignment: it would double the cost of a Flite sentence).
            text = self.pools.sentence(self.rng, self.pool)
            audio, region = Flite.get().speech_span(text, self.voice)
            return resample(audio / 32768.0, self.voice.sample_rate), [region], text
        if self.voice:
            text = self.pools.sentence(self.rng, self.pool)
            utterance = synthesize(text, self.voice)
            rate = utterance.sample_rate
            region = (utterance.words[0][1] / rate, utterance.words[-1][2] / rate)
            return resample(utterance.audio / 32768.0, rate), [region], text
        prompts = self.pools.real_voices[self.voice_dir][self.pool]
        prompt = prompts[self.rng.integers(len(prompts))]
        return read_prompt(prompt), prompt_speech(prompt), f"{self.voice_dir}/{prompt.name}.wav"


def make_speakers_row(pools: Pools, pool: str, spec: SplitSpec, rng: np.random.Generator,
                      clip_id: str, k: int, conversation: bool) -> dict:
    """One row of the speakers subset (corpus schema)."""
    duration_s = rng.uniform(spec.min_duration_s, spec.max_duration_s)
    speakers = _choose_speakers(pools, pool, rng, k)
    make = _conversation if conversation else _mixture
    audio, placed = make(speakers, duration_s, pools.config, rng)
    audio = finish(audio, rng)
    duration_s = len(audio) / SR
    turns = _turns(placed, duration_s)
    components = _components(placed, turns)
    provenance = {
        "kind": "conversation" if conversation else "mixture",
        "speakers": [s.describe() for s in speakers],
        "utterances": [{"speaker_id": p["speaker"].id, "start_s": round(p["start_s"], 6),
                        "gain_db": round(p["gain_db"], 3), "pieces": p["names"]} for p in placed],
    }
    return {
        "id": clip_id,
        "audio": {"bytes": encode_flac(audio), "path": f"{clip_id}.flac"},
        "k": len(components),
        "components": components,
        "turns": [{"speaker_id": t[0], "start": round(t[1], 6), "end": round(t[2], 6)} for t in turns],
        "duration": duration_s,
        "provenance": json.dumps(provenance, sort_keys=True),
    }


def _choose_speakers(pools: Pools, pool: str, rng: np.random.Generator, k: int) -> list[Speaker]:
    real = [d for d in REAL_SPEAKERS if pools.real_voices[d][pool] and rng.random() < pools.config.real_voice_prob]
    real = real[:k]
    config = pools.config
    taken = frozenset(identity(REAL_SPEAKERS[d]) for d in real)
    voices = distinct_voices(rng, k - len(real), pool, config.engine_weights, config.held_out_voices, taken)
    speakers = [Speaker(pools, pool, rng, voice=v) for v in voices]
    speakers += [Speaker(pools, pool, rng, voice_dir=d) for d in real]
    order = rng.permutation(len(speakers))
    return [speakers[i] for i in order]


def _mixture(speakers, duration_s, config, rng):
    """LibriCount-style: speaker 1 at 0 s, the others at a uniform offset; cut to duration."""
    n = int(duration_s * SR)
    mix = np.zeros(n, np.float32)
    placed = []
    max_offset_s = min(config.mixture_max_offset_s, max(duration_s - 2.0, 0.0))
    for i, speaker in enumerate(speakers):
        start_s = 0.0 if i == 0 else rng.uniform(0.0, max_offset_s)
        audio, regions, names = speaker.say(duration_s - start_s)
        placed.append(_place(mix, speaker, audio, regions, names, start_s, rng))
    return mix, placed


def _conversation(speakers, duration_s, config, rng):
    """Turn-taking: each turn one speaker says one piece; new speakers join over the clip."""
    placed, t_s, waiting, present = [], rng.uniform(0.05, 0.8), list(speakers), []
    pieces = []
    while waiting or t_s < duration_s:
        turns_left = max(int((duration_s - t_s) / 2.5), 1)
        if waiting and (not present or rng.random() < len(waiting) / turns_left):
            speaker = waiting.pop(0)
            present.append(speaker)
        else:
            options = [s for s in present if not pieces or s is not pieces[-1][0]] or present
            speaker = options[rng.integers(len(options))]
        audio, regions, names = speaker.say(0.0, max_pieces=1)
        pieces.append((speaker, audio, regions, names, t_s))
        t_s += len(audio) / SR + rng.uniform(-0.4, 0.8)
        t_s = max(t_s, pieces[-1][4] + 0.5)
    end_s = max(start + len(audio) / SR for _, audio, _, _, start in pieces) + rng.uniform(0.1, 0.6)
    mix = np.zeros(int(end_s * SR), np.float32)
    for speaker, audio, regions, names, start_s in pieces:
        placed.append(_place(mix, speaker, audio, regions, names, start_s, rng))
    return mix, placed


def _place(mix, speaker, audio, regions, names, start_s, rng) -> dict:
    gain_db = rng.uniform(-3.0, 3.0)
    start = int(round(start_s * SR))
    add_at(mix, audio * db_to_gain(gain_db) * 0.1, start)
    start_s = start / SR
    return {"speaker": speaker, "start_s": start_s, "gain_db": gain_db, "names": names,
            "length_s": len(audio) / SR, "regions": [(start_s + s, start_s + e) for s, e in regions]}


def _turns(placed: list[dict], duration_s: float) -> list[tuple[str, float, float]]:
    """(speaker, start, end) speech turns within the clip, a speaker's close regions merged."""
    by_speaker: dict[str, list[list[float]]] = {}
    for p in placed:
        for start, end in p["regions"]:
            if start < duration_s:
                by_speaker.setdefault(p["speaker"].id, []).append([start, min(end, duration_s)])
    turns = []
    for speaker, regions in by_speaker.items():
        merged: list[list[float]] = []
        for start, end in sorted(regions):
            if merged and start - merged[-1][1] < _MIN_TURN_GAP_S:
                merged[-1][1] = max(merged[-1][1], end)
            else:
                merged.append([start, end])
        turns += [(speaker, s, e) for s, e in merged]
    return sorted(turns, key=lambda t: (t[1], t[2], t[0]))


def _components(placed: list[dict], turns) -> list[dict]:
    """LibriCount components: each speaker's first utterance and first word, sorted by onset."""
    first_turn = {}
    for speaker, start, _ in turns:
        first_turn.setdefault(speaker, start)
    components, seen = [], set()
    for p in placed:
        speaker = p["speaker"].id
        if speaker in seen or speaker not in first_turn:
            continue
        seen.add(speaker)
        utterance = hashlib.sha1("|".join(p["names"]).encode()).hexdigest()[:12]
        components.append({
            "speaker_id": speaker,
            "utterance_id": utterance,
            "utterance_length_sec": round(p["length_s"], 6),
            "first_word_start_sec": round(first_turn[speaker], 6),
        })
    return sorted(components, key=lambda c: (c["first_word_start_sec"], c["speaker_id"]))
