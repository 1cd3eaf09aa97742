"""Scoring "not there": hand-made probabilities and the paired question set."""

import math

import numpy as np
import pytest

from framestamp.data.examples import Clip, Segment
from framestamp.evaluate.presence import THRESHOLD_GRID, best_threshold, presence_items, presence_metrics
from framestamp.evaluate.run import evaluation_items

AUDIO = np.zeros(16000 * 3, dtype=np.float32)


def test_presence_metrics_by_hand():
    present = [True, True, True, False, False]
    probability = [0.9, 0.5, 0.2, 0.6, 0.1]
    m = presence_metrics(present, probability, threshold=0.5)
    assert (m["n_present"], m["n_absent"]) == (3, 2)
    assert m["present_recall"] == pytest.approx(2 / 3) and m["absent_recall"] == pytest.approx(1 / 2)
    assert m["balanced_accuracy"] == pytest.approx(7 / 12)
    # pairs (present, absent) ordered right: 0.9>0.6, 0.9>0.1, 0.5>0.1, 0.2>0.1; wrong: 0.5<0.6, 0.2<0.6
    assert m["auc"] == pytest.approx(4 / 6)
    assert presence_metrics([True, False], [0.7, 0.7])["auc"] == pytest.approx(0.5)  # a tie counts half
    assert math.isnan(presence_metrics([True, True], [0.1, 0.9])["auc"])


def test_presence_of_frame_and_token_answers():
    from framestamp.decoding import head_kind

    lam = np.log(np.full(100, 0.01))  # Lambda = 1: P(N >= 1) = 1 - 1/e
    assert head_kind("ihp").decode(lam, 100.0, "one").presence_probability == pytest.approx(1 - math.exp(-1))
    logits = np.array([-5.0, 0.0, -3.0])
    assert head_kind("binary").decode(logits, 100.0, "one").presence_probability == pytest.approx(0.5)


def test_presence_items_pair_the_evaluation_question_with_an_absent_one():
    clips = [
        Clip("a", AUDIO, "words", (Segment("apple", 0.2, 0.5), Segment("pie", 1.0, 1.4))),
        Clip("b", AUDIO, "words", (Segment("the", 0.2, 0.5),)),  # nothing to ask
        Clip("c", AUDIO, "words", (Segment("pear", 0.4, 0.8),)),
    ]
    items = presence_items(clips)
    assert [i.clip.id for i in items] == ["a", "a", "c", "c"]
    assert [bool(i.query.targets_s) for i in items] == [True, False, True, False]
    asked = {i.clip.id: i.query.question for i in evaluation_items(clips, "one")}
    assert items[0].query.question == asked["a"] and items[2].query.question == asked["c"]
    assert len(presence_items(clips, limit=3)) == 2  # pairs stay whole


def test_the_best_threshold_has_the_best_balanced_accuracy_and_prefers_the_one_nearest_a_half():
    def best(present, probabilities):
        decisions = np.asarray(probabilities)[:, None] >= THRESHOLD_GRID
        return best_threshold(present, decisions, THRESHOLD_GRID)

    present = [True, True, True, False, False]
    # 0.5 calls 0.4 absent (balanced 5/6); (0.3, 0.4] separates all (balanced 1): 0.4 is nearest 0.5
    assert best(present, [0.9, 0.6, 0.4, 0.3, 0.1]) == pytest.approx(0.4)
    assert best([True, False], [0.9, 0.1]) == 0.5  # 0.5 separates them already
    assert best([True, False], [0.7, 0.7]) == 0.5  # no threshold helps
    # decisions that are not one number against the threshold (a k-th occurrence over several windows)
    decisions = np.array([[True, True, False], [True, False, False]])
    assert best_threshold([True, False], decisions, [0.2, 0.4, 0.6]) == 0.4
