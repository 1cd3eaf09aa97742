"""Word times by forced alignment with pocketsphinx: the asterisk prompts, and Flite's speech.

pocketsphinx (PyPI) ships a US-English acoustic model and dictionary; given the transcript it
aligns each word to 10 ms frames. This plays the role the Montreal Forced Aligner plays for
LibriSpeech. Two adjustments, both measured on the prompts (see docs/corpus.md):
- the audio is padded with 0.3 s of faint noise on both sides: without room for a leading
  silence model the first word is aligned to frame 0, about 60 ms before the speech;
- the start of a word that follows silence (the first word, or a word after ``<sil>``) is
  moved to the start of the run of speech frames (5 ms frames 20 dB above the recording's
  noise floor) that the aligned start falls in or precedes, within 200 ms: the aligner's
  boundaries are coarse exactly there, and onsets after digital silence are unambiguous.
Alignments of the prompts are cached in a JSON file keyed by the pocketsphinx and package
versions; the package ships one (``pocketsphinx_alignments.json``, written by
``write_packaged_alignments``). ``align_audio`` aligns any 16 kHz audio the same way
(``framestamp.corpus.flite`` uses it for every Flite sentence; not cached).
"""

from __future__ import annotations

import json
import os
from importlib import resources
from pathlib import Path

import numpy as np

from framestamp.corpus.sources import Prompt, normalise_transcript, package_version, read_prompt
from framestamp.audio import SAMPLE_RATE_HZ
from framestamp.errors import MissingDependencyError

_PAD_S = 0.3
_FRAME_S = 0.01
_SNAP_WINDOW_S = 0.2
_ABOVE_FLOOR_DB = 20.0
_BELOW_PEAK_DB = 50.0
_NOT_WORDS = {"<sil>", "<s>", "</s>", "(NULL)", "[NOISE]"}

WordTimes = list[tuple[str, float, float]]

# Alignments of every prompt, shipped with the package so a build need not run the aligner
# (15 s on 2 cores); used only when its key matches the installed pocketsphinx and recordings.
_PACKAGED = resources.files("framestamp.corpus").joinpath("pocketsphinx_alignments.json")


def _decoder():
    try:
        from pocketsphinx import Decoder
    except ImportError as error:
        raise MissingDependencyError("forced alignment needs the 'corpus' extra: pip install 'framestamp[corpus]'") from error
    return Decoder(samprate=SAMPLE_RATE_HZ, bestpath=False, loglevel="FATAL")


def cache_key() -> str:
    """What the alignments depend on: pocketsphinx, its model, and the recordings."""
    from importlib.metadata import version

    return f"pocketsphinx={version('pocketsphinx')};en-wav={package_version('asterisk-core-sounds-en-wav')};v=1"


def align_prompts(prompts: list[Prompt], cache_file: Path | None = None) -> dict[str, WordTimes | None]:
    """Word times of each prompt, aligning only those not yet in the cache.

    Args:
        prompts: English prompts with transcripts.
        cache_file: JSON cache; created or extended when given.

    Returns:
        prompt name -> [(word, start_s, end_s), ...] in the prompt's own time, or None where
        the transcript has words outside the dictionary or the alignment failed.
    """
    key = cache_key()
    cached = _read_cache(_PACKAGED, key)
    if cache_file is not None:
        cached = {**cached, **_read_cache(cache_file, key)}
    missing = [p for p in prompts if p.name not in cached]
    if missing:
        decoder = _decoder()
        for prompt in missing:
            cached[prompt.name] = align_prompt(decoder, prompt)
        if cache_file is not None:
            cache_file.parent.mkdir(parents=True, exist_ok=True)
            tmp = cache_file.with_suffix(f".tmp{os.getpid()}")
            tmp.write_text(json.dumps({"key": key, "alignments": cached}, sort_keys=True))
            tmp.replace(cache_file)
    return {p.name: _as_word_times(cached[p.name]) for p in prompts}


def _read_cache(path, key: str) -> dict:
    """Alignments stored in a cache file (or the packaged one) for this key, else {}."""
    try:
        stored = json.loads(path.read_text())
    except (FileNotFoundError, ValueError):
        return {}
    return stored["alignments"] if stored.get("key") == key else {}


def _as_word_times(value) -> WordTimes | None:
    return None if value is None else [(w, float(s), float(e)) for w, s, e in value]


def align_prompt(decoder, prompt: Prompt) -> WordTimes | None:
    """Align one prompt's transcript to its audio (see the module doc for the two adjustments)."""
    return align_audio(decoder, read_prompt(prompt), normalise_transcript(prompt.text) or [])


