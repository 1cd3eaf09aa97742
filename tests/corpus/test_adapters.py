"""Adapters: the hub datasets' schemas (tiny fixtures) and the built-in corpus give the same Clips."""

from __future__ import annotations

from pathlib import Path

import datasets
import numpy as np
import pyarrow.parquet as pq
import pytest

from framestamp.data import (
    SUBSETS,
    UNKNOWN_WORD,
    Clip,
    DatasetUnavailableError,
    Segment,
    crop_clip,
    crop_to_words,
    hub_features,
    join_clips,
    load_subset,
)
from framestamp.data.schemas import write_parquet

FIXTURES = Path(__file__).parent.parent / "fixtures"

LIBRISPEECH = FIXTURES / "librispeech_alignments"
LIBRICOUNT = FIXTURES / "libricount_timings"
AUDIOSET = FIXTURES / "audioset_humans_reprocessed"


def _check_clip(clip: Clip, subset: str):
    assert isinstance(clip, Clip) and clip.subset == subset
    assert clip.audio.dtype == np.float32 and clip.audio.ndim == 1 and clip.sample_rate == 16000
    assert list(clip.segments) == sorted(clip.segments, key=lambda s: (s.start_s, s.end_s, s.label))
    assert all(0 <= s.start_s <= s.end_s <= clip.duration_s + 1e-6 for s in clip.segments)


def test_librispeech_alignments_fixture():
    clips = load_subset(LIBRISPEECH, "words", "test")  # "test" finds test_clean
    assert len(clips) == 2
    first = clips[0]
    _check_clip(first, "words")
    assert first.id == "1089-134686-0000"
    assert first.labels == ("the", "dog", "saw", "a", UNKNOWN_WORD)
    assert first.segments[0].start_s == pytest.approx(0.211)
    assert first.transcript == "THE DOG SAW A ZORBLAX"
    assert first.provenance["dropped_empty_words"] == 1 and first.provenance["unknown_words"] == 1
    assert first.provenance["hub_sex"] == "M"


def test_libricount_timings_fixture():
    clips = load_subset(LIBRICOUNT, "speakers", "test")
    assert [c.provenance["k"] for c in clips] == [1, 2]
    two = clips[1]
    _check_clip(two, "speakers")
    assert [s for s, _ in two.speaker_onsets()] == ["1089", "1189"]
    assert two.speaker_onsets()[1][1] == pytest.approx(0.611)
    table = pq.read_table(next((LIBRICOUNT / "data").glob("*.parquet"))).to_pylist()[1]
    for segment, component in zip(two.segments, table["components"]):
        assert segment.start_s == component["first_word_start_sec"]
        assert segment.end_s == pytest.approx(component["first_word_start_sec"] + component["utterance_length_sec"])
    assert two.id == "libricount_timings-test-000001"


def test_audioset_fixture_is_resampled_to_16k_mono():
    clips = load_subset(AUDIOSET, "events", "test")  # "test" finds eval
    clip = clips[0]
    _check_clip(clip, "events")
    assert clip.id == "YfixtureClip0_30000"
    assert clip.duration_s == pytest.approx(1.5, abs=1e-3)
    assert clip.labels == ("Bell", "Bell")
    assert [s.label for s in clip.occurrences("Bell")] == ["Bell", "Bell"]
    assert clip.segments[-1].end_s == 1.5  # runs to the end
    onset = int(0.3 * 16000)
    assert np.abs(clip.audio[onset - 400 : onset - 80]).max() < 0.02 < np.abs(clip.audio[onset : onset + 800]).max()


def test_unknown_split_names_the_available_ones():
    with pytest.raises(DatasetUnavailableError, match="test_clean"):
        load_subset(LIBRISPEECH, "words", "train")


