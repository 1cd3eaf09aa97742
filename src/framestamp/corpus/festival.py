"""Speech synthesis with exact word times: Festival (Debian ``festival`` and its English voices).

One ``festival --pipe`` process per Python process reads Scheme commands on stdin. For each
sentence it selects the voice, sets the tempo, synthesises the text, writes the wave to a
private file and prints every item of the utterance's Word relation with its ``word_start`` and
``word_end`` features: the start of its first segment and the end of its last segment, in the
same time base as the wave the synthesiser produced (no alignment, nothing estimated). A word
before a pause ends where the pause starts, and adjacent words share a boundary, as with
espeak-ng and in forced alignments: a segment that belongs to no word between two words (the
diphone voices' linking "r", as in "Peter found") goes to the word before it.

One adjustment keeps the corpus one convention: after a pause (the first word, or a word whose
first segment follows a ``pau`` segment), a word that begins with a stop or affricate starts at
its burst instead of at the start of its closure. Festival's segment starts there at the
closure, which is silence after a pause (35-90 ms of it, measured); espeak-ng words start at the
burst there (``framestamp.corpus.espeak``), and so do forced alignments of real speech. The burst
is the first 1 ms frame of the stop segment more than 20 dB above the utterance's noise floor
(5th percentile of frame levels) and within 50 dB of its loudest frame, the rule
``framestamp.corpus.align`` uses for onsets after silence; the segment start is kept if no
frame of the segment is that loud.

Voices (native rate): ``kal_diphone`` (US male, 16 kHz, festvox-kallpc16k), ``ked_diphone``
(US male, 16 kHz, festvox-kdlpc16k), ``cmu_us_slt_arctic_hts`` (US female, HTS, 32 kHz,
festvox-us-slt-hts). Tempo: ``speed`` 1 is the voice's own; diphone voices divide their
``Duration_Stretch`` by it, the HTS voice passes it to hts_engine (``-r``). Synthesis depends
only on text and voice (tested): every voice selection resets Festival's voice state.
"""

from __future__ import annotations

import atexit
import multiprocessing.util
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from framestamp.corpus.espeak import Utterance
from framestamp.corpus.named_voice import NamedVoice
from framestamp.corpus.sources import MissingSourceError, require

FESTIVAL = ("festival", Path("/usr/bin/festival"))
VOICE_ROOT = Path("/usr/share/festival/voices")
# voice -> (Debian package, directory under VOICE_ROOT, native sample rate)
FESTIVAL_VOICES = {
    "kal_diphone": ("festvox-kallpc16k", "english/kal_diphone", 16000),
    "ked_diphone": ("festvox-kdlpc16k", "english/ked_diphone", 16000),
    "cmu_us_slt_arctic_hts": ("festvox-us-slt-hts", "us/cmu_us_slt_arctic_hts", 32000),
}
STOPS = frozenset({"p", "t", "k", "b", "d", "g", "ch", "jh"})
_END = "FRAMESTAMP-END"
_FRAME_S = 0.001
_ABOVE_FLOOR_DB, _BELOW_PEAK_DB = 20.0, 50.0

_SETUP = r"""
(define (framestamp_voice name speed)
  (Parameter.set 'Duration_Stretch 1.0)
  (eval (list (intern (string-append "voice_" name))))
  (if (string-equal (Parameter.get 'Synth_Method) "HTS")
      (set! hts_engine_params (append hts_engine_params (list (list "-r" speed))))
      (Parameter.set 'Duration_Stretch (/ (Parameter.get 'Duration_Stretch) speed))))
(define (framestamp_words utt)
  (mapcar
   (lambda (w)
     (format t "W\t%s\t%s\t%s\t%s\t%s\n" (item.name w) (item.feat w "word_start") (item.feat w "word_end")
             (item.feat w "R:SylStructure.daughter1.daughter1.name")
             (item.feat w "R:SylStructure.daughter1.daughter1.R:Segment.p.name")))
   (utt.relation.items utt 'Word)))
"""


@dataclass(frozen=True)
class FestivalVoice(NamedVoice):
    """A Festival voice (a key of ``FESTIVAL_VOICES``) at a tempo (``speed`` 1: the voice's own)."""

    engine = "festival"

    @property
    def sample_rate(self) -> int:
        return FESTIVAL_VOICES[self.name][2]


def require_festival(voices=FESTIVAL_VOICES) -> None:
    """Raise ``MissingSourceError`` (one line) unless festival and the voices are installed."""
    require(*FESTIVAL)
    for name in voices:
        package, directory, _ = FESTIVAL_VOICES[name]
        require(package, VOICE_ROOT / directory)