_SHARED_DECODER = None


def shared_decoder():
    """One decoder per process, for aligning synthetic speech (``framestamp.corpus.flite``)."""
    global _SHARED_DECODER
    if _SHARED_DECODER is None:
        _SHARED_DECODER = _decoder()
    return _SHARED_DECODER


def search_words(decoder, audio: np.ndarray, words: list[str]) -> list[tuple[float, float, bool]] | None:
    """One pocketsphinx alignment of ``words`` to 16 kHz ``audio`` in [-1, 1], padded with noise:
    (start s, end s, follows silence) of each word, or None when the search fails."""
    duration_s = len(audio) / SAMPLE_RATE_HZ
    noise = np.random.default_rng(0).standard_normal(int(_PAD_S * SAMPLE_RATE_HZ)) * 3.0
    padded = np.concatenate([noise, audio * 32767.0, noise])
    decoder.set_align_text(" ".join(words))
    decoder.start_utt()
    decoder.process_raw(np.clip(padded, -32768, 32767).astype(np.int16).tobytes(), full_utt=True)
    decoder.end_utt()
    aligned, names, previous = [], [], "<sil>"
    for seg in decoder.seg() or ():  # None when the search failed
        if seg.word not in _NOT_WORDS:
            start = min(max(seg.start_frame * _FRAME_S - _PAD_S, 0.0), duration_s)
            end = min(max((seg.end_frame + 1) * _FRAME_S - _PAD_S, start), duration_s)
            aligned.append((start, end, previous in _NOT_WORDS))
            names.append(seg.word.split("(")[0])
        previous = seg.word
    return aligned if names == words else None


def snap_onsets(audio: np.ndarray, aligned: list[tuple[float, float, bool]]) -> list[float]:
    """Each word's start, moved to the energy onset when it follows silence (never past its end)."""
    return [min(_energy_onset(audio, start), end) if after_silence else start for start, end, after_silence in aligned]


def align_audio(decoder, audio: np.ndarray, words: list[str]) -> WordTimes | None:
    """Align ``words`` (lowercase, in the dictionary) to 16 kHz ``audio`` in [-1, 1].

    Returns:
        [(word, start_s, end_s), ...], or None when a word is not in the dictionary or the
        search fails; the two adjustments of the module doc are applied.
    """
    if not words or any(decoder.lookup_word(w) is None for w in words):
        return None
    aligned = search_words(decoder, audio, words)
    if aligned is None:
        return None
    starts = snap_onsets(audio, aligned)
    return [(w, round(float(s), 4), round(float(e), 4)) for w, s, (_, e, _) in zip(words, starts, aligned)]


def _energy_onset(audio: np.ndarray, near_s: float) -> float:
    """Start of the speech run (5 ms frames 20 dB above the noise floor, the 5th percentile of
    frame levels, and at most 50 dB below the loudest frame) that begins within
    the snap window of ``near_s``: walk back to the run's first frame if ``near_s`` is loud,
    else forward to the next loud frame; ``near_s`` itself when neither is in the window."""
    hop = int(0.005 * SAMPLE_RATE_HZ)
    n = len(audio) // hop
    frames = audio[: n * hop].reshape(n, hop)
    level_db = 10 * np.log10(np.mean(frames**2, axis=1) + 1e-12)
    floor_db = np.percentile(level_db, 5)
    loud = level_db > max(floor_db + _ABOVE_FLOOR_DB, level_db.max() - _BELOW_PEAK_DB)
    reach = int(_SNAP_WINDOW_S / 0.005)
    i = min(int(near_s / 0.005), n - 1)
    if loud[i]:
        j = i
        while j > 0 and i - j < reach and loud[j - 1]:
            j -= 1
        return near_s if j > 0 and loud[j - 1] else j * 0.005
    ahead = np.flatnonzero(loud[i : i + reach + 1])
    return near_s if len(ahead) == 0 else (i + ahead[0]) * 0.005


def write_packaged_alignments() -> Path:
    """Align every English prompt afresh and store the result as the packaged cache."""
    from framestamp.corpus.sources import english_prompts

    decoder = _decoder()
    alignments = {p.name: align_prompt(decoder, p) for p in english_prompts()}
    entries = ",\n".join(f"  {json.dumps(name)}: {json.dumps(alignments[name])}" for name in sorted(alignments))
    path = Path(str(_PACKAGED))
    path.write_text(f'{{"key": {json.dumps(cache_key())},\n"alignments": {{\n{entries}\n}}}}\n')
    return path