def test_hub_name_offline_is_a_one_line_error_before_any_download(monkeypatch):
    from framestamp.data import loading

    downloads = []
    monkeypatch.setattr(loading, "_hub_reachable", lambda timeout_s=3.0: False)
    monkeypatch.setattr(datasets, "load_dataset_builder", lambda *args, **kwargs: downloads.append(args))
    monkeypatch.setattr(datasets, "load_dataset", lambda *args, **kwargs: downloads.append(args))
    with pytest.raises(DatasetUnavailableError) as error:
        load_subset("enyoukai/libricount-timings", split="test")
    assert downloads == []
    message = str(error.value)
    assert "\n" not in message and "enyoukai/libricount-timings" in message and "unreachable" in message


def test_hub_name_implies_the_subset():
    with pytest.raises(ValueError, match="speakers"):
        load_subset("enyoukai/libricount-timings", "words", "test")


def _as_hub_row(subset: str, row: dict) -> dict:
    """A built-in corpus row reduced to the hub schema's fields (hub-only fields filled in)."""
    if subset == "words":
        return {"sex": "F", "subset": "test-clean", "id": row["id"], "audio": row["audio"],
                "transcript": row["transcript"], "words": row["words"], "phonemes": []}
    if subset == "speakers":
        return {"audio": row["audio"], "k": row["k"], "components": row["components"]}
    return {"video_id": row["video_id"], "audio": row["audio"], "events": row["events"]}


@pytest.mark.parametrize("subset", SUBSETS)
def test_hub_schema_copy_of_the_corpus_gives_the_same_clips(subset, tiny_corpus, tmp_path):
    files = sorted((tiny_corpus / subset / "data").glob("test-*.parquet"))
    rows = [r for f in files for r in pq.read_table(f).to_pylist()]
    hub_dir = tmp_path / subset
    (hub_dir / "data").mkdir(parents=True)
    write_parquet([_as_hub_row(subset, r) for r in rows], hub_features(subset), hub_dir / "data" / "test-00000-of-00001.parquet")
    ours, theirs = load_subset(tiny_corpus, subset, "test"), load_subset(hub_dir, subset, "test")
    assert len(ours) == len(theirs) == len(rows)
    for a, b in zip(ours, theirs):
        _check_clip(a, subset)
        _check_clip(b, subset)
        assert np.array_equal(a.audio, b.audio)
        if subset == "speakers":
            assert a.speaker_onsets() == b.speaker_onsets()
        else:
            assert [(s.label, s.start_s, s.end_s) for s in a.segments] == [(s.label, s.start_s, s.end_s) for s in b.segments]
            assert a.id == b.id


def test_builtin_source_name_finds_the_cached_build(tiny_corpus, monkeypatch):
    from framestamp.corpus import build

    monkeypatch.setattr(build, "DEFAULT_OUT", tiny_corpus.parent)
    clips = load_subset("builtin:tiny:0", "events", "dev")
    assert len(clips) == 8 and clips.rows.num_rows == 8


def test_length_controls(tiny_corpus):
    short = load_subset(tiny_corpus, "words", "test_long", max_duration_s=15.0)
    assert all(c.duration_s <= 15.0 for c in short)
    early = load_subset(tiny_corpus, "words", "test_long", max_target_s=5.0)
    for clip in early:
        assert clip.duration_s <= 5.0 and all(s.start_s < 5.0 for s in clip.segments)


def _clip(subset, segments, seconds=10.0):
    return Clip(id="x", audio=np.zeros(int(seconds * 16000), np.float32), subset=subset, segments=tuple(segments))


def test_clip_sorts_segments_and_orders_speaker_onsets():
    clip = _clip("speakers", [Segment("b", 2.0, 3.0), Segment("a", 1.0, 1.5), Segment("b", 0.5, 0.8)])
    assert [s.start_s for s in clip.segments] == [0.5, 1.0, 2.0]
    assert clip.speaker_onsets() == (("b", 0.5), ("a", 1.0))
    words = _clip("words", [Segment("dog", 1.0, 1.3, "v"), Segment("dog", 3.0, 3.4, "v"), Segment("cat", 2.0, 2.2, "v")])
    assert [s.start_s for s in words.occurrences("dog")] == [1.0, 3.0]
    assert words.speaker_onsets() == (("v", 1.0),)


