"""Speech synthesis with exact word times: Flite (Debian ``flite``, its built-in voices).

Each sentence is one run of the ``flite`` binary (``-voice NAME --setf duration_stretch=X
-psdur -t TEXT -o FILE``): a fresh process, so the audio depends only on text and voice.
Flite prints the utterance's segments (phones and pauses) with their end times (``-psdur``),
exact to the wave it writes, but not grouped into words. Words are groups of consecutive
segments, so they are cut by the number of phones of each word in Flite's own lexicon and
letter-to-sound rules (``phone_counts``: the words spoken one per sentence, each sentence
between pauses). Then, as with Festival (``framestamp.corpus.festival``): a word starts at its
first segment and ends at the end of its last one, a pause between words is no word's, and a
word that begins with a stop after a pause starts at its burst. The counts add up to the
segments of every one of 1,500 grammar sentences tried per voice.

When the counts do not add up (never seen with the grammar's sentences, but possible for other
text), the word times come from pocketsphinx forced alignment (``align_words``, as for the
recorded prompts in ``framestamp.corpus.align``); a sentence the aligner cannot place then gives
no utterance (None) and the corpus draws another sentence. Alignment against these exact times
is measured in docs/corpus.md. A speaker turn needs only where a sentence's speech starts and
ends: ``Flite.speech_span`` takes it from the segments.

Voices (native rate): ``kal`` (US male diphone, 8 kHz), ``kal16`` (the same diphones, 16 kHz),
``awb`` (Scottish-English male), ``rms`` (US male), ``slt`` (US female), the last three
clustergen voices at 16 kHz. ``awb_time`` (a talking clock) is left out. Tempo: ``speed`` 1 is
the voice's own; the duration stretch is its inverse.
"""

from __future__ import annotations

import atexit
import multiprocessing.util
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from framestamp.audio import resample
from framestamp.corpus.espeak import Utterance
from framestamp.corpus.named_voice import NamedVoice
from framestamp.corpus.sources import normalise_transcript, require

FLITE = ("flite", Path("/usr/bin/flite"))
FLITE_VOICES = {"kal": 8000, "kal16": 16000, "awb": 16000, "rms": 16000, "slt": 16000}  # -> native rate


@dataclass(frozen=True)
class FliteVoice(NamedVoice):
    """A built-in Flite voice (a key of ``FLITE_VOICES``) at a tempo (``speed`` 1: the voice's own)."""

    engine = "flite"

    @property
    def sample_rate(self) -> int:
        return FLITE_VOICES[self.name]


class Flite:
    """Runs the flite binary, one process per sentence."""

    _instance: Flite | None = None

    def __init__(self):
        require(*FLITE)
        self._dir = Path(tempfile.mkdtemp(prefix="framestamp-flite-"))
        atexit.register(shutil.rmtree, self._dir, ignore_errors=True)
        multiprocessing.util.Finalize(self, shutil.rmtree, (self._dir,), {"ignore_errors": True}, exitpriority=10)

    @classmethod
    def get(cls) -> Flite:
        if cls._instance is None:
            cls._instance = cls()
        return cls._instance

    @staticmethod
    def version() -> str:
        """Version line of the flite binary (part of the corpus cache key)."""
        out = subprocess.run([str(FLITE[1]), "--version"], capture_output=True, text=True, check=False)
        return " ".join(out.stdout.split()[-4:])

    def render(self, text: str, voice: FliteVoice) -> tuple[np.ndarray, list[tuple[str, float, float]]]:
        """The audio of ``text`` (int16-range float32 at the voice's native rate) and Flite's
        segments [(phone, start_s, end_s)] (``-psdur``: exact, but not grouped into words)."""
        if voice.name not in FLITE_VOICES:
            raise ValueError(f"flite has no voice {voice.name!r} here; known: {sorted(FLITE_VOICES)}")
        import soundfile as sf

        path = self._dir / "utterance.wav"
        path.unlink(missing_ok=True)
        command = [str(FLITE[1]), "-voice", voice.name, "--setf", f"duration_stretch={1.0 / voice.speed!r}",
                   "-psdur", "-t", text, "-o", str(path)]
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        if done.returncode != 0 or not path.exists():
            raise RuntimeError(f"flite failed on {text!r} ({voice.name}): {done.stderr.strip()[-300:]}")
        samples, rate = sf.read(path, dtype="int16")
        if rate != voice.sample_rate:
            raise RuntimeError(f"flite voice {voice.name} gave {rate} Hz, expected {voice.sample_rate}")
        segments, start = [], 0.0
        for item in done.stdout.split():
            name, _, end = item.rpartition(":")
            segments.append((name, start, float(end)))
            start = float(end)
        return samples.astype(np.float32), segments

    def synthesize(self, text: str, voice: FliteVoice) -> Utterance | None:
        """Speak ``text`` with ``voice``, with word times from Flite's segments (module doc).

        Returns:
            The utterance at the voice's native rate with each word's start and end sample,
            or None when the alignment is needed and fails.
        """
        audio, segments = self.render(text, voice)
        words = normalise_transcript(text) or []
        rate = voice.sample_rate
        counts = phone_counts(voice.name, tuple(words))
        times = _segment_word_times(segments, [counts[w] for w in words], audio, rate)
        aligned = times is None
        if aligned:
            times = align_words(audio, rate, words)
            if times is None:
                return None
        written = re.findall(r"[A-Za-z0-9'-]+", text)
        names = written if len(written) == len(words) else words
        spans = []
        for name, (start_s, end_s) in zip(names, times):
            start = min(int(round(start_s * rate)), len(audio))
            spans.append((name, start, max(start, min(int(round(end_s * rate)), len(audio)))))
        return Utterance(audio=audio, words=tuple(spans), sample_rate=rate, aligned=aligned)

    def speech_span(self, text: str, voice: FliteVoice) -> tuple[np.ndarray, tuple[float, float]]:
        """The audio of ``text`` and where its speech starts and ends (seconds), from Flite's own
        segments: the first non-pause segment (at its burst if a stop, as Festival's words after a
        pause) to the last; no alignment needed."""
        from framestamp.corpus.festival import STOPS, burst_onset

        audio, segments = self.render(text, voice)
        speech = [seg for seg in segments if seg[0] != "pau"]
        (first, start_s, first_end), end_s = speech[0], speech[-1][2]
        if first in STOPS:
            start_s = burst_onset(audio, voice.sample_rate, start_s, first_end)
        return audio, (start_s, min(end_s, len(audio) / voice.sample_rate))


