"""Run a model over deterministic test queries and score it with the paper's protocol.

Every answer comes from the scoring engine users run (:class:`framestamp.inference.engine.Engine`):
clips longer than one window are windowed and stitched, and "k-th occurrence" questions are
counted over the whole clip, exactly as ``framestamp locate`` does.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np
from tqdm.auto import tqdm

from ..data.examples import Clip
from ..model import FrameStampModel
from ..decoding import DecodeConfig, Prediction
from ..inference.engine import Ask, Engine, InferenceConfig
from ..inference.windows import WindowConfig
from ..tasks import Query
from ..tasks.make import make_query
from .metrics import all_events_metrics, single_event_metrics

TOKEN_BUDGET_SLACK = 16


@dataclass
class EvalItem:
    clip: Clip
    query: Query


@dataclass
class EvalResult:
    """Predictions of one model on one query set, their metrics and timings."""

    items: list[EvalItem]
    predictions: list[Prediction]
    metrics: dict
    seconds_per_batch: list[float] = field(default_factory=list)
    batch_size: int = 1

    @property
    def median_seconds_per_query(self) -> float:
        """Median over batches of the wall time per question (batch time / batch size)."""
        per_query = np.array(self.seconds_per_batch) / max(1, self.batch_size)
        return float(np.median(per_query)) if per_query.size else float("nan")


def evaluation_items(
    clips: Sequence[Clip], mode: str, boundary: str = "start", seed: int = 0, limit: int | None = None,
    min_target_s: float | None = None,
) -> list[EvalItem]:  # fmt: skip
    """Deterministic queries: clip i's question depends only on (seed, i)."""
    items = []
    for index, clip in enumerate(clips):
        query = make_query(clip, mode, boundary, np.random.default_rng([seed, index]))
        if query is None or (min_target_s is not None and query.targets_s and query.targets_s[0] < min_target_s):
            continue
        items.append(EvalItem(clip, query))
        if limit is not None and len(items) >= limit:
            break
    return items


def answer_token_budget(model: FrameStampModel, query: Query) -> int:
    """Tokens the reference answer takes, plus slack: the generation cap of the token baseline."""
    return len(model.backbone.tokenizer(query.answer_text(), add_special_tokens=False)["input_ids"]) + TOKEN_BUDGET_SLACK


def ask_of(
    query: Query, known_count: bool = False, max_new_tokens: int | None = None, transcript: tuple[str, ...] | None = None
) -> Ask:  # fmt: skip
    """The engine's question for a query (``known_count``: "all" questions get the true count;
    ``transcript``: the words said, as ``framestamp align --transcript`` passes them)."""
    return Ask(
        query.question, query.mode, query.n_events if known_count and query.mode == "all" else None,
        query.task if query.mode == "one" else None, query.subject, query.k, query.boundary,
        max_new_tokens if max_new_tokens is not None else Ask.max_new_tokens, transcript,
    )  # fmt: skip


def spoken_words(item: EvalItem) -> tuple[str, ...]:
    """The words of an "every word start" question's clip, in the order they are said: its
    transcript as the corpus writes it (one word per reference start)."""
    words = tuple(s.label for s in sorted(item.clip.segments, key=lambda s: s.start_s))
    if item.query.mode != "all" or len(words) != len(item.query.targets_s):
        raise ValueError(f"clip {item.clip.id}: no transcript for this question ({len(words)} words, "
                         f"{len(item.query.targets_s)} starts asked for)")  # fmt: skip
    return words


def run(
    model: FrameStampModel, items: Sequence[EvalItem], batch_size: int = 8,
    decode: DecodeConfig = DecodeConfig(), known_count: bool = False, progress: bool = True,
    windows: WindowConfig = WindowConfig(), transcript: bool = False,
) -> EvalResult:  # fmt: skip
    """Predict every item in batches, timing each batch, and compute the metrics.

    Under ``accelerate launch`` each process predicts a contiguous shard of ``items`` (with the
    model on its own device) and the predictions and timings are gathered, in item order, on
    every process; the metrics are then computed once over all items.

    Args:
        known_count: give "all" queries the true number of events (otherwise inferred).
        windows: how long audio is windowed (unset lengths: the model's own, as for users).
        transcript: give "every word" queries the clip's words, in order (:func:`spoken_words`).
    """
    shard, gather = _shard(list(items))
    engine = Engine(model, InferenceConfig(windows=windows, decode=decode, progress=False))
    predictions, timings = [], []
    batches = [shard[i : i + batch_size] for i in range(0, len(shard), batch_size)]
    for batch in tqdm(batches, desc="evaluate", disable=not progress, leave=False):
        asks = [ask_of(item.query, known_count, answer_token_budget(model, item.query),
                       spoken_words(item) if transcript else None) for item in batch]  # fmt: skip
        started = time.perf_counter()
        predictions += engine.answer([item.clip.audio for item in batch], asks)
        timings.append(time.perf_counter() - started)
    predictions, timings = gather(predictions), gather(timings)
    return EvalResult(list(items), predictions, score(items, predictions), timings, batch_size)


def _shard(items: list) -> tuple[list, Callable[[list], list]]:
    """This process's contiguous share of ``items``, and how to gather per-item lists back.

    One process: all items, and gathering is the identity.
    """
    from accelerate import PartialState

    state = PartialState()
    if state.num_processes == 1:
        return items, lambda values: values
    from accelerate.utils import gather_object

    per_process = -(-len(items) // state.num_processes)
    first = state.process_index * per_process
    return items[first : first + per_process], lambda values: list(gather_object(list(values)))


def score(items: Sequence[EvalItem], predictions: Sequence[Prediction]) -> dict:
    """The paper's metrics for single-occurrence or all-occurrence queries (not mixed)."""
    modes = {item.query.mode for item in items}
    if modes == {"one"}:
        return single_event_metrics(
            [p.times_s[0] if len(p.times_s) else None for p in predictions],
            [item.query.targets_s[0] for item in items],
            [item.clip.duration_s for item in items],
            [p.parse_error for p in predictions],
        )
    if modes == {"all"}:
        return all_events_metrics([list(p.times_s) for p in predictions], [list(i.query.targets_s) for i in items])
    raise ValueError(f"score one mode at a time, got {sorted(modes)}")
