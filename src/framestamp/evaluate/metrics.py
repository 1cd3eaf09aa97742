"""The paper's evaluation protocol: accuracy within tolerances, absolute errors, event matching.

Single-event queries ("when is the 3rd 'apple' said") have one reference time and at most one
predicted time. All-events queries ("the start of every word") have a list of each: predictions
are first matched one-to-one to references (Hungarian L1, accuracy-optimal, greedy or
positional), then the matched pairs are scored, and extra or missing predictions count against.
Results can be split by number of events or by reference time (length generalisation).

Every time is in seconds. Pure numpy; no model code.
"""

from __future__ import annotations

import bisect
import heapq
import math
from collections.abc import Callable, Sequence

import numpy as np

TOLERANCES_S = (0.005, 0.01, 0.02, 0.04, 0.05, 0.08, 0.1, 0.2)
# Errors computed in float land a hair above round tolerances (|1.05 - 1.0| = 0.05000000000000004);
# this slack keeps such ties inside the tolerance.
TIE_EPSILON_S = 1e-9
EVENT_COUNT_BUCKETS = ("0", "1-5", "6-10", "11-15", "16-20", "21-25", "26+")
TIME_BUCKET_EDGES_S = (0.0, 4.0, 8.0, 12.0, 16.0, 20.0, 30.0, 45.0, 60.0, math.inf)
MATCHINGS = ("hungarian_l1", "accuracy_optimal", "greedy", "positional")

Pairs = tuple[np.ndarray, np.ndarray]  # (prediction indices, reference indices), int64


# ---------------------------------------------------------------- single-event queries


