"""From a head's frame scores to an answer: what the scores mean, decoded times, presence.

A head kind is a type found through a registry by the name a checkpoint records
(``ModelConfig.head_objective``):

- ``ihp``: the scores are log-intensities of an inhomogeneous Poisson process. The count of
  events is Poisson(Lambda) with ``Lambda = sum_t exp(z_t)``, so ``P(present) = 1 - exp(-Lambda)``;
  times come from the decoders of :mod:`framestamp.decoders` (argmax or median for one event;
  iterative mode, posterior mode or posterior median for several).
- ``binary``: the scores are logits of "an event starts in this frame"; ``P(present)`` is the
  highest frame probability; times are suppressed peaks (top n when n is known, else every
  peak above ``DecodeConfig.binary_threshold``).
- ``none``: the token baseline; there are no frame scores, the answer is generated as text
  and parsed (:func:`framestamp.tasks.parse_answer`).

The pure numerical decoders live in :mod:`framestamp.decoders`; this module chooses among them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from . import decoders
from .config import Config, option, register_config

SINGLE_DECODERS = ("argmax", "median")
MULTI_DECODERS = ("iterative_mode", "posterior_mode", "posterior_median")
DEFAULT_PRESENCE_THRESHOLD = 0.5  # P(N >= 1) = 0.5, i.e. Lambda >= ln 2
MAX_LOG_INTENSITY = 80.0  # exp(80) ~ 5e34: far above any real intensity, far below float64's overflow
# Presence is decided from local evidence: the expected count in the busiest stretch of this many
# seconds, not over the whole recording, whose faint intensity would add up with its length.
LOCAL_PRESENCE_S = 2.0


@register_config
@dataclass
class DecodeConfig(Config):
    """How frame scores become times."""

    single: str = option("argmax", "one event: argmax (frame centre) or median of the intensity")
    multi: str = option("iterative_mode", "several events: iterative_mode, posterior_mode or posterior_median")
    tolerance_s: float = option(0.02, "smoothing / suppression half-width of the peak decoders")
    binary_threshold: float = option(0.5, "binary head: probability above which a peak is an event")

    def __post_init__(self):
        if self.single not in SINGLE_DECODERS:
            raise ValueError(f"single decoder must be one of {SINGLE_DECODERS}, got {self.single!r}")
        if self.multi not in MULTI_DECODERS:
            raise ValueError(f"multi decoder must be one of {MULTI_DECODERS}, got {self.multi!r}")


@dataclass
class Prediction:
    """Answer to one question about one clip.

    Attributes:
        times_s: predicted times in seconds, sorted.
        count_estimate: expected number of events (IHP: integrated intensity; binary: peaks
            above threshold; token: number of parsed times).
        scores: per-frame head outputs (log-intensity or logit), None for the token baseline.
        frame_rate_hz: frames per second of ``scores``.
        text: the generated answer (token baseline), else None.
        parse_error: the generated answer held no time (token baseline).
        presence_probability: P(the thing occurs), from local evidence (frame models) or 1.0
            when a token answer parsed (0.0 when it did not).
    """

    times_s: np.ndarray
    count_estimate: float
    scores: np.ndarray | None = None
    frame_rate_hz: float = 100.0
    text: str | None = None
    parse_error: bool = False
    presence_probability: float = 1.0


class HeadKind:
    """What a head's frame scores mean and how answers are decoded from them."""

    name: ClassVar[str]
    generates_text: ClassVar[bool] = False  # answers are generated, not decoded from frame scores

    def curve(self, scores: np.ndarray) -> np.ndarray:
        """Per-frame value to plot and decode from: intensity (events per frame) or probability."""
        raise NotImplementedError

    def presence_probability(self, scores: np.ndarray, frame_rate_hz: float) -> float:
        """P(the asked thing occurs), from the busiest ``LOCAL_PRESENCE_S`` of one question's frame scores."""
        raise NotImplementedError

    def decode(
        self, scores: np.ndarray, frame_rate_hz: float, mode: str, n_events: int | None = None,
        config: DecodeConfig = DecodeConfig(),
    ) -> Prediction:  # fmt: skip
        """Times of one clip's frame scores.

        Args:
            scores: ``[T]`` head outputs.
            frame_rate_hz: frames per second.
            mode: "one" (a single event) or "all" (every event).
            n_events: number of events when known; None infers it.
        """
        raise NotImplementedError


_HEAD_KINDS: dict[str, HeadKind] = {}


def register_head_kind(cls: type[HeadKind]) -> type[HeadKind]:
    """Class decorator: make ``cls`` findable by :func:`head_kind` under ``cls.name``."""
    _HEAD_KINDS[cls.name] = cls()
    return cls


def head_kind(name: str) -> HeadKind:
    """The head kind a checkpoint's ``head_objective`` names (``ValueError`` if unknown)."""
    if name not in _HEAD_KINDS:
        raise ValueError(f"head_objective must be one of {tuple(_HEAD_KINDS)}, got {name!r}")
    return _HEAD_KINDS[name]


