"""Speech synthesis with exact word times: libespeak-ng (PyPI ``espeakng-loader``) through ctypes.

espeak-ng reports, in synchronous mode, the audio in chunks and events carrying the sample
position in its own output: a word event (type 1) where each word starts and, when initialised
with phoneme events, a phoneme event (type 7) where each phoneme starts, pauses included
(mnemonics beginning with "_"). From these:
- a word starts at its word event, except after a pause (and for the first word): there the
  word event marks the end of the pause, so the word starts at its first phoneme instead. The
  difference matters for stops: after a pause espeak's closure is silent and its stop phoneme
  event is the burst, where a listener (and a forced aligner) puts the word's start; inside
  running speech the closure belongs to the word, as in forced alignments;
- a word ends where the next thing after its last phoneme starts: a pause phoneme, the next
  word, or the end of the audio. So words separated by a pause end at the pause, and adjacent
  words share a boundary (as in forced alignments).
Synthesis is made independent of what the process synthesised before (espeak-ng keeps state
between utterances): see ``_steady_data_dir`` and ``Synthesizer.synthesize``.
"""

from __future__ import annotations

import atexit
import ctypes
import multiprocessing.util
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from framestamp.errors import MissingDependencyError

ESPEAK_RATE_HZ = 22050
ESPEAKNG_PACKAGE = "espeakng-loader==0.2.4"  # as pinned in pyproject.toml
_WORD_EVENT, _PHONEME_EVENT, _TERMINATED = 1, 7, 0
_RATE, _VOLUME, _PITCH, _RANGE = 1, 2, 3, 4  # espeak_PARAMETER values
_VOLUME_PERCENT = 20  # below clipping: espeak's overflow gain control keeps state across calls
_OUTPUT_SYNCHRONOUS, _INIT_PHONEME_EVENTS, _CHARS_UTF8 = 2, 1, 1
_PRIMER = b"a."
PLAIN_VARIANT = "plain"


class _Event(ctypes.Structure):
    _fields_ = [
        ("type", ctypes.c_int),
        ("unique_identifier", ctypes.c_uint),
        ("text_position", ctypes.c_int),
        ("length", ctypes.c_int),
        ("audio_position", ctypes.c_int),
        ("sample", ctypes.c_int),
        ("user_data", ctypes.c_void_p),
        ("id", ctypes.c_char * 8),
    ]


_CALLBACK = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.POINTER(_Event))


@dataclass(frozen=True)
class Voice:
    """espeak-ng voice settings: ``name`` is a language voice with an optional variant
    (``en-us``, ``en-gb-x-rp+f3``), ``rate_wpm`` words per minute (80-450), ``pitch`` and
    ``pitch_range`` 0-100."""

    name: str
    rate_wpm: int = 175
    pitch: int = 50
    pitch_range: int = 50

    def as_dict(self) -> dict:
        """Synthesis parameters for provenance records."""
        return {"voice": self.name, "rate_wpm": self.rate_wpm, "pitch": self.pitch, "pitch_range": self.pitch_range}


@dataclass(frozen=True)
class Utterance:
    """Synthesised speech: int16-range float32 audio at 22,050 Hz and its words.

    ``words`` holds (word, start_sample, end_sample) with the word as written in the text.
    The other engines (``framestamp.corpus.festival``, ``framestamp.corpus.flite``) return it too,
    at their own rate; ``aligned`` is true where the word times come from forced alignment.
    """

    audio: np.ndarray
    words: tuple[tuple[str, int, int], ...]
    sample_rate: int = ESPEAK_RATE_HZ
    aligned: bool = False


