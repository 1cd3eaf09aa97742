"""Answers on input unlike the test clips: non-speech of any length and long recordings."""

import numpy as np
import pytest

from framestamp.evaluate import robustness as rb

from spoken_clips import CLIPS, SR  # tests/evaluate is on the path


def test_joined_clips_keep_every_word_at_its_place_on_the_new_timeline():
    joined = rb.join_clips(CLIPS, np.random.default_rng(0), 20.0, "j")
    assert joined.duration_s >= 20.0 and joined.id == "j"
    starts = [s.start_s for s in joined.segments]
    assert starts == sorted(starts) and len(joined.provenance["joined"]) >= 6
    for segment in joined.segments:  # each word's tone is where its segment says
        first = int(round(segment.start_s * SR))
        assert joined.audio[first + 10] == pytest.approx(0.3) and joined.audio[first - 10] == 0.0


def test_late_words_ask_the_first_occurrence_on_each_side_of_the_boundary():
    groups = rb.late_word_items(CLIPS, n=6, seconds=40.0, early_s=15.0)
    early, late = groups.values()
    assert len(early) == len(late) == 3
    for items, inside in ((early, lambda t: t < 15.0), (late, lambda t: t >= 15.0)):
        for item in items:
            query = item.query
            assert query.k == 1 and inside(query.targets_s[0]) and item.clip.duration_s >= 40.0
            assert query.targets_s[0] == min(s.start_s for s in item.clip.segments if s.label == query.subject)


def test_long_presence_pairs_a_present_and_an_absent_question():
    items = rb.long_presence_items(CLIPS, n=8, seconds=(20.0, 40.0))
    assert len(items) == 8
    for present, absent in zip(items[::2], items[1::2]):
        assert present.clip is absent.clip and 20.0 <= present.clip.duration_s < 45.0
        assert present.query.n_events == 1 and absent.query.n_events == 0
        assert absent.query.subject not in {s.label for s in absent.clip.segments} or absent.query.k > 1


def test_nonspeech_questions_have_nothing_to_find():
    items = rb.nonspeech_items(CLIPS, n=5, seconds=(1.0, 3.0))
    assert len(items) == 5 and all(not i.clip.segments and i.query.n_events == 0 for i in items)
    assert all(1.0 <= i.clip.duration_s < 3.0 for i in items)
    assert {i.query.subject for i in items} <= {"apple", "dog", "cherry", "the", "bark", "banana"}
    again = rb.nonspeech_items(CLIPS, n=5, seconds=(1.0, 3.0))
    assert all(np.array_equal(a.clip.audio, b.clip.audio) for a, b in zip(items, again))


def test_the_records_through_a_model(checkpoint):
    from framestamp.model import FrameStampModel

    model = FrameStampModel.from_pretrained(checkpoint)
    record = rb.nonspeech(model, CLIPS, threshold=0.5, n=4, seconds=(1.0, 3.0))
    assert record["mode"] == "nonspeech" and record["n"] == 4
    assert 0.0 <= record["metrics"]["false_present"] <= 1.0 and sum(v["n"] for v in record["by_kind"].values()) == 4
    late = rb.late_words(model, CLIPS, n=4, seconds=40.0, early_s=15.0)
    assert late["n"] == 4 and set(late["metrics"]) == {"accuracy_drop_late"}
    long = rb.presence_long(model, CLIPS, threshold=0.5, n=4, seconds=(20.0, 40.0))
    assert long["short"]["n_present"] == long["short"]["n_absent"] and long["n"] == 4
