"""Does a model say "not there"? Present and absent single-occurrence questions, scored.

Each clip gets two questions: the one the single-occurrence evaluation asks (its answer is in
the clip) and one whose answer is not (``tasks.make.absent_query``). The model's P(present) is the
engine's (:class:`framestamp.inference.engine.Engine`): ``1 - exp(-Lambda)`` (IHP), the highest
frame probability (binary) or, for the token baseline, whether its answer holds a time;
"present" is decided at ``threshold``.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
from scipy.stats import mannwhitneyu
from tqdm.auto import tqdm

from ..data.examples import Clip
from ..model import FrameStampModel
from ..decoding import DEFAULT_PRESENCE_THRESHOLD
from ..inference.engine import Engine, InferenceConfig
from ..tasks.make import absent_query, make_query, subjects_of
from .run import EvalItem, answer_token_budget, ask_of


def presence_items(
    clips: Sequence[Clip], boundary: str = "start", seed: int = 0, limit: int | None = None
) -> list[EvalItem]:  # fmt: skip
    """A present and an absent question per clip, in that order; clip i's depend only on (seed, i).

    The present one is the question ``evaluation_items`` asks about clip i. ``limit`` caps the
    number of questions (an even number: pairs are kept whole).
    """
    subjects = subjects_of(clips)
    items: list[EvalItem] = []
    for index, clip in enumerate(clips):
        if limit is not None and len(items) + 2 > limit:
            break
        rng = np.random.default_rng([seed, index])
        present = make_query(clip, "one", boundary, rng)
        absent = absent_query(clip, boundary, rng, subjects) if present is not None else None
        if absent is not None:
            items += [EvalItem(clip, present), EvalItem(clip, absent)]
    return items


def presence_metrics(
    present: Sequence[bool], probability: Sequence[float], threshold: float = DEFAULT_PRESENCE_THRESHOLD
) -> dict:  # fmt: skip
    """How well P(present) tells present from absent questions.

    Returns:
        ``present_recall`` (present questions called present), ``absent_recall`` (absent ones
        called absent), their mean ``balanced_accuracy``, and ``auc``: the chance that a present
        question gets a higher P(present) than an absent one (ties count half; threshold-free;
        NaN without both kinds).
    """
    present = np.asarray(present, dtype=bool)
    probability = np.asarray(probability, dtype=np.float64)
    called = probability >= threshold
    present_recall = float(called[present].mean()) if present.any() else float("nan")
    absent_recall = float((~called[~present]).mean()) if (~present).any() else float("nan")
    auc = float("nan")
    if present.any() and (~present).any():
        u = mannwhitneyu(probability[present], probability[~present], alternative="two-sided").statistic
        auc = float(u / (present.sum() * (~present).sum()))
    return {
        "threshold": threshold, "n_present": int(present.sum()), "n_absent": int((~present).sum()),
        "present_recall": present_recall, "absent_recall": absent_recall,
        "balanced_accuracy": (present_recall + absent_recall) / 2, "auc": auc,
    }  # fmt: skip


# Thresholds a presence threshold is fitted among: 0.5 and a grid of 0.001 steps.
THRESHOLD_GRID = np.unique(np.concatenate([[DEFAULT_PRESENCE_THRESHOLD], np.linspace(0.001, 0.999, 999)]))


def best_threshold(present: Sequence[bool], decisions: np.ndarray, thresholds: Sequence[float]) -> float:
    """The threshold with the best balanced accuracy, given ``decisions[i, j]`` ("present" for
    question i at ``thresholds[j]``); among equally good ones, the nearest to the default (0.5)."""
    present, decisions = np.asarray(present, dtype=bool), np.asarray(decisions, dtype=bool)
    thresholds = np.asarray(thresholds, dtype=np.float64)
    recall_present = decisions[present].mean(axis=0) if present.any() else np.full(thresholds.size, np.nan)
    recall_absent = (~decisions[~present]).mean(axis=0) if (~present).any() else np.full(thresholds.size, np.nan)
    balanced = np.nan_to_num((recall_present + recall_absent) / 2, nan=-1.0)
    order = np.lexsort((np.abs(thresholds - DEFAULT_PRESENCE_THRESHOLD), -balanced))
    return float(thresholds[order[0]])


def presence_probabilities(
    model: FrameStampModel, items: Sequence[EvalItem], batch_size: int = 8, progress: bool = True
) -> list[float]:  # fmt: skip
    """P(present) of every question of ``items``."""
    engine = Engine(model, InferenceConfig(progress=False))
    probabilities = []
    batches = [items[i : i + batch_size] for i in range(0, len(items), batch_size)]
    for batch in tqdm(batches, desc="presence", disable=not progress, leave=False):
        asks = [ask_of(i.query, max_new_tokens=answer_token_budget(model, i.query)) for i in batch]
        probabilities += [p.presence_probability for p in engine.answer([i.clip.audio for i in batch], asks)]
    return probabilities


def run_presence(
    model: FrameStampModel, items: Sequence[EvalItem], batch_size: int = 8,
    threshold: float = DEFAULT_PRESENCE_THRESHOLD,
    progress: bool = True,
) -> dict:  # fmt: skip
    """Predict every question of ``items`` and score the presence decisions."""
    probabilities = presence_probabilities(model, items, batch_size, progress)
    return presence_metrics(_present(items), probabilities, threshold)


def fit_presence_threshold(model: FrameStampModel, items: Sequence[EvalItem], batch_size: int = 8) -> float:
    """The threshold of ``THRESHOLD_GRID`` at which the engine's own "present" decisions about
    ``items`` (held-out present and absent questions) have the best balanced accuracy."""
    engine = Engine(model, InferenceConfig(progress=False))
    decisions = []
    for first in range(0, len(items), batch_size):
        batch = items[first : first + batch_size]
        asks = [ask_of(i.query, max_new_tokens=answer_token_budget(model, i.query)) for i in batch]
        decisions.append(engine.presence_at([i.clip.audio for i in batch], asks, THRESHOLD_GRID))
    return best_threshold(_present(items), np.concatenate(decisions), THRESHOLD_GRID)


def _present(items: Sequence[EvalItem]) -> list[bool]:
    return [item.query.n_events > 0 for item in items]