def test_speakers_talking_at_counts_other_turns_under_way():
    clip = _clip("speakers", [Segment("a", 0.0, 3.0), Segment("b", 1.0, 2.0), Segment("a", 2.5, 4.0), Segment("c", 2.0, 5.0)])
    assert clip.speakers_talking_at(0.0) == 0  # a turn starting now is not under way
    assert clip.speakers_talking_at(1.5) == 2  # a and b
    assert clip.speakers_talking_at(2.0) == 1  # b has just ended, c just starts: only a
    assert clip.speakers_talking_at(2.7) == 2  # a's two turns count once, with c
    assert clip.speakers_talking_at(6.0) == 0
    words = _clip("words", [Segment("dog", 1.0, 1.3, "v"), Segment("cat", 1.1, 1.2, "w"), Segment("ox", 1.1, 1.2)])
    assert words.speakers_talking_at(1.15) == 2  # other subsets: the segments' speakers, unknown ones not counted


def test_crop_keeps_whole_words_and_truncates_spans():
    words = _clip("words", [Segment("a", 1.0, 2.0), Segment("b", 3.5, 4.5), Segment("c", 5.0, 6.0)])
    cut = crop_clip(words, 4.0)  # "b" straddles 4 s: cut before it
    assert cut.duration_s == 3.5 and cut.labels == ("a",) and cut.provenance["cropped_at_s"] == 3.5
    events = _clip("events", [Segment("bell", 1.0, 2.0), Segment("bell", 3.5, 4.5), Segment("bell", 5.0, 6.0)])
    cut = crop_clip(events, 4.0)
    assert cut.duration_s == 4.0 and [(s.start_s, s.end_s) for s in cut.segments] == [(1.0, 2.0), (3.5, 4.0)]
    assert crop_clip(events, 20.0) is events


def test_a_run_of_words_is_cut_in_the_pauses_around_it():
    words = [Segment("a", 0.5, 1.0), Segment("b", 1.4, 2.0), Segment("c", 2.0, 2.6), Segment("d", 3.0, 3.5)]
    clip = _clip("words", words, seconds=4.0)
    middle = crop_to_words(clip, 1, 2)  # b, c: cut midway between a and b, and between c and d
    assert middle.duration_s == pytest.approx(2.8 - 1.2)
    kept = [(s.label, round(s.start_s, 6), round(s.end_s, 6)) for s in middle.segments]
    assert kept == [("b", 0.2, 0.8), ("c", 0.8, 1.4)]
    np.testing.assert_array_equal(middle.audio, clip.audio[int(1.2 * 16000) : int(2.8 * 16000)])
    assert middle.transcript == "b c" and middle.provenance["cropped_from_s"] == pytest.approx(1.2)
    assert crop_to_words(clip, 0, 4).duration_s == 4.0  # every word: the whole clip
    assert crop_to_words(clip, 2, 1).segments[0].start_s == 0.0  # c touches b: cut at its edge
    with pytest.raises(ValueError, match="cannot crop"):
        crop_to_words(clip, 3, 2)


def test_joined_clip_hears_the_second_after_the_first():
    first = _clip("words", [Segment("a", 1.0, 2.0), Segment("b", 3.0, 3.5)], seconds=4.0)
    second = _clip("words", [Segment("a", 0.5, 1.0)], seconds=2.5)
    joined = join_clips(first, second)
    assert joined.duration_s == 6.5 and len(joined.audio) == len(first.audio) + len(second.audio)
    assert [(s.label, s.start_s, s.end_s) for s in joined.segments] == [("a", 1.0, 2.0), ("b", 3.0, 3.5), ("a", 4.5, 5.0)]
    assert joined.occurrences("a")[0].start_s == 1.0  # the first clip's k-th stays the k-th
    assert joined.provenance["joined_at_s"] == 4.0 and joined.id == "x+x"
    with pytest.raises(ValueError, match="cannot join"):
        join_clips(first, _clip("events", []))
