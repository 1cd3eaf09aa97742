import math

import numpy as np
import pytest
from scipy.optimize import linear_sum_assignment

from framestamp.evaluate.metrics import (
    EVENT_COUNT_BUCKETS,
    TOLERANCES_S,
    all_events_metrics,
    all_events_metrics_by_event_count,
    bucket_by_event_count,
    bucket_by_overlap,
    bucket_by_time,
    match_accuracy_optimal,
    match_greedy,
    match_hungarian_l1,
    match_positional,
    single_event_abs_errors,
    single_event_metrics,
    single_event_metrics_by_group,
    time_bucket_labels,
)


def pairs(matching):
    return list(zip(matching[0].tolist(), matching[1].tolist()))


# ---------------------------------------------------------------- single-event queries


def test_tolerances_are_the_papers():
    assert TOLERANCES_S == (0.005, 0.01, 0.02, 0.04, 0.05, 0.08, 0.1, 0.2)


def test_single_event_parse_error_and_missing_prediction():
    # q0: |1.00 - 1.02| = 0.02        q1: missing -> 8 / 2 = 4.0
    # q2: parse error -> 10 / 2 = 5.0 (its value 5.0 would be exact, but is ignored)
    # q3: |2.03 - 2.00| = 0.03
    metrics = single_event_metrics(
        [1.00, None, 5.0, 2.03], [1.02, 3.0, 5.0, 2.0], [10.0, 8.0, 10.0, 4.0], [False, False, True, False]
    )
    assert metrics["n"] == 4
    assert metrics["accuracy"][0.005] == 0.0
    assert metrics["accuracy"][0.02] == 0.25  # q0 only, an exact tie
    assert metrics["accuracy"][0.04] == 0.5  # q0, q3
    assert metrics["accuracy"][0.2] == 0.5  # q1 and q2 are never correct
    assert metrics["mae_s"] == pytest.approx((0.02 + 4.0 + 5.0 + 0.03) / 4)  # 2.2625
    assert metrics["median_ae_s"] == pytest.approx((0.03 + 4.0) / 2)
    assert metrics["parse_error_rate"] == 0.25
    assert metrics["missing_rate"] == 0.25


def test_capped_mae_bounds_each_error_by_its_clip():
    # q0: |1e20 - 1.0| on a 4 s clip: the paper counts ~1e20, capped at 4.0
    # q1: |2.5 - 2.0| = 0.5 on a 10 s clip, under its cap
    # q2: parse error on a 6 s clip: 6 / 2 = 3.0 in both means
    # q3: |-7.0 - 1.0| = 8.0 on a 5 s clip (a negative time): capped at 5.0
    metrics = single_event_metrics(
        [1e20, 2.5, 9.0, -7.0], [1.0, 2.0, 1.0, 1.0], [4.0, 10.0, 6.0, 5.0], [False, False, True, False]
    )
    assert metrics["mae_s"] == pytest.approx((1e20 + 0.5 + 3.0 + 8.0) / 4)  # 2.5e19
    assert metrics["mae_s"] > 1e19
    assert metrics["mae_capped_s"] == pytest.approx((4.0 + 0.5 + 3.0 + 5.0) / 4)  # 3.125
    assert metrics["median_ae_s"] == pytest.approx((3.0 + 8.0) / 2)  # uncapped, as before
    one = single_event_metrics([1e20], [1.0], [4.0])
    assert one["mae_capped_s"] == 4.0 and one["mae_s"] == pytest.approx(1e20)
    assert math.isnan(single_event_metrics([], [], [])["mae_capped_s"])


def test_failed_answer_is_never_correct_even_on_a_short_clip():
    # Half of a 0.1 s clip is 0.05 s: within 50 ms, yet a missing answer scores nothing.
    errors, failed = single_event_abs_errors([None, float("nan")], [0.05, 0.05], [0.1, 0.1])
    np.testing.assert_allclose(errors, [0.05, 0.05])
    assert failed.tolist() == [True, True]
    assert single_event_metrics([None], [0.05], [0.1])["accuracy"][0.2] == 0.0


def test_tolerance_edges():
    # |1.05 - 1.0| = 0.05000000000000004 counts as 50 ms; 1.0500001 is 0.1 us over it;
    # |0.9 - 1.0| = 0.09999999999999998 counts as within 100 ms.
    metrics = single_event_metrics([1.05, 1.0500001, 0.9], [1.0, 1.0, 1.0], [10.0] * 3)
    assert metrics["accuracy"][0.04] == 0.0
    assert metrics["accuracy"][0.05] == pytest.approx(1 / 3)
    assert metrics["accuracy"][0.08] == pytest.approx(2 / 3)
    assert metrics["accuracy"][0.1] == 1.0


