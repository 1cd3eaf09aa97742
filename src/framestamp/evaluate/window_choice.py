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
from .metrics import single_event_metrics_by_group
from .run import EvalItem, evaluation_items, run

CANDIDATES_S = (10.0, 15.0, 20.0, 30.0)
LONG_SECONDS = (20.0, 60.0)
TOLERANCE_S = 0.05


def window_items(dev_clips: Sequence[Clip], n: int, seed: int = 0,
                 seconds: tuple[float, float] = LONG_SECONDS) -> list[EvalItem]:  # fmt: skip
    """``n // 2`` single-occurrence questions about dev clips, then ``n // 2`` about recordings
    of dev clips joined to a length log-uniform in ``seconds``; item i depends only on (seed, i)."""
    from .robustness import join_clips

    if dev_clips and dev_clips[0].subset == "speakers":
        raise ValueError("a window is not chosen on speaker clips: "
                         "joined clips would give one 'speaker 1' several voices")
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
    groups = ["long" if item.clip.provenance.get("joined") is not None else "short" for item in items]
    record: dict = {"n": len(items), "n_long": groups.count("long"), "tolerance_s": TOLERANCE_S, "candidates": {}}
    best: tuple[float, float] | None = None
    for window_s in sorted(candidates_s, reverse=True):
        result = run(model, items, progress=False, windows=WindowConfig(window_s=window_s))
        predictions = result.predictions
        by_group = single_event_metrics_by_group(
            [p.times_s[0] if len(p.times_s) else None for p in predictions], [i.query.targets_s[0] for i in items],
            [i.clip.duration_s for i in items], groups, [p.parse_error for p in predictions],
        )  # fmt: skip
        accuracy = float(result.metrics["accuracy"][TOLERANCE_S])
        record["candidates"][f"{window_s:g}"] = {"accuracy": accuracy} | {
            group: float(by_group[group]["accuracy"][TOLERANCE_S]) if group in by_group else None
            for group in ("short", "long")}  # fmt: skip
        if best is None or accuracy > best[1]:
            best = (window_s, accuracy)
    record["window_s"] = best[0]
    return best[0], record
