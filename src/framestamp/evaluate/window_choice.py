"""Which window length a model answers best with: chosen on held-out recordings, short and long.

A model hears long audio one window at a time (:mod:`framestamp.inference.windows`). A thinker
trained on clips of up to 20 s may answer worse about audio placed later in a 30 s window than
about the same audio in a shorter one, but shorter windows also cut more of its clips and give
each question more windows to be wrongly "present" in. Which length is best is measured, not
assumed: single-occurrence questions on the dev split's clips and on recordings of 20-60 s made
of dev clips joined end to end, half each, asked through the engine with each candidate window;
the window with the best accuracy within 50 ms over both halves wins (ties: the longer window,
which costs fewer forward passes).
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np

from ..data.examples import Clip
from ..inference.windows import WindowConfig
from ..model import FrameStampModel
from ..tasks.make import make_query
from .run import EvalItem, evaluation_items, run

CANDIDATES_S = (10.0, 15.0, 20.0, 30.0)
LONG_SECONDS = (20.0, 60.0)
TOLERANCE = "0.05"


def window_items(dev_clips: Sequence[Clip], n: int, seed: int = 0,
                 seconds: tuple[float, float] = LONG_SECONDS) -> list[EvalItem]:  # fmt: skip
    """``n // 2`` single-occurrence questions about dev clips, then ``n // 2`` about recordings
    of dev clips joined to a length log-uniform in ``seconds``; item i depends only on (seed, i)."""
    from .robustness import join_clips

    if dev_clips and dev_clips[0].subset == "speakers":
        raise ValueError("a window is not chosen on speaker clips: joined clips would give one 'speaker 1' several voices")
    items = evaluation_items(dev_clips, "one", seed=seed, limit=n // 2)
    for index in range(10 * n):
        if len(items) >= 2 * (n // 2):
            break
        rng = np.random.default_rng([seed, index, 14])
        clip = join_clips(dev_clips, rng, math.exp(rng.uniform(*np.log(seconds))), f"window-{index}")
        query = make_query(clip, "one", "start", rng)
        if query is not None:
            items.append(EvalItem(clip, query))
    return items


def choose_window(model: FrameStampModel, items: Sequence[EvalItem],
                  candidates_s: Sequence[float] = CANDIDATES_S) -> tuple[float, dict]:  # fmt: skip
    """The candidate window (seconds) with the best accuracy within 50 ms on ``items``, and a
    record of every candidate's accuracy (all items, and short clips and long recordings apart)."""
    is_long = np.array([item.clip.provenance.get("joined") is not None for item in items])
    record: dict = {"n": len(items), "n_long": int(is_long.sum()), "tolerance_s": float(TOLERANCE), "candidates": {}}
    best: tuple[float, float] | None = None
    for window_s in sorted(candidates_s, reverse=True):
        result = run(model, items, progress=False, windows=WindowConfig(window_s=window_s))
        correct = _correct(items, result.predictions)
        accuracy = float(correct.mean())
        record["candidates"][f"{window_s:g}"] = {"accuracy": accuracy, "short": _mean(correct[~is_long]),
                                                 "long": _mean(correct[is_long])}  # fmt: skip
        if best is None or accuracy > best[1]:
            best = (window_s, accuracy)
    record["window_s"] = best[0]
    return best[0], record


def _mean(values: np.ndarray) -> float | None:
    return float(values.mean()) if values.size else None


def _correct(items: Sequence[EvalItem], predictions) -> np.ndarray:
    tolerance = float(TOLERANCE)
    return np.array([
        len(p.times_s) > 0 and abs(float(p.times_s[0]) - item.query.targets_s[0]) <= tolerance
        for item, p in zip(items, predictions)
    ])  # fmt: skip