def head_kind_names() -> tuple[str, ...]:
    return tuple(_HEAD_KINDS)


def _intensity(scores: np.ndarray) -> np.ndarray:
    return np.exp(np.minimum(np.asarray(scores, dtype=np.float64), MAX_LOG_INTENSITY))


def _sigmoid(scores: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.asarray(scores, dtype=np.float64)))


@register_head_kind
class PoissonHead(HeadKind):
    """Log-intensities of an inhomogeneous Poisson process (the IHP objective)."""

    name = "ihp"

    def curve(self, scores: np.ndarray) -> np.ndarray:
        return _intensity(scores)

    def presence_probability(self, scores: np.ndarray, frame_rate_hz: float) -> float:
        """P(N >= 1) = 1 - exp(-Lambda), Lambda the expected count of the busiest stretch of
        ``LOCAL_PRESENCE_S`` (the whole row when it is shorter)."""
        return float(-np.expm1(-local_count(_intensity(scores), frame_rate_hz)))

    def decode(self, scores, frame_rate_hz, mode, n_events=None, config=DecodeConfig()) -> Prediction:
        values = _intensity(scores)
        count = decoders.expected_count(values)
        if mode == "one":
            single = decoders.decode_median if config.single == "median" else decoders.decode_argmax
            times = np.array([single(values, frame_rate_hz)])
        else:
            times = self.decode_n(values, decoders.decode_count(values) if n_events is None else n_events,
                                  frame_rate_hz, config, exact=n_events is not None)  # fmt: skip
        return _prediction(times, count, scores, frame_rate_hz, self.presence_probability(scores, frame_rate_hz))

    @staticmethod
    def decode_n(values: np.ndarray, n: int, frame_rate_hz: float, config: DecodeConfig, exact: bool) -> np.ndarray:
        """``n`` event times from intensities; ``exact``: exactly ``n`` even when the peak decoder
        runs out of unsuppressed frames (then the posterior median, which always gives ``n``)."""
        if config.multi == "posterior_mode":
            return decoders.decode_posterior_mode(values, n, frame_rate_hz)
        if config.multi == "posterior_median":
            return decoders.decode_posterior_median(values, n, frame_rate_hz)
        times = decoders.decode_iterative_mode(values, n, frame_rate_hz, config.tolerance_s)
        if exact and len(times) < n:
            return decoders.decode_posterior_median(values, n, frame_rate_hz)
        return times


@register_head_kind
class BinaryHead(HeadKind):
    """Logits of a binary frame classifier (an event starts in this frame or not)."""

    name = "binary"

    def curve(self, scores: np.ndarray) -> np.ndarray:
        return _sigmoid(scores)

    def presence_probability(self, scores: np.ndarray, frame_rate_hz: float) -> float:
        """The highest frame probability: local by nature."""
        return float(np.max(_sigmoid(scores), initial=0.0))

    def decode(self, scores, frame_rate_hz, mode, n_events=None, config=DecodeConfig()) -> Prediction:
        values = _sigmoid(scores)
        peaks = decoders.decode_binary_threshold(values, frame_rate_hz, config.binary_threshold, config.tolerance_s)
        if mode == "one":
            times = np.array([decoders.decode_argmax(values, frame_rate_hz)])
        elif n_events is None:
            times = peaks
        else:
            times = decoders.decode_binary_topn(values, n_events, frame_rate_hz, config.tolerance_s)
        return _prediction(times, float(len(peaks)), scores, frame_rate_hz,
                           self.presence_probability(scores, frame_rate_hz))


@register_head_kind
class GeneratedAnswer(HeadKind):
    """The token baseline: no frame scores; the model writes its answer as JSON text."""

    name = "none"
    generates_text = True

    def curve(self, scores):
        raise TypeError("a token baseline has no frame scores")

    presence_probability = decode = curve


def local_count(intensity: np.ndarray, frame_rate_hz: float, window_s: float = LOCAL_PRESENCE_S) -> float:
    """The largest sum of ``intensity`` over ``window_s`` seconds of consecutive frames (the whole
    sum when the row is shorter)."""
    width = max(1, int(round(window_s * frame_rate_hz)))
    if intensity.size <= width:
        return float(intensity.sum())
    running = np.concatenate([[0.0], np.cumsum(intensity, dtype=np.float64)])
    return float(np.max(running[width:] - running[:-width]))


def _prediction(times, count: float, scores, frame_rate_hz: float, presence: float) -> Prediction:
    return Prediction(np.sort(np.asarray(times, dtype=np.float64)), count, scores, frame_rate_hz,
                      presence_probability=presence)  # fmt: skip


def presence_threshold(config, given: float | None = None) -> float:
    """The P(present) threshold to decide with: ``given``, else the one ``config`` (a
    ``ModelConfig``) was calibrated with, else 0.5."""
    if given is not None:
        return given
    return DEFAULT_PRESENCE_THRESHOLD if config.presence_threshold is None else config.presence_threshold
