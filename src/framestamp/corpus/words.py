"""Clips of the words subset: sentences with start and end times of every word.

A clip is one voice speaking one or more sentences separated by pauses, after a random leading
silence, until its drawn duration is reached:
- synthetic speech: a voice of the clip's pool (``framestamp.corpus.voices``) of an engine drawn by
  ``engine_weights``: espeak-ng (accent, variant, rate, pitch drawn per clip; word times from the
  synthesiser's own events, ``framestamp.corpus.espeak``), Festival (voice and tempo; word times
  from its utterance structure, ``framestamp.corpus.festival``) or Flite (voice and tempo; word
  times from its segments, ``framestamp.corpus.flite``);
- real speech: asterisk prompts of one professional voice; word times from pocketsphinx forced
  alignment (``framestamp.corpus.align``).
With probability ``repeat_word_prob`` a sentence reuses a noun of the previous one, so a clip
often says a word twice and "the 2nd occurrence of X" has an answer.
"""

from __future__ import annotations

import json

import numpy as np

from framestamp.corpus.config import SplitSpec
from framestamp.corpus.pools import Pools
from framestamp.corpus.signal import finish
from framestamp.corpus.text import NOUNS, tokens
from framestamp.corpus.voices import draw_engine, draw_voice, native_rate, synthesize, voice_id, voice_record
from framestamp.audio import encode_flac, resample
from framestamp.audio import SAMPLE_RATE_HZ

_LEAD_S = (0.05, 1.0)
_PAUSE_S = (0.15, 1.2)
_TAIL_S = (0.1, 0.8)


def make_words_row(
    pools: Pools, pool: str, spec: SplitSpec, rng: np.random.Generator, clip_id: str, unseen: bool = False
) -> dict:  # fmt: skip
    """One row of the words subset (corpus schema) for a clip of the given pool and spec; ``unseen``:
    synthetic speech whose content words are all held out of training (``test_unseen``)."""
    target_s = rng.uniform(spec.min_duration_s, spec.max_duration_s)
    real = not unseen and pools.english[pool] and rng.random() < pools.config.real_speech_fraction
    if real:
        audio, words, texts, provenance = _real_clip(pools, pool, spec, target_s, rng)
    else:
        audio, words, texts, provenance = _synthetic_clip(pools, pool, spec, target_s, rng, unseen)
    audio = finish(audio, rng)
    return {
        "id": clip_id,
        "audio": {"bytes": encode_flac(audio), "path": f"{clip_id}.flac"},
        "transcript": " ".join(texts),
        "words": [{"end": round(e, 6), "start": round(s, 6), "word": w} for w, s, e in words],
        "duration": len(audio) / SAMPLE_RATE_HZ,
        "provenance": json.dumps(provenance, sort_keys=True),
    }


def _assemble(pieces, rate_hz: int, spec: SplitSpec, target_s: float, rng: np.random.Generator):
    """Lay pieces (audio, [(word, start_s, end_s)], text, source) out with silences between.

    Takes pieces while the clip stays within ``target_s`` (the first always, if it fits the
    split's maximum) and returns (audio at ``rate_hz``, words with clip times, texts, layout);
    the layout lists where each piece starts and, for recorded pieces, its source.
    """
    lead_s = rng.uniform(*_LEAD_S)
    tail_s = rng.uniform(*_TAIL_S)
    chunks, words, texts, starts_s, sources = [np.zeros(int(lead_s * rate_hz), np.float32)], [], [], [], []
    t = len(chunks[0])
    for audio, piece_words, text, source in pieces:
        end_s = (t + len(audio)) / rate_hz + tail_s
        limit_s = spec.max_duration_s if not texts else target_s
        if end_s > limit_s:
            if texts:
                break
            continue  # too long even alone: try the next piece
        if texts:
            pause = np.zeros(int(rng.uniform(*_PAUSE_S) * rate_hz), np.float32)
            if (t + len(pause) + len(audio)) / rate_hz + tail_s > target_s:
                break
            chunks.append(pause)
            t += len(pause)
        offset_s = t / rate_hz
        starts_s.append(round(offset_s, 6))
        words += [(w, offset_s + s, offset_s + e) for w, s, e in piece_words]
        texts.append(text)
        sources.append(source)
        chunks.append(audio)
        t += len(audio)
    chunks.append(np.zeros(int(tail_s * rate_hz), np.float32))
    layout = {"lead_s": round(lead_s, 6), "piece_starts_s": starts_s}
    if any(sources):
        layout["files"] = sources
    return np.concatenate(chunks), words, texts, layout