def test_chance_is_a_uniform_guess_landing_within_the_tolerance():
    from framestamp.evaluate.metrics import uniform_guess_accuracy

    # mid-clip: 2 x 50 ms of a 10 s clip; at the clip's start only the 50 ms after it; a 0.06 s clip
    # is within 100 ms of its target wherever the guess lands
    chance = uniform_guess_accuracy([5.0, 0.0, 0.03], [10.0, 10.0, 0.06], (0.05, 0.1))
    assert chance[0.05] == pytest.approx((0.01 + 0.005 + 1.0) / 3)
    assert chance[0.1] == pytest.approx((0.02 + 0.01 + 1.0) / 3)
    # a Monte Carlo guess agrees
    rng = np.random.default_rng(0)
    guesses = rng.uniform(0, 10.0, 200_000)
    assert np.mean(np.abs(guesses - 2.0) <= 0.2) == pytest.approx(uniform_guess_accuracy([2.0], [10.0], (0.2,))[0.2], abs=0.003)
    assert single_event_metrics([None], [5.0], [10.0], tolerances_s=(0.05,))["chance_accuracy"] == {0.05: pytest.approx(0.01)}


def test_single_event_lengths_must_agree_and_empty_is_nan():
    with pytest.raises(ValueError):
        single_event_metrics([1.0], [1.0, 2.0], [10.0, 10.0])
    empty = single_event_metrics([], [], [])
    assert empty["n"] == 0 and math.isnan(empty["mae_s"]) and math.isnan(empty["accuracy"][0.05])


# ---------------------------------------------------------------- matching


def test_hungarian_and_greedy_choose_different_pairs():
    # pred [0.0, 1.0], ref [0.6, 1.5]
    # greedy: closest pair is p1-r0 (0.4), then p0-r1 (1.5): total 1.9
    # L1-optimal: p0-r0 (0.6) + p1-r1 (0.5): total 1.1
    pred, ref = [0.0, 1.0], [0.6, 1.5]
    assert pairs(match_greedy(pred, ref)) == [(1, 0), (0, 1)]
    assert pairs(match_hungarian_l1(pred, ref)) == [(0, 0), (1, 1)]
    hungarian = all_events_metrics([pred], [ref], "hungarian_l1", tolerances_s=(0.45, 0.6))
    greedy = all_events_metrics([pred], [ref], "greedy", tolerances_s=(0.45, 0.6))
    assert hungarian["mae_s"] == pytest.approx(0.55)
    assert greedy["mae_s"] == pytest.approx(0.95)
    assert hungarian["accuracy"] == {0.45: 0.0, 0.6: 1.0}
    assert greedy["accuracy"] == {0.45: 0.5, 0.6: 0.5}


def test_accuracy_optimal_beats_l1_optimal_at_a_tolerance():
    # pred [0.96, 2.0], ref [0.0, 1.0], tolerance 50 ms
    # L1-optimal: 0.96-0.0 (0.96) + 2.0-1.0 (1.0) = 1.96, no pair within 50 ms
    # crossed:    0.96-1.0 (0.04) + 2.0-0.0 (2.0) = 2.04, one pair within 50 ms
    pred, ref = [0.96, 2.0], [0.0, 1.0]
    assert pairs(match_hungarian_l1(pred, ref)) == [(0, 0), (1, 1)]
    assert pairs(match_accuracy_optimal(pred, ref, 0.05)) == [(0, 1)]
    l1 = all_events_metrics([pred], [ref], "hungarian_l1", tolerances_s=(0.05,))
    best = all_events_metrics([pred], [ref], "accuracy_optimal", tolerances_s=(0.05,))
    assert l1["accuracy"][0.05] == 0.0
    assert best["accuracy"][0.05] == 0.5
    assert best["mae_s"] == pytest.approx(0.98)  # errors from the L1-optimal pairs


def test_positional_pairs_in_time_order():
    # An early extra prediction shifts every positional pair; L1 skips it.
    pred, ref = [0.0, 1.0, 2.0], [2.0, 1.0]
    assert pairs(match_positional(pred, ref)) == [(1, 0), (0, 1)]
    assert pairs(match_hungarian_l1(pred, ref)) == [(2, 0), (1, 1)]
    assert all_events_metrics([pred], [ref], "positional", (0.01,))["accuracy"][0.01] == 0.0
    l1 = all_events_metrics([pred], [ref], "hungarian_l1", (0.01,))
    assert l1["accuracy"][0.01] == pytest.approx(2 / 3)