class Festival:
    """The festival process of this Python process, started on first use."""

    _instance: Festival | None = None

    def __init__(self):
        require(*FESTIVAL)
        self._dir = Path(tempfile.mkdtemp(prefix="framestamp-festival-"))
        self._wave = self._dir / "utterance.wav"
        self._log = open(self._dir / "stderr.log", "w+")  # noqa: SIM115 (lives with the process)
        self._process = subprocess.Popen(
            [FESTIVAL[1], "--pipe"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._log,
            text=True, bufsize=1,
        )
        atexit.register(self.close)
        multiprocessing.util.Finalize(self, self.close, exitpriority=10)  # worker processes skip atexit
        self._run(_SETUP)

    @classmethod
    def get(cls) -> Festival:
        """The engine of this process, started on first use."""
        if cls._instance is None or cls._instance._process.poll() is not None:
            cls._instance = cls()
        return cls._instance

    @staticmethod
    def version() -> str:
        """Version line of the festival binary (part of the corpus cache key)."""
        out = subprocess.run([str(FESTIVAL[1]), "--version"], capture_output=True, text=True, check=False)
        return out.stdout.strip()

    def close(self) -> None:
        """Stop the festival process and remove its files (idempotent)."""
        if self._process.poll() is None:
            self._process.stdin.close()
            try:
                self._process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._process.kill()
        if not self._log.closed:
            self._log.close()
        shutil.rmtree(self._dir, ignore_errors=True)

    def _run(self, commands: str) -> list[str]:
        """Send Scheme commands; return the lines they printed."""
        self._process.stdin.write(f'{commands}\n(format t "\\n{_END}\\n")\n(fflush nil)\n')
        self._process.stdin.flush()
        lines = []
        while True:
            line = self._process.stdout.readline()
            if not line:
                self._log.seek(0)
                raise RuntimeError(f"festival exited: {self._log.read()[-500:]}")
            if line.rstrip("\n") == _END:
                return lines
            if line.strip():
                lines.append(line.rstrip("\n"))

    def synthesize(self, text: str, voice: FestivalVoice) -> Utterance:
        """Speak ``text`` (plain words and punctuation) with ``voice``.

        Returns:
            The utterance at the voice's native rate (int16-range float32) with each word's
            start and end sample (see the module doc).
        """
        if voice.name not in FESTIVAL_VOICES:
            raise ValueError(f"festival has no voice {voice.name!r} here; known: {sorted(FESTIVAL_VOICES)}")
        self._wave.unlink(missing_ok=True)
        quoted = text.replace("\\", " ").replace('"', " ")
        lines = self._run(
            f'(framestamp_voice "{voice.name}" {float(voice.speed)!r})\n'
            f'(set! utt (SynthText "{quoted}"))\n'
            f"(utt.save.wave utt \"{self._wave}\" 'riff)\n"
            "(framestamp_words utt)"
        )
        if not self._wave.exists():
            self._log.seek(0)
            raise RuntimeError(f"festival wrote no audio for {text!r} ({voice.name}): {self._log.read()[-500:]}")
        import soundfile as sf

        samples, rate = sf.read(self._wave, dtype="int16")
        if rate != voice.sample_rate:
            raise RuntimeError(f"festival voice {voice.name} gave {rate} Hz, expected {voice.sample_rate}")
        audio = samples.astype(np.float32)
        return Utterance(audio=audio, words=_word_spans(lines, audio, rate), sample_rate=rate)


def _word_spans(lines: list[str], audio: np.ndarray, rate: int) -> tuple[tuple[str, int, int], ...]:
    """(word, start, end) samples from the printed Word relation (rules in the module doc)."""
    rows = [line.split("\t")[1:] for line in lines if line.startswith("W\t")]
    levels = _frame_levels_db(audio, rate)
    loud = levels > max(np.percentile(levels, 5) + _ABOVE_FLOOR_DB, levels.max() - _BELOW_PEAK_DB)
    words = []
    for i, (name, start_s, end_s, first_segment, previous_segment) in enumerate(rows):
        start_s, end_s = float(start_s), float(end_s)
        after_pause = previous_segment in ("pau", "0")  # "0": no segment before the first word
        if i + 1 < len(rows) and rows[i + 1][4] not in ("pau", "0"):
            end_s = max(end_s, float(rows[i + 1][1]))  # a linking segment (e.g. "r") between words
        if first_segment in STOPS and after_pause:
            start_s = _burst(loud, start_s, end_s, rate)
        start = min(int(round(start_s * rate)), len(audio))
        end = min(int(round(end_s * rate)), len(audio))
        words.append((name, start, max(start, end)))
    return tuple(words)


def _frame_levels_db(audio: np.ndarray, rate: int) -> np.ndarray:
    hop = max(int(_FRAME_S * rate), 1)
    n = len(audio) // hop
    frames = audio[: n * hop].reshape(n, hop).astype(np.float64) / 32768.0
    return 10 * np.log10(np.mean(frames**2, axis=1) + 1e-12)


def burst_onset(audio: np.ndarray, rate: int, start_s: float, end_s: float) -> float:
    """Where the stop segment [start_s, end_s) of an utterance (int16-range audio) bursts (module doc)."""
    levels = _frame_levels_db(audio, rate)
    loud = levels > max(np.percentile(levels, 5) + _ABOVE_FLOOR_DB, levels.max() - _BELOW_PEAK_DB)
    return _burst(loud, start_s, end_s, rate)


def _burst(loud: np.ndarray, start_s: float, end_s: float, rate: int) -> float:
    """Start of the first loud 1 ms frame within [start_s, end_s), else ``start_s``."""
    first, last = int(start_s / _FRAME_S), int(np.ceil(end_s / _FRAME_S))
    hits = np.flatnonzero(loud[first:last])
    return start_s if len(hits) == 0 else max((first + hits[0]) * _FRAME_S, start_s)


def festival_available() -> bool:
    """Whether festival and all its voices are installed."""
    try:
        require_festival()
    except MissingSourceError:
        return False
    return True
