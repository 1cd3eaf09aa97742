"""From a trained model to timestamps: one forward pass, the head, a decoder.

The token baseline instead generates its JSON answer and parses it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch

from . import decoders
from .config import Config, option, register_config
from .model import FrameStampModel, ModelConfig
from .tasks import parse_answer

SINGLE_DECODERS = ("argmax", "median")
MULTI_DECODERS = ("iterative_mode", "posterior_mode", "posterior_median")


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
    """

    times_s: np.ndarray
    count_estimate: float
    scores: np.ndarray | None = None
    frame_rate_hz: float = 100.0
    text: str | None = None
    parse_error: bool = False


def decode_scores(
    scores: np.ndarray, head_objective: str, frame_rate_hz: float, mode: str,
    n_events: int | None = None, config: DecodeConfig = DecodeConfig(),
) -> Prediction:  # fmt: skip
    """Times from one clip's frame scores.

    Args:
        scores: ``[T]`` log-intensities (``ihp``) or logits (``binary``).
        head_objective: "ihp" or "binary".
        frame_rate_hz: frames per second.
        mode: "one" (a single event) or "all" (every event).
        n_events: number of events when known; None infers it (IHP: round(Lambda)).
    """
    if head_objective == "ihp":
        values = np.exp(np.minimum(scores.astype(np.float64), 80.0))
        count = decoders.expected_count(values)
    else:
        values = 1.0 / (1.0 + np.exp(-scores.astype(np.float64)))
        peaks = decoders.decode_binary_threshold(values, frame_rate_hz, config.binary_threshold, config.tolerance_s)
        count = float(len(peaks))
    if mode == "one":
        times = np.array([_single(values, head_objective, frame_rate_hz, config)])
    elif head_objective == "binary":
        times = peaks if n_events is None else decoders.decode_binary_topn(values, n_events, frame_rate_hz, config.tolerance_s)
    else:
        n = decoders.decode_count(values) if n_events is None else n_events
        times = _multi(values, n, frame_rate_hz, config)
    return Prediction(np.sort(np.asarray(times, dtype=np.float64)), count, scores, frame_rate_hz)


DEFAULT_PRESENCE_THRESHOLD = 0.5  # P(N >= 1) = 0.5, i.e. Lambda >= ln 2


def presence_threshold(config: ModelConfig, given: float | None = None) -> float:
    """The P(present) threshold to decide with: ``given``, else the one ``config``'s checkpoint
    was calibrated with, else 0.5."""
    if given is not None:
        return given
    return DEFAULT_PRESENCE_THRESHOLD if config.presence_threshold is None else config.presence_threshold


def presence_probability(scores: np.ndarray, head_objective: str) -> float:
    """P(at least one event) from frame scores: ``1 - exp(-Lambda)`` (IHP: the count is
    Poisson(Lambda)) or the highest frame probability (binary)."""
    scores = np.asarray(scores, dtype=np.float64)
    if head_objective == "ihp":
        return float(-np.expm1(-np.exp(np.minimum(scores, 80.0)).sum()))
    return float(np.max(1.0 / (1.0 + np.exp(-scores)), initial=0.0))


def _single(values: np.ndarray, head_objective: str, frame_rate_hz: float, config: DecodeConfig) -> float:
    if config.single == "median" and head_objective == "ihp":
        return decoders.decode_median(values, frame_rate_hz)
    return decoders.decode_argmax(values, frame_rate_hz)


def _multi(values: np.ndarray, n: int, frame_rate_hz: float, config: DecodeConfig) -> np.ndarray:
    if config.multi == "posterior_mode":
        return decoders.decode_posterior_mode(values, n, frame_rate_hz)
    if config.multi == "posterior_median":
        return decoders.decode_posterior_median(values, n, frame_rate_hz)
    return decoders.decode_iterative_mode(values, n, frame_rate_hz, config.tolerance_s)


@torch.no_grad()
def predict(
    model: FrameStampModel, questions: Sequence[str], waveforms: Sequence[np.ndarray], modes: Sequence[str],
    n_events: Sequence[int | None] | None = None, config: DecodeConfig = DecodeConfig(),
    boundaries: Sequence[str] | None = None, max_new_tokens: int = 64,
) -> list[Prediction]:  # fmt: skip
    """Answer a batch of questions: frame scores and decoding, or generation for token models.

    Args:
        model: a trained model.
        questions: one question per clip.
        waveforms: float32 mono 16 kHz audio, one per question.
        modes: "one" or "all" per question.
        n_events: known event counts per question (None entries: inferred).
        boundaries: "start"/"end" per question (token baseline: which JSON key holds the time).
        max_new_tokens: generation budget of the token baseline.
    """
    n_events = n_events or [None] * len(questions)
    boundaries = boundaries or ["start"] * len(questions)
    if model.config.head_objective == "none":
        texts = model.backbone.generate(
            model.prepare(questions, waveforms), max_new_tokens, bidirectional_audio=model.config.bidirectional_audio
        )
        parsed = [parse_answer(t, b, m) for t, b, m in zip(texts, boundaries, modes)]
        return [Prediction(np.asarray(p.times_s), float(len(p.times_s)), None, model.frame_rate_hz, t, p.parse_error)
                for p, t in zip(parsed, texts)]  # fmt: skip
    rows = model.score(questions, waveforms)
    return [
        decode_scores(row, model.config.head_objective, model.frame_rate_hz, mode, n, config)
        for row, mode, n in zip(rows, modes, n_events)
    ]
