"""Every output format, parsed back with its own ecosystem's reader; atomic writes."""

from __future__ import annotations

import json
import os

import pytest

from framestamp.inference.api import Located, Span, Timeline
from framestamp.inference.outputs import OutputError, check_format, render, write_atomic

WORDS = Timeline("words", [Span("the", 0.11, 0.3), Span("apple", 0.35, 0.9), Span("pie", 1.2, 1.61)], 3.2, 2.0, ["q"])
SPEAKERS = Timeline("speakers", [Span("speaker_1", 0.5, 3.0), Span("speaker_2", 2.0, None)], 2.1, 5.0, ["q"])
EVENTS = Timeline("events", [Span("dog", 0.5, 1.0), Span("dog", 0.8, 1.4), Span("bark", 2.0, 2.5)], 3.0, 4.0, ["q"])
ONSETS = Timeline("events", [Span("event", 0.5), Span("event", 1.5)], 2.0, 3.0, ["q"])


def test_json_round_trips_with_extra_fields():
    located = Located("When?", [1.234], 0.8, 0.55, True, 0.5, 2.0)
    data = json.loads(render(located, "json", extra={"audio": "a.wav"}))
    assert data["audio"] == "a.wav" and data["times_s"] == [1.234] and data["present"] is True
    data = json.loads(render(SPEAKERS, "json"))
    assert data["spans"][1] == {"label": "speaker_2", "start_s": 2.0, "end_s": None}


def test_rttm_loads_in_pyannote(tmp_path):
    load_rttm = pytest.importorskip("pyannote.database.util").load_rttm
    path = tmp_path / "out.rttm"
    path.write_text(render(SPEAKERS, "rttm", name="my clip"))
    annotation = load_rttm(path)["my_clip"]
    tracks = annotation.itertracks(yield_label=True)
    turns = sorted((round(s.start, 3), round(s.end, 3), label) for s, _, label in tracks)
    assert turns == [(0.5, 3.0, "speaker_1"), (2.0, 5.0, "speaker_2")]  # no decoded end: to the audio's end


@pytest.mark.parametrize("timeline", [WORDS, SPEAKERS, EVENTS, ONSETS])
def test_textgrid_opens_in_praatio(tmp_path, timeline):
    from praatio import textgrid

    path = tmp_path / "out.TextGrid"
    path.write_text(render(timeline, "textgrid"))
    grid = textgrid.openTextgrid(str(path), includeEmptyIntervals=False)
    labels = sorted(entry.label for name in grid.tierNames for entry in grid.getTier(name).entries)
    assert labels == sorted(s.label for s in timeline.spans)
    assert grid.maxTimestamp == pytest.approx(timeline.duration_s)


def test_textgrid_clips_overlaps_within_a_tier(tmp_path):
    from praatio import textgrid

    path = tmp_path / "out.TextGrid"
    path.write_text(render(EVENTS, "textgrid"))
    dogs = textgrid.openTextgrid(str(path), includeEmptyIntervals=False).getTier("dog").entries
    assert [(e.start, e.end) for e in dogs] == [(0.5, 1.0), (1.0, 1.4)]


def parse_event_tsv(text: str) -> list[tuple[float, float, str]]:
    """A strict reader of sed_eval's onset<TAB>offset<TAB>label lists."""
    rows = []
    for line in text.splitlines():
        onset, offset, label = line.split("\t")
        assert float(onset) <= float(offset) and label and label == label.strip()
        rows.append((float(onset), float(offset), label))
    return rows


def test_tsv_is_onset_offset_label():
    assert parse_event_tsv(render(EVENTS, "tsv")) == [(0.5, 1.0, "dog"), (0.8, 1.4, "dog"), (2.0, 2.5, "bark")]
    assert parse_event_tsv(render(ONSETS, "tsv")) == [(0.5, 3.0, "event"), (1.5, 3.0, "event")]


def test_srt_parses_with_srt():
    srt = pytest.importorskip("srt")
    cues = list(srt.parse(render(WORDS, "srt")))
    assert [c.content for c in cues] == ["the", "apple", "pie"]
    assert [c.start.total_seconds() for c in cues] == [0.11, 0.35, 1.2]
    assert cues[2].end.total_seconds() == 1.61


def test_vtt_parses_with_webvtt():
    webvtt = pytest.importorskip("webvtt")
    cues = webvtt.from_string(render(WORDS, "vtt"))
    assert [c.text for c in cues] == ["the", "apple", "pie"]
    assert [c.start for c in cues] == ["00:00:00.110", "00:00:00.350", "00:00:01.200"]


def test_captions_without_ends_run_to_the_next_word():
    srt = pytest.importorskip("srt")
    words = Timeline("words", [Span("a", 0.5), Span("b", 1.5)], 2.0, 3.0, ["q"])
    cues = list(srt.parse(render(words, "srt")))
    assert [(c.start.total_seconds(), c.end.total_seconds()) for c in cues] == [(0.5, 1.5), (1.5, 3.0)]


def test_table_mentions_not_present_and_the_threshold():
    text = render(Located("When?", [1.0], 0.2, 0.181, False, 0.5, 2.0), "table")
    assert "not present" in text and "0.181 < 0.50" in text and "Lambda" in text and "a guess" not in text
    unlearned = Located("When?", [1.0], 0.2, 0.181, False, 0.5, 2.0, presence_learned=False)
    assert "0.181 < 0.50 (a guess: this model never saw an absent answer)" in render(unlearned, "table")
    assert "speaker_2" in render(SPEAKERS, "table")


@pytest.mark.parametrize("kind, fmt", [("locate", "rttm"), ("words", "rttm"), ("events", "srt")])
def test_unavailable_formats_are_refused(kind, fmt):
    with pytest.raises(OutputError, match="not available"):
        check_format(kind, fmt)


def test_atomic_write_never_truncates_on_failure(tmp_path, monkeypatch):
    path = tmp_path / "answer.json"
    path.write_text("old\n")
    os.chmod(path, 0o640)
    monkeypatch.setattr("framestamp.inference.outputs.os.replace", lambda *a: (_ for _ in ()).throw(OSError("disk full")))
    with pytest.raises(OSError):
        write_atomic(path, "new\n")
    assert path.read_text() == "old\n" and os.listdir(tmp_path) == ["answer.json"]
    monkeypatch.undo()
    write_atomic(path, "new\n")
    assert path.read_text() == "new\n" and os.stat(path).st_mode & 0o777 == 0o640
    with pytest.raises(OutputError, match="does not exist"):
        write_atomic(tmp_path / "missing" / "x.json", "x")


def test_tsv_loads_in_sed_eval(tmp_path):
    sed_io = pytest.importorskip("sed_eval.io", reason="sed_eval (dcase_util) does not import here")
    path = tmp_path / "events.txt"
    path.write_text(render(EVENTS, "tsv"))
    events = sed_io.load_event_list(str(path))
    assert [(e["onset"], e["offset"], e["event_label"]) for e in events] == [
        (0.5, 1.0, "dog"), (0.8, 1.4, "dog"), (2.0, 2.5, "bark"),
    ]  # fmt: skip
