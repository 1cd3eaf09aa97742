"""Real recordings the corpus uses, from Debian packages: where they are and how to read them.

Every source is checked when first used; a missing package raises ``MissingSourceError`` with
one line naming the package to install (``scripts/setup.sh`` installs them all).
"""

from __future__ import annotations

import gzip
import hashlib
import json
import re
import subprocess
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path

import numpy as np

from framestamp.audio import read_audio_file
from framestamp.errors import FramestampError

SOUNDS = Path("/usr/share/asterisk/sounds")
PROMPT_VOICES = {  # directory -> (Debian package, speaker, language)
    "en_US_f_Allison": ("asterisk-core-sounds-en-wav", "allison", "en-US"),
    "es_MX_f_Allison": ("asterisk-core-sounds-es-wav", "allison", "es-MX"),
    "it_IT_m_Carlo": ("asterisk-core-sounds-it-wav", "carlo", "it-IT"),
}
EN_TRANSCRIPTS = ("asterisk-core-sounds-en", Path("/usr/share/doc/asterisk-core-sounds-en/core-sounds-en.txt.gz"))
MUSIC = ("asterisk-moh-opsound-wav", Path("/usr/share/asterisk/moh"))
EFFECT_ROOT = Path("/usr/share/sounds")
EFFECT_PACKAGES = {  # path prefix under EFFECT_ROOT -> Debian package
    "freedesktop/": "sound-theme-freedesktop",
    "deepin/": "deepin-sound-theme",
    "Oxygen-": "oxygen-sounds",
}
_NUMBERS = (
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
    "fifteen sixteen seventeen eighteen nineteen"
).split()
_TENS = "twenty thirty forty fifty sixty seventy eighty ninety".split()


class MissingSourceError(FramestampError, RuntimeError):
    """A Debian package the corpus reads is not installed (the message names it, in one line)."""


def require(package: str, path: Path) -> Path:
    """``path`` if it exists, else raise a one-line error naming the package to install."""
    if not path.exists():
        raise MissingSourceError(
            f"missing Debian package {package} (no {path}): apt-get install {package}, or run scripts/setup.sh"
        )
    return path


def package_version(package: str) -> str | None:
    """Installed version of a Debian package (part of the corpus cache key), None if unknown."""
    try:
        out = subprocess.run(
            ["dpkg-query", "-W", "-f=${Version}", package], capture_output=True, text=True, check=False
        )
    except OSError:
        return None
    return out.stdout.strip() or None


@dataclass(frozen=True)
class Prompt:
    """One recorded prompt: ``name`` relative to its voice directory, without ".wav"."""

    voice_dir: str
    name: str
    text: str = ""

    @property
    def path(self) -> Path:
        return SOUNDS / self.voice_dir / f"{self.name}.wav"

    @property
    def package(self) -> str:
        return PROMPT_VOICES[self.voice_dir][0]

    @property
    def speaker(self) -> str:
        return PROMPT_VOICES[self.voice_dir][1]