def _synthetic_pieces(
    pools: Pools, pool: str, voice, rng: np.random.Generator, aligned: set | None = None, unseen: bool = False
):  # fmt: skip
    """Endless (audio, words, text) sentences of one voice (any engine); nouns (and open words)
    sometimes repeat. A sentence without word times (Flite's fallback aligner failed) is skipped
    (another is drawn); sentences whose times come from forced alignment are added to ``aligned``."""
    previous: list[str] = []
    rate = native_rate(voice)
    fill = pools.fill(unseen)
    repeatable = set(NOUNS) | set(fill.words if fill else ())
    while True:
        reuse = ()
        nouns = [w for w in previous if w in repeatable]
        if nouns and rng.random() < pools.config.repeat_word_prob:
            reuse = (str(rng.choice(nouns)),)
        text = pools.sentence(rng, pool, reuse, unseen)
        utterance = synthesize(text, voice)
        if utterance is None:
            continue
        if utterance.aligned and aligned is not None:
            aligned.add(text)
        words = []
        for word, start, end in utterance.words:
            for token in tokens(word)[:1]:
                words.append((token, start / rate, end / rate))
        previous = [w for w, _, _ in words]
        yield utterance.audio / 32768.0, words, text, None


# What each engine's word times are, for provenance.
WORD_TIMES = {
    "espeak": "espeak-ng word and phoneme events",
    "festival": "Festival utterance structure (Word relation word_start/word_end), stop onsets after a pause "
                "at the burst",
    "flite": "Flite's own segments (-psdur) grouped into words by phone counts, stop onsets after a pause "
             "at the burst",
}
# Flite clips with a sentence whose phone counts did not add up (never seen with the grammar).
FLITE_ALIGNED = "pocketsphinx forced alignment where Flite's phone counts did not add up, else " + WORD_TIMES["flite"]
SOURCES = {
    "espeak": "espeak-ng (PyPI espeakng-loader)",
    "festival": "Festival (Debian festival)",
    "flite": "Flite (Debian flite)",
}


def _synthetic_clip(
    pools: Pools, pool: str, spec: SplitSpec, target_s: float, rng: np.random.Generator, unseen: bool = False
):  # fmt: skip
    config = pools.config
    engine = draw_engine(rng, config.engine_weights)
    voice = draw_voice(rng, engine, pool, config.held_out_voices)
    rate = native_rate(voice)
    aligned: set[str] = set()
    pieces = _synthetic_pieces(pools, pool, voice, rng, aligned, unseen)
    audio, words, texts, layout = _assemble(_take(pieces, 200), rate, spec, target_s, rng)
    provenance = {
        "source": SOURCES[engine],
        "speaker": voice_id(voice),
        "synthesis": voice.as_dict(),
        "word_times": FLITE_ALIGNED if aligned & set(texts) else WORD_TIMES[engine],
        **voice_record(voice_id(voice), config.held_out_voices),
        **layout,
    }
    return resample(audio, rate, SAMPLE_RATE_HZ), words, texts, provenance


def _real_pieces(pools: Pools, pool: str, rng: np.random.Generator):
    from framestamp.corpus.sources import read_prompt

    prompts = pools.english[pool]
    while True:
        prompt, words = prompts[rng.integers(len(prompts))]
        yield read_prompt(prompt), words, prompt.text, f"{prompt.voice_dir}/{prompt.name}.wav"


def _real_clip(pools: Pools, pool: str, spec: SplitSpec, target_s: float, rng: np.random.Generator):
    pieces = _take(_real_pieces(pools, pool, rng), 200)
    audio, words, texts, layout = _assemble(pieces, SAMPLE_RATE_HZ, spec, target_s, rng)
    provenance = {
        "source": pools.english[pool][0][0].package,
        "speaker": "asterisk:allison",
        "word_times": "pocketsphinx forced alignment, starts after silence snapped to the energy onset",
        **voice_record("asterisk:allison", pools.config.held_out_voices),
        **layout,
    }
    return audio, words, texts, provenance


def _take(iterator, n: int):
    for _, item in zip(range(n), iterator):
        yield item
