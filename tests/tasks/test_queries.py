import json

import numpy as np
import pytest

from framestamp.data.examples import Clip, Segment
from framestamp.tasks import ParsedAnswer, event_counts, ordinal, parse_answer
from framestamp.tasks.make import absent_query, all_query, candidates, one_query

AUDIO = np.zeros(16000 * 5, dtype=np.float32)


def words_clip():
    words = [("the", 0.1, 0.3), ("apple", 0.4, 0.9), ("and", 1.0, 1.2), ("apple", 1.5, 2.0), ("pie", 2.1, 2.5)]
    return Clip("w", AUDIO, "words", tuple(Segment(w, s, e) for w, s, e in words))


def test_ordinals():
    assert [ordinal(k) for k in (1, 2, 3, 4, 11, 12, 13, 21, 22, 101, 111)] == [
        "1st", "2nd", "3rd", "4th", "11th", "12th", "13th", "21st", "22nd", "101st", "111th"
    ]  # fmt: skip


def test_word_candidates_skip_stop_words_and_count_occurrences():
    found = [(c.subject, c.k, c.start_s) for c in candidates(words_clip())]
    assert found == [("apple", 1, 0.4), ("apple", 2, 1.5), ("pie", 1, 2.1)]


def test_one_query_question_and_target():
    rng = np.random.default_rng(0)
    queries = {one_query(words_clip(), "start", rng).question for _ in range(40)}
    assert "When does the 2nd occurrence of the word 'apple' occur?" in queries
    query = next(q for q in (one_query(words_clip(), "end", rng) for _ in range(40)) if q.subject == "pie")
    assert query.targets_s == (2.5,) and query.question.endswith("'pie' end?")


def test_max_target_keeps_only_early_targets():
    rng = np.random.default_rng(0)
    targets = {one_query(words_clip(), "start", rng, max_target_s=1.0).targets_s for _ in range(30)}
    assert targets == {(0.4,)}
    assert one_query(words_clip(), "start", rng, max_target_s=0.2) is None
    assert all_query(words_clip(), "start", max_target_s=2.0) is None


def test_speaker_queries_use_onset_order():
    turns = (Segment("spk_b", 1.5, 3.0), Segment("spk_a", 0.0, 2.0), Segment("spk_b", 3.5, 4.0))
    clip = Clip("s", AUDIO, "speakers", turns)
    query = all_query(clip, "start")
    assert query.targets_s == (0.0, 1.5) and query.labels == ("1", "2")
    assert "2nd speaker start" in next(
        q.question for q in (one_query(clip, "start", np.random.default_rng(i)) for i in range(20)) if q.subject == "2"
    )


def test_absent_queries_ask_past_the_last_occurrence_or_for_a_subject_of_another_clip():
    rng = np.random.default_rng(0)
    asked = {absent_query(words_clip(), "start", rng, ["apple", "pear", "pie"]).question for _ in range(60)}
    assert asked == {
        "When does the 3rd occurrence of the word 'apple' occur?",
        "When does the 2nd occurrence of the word 'pie' occur?",
        "When does the 1st occurrence of the word 'pear' occur?",
    }
    query = absent_query(words_clip(), "end", rng)  # no other subjects: always past the last
    assert query.targets_s == () and query.labels == () and query.mode == "one" and query.question.endswith("end?")
    assert parse_answer(query.answer_text(), "end", "one") == ParsedAnswer((), False, "json")


def test_absent_speaker_is_the_one_after_the_last():
    turns = (Segment("spk_b", 1.5, 3.0), Segment("spk_a", 0.0, 2.0), Segment("spk_b", 3.5, 4.0))
    query = absent_query(Clip("s", AUDIO, "speakers", turns), "start", np.random.default_rng(0))
    assert query.question == "When does the 3rd speaker start speaking?" and query.targets_s == ()


def test_nothing_absent_to_ask_about_a_clip_of_stop_words_alone():
    clip = Clip("w", AUDIO, "words", (Segment("the", 0.1, 0.3),))
    assert absent_query(clip, "start", np.random.default_rng(0), ["the"]) is None
    assert absent_query(clip, "start", np.random.default_rng(0), ["pear"]).question.endswith("'pear' occur?")


def test_answer_text_is_paper_json_and_parses_back():
    query = all_query(words_clip(), "start")
    text = query.answer_text()
    assert text.startswith("```json\n") and text.endswith("\n```")
    assert json.loads(text[8:-4])[1] == {"word": "apple", "start": 0.4}
    parsed = parse_answer(text, "start", "all")
    assert parsed.times_s == (0.1, 0.4, 1.0, 1.5, 2.1) and parsed.method == "json"


@pytest.mark.parametrize(
    "text,mode,times,error,method",
    [
        ('```json\n[{"word": "a", "start": 3.41}]\n```', "one", (3.41,), False, "json"),
        ('[{"start": 2.0}, {"start": 1.0}]', "all", (1.0, 2.0), False, "json"),
        ("it starts at 12.5 seconds, maybe 13", "one", (12.5,), False, "number"),
        ("```json\n[]\n```", "all", (), False, "json"),  # valid JSON, no events: not a parse error
        ("```json\n[{\"start\": 1.2", "one", (1.2,), False, "key"),  # truncated JSON
        # a truncated answer with a speaker ordinal before the key: the key's value, not the ordinal
        ('```json\n[{"speaker": 2, "start": 3.41}, {"speaker": 3, "sta', "one", (3.41,), False, "key"),
        # every value of the key, sorted, and nothing else (ordinals, the cut-off last item)
        ('```json\n[{"speaker": 2, "start": 7.5}, {"speaker": 1, "start": 0.25}, {"speaker": 3, "start": 12',
         "all", (0.25, 7.5, 12.0), False, "key"),
        ("start=4.5, 'start': '1.5'", "all", (1.5, 4.5), False, "key"),  # not JSON at all
        ("the restart: 9, then start: 2", "one", (2.0,), False, "key"),  # "restart" is not the key
        ('[{"speaker": 2, "end": 3.0}]', "one", (2.0,), False, "number"),  # valid JSON without the key
        ("1111111111111111111111111", "one", (1111111111111111111111111.0,), False, "number"),  # digits only
        ("I cannot tell", "one", (), True, "none"),
        ('```json\n[{"word": "apple", "start": ', "one", (), True, "none"),
        ("", "all", (), True, "none"),
    ],
)
def test_parse_answer_fallbacks(text, mode, times, error, method):
    parsed = parse_answer(text, "start", mode)
    assert (parsed.times_s, parsed.parse_error, parsed.method) == (times, error, method)


def test_parse_answer_reads_the_asked_boundary_only():
    truncated = '```json\n[{"speaker": 1, "start": 1.0, "end": 2.5}, {"speaker": 2, "start": 3.0, "end": 4'
    assert parse_answer(truncated, "end", "all") == ParsedAnswer((2.5, 4.0), False, "key")
    assert parse_answer(truncated, "start", "all") == ParsedAnswer((1.0, 3.0), False, "key")
    valid = '[{"word": "a", "start": 1.0, "end": 2.5}]'
    assert parse_answer(valid, "end", "one") == ParsedAnswer((2.5,), False, "json")


def test_event_counts_bins_times_into_frames():
    counts = event_counts([0.0, 0.015, 0.019, 0.5, 9.9], n_frames=50, frame_rate_hz=100.0)
    assert counts[0] == 1 and counts[1] == 2 and counts[49] == 2 and counts.sum() == 5
