"""Where a model's hidden states place the asked word: its match probe read as an answer.

A model trained with the match loss (``TrainConfig.aux_match_weight``) carries a linear probe on
the hidden states the head reads, trained to say at every audio token whether the asked subject
is heard there. The probe is never used to answer; read as one, it tells apart two ways a model
can fail. A token baseline writes its time as text: when it answers near chance while its probe
finds the word, its thinker matched the question to the audio and only writing the time failed.

Reading: the runs of audio tokens where the probe's logit is above 0; the answer to "when is the
k-th <subject> said" is the middle of the first token of the k-th run (a token spans 40 ms at 25
tokens per second, so the reading is at best within 20 ms); no such run, no answer.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch

from ..errors import ConfigError
from ..model import FrameStampModel
from .metrics import jsonable, single_event_metrics
from .run import EvalItem


def run_starts(positive: np.ndarray) -> np.ndarray:
    """Indices where a run of True begins in a 1-d boolean array."""
    positive = np.asarray(positive, dtype=bool)
    return np.flatnonzero(positive & ~np.concatenate(([False], positive[:-1])))


@torch.no_grad()
def probe_answers(model: FrameStampModel, items: Sequence[EvalItem], batch_size: int = 8) -> list[float | None]:
    """The probe's answer (seconds) to each single-occurrence question, None where it finds too few runs."""
    if model.match_probe is None:
        raise ConfigError("this model has no match probe (it was trained without the match loss)")
    model.eval()
    rate = model.backbone.token_rate_hz
    answers: list[float | None] = []
    for first in range(0, len(items), batch_size):
        batch = items[first : first + batch_size]
        inputs = model.prepare([i.query.question for i in batch], [i.clip.audio for i in batch])
        out = model(inputs).backbone  # the hidden states the head (and the probe) read
        probe = model.match_probe
        logits = probe(out.audio_hidden.to(probe.weight.dtype)).squeeze(-1).float()
        for row, item in enumerate(batch):
            starts = run_starts((logits[row][out.audio_mask[row]] > 0).cpu().numpy())
            k = item.query.k
            answers.append(float((starts[k - 1] + 0.5) / rate) if len(starts) >= k else None)
    return answers


def probe_reading(model: FrameStampModel, items: Sequence[EvalItem], batch_size: int = 8) -> dict:
    """Single-occurrence metrics of the probe's answers (``metrics.single_event_metrics``; no answer
    counts as missing), and the share of questions it answered."""
    answers = probe_answers(model, items, batch_size)
    metrics = single_event_metrics(answers, [i.query.targets_s[0] for i in items], [i.clip.duration_s for i in items])
    return jsonable(metrics | {"answered": float(np.mean([a is not None for a in answers])) if answers else float("nan")})