def test_matchers_handle_empty_sides():
    for matcher in (match_hungarian_l1, match_greedy, match_positional):
        assert pairs(matcher([], [1.0])) == [] and pairs(matcher([1.0], [])) == []
    assert pairs(match_accuracy_optimal([], [], 0.1)) == []


def test_matchers_agree_with_linear_sum_assignment(rng):
    for _ in range(300):
        n_pred, n_ref = rng.integers(0, 8, size=2)
        pred = np.round(rng.uniform(0, 2, n_pred), 2)  # rounded: ties and exact edges occur
        ref = np.round(rng.uniform(0, 2, n_ref), 2)
        cost = np.abs(pred[:, None] - ref[None, :])
        rows, cols = linear_sum_assignment(cost)
        p, r = match_hungarian_l1(pred, ref)
        assert len(p) == min(n_pred, n_ref) == len(set(p.tolist())) == len(set(r.tolist()))
        assert cost[p, r].sum() == pytest.approx(cost[rows, cols].sum())
        within = cost <= 0.1 + 1e-9
        rows, cols = linear_sum_assignment(~within)
        p, r = match_accuracy_optimal(pred, ref, 0.1)
        assert len(p) == within[rows, cols].sum() and within[p, r].all()


def test_greedy_agrees_with_the_naive_definition(rng):
    for _ in range(200):
        n_pred, n_ref = rng.integers(0, 8, size=2)
        pred, ref = rng.uniform(0, 2, n_pred), rng.uniform(0, 2, n_ref)
        cost = np.abs(pred[:, None] - ref[None, :])
        used_pred, used_ref, expected = set(), set(), set()
        for flat in np.argsort(cost, axis=None):
            i, j = divmod(int(flat), n_ref)
            if i not in used_pred and j not in used_ref:
                used_pred.add(i), used_ref.add(j), expected.add((i, j))
        assert set(pairs(match_greedy(pred, ref))) == expected


def test_hungarian_is_exact_on_a_thousand_events(rng):
    pred = rng.uniform(0, 600, 1000)
    ref = rng.uniform(0, 600, 1040)
    cost = np.abs(pred[:, None] - ref[None, :])
    rows, cols = linear_sum_assignment(cost)
    p, r = match_hungarian_l1(pred, ref)
    assert cost[p, r].sum() == pytest.approx(cost[rows, cols].sum(), rel=1e-12)


# ---------------------------------------------------------------- all-events queries


def test_extra_and_missing_predictions_count():
    predictions = [[1.0, 2.0, 3.0], [5.0], [], None]
    references = [[1.01, 2.4], [5.0, 6.0, 7.0], [], [1.0]]
    # A: 3 pred, 2 ref; L1 pairs 1.0-1.01 (0.01) and 2.0-2.4 (0.4), 3.0 is extra.  slots 3
    # B: 1 pred, 3 ref; 5.0-5.0 (0.0), 6.0 and 7.0 missed.                          slots 3
    # C: nothing to score.  D: no answer, 1.0 missed.                               slots 1
    # hits at 20 ms: A 1, B 1 -> 2 / 7;  at 500 ms: A 2, B 1 -> 3 / 7
    metrics = all_events_metrics(predictions, references, tolerances_s=(0.02, 0.5))
    assert metrics["accuracy"] == pytest.approx({0.02: 2 / 7, 0.5: 3 / 7})
    # per query: A 1/3, B 1/3, D 0 -> 2/9;  A 2/3, B 1/3, D 0 -> 1/3
    assert metrics["accuracy_query_mean"] == pytest.approx({0.02: 2 / 9, 0.5: 1 / 3})
    assert metrics["precision"] == pytest.approx({0.02: 2 / 4, 0.5: 3 / 4})
    assert metrics["recall"] == pytest.approx({0.02: 2 / 6, 0.5: 3 / 6})
    assert metrics["f1"] == pytest.approx({0.02: 4 / 10, 0.5: 6 / 10})
    assert metrics["mae_s"] == pytest.approx((0.01 + 0.4 + 0.0) / 3)
    assert metrics["count_accuracy"] == 0.25  # only C
    assert metrics["count_mae"] == 1.0  # (1 + 2 + 0 + 1) / 4
    counts = [metrics[key] for key in ("n_queries", "n_predicted", "n_reference", "n_matched")]
    assert counts == [4, 4, 6, 3]