def single_event_abs_errors(
    predicted_s: Sequence[float | None],
    reference_s: Sequence[float],
    clip_duration_s: Sequence[float],
    parse_error: Sequence[bool] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Absolute error of each single-event answer, with the paper's penalty for failed answers.

    A missing prediction (None or NaN) or a parse error scores half the clip duration.

    Args:
        predicted_s: predicted time per query in seconds, None where the model gave none.
        reference_s: reference time per query, seconds.
        clip_duration_s: duration of each query's clip, seconds.
        parse_error: per query, True where the answer could not be parsed (overrides any value).

    Returns:
        ``(abs_error_s, failed)``: float64 errors in seconds and the bool mask of penalised queries.
    """
    reference = np.asarray(reference_s, dtype=np.float64).reshape(-1)
    duration = np.asarray(clip_duration_s, dtype=np.float64).reshape(-1)
    predicted = np.array([np.nan if p is None else p for p in predicted_s], dtype=np.float64)
    parse = _parse_mask(parse_error, len(reference))
    if not len(predicted) == len(duration) == len(parse) == len(reference):
        raise ValueError(
            f"lengths differ: {len(predicted)} predictions, {len(reference)} references, "
            f"{len(duration)} durations, {len(parse)} parse flags"
        )
    failed = parse | np.isnan(predicted)
    return np.where(failed, duration / 2, np.abs(predicted - reference)), failed


def single_event_metrics(
    predicted_s: Sequence[float | None],
    reference_s: Sequence[float],
    clip_duration_s: Sequence[float],
    parse_error: Sequence[bool] | None = None,
    tolerances_s: Sequence[float] = TOLERANCES_S,
) -> dict:
    """Accuracy within each tolerance and absolute-error statistics of single-event queries.

    A missing prediction or a parse error has absolute error = half the clip duration (it
    enters the MAE and median) and is never correct, even where half the clip is within a
    tolerance. Inputs as in :func:`single_event_abs_errors`.

    ``mae_s`` is the paper's: a parsed answer counts at its value however far off, so one absurd
    time (a run of digits read as 1e24 s) swamps it. ``mae_capped_s`` is the same mean with each
    absolute error capped at its clip's duration, no answer counting worse than the furthest
    time inside the clip; penalised queries keep their half-duration error.

    Returns:
        dict with ``n`` (queries), ``accuracy`` ({tolerance_s: fraction with |error| <= tolerance}),
        ``mae_s``, ``mae_capped_s`` and ``median_ae_s`` (seconds), ``parse_error_rate`` and
        ``missing_rate`` (fraction of queries with no prediction and no parse error). NaN where
        ``n`` is 0.
    """
    abs_error, failed = single_event_abs_errors(predicted_s, reference_s, clip_duration_s, parse_error)
    parse = _parse_mask(parse_error, len(abs_error))
    duration = np.asarray(clip_duration_s, dtype=np.float64).reshape(-1)
    return {
        "n": len(abs_error),
        "accuracy": {
            tol: _mean(~failed & (abs_error <= tol + TIE_EPSILON_S)) for tol in tolerances_s
        },
        "mae_s": _mean(abs_error),
        "mae_capped_s": _mean(np.minimum(abs_error, duration)),
        "median_ae_s": float(np.median(abs_error)) if len(abs_error) else math.nan,
        "parse_error_rate": _mean(parse),
        "missing_rate": _mean(failed & ~parse),
        "chance_accuracy": uniform_guess_accuracy(reference_s, duration, tolerances_s),
    }


def uniform_guess_accuracy(
    reference_s: Sequence[float], clip_duration_s: Sequence[float], tolerances_s: Sequence[float] = TOLERANCES_S
) -> dict:  # fmt: skip
    """Chance: the expected accuracy of a guess drawn uniformly over each clip, {tolerance_s: share}.

    For a reference at ``r`` in a clip of ``D`` seconds, a uniform guess lands within ``tol`` with
    probability ``(min(r + tol, D) - max(r - tol, 0)) / D``; the mean over queries is what a model
    that heard nothing would score by guessing, the floor a token baseline is "near chance" of.
    """
    reference = np.asarray(reference_s, dtype=np.float64).reshape(-1)
    duration = np.asarray(clip_duration_s, dtype=np.float64).reshape(-1)
    chance = {}
    for tol in tolerances_s:
        inside = np.minimum(reference + tol, duration) - np.maximum(reference - tol, 0.0)
        chance[tol] = _mean(np.clip(inside, 0.0, None) / np.maximum(duration, 1e-9))
    return chance


# ---------------------------------------------------------------- matching


def match_hungarian_l1(pred: Sequence[float], ref: Sequence[float]) -> Pairs:
    """L1-optimal one-to-one matching: min(n_pred, n_ref) pairs minimising the total |p - r|.

    Same optimum as ``scipy.optimize.linear_sum_assignment`` on the n_pred x n_ref matrix of
    |p - r|, without building it. On a line an optimal matching never needs to cross (for
    p1 < p2 and r1 < r2, |p1 - r1| + |p2 - r2| <= |p1 - r2| + |p2 - r1|), so it is the best
    order-preserving matching, found by a dynamic programme over the sorted times. With
    m = min(n_pred, n_ref) and n = max: O(m (n - m + 1)) time, and as many bytes of memory for
    n - m < 256 (two or four bytes each above). Equal counts reduce to positional matching in
    O(n log n); 2,500 against 5,000 events take about 0.1 s on one core. Among several
    L1-optimal matchings the order-preserving one is returned.

    Returns:
        ``(pred_index, ref_index)``: int64 indices into the inputs as given, ordered by reference index.
    """
    pred_sorted, pred_order = _sorted(pred)
    ref_sorted, ref_order = _sorted(ref)
    if len(pred_sorted) <= len(ref_sorted):
        pred_rank = np.arange(len(pred_sorted))
        ref_rank = _order_preserving_l1(pred_sorted, ref_sorted)
    else:
        ref_rank = np.arange(len(ref_sorted))
        pred_rank = _order_preserving_l1(ref_sorted, pred_sorted)
    return _pairs(pred_order[pred_rank], ref_order[ref_rank])


def _order_preserving_l1(short: np.ndarray, long: np.ndarray) -> np.ndarray:
    """Rank in sorted ``long`` given to each sorted ``short`` time, minimising the total |s - l|."""
    m, slack = len(short), len(long) - len(short)
    if m == 0 or slack == 0:
        return np.arange(m)
    # short[i] takes long[i + k] for an offset k in [0, slack]; offsets never decrease along i.
    offsets = np.arange(slack + 1)
    back = np.empty((m, slack + 1), dtype=np.min_scalar_type(slack))
    cost = np.zeros(slack + 1)
    for i in range(m):
        prefix_min = np.minimum.accumulate(cost)
        back[i] = np.maximum.accumulate(np.where(cost == prefix_min, offsets, 0))
        cost = prefix_min + np.abs(short[i] - long[i : i + slack + 1])
    rank = np.empty(m, dtype=np.int64)
    k = int(np.argmin(cost))
    for i in range(m - 1, -1, -1):
        rank[i] = i + k
        k = int(back[i, k])
    return rank


def match_accuracy_optimal(pred: Sequence[float], ref: Sequence[float], tol_s: float) -> Pairs:
    """Largest set of one-to-one pairs with |p - r| <= tol_s (accuracy-optimal at one tolerance).

    Same number of pairs as ``scipy.optimize.linear_sum_assignment`` on the 0/1 cost
    1[|p - r| > tol_s], found in one sweep over the sorted times: the earliest unmatched
    prediction and reference are paired when within the tolerance, otherwise the earlier of
    the two cannot match anything later and is dropped (an exchange argument shows this is
    optimal). O(n log n). Only the pairs within the tolerance are returned.

    Returns:
        ``(pred_index, ref_index)``: int64 indices into the inputs as given, ordered by reference index.
    """
    pred_sorted, pred_order = _sorted(pred)
    ref_sorted, ref_order = _sorted(ref)
    p, r = pred_sorted.tolist(), ref_sorted.tolist()
    limit = tol_s + TIE_EPSILON_S
    i = j = 0
    pred_rank, ref_rank = [], []
    while i < len(p) and j < len(r):
        gap = p[i] - r[j]
        if abs(gap) <= limit:
            pred_rank.append(i)
            ref_rank.append(j)
            i, j = i + 1, j + 1
        elif gap < 0:
            i += 1
        else:
            j += 1
    return _pairs(pred_order[pred_rank], ref_order[ref_rank])


def match_greedy(pred: Sequence[float], ref: Sequence[float]) -> Pairs:
    """Greedy matching: repeatedly pair the closest unmatched prediction and reference.

    On a line a closest unmatched pair is always adjacent in the merged sorted order of the
    remaining times, so a heap of adjacent prediction-reference neighbours gives each step in
    O(log n): O(n log n) overall, no n_pred x n_ref matrix. Equal distances go to the earlier pair.

    Returns:
        ``(pred_index, ref_index)``: int64 indices into the inputs as given, ordered by reference index.
    """
    pred_v = np.asarray(pred, dtype=np.float64).reshape(-1)
    ref_v = np.asarray(ref, dtype=np.float64).reshape(-1)
    order = np.argsort(np.concatenate([pred_v, ref_v]), kind="stable")
    times = np.concatenate([pred_v, ref_v])[order].tolist()
    is_ref = (order >= len(pred_v)).tolist()
    n = len(times)
    prev, nxt, alive = list(range(-1, n - 1)), list(range(1, n + 1)), [True] * n
    heap = [(times[a + 1] - times[a], a, a + 1) for a in range(n - 1) if is_ref[a] != is_ref[a + 1]]
    heapq.heapify(heap)
    matched = []
    while heap:
        _, a, b = heapq.heappop(heap)
        if not (alive[a] and alive[b]):
            continue  # stale: one side was matched since this pair was pushed
        alive[a] = alive[b] = False
        matched.append((a, b) if is_ref[b] else (b, a))
        left, right = prev[a], nxt[b]
        if left >= 0:
            nxt[left] = right
        if right < n:
            prev[right] = left
        if left >= 0 and right < n and is_ref[left] != is_ref[right]:
            heapq.heappush(heap, (times[right] - times[left], left, right))
    positions = np.array(matched, dtype=np.int64).reshape(-1, 2)
    return _pairs(order[positions[:, 0]], order[positions[:, 1]] - len(pred_v))


def match_positional(pred: Sequence[float], ref: Sequence[float]) -> Pairs:
    """The i-th earliest prediction with the i-th earliest reference, for i < min(n_pred, n_ref).

    Returns:
        ``(pred_index, ref_index)``: int64 indices into the inputs as given, ordered by reference index.
    """
    _, pred_order = _sorted(pred)
    _, ref_order = _sorted(ref)
    k = min(len(pred_order), len(ref_order))
    return _pairs(pred_order[:k], ref_order[:k])


_MATCHERS: dict[str, Callable[[Sequence[float], Sequence[float]], Pairs]] = {
    "hungarian_l1": match_hungarian_l1,
    "greedy": match_greedy,
    "positional": match_positional,
}


# ---------------------------------------------------------------- all-events queries


def all_events_metrics(
    predictions: Sequence[Sequence[float] | None],
    references: Sequence[Sequence[float]],
    matching: str = "hungarian_l1",
    tolerances_s: Sequence[float] = TOLERANCES_S,
) -> dict:
    """Accuracy, precision, recall, F1 and MAE of all-events queries after one-to-one matching.

    For query q with P_q predictions, R_q references and h_q(tol) matched pairs within tol:

    - ``accuracy[tol]`` (pooled, the number to report) = sum_q h_q / sum_q max(P_q, R_q).
      Every extra prediction and every missed reference costs one slot of the denominator.
    - ``accuracy_query_mean[tol]`` = mean over queries of h_q / max(P_q, R_q), each query
      weighted equally whatever its number of events.
    - ``precision[tol]`` = sum h / sum P, ``recall[tol]`` = sum h / sum R,
      ``f1[tol]`` = 2 sum h / (sum P + sum R); pooled over queries.

    Queries with neither predictions nor references have nothing to score: they count in
    ``count_accuracy`` only. ``mae_s`` and ``median_ae_s`` are over all matched pairs (seconds);
    with ``matching="accuracy_optimal"`` the matching is recomputed at each tolerance for the
    hits, and the errors come from the L1-optimal matching, the accuracy-optimal one having
    no single set of pairs.

    Args:
        predictions: predicted times per query, seconds (None = no answer, scored as empty).
        references: reference times per query, seconds.
        matching: one of ``MATCHINGS``.
        tolerances_s: tolerances in seconds.

    Returns:
        dict with those keys (the per-tolerance ones map tolerance_s -> value), ``n_queries``,
        ``n_predicted``, ``n_reference``, ``n_matched`` (pairs behind the MAE), ``count_accuracy``
        (fraction of queries with P_q == R_q) and ``count_mae`` (mean |P_q - R_q|). NaN where undefined.
    """
    if matching not in MATCHINGS:
        raise ValueError(f"unknown matching {matching!r}; choose one of {MATCHINGS}")
    if len(predictions) != len(references):
        raise ValueError(f"{len(predictions)} predictions for {len(references)} references")
    n_pred = np.array([0 if p is None else len(p) for p in predictions], dtype=np.int64)
    n_ref = np.array([len(r) for r in references], dtype=np.int64)
    scored = [_score_query(p, r, matching, tolerances_s) for p, r in zip(predictions, references)]
    hits = np.array([h for h, _ in scored], dtype=np.float64).reshape(len(scored), len(tolerances_s))
    errors = np.concatenate([e for _, e in scored] + [np.zeros(0)])
    slots = np.maximum(n_pred, n_ref)
    scorable = slots > 0
    per_query = hits[scorable] / slots[scorable, None]
    return {
        "n_queries": len(references),
        "n_predicted": int(n_pred.sum()),
        "n_reference": int(n_ref.sum()),
        "n_matched": len(errors),
        "accuracy": _per_tol(tolerances_s, hits.sum(0), slots.sum()),
        "accuracy_query_mean": dict(zip(tolerances_s, _column_means(per_query))),
        "precision": _per_tol(tolerances_s, hits.sum(0), n_pred.sum()),
        "recall": _per_tol(tolerances_s, hits.sum(0), n_ref.sum()),
        "f1": _per_tol(tolerances_s, 2 * hits.sum(0), n_pred.sum() + n_ref.sum()),
        "mae_s": _mean(errors),
        "median_ae_s": float(np.median(errors)) if len(errors) else math.nan,
        "count_accuracy": _mean(n_pred == n_ref),
        "count_mae": _mean(np.abs(n_pred - n_ref)),
    }


def _score_query(
    pred: Sequence[float] | None, ref: Sequence[float], matching: str, tolerances_s: Sequence[float]
) -> tuple[list[int], np.ndarray]:
    """Matched pairs within each tolerance, and the absolute errors (s) of the matched pairs."""
    pred_v = np.asarray([] if pred is None else pred, dtype=np.float64).reshape(-1)
    ref_v = np.asarray(ref, dtype=np.float64).reshape(-1)
    matcher = match_hungarian_l1 if matching == "accuracy_optimal" else _MATCHERS[matching]
    pred_index, ref_index = matcher(pred_v, ref_v)
    errors = np.abs(pred_v[pred_index] - ref_v[ref_index])
    if matching == "accuracy_optimal":
        hits = [len(match_accuracy_optimal(pred_v, ref_v, tol)[0]) for tol in tolerances_s]
    else:
        hits = [int(np.count_nonzero(errors <= tol + TIE_EPSILON_S)) for tol in tolerances_s]
    return hits, errors


# ---------------------------------------------------------------- buckets


def bucket_by_event_count(n_ref: int) -> str:
    """Bucket label of a query's number of reference events: "0", "1-5", ..., "21-25", "26+"."""
    if n_ref < 0:
        raise ValueError(f"negative event count {n_ref}")
    if n_ref == 0:
        return "0"
    if n_ref > 25:
        return "26+"
    low = 5 * ((n_ref - 1) // 5) + 1
    return f"{low}-{low + 4}"


def all_events_metrics_by_event_count(
    predictions: Sequence[Sequence[float] | None],
    references: Sequence[Sequence[float]],
    matching: str = "hungarian_l1",
    tolerances_s: Sequence[float] = TOLERANCES_S,
) -> dict[str, dict]:
    """:func:`all_events_metrics` within each event-count bucket of the references.

    Returns:
        {bucket label: metrics}, non-empty buckets only, in the order of ``EVENT_COUNT_BUCKETS``.
    """
    if len(predictions) != len(references):
        raise ValueError(f"{len(predictions)} predictions for {len(references)} references")
    groups = _group([bucket_by_event_count(len(r)) for r in references], EVENT_COUNT_BUCKETS)
    return {
        label: all_events_metrics(
            [predictions[i] for i in rows], [references[i] for i in rows], matching, tolerances_s
        )
        for label, rows in groups.items()
    }


def time_bucket_labels(edges_s: Sequence[float] = TIME_BUCKET_EDGES_S) -> tuple[str, ...]:
    """Labels of the buckets [edges_s[i], edges_s[i + 1]): "0-4 s", ..., "45-60 s", "60+ s"."""
    return tuple(
        f"{low:g}+ s" if math.isinf(high) else f"{low:g}-{high:g} s"
        for low, high in zip(edges_s[:-1], edges_s[1:])
    )


def bucket_by_time(reference_s: float, edges_s: Sequence[float] = TIME_BUCKET_EDGES_S) -> str:
    """Label of the half-open bucket [edges_s[i], edges_s[i + 1]) holding a time in seconds.

    Raises ValueError for a time outside [edges_s[0], edges_s[-1]).
    """
    index = bisect.bisect_right(edges_s, reference_s) - 1
    if not 0 <= index < len(edges_s) - 1:
        raise ValueError(f"time {reference_s} s is outside the buckets [{edges_s[0]}, {edges_s[-1]})")
    return time_bucket_labels(edges_s)[index]


OVERLAP_BUCKETS = ("no other voice", "1 other voice", "2-3 other voices", "4+ other voices")
_OVERLAP_EDGES = (1, 2, 4)  # the fewest other voices of every bucket but the first


def bucket_by_overlap(other_voices: int) -> str:
    """Label of how many other voices are speaking at a speaker's onset (:data:`OVERLAP_BUCKETS`)."""
    return OVERLAP_BUCKETS[bisect.bisect_right(_OVERLAP_EDGES, other_voices)]


def single_event_metrics_by_group(
    predicted_s: Sequence[float | None],
    reference_s: Sequence[float],
    clip_duration_s: Sequence[float],
    groups: Sequence[str],
    parse_error: Sequence[bool] | None = None,
    order: Sequence[str] | None = None,
    tolerances_s: Sequence[float] = TOLERANCES_S,
) -> dict[str, dict]:
    """:func:`single_event_metrics` within each group of queries (``groups[i]`` is query i's: a
    target-time bucket, the event class asked about, ...).

    Returns:
        {group: metrics}, non-empty groups only, in ``order`` (default: sorted).
    """
    parse = _parse_mask(parse_error, len(reference_s))
    rows_of = _group(groups, sorted(set(groups)) if order is None else order)
    return {
        label: single_event_metrics(
            [predicted_s[i] for i in rows],
            [reference_s[i] for i in rows],
            [clip_duration_s[i] for i in rows],
            parse[rows],
            tolerances_s,
        )
        for label, rows in rows_of.items()
    }


# ---------------------------------------------------------------- helpers


def _sorted(times: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    values = np.asarray(times, dtype=np.float64).reshape(-1)
    order = np.argsort(values, kind="stable")
    return values[order], order


def _pairs(pred_index, ref_index) -> Pairs:
    pred_index = np.asarray(pred_index, dtype=np.int64)
    ref_index = np.asarray(ref_index, dtype=np.int64)
    order = np.argsort(ref_index, kind="stable")
    return pred_index[order], ref_index[order]


def _parse_mask(parse_error: Sequence[bool] | None, n: int) -> np.ndarray:
    return np.zeros(n, dtype=bool) if parse_error is None else np.asarray(parse_error, dtype=bool)


def _mean(values) -> float:
    values = np.asarray(values, dtype=np.float64)
    return float(values.mean()) if values.size else math.nan


def _per_tol(tolerances_s: Sequence[float], numerators: np.ndarray, denominator) -> dict:
    return {
        tol: float(num / denominator) if denominator else math.nan
        for tol, num in zip(tolerances_s, numerators)
    }


def _column_means(values: np.ndarray) -> list[float]:
    return [_mean(column) for column in values.T]


def _group(labels: Sequence[str], order: Sequence[str]) -> dict[str, list[int]]:
    rows: dict[str, list[int]] = {}
    for i, label in enumerate(labels):
        rows.setdefault(label, []).append(i)
    return {label: rows[label] for label in order if label in rows}


def jsonable(value):
    """``value`` with numpy scalars made Python numbers and keys made strings, for ``json.dumps``."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, (np.floating, np.integer)):
        return value.item()
    return value