class Synthesizer:
    """The process-wide espeak-ng engine (the library keeps global state: one per process)."""

    _instance: Synthesizer | None = None

    def __init__(self):
        espeakng_loader = _loader()
        self._lib = ctypes.CDLL(espeakng_loader.get_library_path())
        self._lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
        data_path = str(_steady_data_dir(Path(espeakng_loader.get_data_path()))).encode()
        rate = self._lib.espeak_Initialize(_OUTPUT_SYNCHRONOUS, 0, data_path, _INIT_PHONEME_EVENTS)
        if rate != ESPEAK_RATE_HZ:
            raise RuntimeError(f"espeak-ng initialisation failed (returned {rate})")
        self._chunks: list[np.ndarray] = []
        self._events: list[tuple[int, int, int, int, bytes]] = []
        self._callback = _CALLBACK(self._on_synth)  # keep a reference: C holds the pointer
        self._lib.espeak_SetSynthCallback(self._callback)
        self._lib.espeak_Synth.argtypes = [
            ctypes.c_char_p, ctypes.c_size_t, ctypes.c_uint, ctypes.c_int, ctypes.c_uint,
            ctypes.c_uint, ctypes.c_void_p, ctypes.c_void_p,
        ]

    @classmethod
    def get(cls) -> Synthesizer:
        """The engine of this process, initialised on first use."""
        if cls._instance is None:
            cls._instance = cls()
        return cls._instance

    @staticmethod
    def version() -> str:
        """Version of the espeak-ng library (part of the corpus cache key)."""
        lib = ctypes.CDLL(_loader().get_library_path())
        lib.espeak_Info.restype = ctypes.c_char_p
        return lib.espeak_Info(None).decode()

    def _speak(self, data: bytes) -> None:
        self._lib.espeak_Synth(data, len(data) + 1, 0, 0, 0, _CHARS_UTF8, None, None)
        self._lib.espeak_Synchronize()

    def _on_synth(self, wav, n_samples, events) -> int:
        if n_samples > 0:
            self._chunks.append(np.ctypeslib.as_array(wav, shape=(n_samples,)).astype(np.float32))
        i = 0
        while events[i].type != _TERMINATED:
            e = events[i]
            self._events.append((e.type, e.text_position, e.length, e.sample, bytes(e.id)))
            i += 1
        return 0

    def synthesize(self, text: str, voice: Voice) -> Utterance:
        """Speak ``text`` (plain words and punctuation) with ``voice``.

        Returns:
            The utterance at 22,050 Hz with each word's start and end sample (see module doc).
        """
        # Set the voice every time, even if unchanged: that resets state a previous utterance
        # would otherwise leave behind (e.g. after a rate change).
        if self._lib.espeak_SetVoiceByName(voice.name.encode()) != 0:
            raise ValueError(f"espeak-ng has no voice {voice.name!r}")
        self._lib.espeak_SetParameter(_RATE, voice.rate_wpm, 0)
        self._lib.espeak_SetParameter(_PITCH, voice.pitch, 0)
        self._lib.espeak_SetParameter(_RANGE, voice.pitch_range, 0)
        self._lib.espeak_SetParameter(_VOLUME, _VOLUME_PERCENT, 0)
        self._lib.espeak_ng_SetRandSeed(0)  # breathy variants draw noise from espeak's generator
        # A fixed primer utterance first: some text-processing state (seen with the Welsh
        # accent after certain sentences) carries over to the next utterance; after the primer
        # it is always the same.
        self._speak(_PRIMER)
        self._chunks, self._events = [], []
        self._speak(text.encode("utf-8"))
        audio = np.concatenate(self._chunks) if self._chunks else np.zeros(0, np.float32)
        return Utterance(audio=audio, words=_word_spans(text, self._events, len(audio)))


def _loader():
    """The ``espeakng_loader`` module (the library and its data), or one clear error."""
    try:
        import espeakng_loader
    except ImportError as error:
        raise MissingDependencyError(f"speech synthesis needs espeak-ng: pip install {ESPEAKNG_PACKAGE}") from error
    return espeakng_loader


def _steady_data_dir(data: Path) -> Path:
    """A private copy of espeak-ng's data whose voice variants have no flutter, roughness or echo.

    Each is driven by state that lives for the whole process (function-level statics in
    wavegen.c: the flutter table index, the glottal cycle count; the echo buffer), so the same
    text would come out slightly different (pitch periods and hence word boundaries moved by a
    few samples, or amplitudes of some cycles) depending on what was synthesised before. Without
    them the output depends only on text and voice, which makes corpus builds reproducible
    whatever the order of synthesis or the number of worker processes (see also the primer in
    ``Synthesizer.synthesize``). Everything but the variant files is symlinked.
    """
    root = Path(tempfile.mkdtemp(prefix="framestamp-espeak-"))
    atexit.register(shutil.rmtree, root, ignore_errors=True)
    multiprocessing.util.Finalize(None, shutil.rmtree, (root,), {"ignore_errors": True}, exitpriority=10)
    for entry in data.iterdir():
        if entry.name != "voices":
            (root / entry.name).symlink_to(entry)
    variants = root / "voices" / "!v"
    variants.mkdir(parents=True)
    for variant in (data / "voices" / "!v").iterdir():
        (variants / variant.name).write_bytes(variant.read_bytes() + b"\nflutter 0\nroughness 0\necho 0 0\n")
    # the base voice of each language, steady likewise (``+plain``; no corpus voice uses it)
    (variants / PLAIN_VARIANT).write_bytes(b"language variant\nname plain\nflutter 0\nroughness 0\necho 0 0\n")
    return root


def _word_spans(text: str, events, n_samples: int) -> tuple[tuple[str, int, int], ...]:
    """(word, start, end) samples from the event stream (rules in the module doc)."""
    data = text.encode("utf-8")
    words: list[list] = []  # [word, start, end or None, has a phoneme yet, starts after a pause]
    after_pause = True
    for kind, position, length, sample, mnemonic in events:
        if kind == _WORD_EVENT:
            if words and words[-1][2] is None:
                words[-1][2] = sample
                after_pause = False
            word = data[position - 1 : position - 1 + length].decode("utf-8", "replace")
            words.append([word, sample, None, False, after_pause])
        elif kind == _PHONEME_EVENT and words:
            current = words[-1]
            if mnemonic.startswith(b"_"):  # a pause ends the word whose phonemes precede it
                if current[3] and current[2] is None:
                    current[2] = sample
                    after_pause = True
            elif not current[3]:
                if current[4]:
                    current[1] = sample
                current[3] = True
    if words and words[-1][2] is None:
        words[-1][2] = n_samples
    return tuple((w, int(s), int(max(e, s))) for w, s, e, _, _ in words)
