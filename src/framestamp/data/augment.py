"""Training augmentations: the recording conditions users bring that the corpus does not hold.

Each augmentation is a pure function ``(clip, rng, ...) -> Clip``: the same clip and the same
generator state give the same result. The returned clip is new; its audio and its segment times
stay consistent (a late start shifts every segment by exactly the prepended length; the other
augmentations keep every time where it was: mixing, gains, quantisation and the zero-phase
filters of the telephone band move nothing). Each appends what it drew to the clip's
``provenance["augmentations"]``.

- ``late_start``: silence or low noise before the clip (speech that starts seconds in);
- ``add_background``: white, pink or brown noise, or music on hold (the corpus's train pool),
  under the clip at a drawn SNR;
- ``telephone``: the 8 kHz telephone band, optionally band-passed to 300-3400 Hz;
- ``quantise``: 8-bit linear or mu-law samples, as an 8-bit WAV file stores them;
- ``change_level``: a gain (clipped at full scale, as a file would be), optionally a slow ramp.

``augment_clip`` applies a random chain of them as ``AugmentConfig`` says; the training sampler
(``framestamp.train.batches.QuerySampler``) calls it for ``DataConfig.augment_share`` of its items.
See ``docs/augmentation.md``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from functools import lru_cache

import numpy as np
from scipy.signal import butter, sosfiltfilt

from ..audio import resample, through_wav
from ..config import Config, option, register_config
from .examples import Clip

NOISE_EXPONENTS = {"white": 0.0, "pink": 1.0, "brown": 2.0}  # power spectrum 1/f^exponent
BACKGROUND_KINDS = (*NOISE_EXPONENTS, "music")
LATE_START_FILLS = ("silence", "noise")
CODECS = ("linear8", "mulaw8")
TELEPHONE_RATE_HZ = 8_000
TELEPHONE_BAND_HZ = (300.0, 3400.0)
ANTI_ALIAS_HZ = 3600.0  # what a codec's input filter keeps before sampling at 8 kHz
QUIET_REFERENCE_RMS = 0.05  # level a background is set against when the clip itself is silent
ORDER = ("late_start", "background", "level", "telephone", "bit_depth")  # the order of a chain


@register_config
@dataclass
class AugmentConfig(Config):
    """Which augmentations an augmented training item gets, and their ranges.

    Each ``*_prob`` is the chance that an augmented item gets that augmentation (drawn
    independently); an item that draws none gets one of them, picked in proportion to the
    probabilities, so every augmented item is changed. Which items are augmented at all is
    ``DataConfig.augment_share`` (0 by default: no augmentation).
    """

    late_start_prob: float = option(0.3, "chance of silence or low noise prepended (speech starting late)")
    late_start_s: list = option([0.5, 25.0], "range of the prepended length, seconds (uniform)")
    late_start_fills: list = option(
        ["silence", "noise"], "what is prepended, one drawn per item: silence (digital zeros) or noise (white, "
                              "pink or brown at late_start_noise_db, under the whole clip so that where the noise "
                              "starts says nothing about where the clip does)"
    )  # fmt: skip
    late_start_noise_db: list = option([-70.0, -45.0], "range of the low noise's RMS level, dBFS")
    max_duration_s: float = option(
        30.0, "a late start keeps the clip at most this long (a clip already longer gets none)"
    )
    background_prob: float = option(0.5, "chance of noise or music mixed under the clip")
    background_snr_db: list = option(
        [5.0, 25.0], "range of the SNR: RMS of the clip over its segments against the background's RMS"
    )
    background_kinds: list = option(
        ["white", "pink", "brown", "music"], "backgrounds, one drawn per item: white, pink or brown noise, or "
                                             "music on hold (asterisk-moh-opsound-wav, the corpus's train part)"
    )  # fmt: skip
    level_prob: float = option(0.5, "chance of a level change (gain, clipped at full scale)")
    gain_db: list = option([-30.0, 10.0], "range of the gain, dB")
    ramp_prob: float = option(0.3, "chance that a level change also ramps slowly over the clip")
    ramp_db: float = option(12.0, "a ramp changes the level by up to this many dB (up or down) from start to end")
    telephone_prob: float = option(0.2, "chance of the telephone band: resampled to 8 kHz and back")
    band_pass_prob: float = option(0.5, "chance that a telephone copy is also band-passed to 300-3400 Hz")
    bit_depth_prob: float = option(0.2, "chance of 8-bit samples (as an 8-bit WAV file stores them)")
    bit_depth_codecs: list = option(["linear8", "mulaw8"], "codecs, one drawn per item: linear8 "
                                                           "(unsigned 8-bit PCM) or mulaw8 (G.711 mu-law)")

    def __post_init__(self):
        for name in ("late_start_prob", "background_prob", "level_prob", "ramp_prob", "telephone_prob",
                     "band_pass_prob", "bit_depth_prob"):  # fmt: skip
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be in [0, 1], got {getattr(self, name)}")
        for name in ("late_start_s", "late_start_noise_db", "background_snr_db", "gain_db"):
            value = getattr(self, name)
            if len(value) != 2 or not value[0] <= value[1]:
                raise ValueError(f"{name} must be a range [low, high] with low <= high, got {value}")
        if self.late_start_s[0] < 0:
            raise ValueError(f"late_start_s must not be negative, got {self.late_start_s}")
        if not self.max_duration_s > 0 or not self.ramp_db >= 0:
            raise ValueError("max_duration_s must be > 0 and ramp_db >= 0")
        for name, known in (("late_start_fills", LATE_START_FILLS), ("background_kinds", BACKGROUND_KINDS),
                            ("bit_depth_codecs", CODECS)):  # fmt: skip
            value = getattr(self, name)
            if not value or set(value) - set(known):
                raise ValueError(f"{name} must be a non-empty list of {known}, got {value}")

    def probabilities(self) -> dict[str, float]:
        """Chance of each augmentation of ``ORDER`` on an augmented item."""
        return {"late_start": self.late_start_prob, "background": self.background_prob, "level": self.level_prob,
                "telephone": self.telephone_prob, "bit_depth": self.bit_depth_prob}  # fmt: skip


def late_start(
    clip: Clip,
    rng: np.random.Generator,
    seconds: tuple[float, float] = (0.5, 25.0),
    fills: tuple[str, ...] = LATE_START_FILLS,
    noise_db: tuple[float, float] = (-70.0, -45.0),
    max_duration_s: float | None = None,
    max_shift_s: float = math.inf,
) -> Clip:
    """``clip`` after a drawn length of silence or low noise; every segment moves by exactly that length.

    The length is uniform in ``seconds``, below ``max_shift_s`` (so a target earlier than some
    bound stays earlier) and at most what keeps the clip within ``max_duration_s``; a whole number
    of samples. When that leaves less than ``seconds[0]``, the clip comes back unchanged.
    ``noise`` lies under the whole clip, not just the prepended part, so its start does not
    mark where the original audio begins.
    """
    room = min(seconds[1], max_shift_s)
    if max_duration_s is not None:
        room = min(room, max_duration_s - clip.duration_s)
    if room < seconds[0] or room <= 0:
        return clip
    n_pad = int(rng.uniform(seconds[0], room) * clip.sample_rate)
    fill = str(fills[int(rng.integers(len(fills)))])
    audio = np.concatenate([np.zeros(n_pad, np.float32), clip.audio.astype(np.float32)])
    shift = n_pad / clip.sample_rate
    record: dict = {"name": "late_start", "seconds": shift, "fill": fill}
    if fill == "noise":
        colour = str(list(NOISE_EXPONENTS)[int(rng.integers(len(NOISE_EXPONENTS)))])
        level_db = float(rng.uniform(*noise_db))
        audio = np.clip(audio + _noise(len(audio), rng, colour) * _gain(level_db), -1.0, 1.0)
        record |= {"noise": colour, "level_db": round(level_db, 3)}
    segments = tuple(replace(s, start_s=s.start_s + shift, end_s=s.end_s + shift) for s in clip.segments)
    provenance = dict(clip.provenance)
    if "joined_at_s" in provenance:  # a time in this clip's audio: it moves too
        provenance["joined_at_s"] = provenance["joined_at_s"] + shift
    return _changed(replace(clip, segments=segments, provenance=provenance), audio, record)


def add_background(
    clip: Clip,
    rng: np.random.Generator,
    snr_db: tuple[float, float] = (5.0, 25.0),
    kinds: tuple[str, ...] = BACKGROUND_KINDS,
) -> Clip:
    """``clip`` with noise or music under it, at an SNR drawn uniformly from ``snr_db``.

    The SNR is the RMS of the clip over its segments (the speech, turns or events asked about;
    the whole clip when it has none) against the RMS of the background over the whole clip.
    Music is music on hold from the corpus's train part of each track
    (``framestamp.corpus.events``), so none of the music behind dev and test clips is heard in
    training. A mix that would exceed full scale is scaled down as a whole (the SNR holds).
    """
    kind = str(kinds[int(rng.integers(len(kinds)))])
    snr = float(rng.uniform(*snr_db))
    n = len(clip.audio)
    record: dict = {"name": "background", "kind": kind, "snr_db": snr}
    if kind == "music":
        background, info = _music_of("train", n, rng)
        record["pieces"] = info["pieces"]
    else:
        background = _noise(n, rng, kind)
    level = signal_rms(clip) or QUIET_REFERENCE_RMS
    audio = clip.audio.astype(np.float64) + background * (level / _gain(snr))
    peak = float(np.abs(audio).max()) if n else 0.0
    if peak > 1.0:
        audio /= peak
        record["scaled_by"] = 1.0 / peak
    return _changed(clip, audio, record)


def telephone(clip: Clip, rng: np.random.Generator, band_pass_prob: float = 0.5) -> Clip:
    """``clip`` through the telephone band: low-passed at 3.6 kHz as a codec's input filter does,
    resampled to 8 kHz and back (what is left above 4 kHz is 30 dB down or more), and with chance
    ``band_pass_prob`` band-passed to 300-3400 Hz. The filters are Butterworth, run forwards and
    backwards (zero phase) and the resampling is zero-phase too, so no time moves."""
    band_pass = bool(rng.random() < band_pass_prob)
    audio = _zero_phase(clip.audio.astype(np.float64), butter(8, ANTI_ALIAS_HZ, fs=clip.sample_rate, output="sos"))
    narrow = resample(resample(audio, clip.sample_rate, TELEPHONE_RATE_HZ), TELEPHONE_RATE_HZ, clip.sample_rate)
    audio = _fit(narrow, len(clip.audio)).astype(np.float64)
    if band_pass:
        audio = _zero_phase(audio, butter(4, TELEPHONE_BAND_HZ, btype="bandpass", fs=clip.sample_rate, output="sos"))
    return _changed(clip, np.clip(audio, -1.0, 1.0), {"name": "telephone", "band_pass": band_pass})


def quantise(clip: Clip, rng: np.random.Generator, codecs: tuple[str, ...] = CODECS) -> Clip:
    """``clip`` as an 8-bit WAV file holds it: ``linear8`` rounds to 256 steps of 1/128 in
    [-1, 127/128] (unsigned 8-bit PCM); ``mulaw8`` encodes and decodes G.711 mu-law (256 codes,
    fine steps near zero, coarse ones when loud). Samples beyond full scale are clipped first."""
    codec = str(codecs[int(rng.integers(len(codecs)))])
    samples = np.clip(clip.audio.astype(np.float64), -1.0, 1.0)
    if codec == "linear8":
        audio = np.clip(np.round(samples * 128.0), -128, 127) / 128.0
    elif codec == "mulaw8":
        audio = through_wav(samples, clip.sample_rate, "ULAW")
    else:
        raise ValueError(f"unknown codec {codec!r}; choose from {CODECS}")
    return _changed(clip, audio, {"name": "bit_depth", "codec": codec})


def change_level(
    clip: Clip,
    rng: np.random.Generator,
    gain_db: tuple[float, float] = (-30.0, 10.0),
    ramp_prob: float = 0.0,
    ramp_db: float = 12.0,
) -> Clip:
    """``clip`` with a gain drawn uniformly from ``gain_db``, clipped at full scale as a file would
    be; with chance ``ramp_prob`` the level also moves linearly (in dB) by up to ``ramp_db`` up
    or down from the start of the clip to its end."""
    gain = float(rng.uniform(*gain_db))
    ramp = float(rng.uniform(-ramp_db, ramp_db)) if rng.random() < ramp_prob else 0.0
    n = len(clip.audio)
    level_db = gain + ramp * (np.arange(n) / max(n - 1, 1)) if ramp else np.full(n, gain)
    audio = np.clip(clip.audio.astype(np.float64) * 10 ** (level_db / 20), -1.0, 1.0)
    return _changed(clip, audio, {"name": "level", "gain_db": gain, "ramp_db": ramp})


def augment_clip(
    clip: Clip, rng: np.random.Generator, config: AugmentConfig, max_shift_s: float = math.inf
) -> tuple[Clip, float]:
    """A random chain of augmentations (in ``ORDER``) of ``clip``, and how far it moved in time.

    Every augmentation of ``config.probabilities()`` is drawn first, then applied in order:
    late start, background (under the prepended part too), level, telephone band, bit depth
    (the file written last). A query's target times move by the returned shift (seconds; 0
    without a late start). ``max_shift_s`` bounds the late start (see ``late_start``).
    """
    chances = config.probabilities()
    chosen = {name for name in ORDER if rng.random() < chances[name]}
    total = sum(chances.values())
    if not chosen and total > 0:
        weights = np.array([chances[name] for name in ORDER]) / total
        chosen = {ORDER[int(rng.choice(len(ORDER), p=weights))]}
    out = clip
    if "late_start" in chosen:
        out = late_start(out, rng, tuple(config.late_start_s), tuple(config.late_start_fills),
                         tuple(config.late_start_noise_db), config.max_duration_s, max_shift_s)  # fmt: skip
    if "background" in chosen:
        out = add_background(out, rng, tuple(config.background_snr_db), tuple(config.background_kinds))
    if "level" in chosen:
        out = change_level(out, rng, tuple(config.gain_db), config.ramp_prob, config.ramp_db)
    if "telephone" in chosen:
        out = telephone(out, rng, config.band_pass_prob)
    if "bit_depth" in chosen:
        out = quantise(out, rng, tuple(config.bit_depth_codecs))
    return out, (len(out.audio) - len(clip.audio)) / clip.sample_rate


def signal_rms(clip: Clip) -> float:
    """RMS of ``clip`` over the union of its segments (the whole clip when it has none)."""
    inside = np.zeros(len(clip.audio), bool)
    for s in clip.segments:
        inside[int(round(s.start_s * clip.sample_rate)) : int(round(s.end_s * clip.sample_rate))] = True
    samples = clip.audio[inside] if inside.any() else clip.audio
    return float(np.sqrt(np.mean(np.square(samples, dtype=np.float64)))) if len(samples) else 0.0


def _changed(clip: Clip, audio: np.ndarray, record: dict) -> Clip:
    history = [*clip.provenance.get("augmentations", []), record]
    return replace(clip, audio=np.asarray(audio, dtype=np.float32),
                   provenance={**clip.provenance, "augmentations": history})  # fmt: skip


def _gain(db: float) -> float:
    return float(10 ** (db / 20))


def _noise(n: int, rng: np.random.Generator, colour: str) -> np.ndarray:
    """Unit-RMS white, pink or brown noise of ``n`` samples (made at a length the FFT is fast for)."""
    from scipy.fft import next_fast_len

    from framestamp.corpus.signal import colored_noise

    if n == 0:
        return np.zeros(0)
    noise = colored_noise(next_fast_len(n, real=True), rng, NOISE_EXPONENTS[colour])[:n].astype(np.float64)
    return noise / (np.sqrt(np.mean(noise**2)) or 1.0)


def _zero_phase(audio: np.ndarray, sos: np.ndarray) -> np.ndarray:
    """``audio`` filtered forwards and backwards (nothing moves in time); too short a clip is left as it is."""
    if len(audio) < 2:
        return audio
    return sosfiltfilt(sos, audio, padlen=min(len(audio) - 1, 3 * 2 * len(sos)))


def _fit(audio: np.ndarray, n: int) -> np.ndarray:
    """``audio`` cut or zero-padded to ``n`` samples (resampling there and back may add one)."""
    return audio[:n] if len(audio) >= n else np.concatenate([audio, np.zeros(n - len(audio), audio.dtype)])


@lru_cache(maxsize=1)
def _pools():
    from framestamp.corpus.config import CorpusConfig
    from framestamp.corpus.pools import Pools

    return Pools(CorpusConfig(), seed=0)  # the music ranges depend on neither


def _music_of(pool: str, n: int, rng: np.random.Generator) -> tuple[np.ndarray, dict]:
    """Unit-RMS music of ``n`` samples from the ``pool`` part (train, dev, test) of the
    music-on-hold tracks (the corpus's own reader; raises ``MissingSourceError`` naming the
    package when it is missing)."""
    from framestamp.corpus.events import _music

    audio, info = _music(_pools(), pool, n, rng)
    return audio.astype(np.float64), info



# --- non-speech clips ---------------------------------------------------------------------------
# Clips with nothing to find in them (no word, speaker or event): silence, tones, noise, music and
# mixes of these. The training sampler asks about a word, speaker or event of its vocabulary over
# them for ``DataConfig.nonspeech_share`` of its single-occurrence items, with no target, so the
# head learns that non-speech is never "present". See docs/augmentation.md.

NONSPEECH_KINDS = ("silence", "tone", "noise", "music", "mix")
# the kinds that do not sound like an event class (tones and melodies are: "telephone ringing",
# "error alert", "completion chime", "startup melody"; a noise burst or level step is a "whoosh")
NONSPEECH_EVENT_KINDS = ("silence", "noise")
NONSPEECH_MAX_S = 30.0  # one inference window: longer clips are never heard at once
NONSPEECH_TONE_HZ = (100.0, 4000.0)
NONSPEECH_FLOOR_DB = (-90.0, -55.0)  # the low noise floor of "silence" (digital zero half the time)
NONSPEECH_LEVEL_CHANGE_PROB = 0.3
NONSPEECH_RAMP_DB = 30.0  # a ramp changes the level by up to this much from start to end
NONSPEECH_STEP_DB = 20.0  # a step moves the level by up to this much from where it was
TONE_PATTERNS = ("continuous", "beeps", "random")
EDGE_S = 0.005  # raised-cosine on/off edges of a gated tone


def check_nonspeech_options(share: float, seconds, kinds, event_kinds, level_db) -> None:
    """Raise ``ValueError`` unless the ``DataConfig.nonspeech_*`` options make sense."""
    if not 0.0 <= share <= 1.0:
        raise ValueError(f"nonspeech_share must be in [0, 1], got {share}")
    if len(seconds) != 2 or not 0 < seconds[0] <= seconds[1] <= NONSPEECH_MAX_S:
        raise ValueError(f"nonspeech_s must be a range [low, high] with 0 < low <= high <= {NONSPEECH_MAX_S}, "
                         f"got {seconds}")  # fmt: skip
    if not kinds or set(kinds) - set(NONSPEECH_KINDS):
        raise ValueError(f"nonspeech_kinds must be a non-empty list of {NONSPEECH_KINDS}, got {kinds}")
    if "mix" in kinds and len(set(kinds) - {"mix"}) < 2:
        raise ValueError(f"nonspeech_kinds: a mix needs two other kinds to mix, got {kinds}")
    if set(event_kinds) - set(NONSPEECH_EVENT_KINDS):
        raise ValueError(f"nonspeech_event_kinds must be a list of {NONSPEECH_EVENT_KINDS} (tones and music can "
                         f"be event classes), got {event_kinds}")  # fmt: skip
    if len(level_db) != 2 or not level_db[0] <= level_db[1] <= 0:
        raise ValueError(f"nonspeech_level_db must be a range [low, high] of dBFS with low <= high <= 0, "
                         f"got {level_db}")  # fmt: skip


def nonspeech_clip(
    clip_id: str,
    subset: str,
    rng: np.random.Generator,
    seconds: tuple[float, float] = (1.0, NONSPEECH_MAX_S),
    kinds: tuple[str, ...] = NONSPEECH_KINDS,
    level_db: tuple[float, float] = (-70.0, -6.0),
    level_changes: bool = True,
    sample_rate: int = 16_000,
    music_pool: str = "train",
) -> Clip:
    """A clip of ``subset`` with no segments: silence, tones, noise, music or a mix of them.

    The length is log-uniform in ``seconds`` (as many 1-3 s clips as 10-30 s ones; a whole number
    of samples, shorter than ``seconds[1]``); the kind is one of ``kinds``, drawn uniformly:

    - ``silence``: digital zeros, or (half the time) white, pink or brown noise at a floor of
      ``NONSPEECH_FLOOR_DB`` (-90 to -55 dBFS RMS);
    - ``tone``: one sine (half the time) or two or three together, each at a frequency
      log-uniform in 100-4000 Hz, on continuously, in regular beeps or switched on and off at
      random (``TONE_PATTERNS``, 5 ms edges, silence between);
    - ``noise``: white, pink or brown noise;
    - ``music``: music on hold from the ``music_pool`` part of the corpus's tracks (train, as
      ``add_background``; evaluations take the test part);
    - ``mix``: two or three of the other kinds in ``kinds``, each at its own level (silence as
      its noise floor).

    Tones, noise and music get an RMS level uniform in ``level_db`` dBFS (a tone's while it
    sounds). With ``level_changes``, chance ``NONSPEECH_LEVEL_CHANGE_PROB`` of a level change over
    the clip: a ramp (linear in dB, up to 30 dB up or down) or 1-3 steps (up to 20 dB each).
    A clip that would pass full scale is scaled down as a whole. Everything drawn is in
    ``provenance["nonspeech"]`` (``kind``, ``seconds``, ``parts``, ``level_change``).
    """
    low, high = math.log(seconds[0]), math.log(seconds[1])
    n_max = max(int(math.ceil(seconds[1] * sample_rate)) - 1, 1)
    n = min(max(int(math.exp(rng.uniform(low, high)) * sample_rate), 1), n_max)
    kind = str(kinds[int(rng.integers(len(kinds)))])
    if kind == "mix":
        others = [k for k in dict.fromkeys(kinds) if k != "mix"]
        count = min(int(rng.integers(2, 4)), len(others))
        chosen = [others[i] for i in sorted(rng.choice(len(others), size=count, replace=False))]
        parts = [_nonspeech_part(n, rng, part, level_db, sample_rate, True, music_pool) for part in chosen]
    else:
        parts = [_nonspeech_part(n, rng, kind, level_db, sample_rate, music_pool=music_pool)]
    audio = np.sum([audio for audio, _ in parts], axis=0) if n else np.zeros(0)
    record: dict = {"kind": kind, "seconds": n / sample_rate, "parts": [info for _, info in parts]}
    if level_changes and rng.random() < NONSPEECH_LEVEL_CHANGE_PROB:
        envelope_db, record["level_change"] = _level_change(n, rng, sample_rate)
        audio = audio * 10 ** (envelope_db / 20)
    peak = float(np.abs(audio).max()) if n else 0.0
    if peak > 1.0:
        audio = audio / peak
        record["scaled_by"] = 1.0 / peak
    return Clip(clip_id, np.asarray(audio, dtype=np.float32), subset, (), "", {"nonspeech": record}, sample_rate)


def tone_audio(
    n: int, rng: np.random.Generator, sample_rate: int = 16_000, hz: tuple[float, float] = NONSPEECH_TONE_HZ
) -> tuple[np.ndarray, dict]:
    """Tones of ``n`` samples, RMS 1 while they sound: one sine half the time, else two or three
    (relative amplitudes 0.3-1, random phases), frequencies log-uniform in ``hz``, switched on and
    off by a pattern of ``TONE_PATTERNS``."""
    count = 1 if rng.random() < 0.5 else int(rng.integers(2, 4))
    freqs = np.exp(rng.uniform(math.log(hz[0]), math.log(hz[1]), count))
    amplitudes = rng.uniform(0.3, 1.0, count) if count > 1 else np.ones(1)
    phases = rng.uniform(0, 2 * np.pi, count)
    t = np.arange(n) / sample_rate
    audio = np.zeros(n)
    for f, a, p in zip(freqs, amplitudes, phases):
        audio += a * np.sin(2 * np.pi * f * t + p)
    gate, pattern = _gate(n, rng, sample_rate)
    on = gate > 0.5
    level = float(np.sqrt(np.mean(audio[on] ** 2))) if on.any() else 1.0
    info = {"kind": "tone", "hz": [round(float(f), 3) for f in freqs],
            "amplitudes": [round(float(a), 4) for a in amplitudes], **pattern}  # fmt: skip
    return audio * gate / (level or 1.0), info


def _nonspeech_part(
    n: int, rng: np.random.Generator, kind: str, level_db: tuple[float, float], sample_rate: int,
    floor_only: bool = False, music_pool: str = "train",
) -> tuple[np.ndarray, dict]:  # fmt: skip
    """One part of a non-speech clip at its level, and what was drawn."""
    if kind == "silence":
        if not floor_only and rng.random() < 0.5:
            return np.zeros(n), {"kind": "silence", "floor": "zero"}
        colour = str(list(NOISE_EXPONENTS)[int(rng.integers(len(NOISE_EXPONENTS)))])
        level = float(rng.uniform(*NONSPEECH_FLOOR_DB))
        return _noise(n, rng, colour) * _gain(level), {"kind": "silence", "floor": colour, "level_db": level}
    level = float(rng.uniform(*level_db))
    if kind == "tone":
        audio, info = tone_audio(n, rng, sample_rate)
    elif kind == "noise":
        colour = str(list(NOISE_EXPONENTS)[int(rng.integers(len(NOISE_EXPONENTS)))])
        audio, info = _noise(n, rng, colour), {"kind": "noise", "colour": colour}
    elif kind == "music":
        audio, music = _music_of(music_pool, n, rng)
        info = {"kind": "music", "pieces": music["pieces"]}
    else:
        raise ValueError(f"unknown non-speech kind {kind!r}; choose from {NONSPEECH_KINDS}")
    return audio * _gain(level), {**info, "level_db": level}


def _gate(n: int, rng: np.random.Generator, sample_rate: int) -> tuple[np.ndarray, dict]:
    """On/off gain (0..1, 5 ms raised-cosine edges) of a tone, and its pattern."""
    pattern = str(TONE_PATTERNS[int(rng.integers(len(TONE_PATTERNS)))])
    if pattern == "continuous" or n < 2:
        return np.ones(n), {"pattern": "continuous"}
    gate = np.zeros(n)
    if pattern == "beeps":
        on_s, off_s = float(rng.uniform(0.05, 1.0)), float(rng.uniform(0.05, 2.0))
        first = int(rng.uniform(0, on_s + off_s) * sample_rate)
        period, length = max(int((on_s + off_s) * sample_rate), 1), max(int(on_s * sample_rate), 1)
        spans = [(s, s + length) for s in range(first - period, n, period)]
        info: dict = {"pattern": "beeps", "on_s": on_s, "off_s": off_s}
    else:  # random: alternating on and off spans of 0.05-3 s each
        spans, at, sounding = [], 0, bool(rng.random() < 0.5)
        while at < n:
            length = int(rng.uniform(0.05, 3.0) * sample_rate)
            if sounding:
                spans.append((at, at + length))
            at, sounding = at + length, not sounding
        info = {"pattern": "random"}
    edge = max(int(EDGE_S * sample_rate), 1)
    ramp = 0.5 - 0.5 * np.cos(np.pi * np.arange(edge) / edge)
    sounding_s = 0.0
    for start, end in spans:
        start, end = max(start, 0), min(end, n)
        if end <= start:
            continue
        gate[start:end] = 1.0
        k = min(edge, (end - start) // 2)
        if k:
            gate[start : start + k] *= ramp[:k] if start > 0 else 1.0
            gate[end - k : end] *= ramp[:k][::-1] if end < n else 1.0
        sounding_s += (end - start) / sample_rate
    if not gate.any():  # a short clip between beeps: let it sound, a tone clip is never empty
        return np.ones(n), {"pattern": "continuous"}
    return gate, {**info, "sounding_s": round(sounding_s, 4)}


def _level_change(n: int, rng: np.random.Generator, sample_rate: int) -> tuple[np.ndarray, dict]:
    """A level envelope in dB over ``n`` samples: a ramp, or 1-3 steps at random times."""
    if rng.random() < 0.5:
        ramp = float(rng.uniform(-NONSPEECH_RAMP_DB, NONSPEECH_RAMP_DB))
        return ramp * np.arange(n) / max(n - 1, 1), {"kind": "ramp", "db": ramp}
    count = min(int(rng.integers(1, 4)), n - 1)
    if count < 1:  # one sample: nowhere to step
        return np.zeros(n), {"kind": "ramp", "db": 0.0}
    at = np.sort(rng.choice(n - 1, size=count, replace=False) + 1)  # distinct samples after the first
    moves = rng.uniform(-NONSPEECH_STEP_DB, NONSPEECH_STEP_DB, count)
    envelope = np.zeros(n)
    for sample, move in zip(at, np.cumsum(moves)):
        envelope[sample:] = move
    return envelope, {"kind": "steps", "at_s": [int(a) / sample_rate for a in at],
                      "db": [float(m) for m in np.cumsum(moves)]}  # fmt: skip