def test_all_events_rejects_bad_arguments():
    with pytest.raises(ValueError, match="matching"):
        all_events_metrics([[1.0]], [[1.0]], matching="hungarian")
    with pytest.raises(ValueError):
        all_events_metrics([[1.0]], [[1.0], [2.0]])


# ---------------------------------------------------------------- buckets


@pytest.mark.parametrize(
    "n_ref, label",
    [(0, "0"), (1, "1-5"), (5, "1-5"), (6, "6-10"), (15, "11-15"), (16, "16-20"), (25, "21-25"),
     (26, "26+"), (900, "26+")],
)
def test_bucket_by_event_count(n_ref, label):
    assert bucket_by_event_count(n_ref) == label
    assert label in EVENT_COUNT_BUCKETS


def test_metrics_by_event_count():
    references = [[1.0], [float(t) for t in range(7)], [], [2.0, 3.0]]
    predictions = [[1.0], [float(t) for t in range(7)], [0.5], [2.0]]
    buckets = all_events_metrics_by_event_count(predictions, references, tolerances_s=(0.01,))
    assert list(buckets) == ["0", "1-5", "6-10"]
    assert buckets["1-5"]["n_queries"] == 2
    assert buckets["1-5"]["accuracy"][0.01] == pytest.approx(2 / 3)  # hits 1 + 1 over slots 1 + 2
    assert buckets["6-10"]["accuracy"][0.01] == 1.0
    assert buckets["0"]["precision"][0.01] == 0.0


def test_bucket_by_overlap():
    assert [bucket_by_overlap(n) for n in (0, 1, 2, 3, 4, 9)] == [
        "no other voice", "1 other voice", "2-3 other voices", "2-3 other voices", "4+ other voices", "4+ other voices"
    ]  # fmt: skip


def test_bucket_by_time():
    assert time_bucket_labels() == (
        "0-4 s", "4-8 s", "8-12 s", "12-16 s", "16-20 s", "20-30 s", "30-45 s", "45-60 s", "60+ s"
    )
    assert bucket_by_time(0.0) == "0-4 s"
    assert bucket_by_time(3.999) == "0-4 s"
    assert bucket_by_time(4.0) == "4-8 s"  # half-open buckets
    assert bucket_by_time(29.9) == "20-30 s"
    assert bucket_by_time(60.0) == "60+ s"
    assert bucket_by_time(3600.0) == "60+ s"
    assert bucket_by_time(5.0, edges_s=(0, 2.5, 10)) == "2.5-10 s"
    with pytest.raises(ValueError):
        bucket_by_time(-0.1)
    with pytest.raises(ValueError):
        bucket_by_time(10.0, edges_s=(0, 2.5, 10))


def test_single_event_metrics_by_target_time_bucket():
    # 0-4 s: errors 0.0 and missing (10 / 2 = 5.0); 4-8 s: 0.3; 60+ s: 0.0
    reference = [1.0, 2.0, 5.0, 70.0]
    buckets = single_event_metrics_by_group(
        [1.0, None, 5.3, 70.0], reference, [10.0, 10.0, 10.0, 100.0], [bucket_by_time(t) for t in reference],
        order=time_bucket_labels(),
    )  # fmt: skip
    assert list(buckets) == ["0-4 s", "4-8 s", "60+ s"]
    assert buckets["0-4 s"]["n"] == 2
    assert buckets["0-4 s"]["accuracy"][0.01] == 0.5
    assert buckets["0-4 s"]["mae_s"] == pytest.approx(2.5)
    assert buckets["4-8 s"]["mae_s"] == pytest.approx(0.3)
    assert buckets["60+ s"]["accuracy"][0.005] == 1.0


def test_single_event_metrics_by_group_with_a_parse_failure():
    # bell: right, then a parse failure (error 10 / 2 = 5.0); alarm: 0.2 s off
    groups = single_event_metrics_by_group(
        [1.0, None, 3.2], [1.0, 2.0, 3.0], [10.0, 10.0, 10.0], ["bell", "bell", "alarm"], [False, True, False]
    )
    assert list(groups) == ["alarm", "bell"]
    assert groups["bell"]["n"] == 2 and groups["bell"]["accuracy"][0.05] == 0.5
    assert groups["bell"]["parse_error_rate"] == 0.5 and groups["bell"]["mae_s"] == pytest.approx(2.5)
    assert groups["alarm"]["accuracy"][0.2] == 1.0 and groups["alarm"]["accuracy"][0.1] == 0.0
    assert list(single_event_metrics_by_group([1.0], [1.0], [5.0], ["b"], order=["a", "b"])) == ["b"]