def number_words(n: int) -> list[str]:
    """English words for 0 <= n < 1000 (prompt transcripts write "press 1")."""
    if n < 20:
        return [_NUMBERS[n]]
    if n < 100:
        return [_TENS[n // 10 - 2]] + (number_words(n % 10) if n % 10 else [])
    rest = number_words(n % 100) if n % 100 else []
    return number_words(n // 100) + ["hundred"] + rest


def normalise_transcript(text: str) -> list[str] | None:
    """Words to align for a transcript, or None for prompts that are not plain speech
    (annotations in brackets, e.g. "[ascending tones]", "(10 seconds of silence)")."""
    if re.search(r"[\[\]<>(){}]|\d{4}", text):
        return None
    text = re.sub(r"\d+", lambda m: " " + " ".join(number_words(int(m.group()))) + " ", text)
    words = []
    for token in re.sub(r"[^A-Za-z0-9' -]", " ", text).replace("-", " ").split():
        token = token.strip("'").lower()
        if token:
            words.append(token)
    return words or None


@lru_cache(maxsize=1)
def english_prompts() -> tuple[Prompt, ...]:
    """The en-US prompts with a plain-speech transcript and an existing wav file."""
    package, transcripts = EN_TRANSCRIPTS
    require(PROMPT_VOICES["en_US_f_Allison"][0], SOUNDS / "en_US_f_Allison")
    with gzip.open(require(package, transcripts), "rt", encoding="utf-8", errors="replace") as f:
        lines = f.read().splitlines()
    prompts = []
    for line in lines:
        if line.startswith(";") or ":" not in line:
            continue
        name, text = (part.strip() for part in line.split(":", 1))
        prompt = Prompt("en_US_f_Allison", name, text)
        if normalise_transcript(text) and prompt.path.exists():
            prompts.append(prompt)
    return tuple(prompts)


@lru_cache(maxsize=4)
def voice_prompts(voice_dir: str) -> tuple[Prompt, ...]:
    """Every prompt of a voice directory (recursively), sorted by name."""
    root = require(PROMPT_VOICES[voice_dir][0], SOUNDS / voice_dir)
    names = sorted(str(p.relative_to(root).with_suffix("")) for p in root.rglob("*.wav"))
    return tuple(Prompt(voice_dir, name) for name in names)


@lru_cache(maxsize=256)
def read_prompt(prompt: Prompt) -> np.ndarray:
    """A prompt's audio at 16 kHz (the recordings are 8 kHz telephone-band)."""
    return read_audio_file(prompt.path)


@dataclass(frozen=True)
class Effect:
    """A sound-effect file of an event class; ``file`` is relative to /usr/share/sounds."""

    event_name: str
    file: str

    @property
    def path(self) -> Path:
        return EFFECT_ROOT / self.file

    @property
    def package(self) -> str:
        return next(pkg for prefix, pkg in EFFECT_PACKAGES.items() if self.file.startswith(prefix))


@lru_cache(maxsize=1)
def event_classes() -> dict[str, tuple[tuple[Effect, ...], ...]]:
    """Event class name -> its recording families (variants of one recording) of effects,
    from ``event_classes.json``."""
    text = resources.files("framestamp.corpus").joinpath("event_classes.json").read_text()
    table = json.loads(text)["classes"]
    return {
        name: tuple(
            tuple(Effect(name, f) for f in ([item] if isinstance(item, str) else item))
            for item in entry["files"]
        )
        for name, entry in table.items()
    }


@lru_cache(maxsize=256)
def read_effect(effect: Effect, threshold: float = 0.01) -> np.ndarray:
    """An effect at 16 kHz mono with its leading and trailing silence trimmed.

    The first (last) kept sample is the first (last) one whose magnitude exceeds ``threshold``
    times the effect's peak, so placing the effect at time t makes t its exact onset.
    """
    audio = read_audio_file(require(effect.package, effect.path))
    loud = np.flatnonzero(np.abs(audio) > threshold * np.abs(audio).max())
    return audio[loud[0] : loud[-1] + 1]


@lru_cache(maxsize=1)
def music_tracks() -> tuple[tuple[str, np.ndarray], ...]:
    """(file name, 16 kHz audio) of the music-on-hold tracks, sorted by name."""
    package, root = MUSIC
    files = sorted(require(package, root).glob("*.wav"))
    if not files:
        raise MissingSourceError(f"missing Debian package {package} (no wav files in {root}): apt-get install {package}")
    return tuple((f.name, read_audio_file(f)) for f in files)


def content_hash(audio: np.ndarray) -> str:
    """Short hash of audio samples (to spot the same recording under two names)."""
    return hashlib.sha256(np.ascontiguousarray(audio, dtype=np.float32).tobytes()).hexdigest()[:16]


def source_versions() -> dict[str, str | None]:
    """Versions of every Debian package the corpus reads (part of the cache key)."""
    packages = {p for p, _, _ in PROMPT_VOICES.values()} | {EN_TRANSCRIPTS[0], MUSIC[0]}
    packages |= set(EFFECT_PACKAGES.values())
    return {p: package_version(p) for p in sorted(packages)}