_COUNTS: dict[str, dict[str, int]] = {}  # voice -> word -> phones


def phone_counts(voice_name: str, words: tuple[str, ...]) -> dict[str, int]:
    """Phones Flite says for each (lowercase) word, asking Flite once for the words not yet known:
    they are spoken one per sentence, and the segments between pauses counted. Seeded with the
    whole grammar vocabulary on first use."""
    known = _COUNTS.setdefault(voice_name, {})
    missing = [w for w in dict.fromkeys(words) if w not in known]
    if missing and not known:
        from framestamp.corpus.text import vocabulary

        missing = list(dict.fromkeys([*vocabulary(), *missing]))
    if missing:
        out = subprocess.run([str(FLITE[1]), "-voice", voice_name, "-ps", "-t", ". ".join(missing) + ".", "none"],
                             capture_output=True, text=True, check=False).stdout.split()
        groups, current = [], 0
        for phone in out:
            if phone == "pau":
                if current:
                    groups.append(current)
                current = 0
            else:
                current += 1
        if len(groups) == len(missing):
            known.update(zip(missing, groups))
        else:  # a word read as more than one sentence: ask for each word alone
            for word in missing:
                phones = subprocess.run([str(FLITE[1]), "-voice", voice_name, "-ps", "-t", word + ".", "none"],
                                        capture_output=True, text=True, check=False).stdout.split()
                known[word] = sum(p != "pau" for p in phones)
    return {w: known[w] for w in words}


def _segment_word_times(segments, counts: list[int], audio: np.ndarray, rate: int):
    """(start_s, end_s) of each word from Flite's segments cut by phone counts, or None if the
    counts do not add up to the non-pause segments (rules in the module doc)."""
    from framestamp.corpus.festival import STOPS, burst_onset

    speech = [i for i, seg in enumerate(segments) if seg[0] != "pau"]
    if not counts or sum(counts) != len(speech) or min(counts) < 1:
        return None
    times, k = [], 0
    for n in counts:
        first, last = speech[k], speech[k + n - 1]
        start_s, end_s = segments[first][1], segments[last][2]
        if segments[first][0] in STOPS and (first == 0 or segments[first - 1][0] == "pau"):
            start_s = burst_onset(audio, rate, start_s, segments[first][2])
        times.append((start_s, end_s))
        k += n
    return times


def align_words(audio: np.ndarray, rate: int, words: list[str]) -> list[tuple[float, float]] | None:
    """(start_s, end_s) of each word by pocketsphinx forced alignment of int16-range ``audio``
    (``framestamp.corpus.align``), or None when it fails."""
    from framestamp.corpus.align import align_audio, shared_decoder

    aligned = align_audio(shared_decoder(), resample(audio / 32768.0, rate), words)
    return [(s, e) for _, s, e in aligned] if aligned else None
