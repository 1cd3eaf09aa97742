"""Numbers quoted in prose (the report's notes, the docs) are read from the stored results; a reference
to nothing stored fails."""

import json
from pathlib import Path

import pytest

from framestamp.reproduce.quoted import NotStoredError, fill_marked, render_notes, stale_marked
from framestamp.reproduce.report import NOTES_FILE

RESULTS = Path(__file__).resolve().parents[2] / "results"


def _stored(tmp_path):
    def one(accuracy, **extra):
        return {"split": "test", "mode": "one", "n": 400, "metrics": {"accuracy": {"0.05": accuracy, "0.1": 0.9}}} | extra

    summary = {
        "config": {"data": {"corpus": "open"}},
        "evaluations": [one(0.788), one(0.743, copy="8khz"), one(0.61, corpus="default"),
                        {"split": "test", "mode": "presence", "n": 200, "metrics": {"balanced_accuracy": 0.805},
                         "long": {"balanced_accuracy": 0.7}}],
        "standard_evaluations": [{"split": "test", "mode": "diarize", "metrics": {"der": 0.3125}}],
        "train": {"steps": 3000},
    }  # fmt: skip
    (tmp_path / "metrics").mkdir()
    (tmp_path / "metrics" / "words-open.json").write_text(json.dumps(summary))
    (tmp_path / "probes").mkdir()
    probe = {"splits": {"test_unseen:open": {"clips": 200, "within 50 ms": {"with pauses": 0.779, "gain": 0.023}}}}
    (tmp_path / "probes" / "decoder.json").write_text(json.dumps(probe))
    (tmp_path / "probes" / "copy-of-a-summary.json").write_text(json.dumps(summary))
    (tmp_path / "probes" / "run.csv").write_text("step,minutes,aux\n50,1.1,5.6\n1000,19.8,0.444217\n")
    return tmp_path


def test_references_become_the_stored_values(tmp_path):
    results = _stored(tmp_path)
    text = ("words {{words-open: test one 50ms | %}} ({{words-open: test one 100ms | %0}} within 100 ms), "
            "8 kHz {{words-open: test one copy=8khz 50ms | %}}, grammar-only {{ words-open : test one corpus=default 50ms | % }}, "
            "presence {{words-open: test presence balanced_accuracy | %}}, DER {{words-open: test diarize der | .2f}}, "
            "{{words-open: /train/steps}} steps; aligned {{probes/decoder.json: splits/test_unseen:open/within 50 ms/"
            "with pauses | %}} of {{probes/decoder.json: splits/test_unseen:open/clips}} clips, "
            "+{{probes/decoder.json: splits/test_unseen:open/within 50 ms/gain | points}}; long presence "
            "{{words-open: test presence long/balanced_accuracy | %}}, a copy {{probes/copy-of-a-summary.json: test one 50ms | %}}; "
            "identity loss {{probes/run.csv: step=1000/aux | .2f}} nats after {{probes/run.csv: step=1000/minutes | .0f}} min.")  # fmt: skip
    assert render_notes(text, results) == (
        "words 78.8% (90% within 100 ms), 8 kHz 74.3%, grammar-only 61.0%, presence 80.5%, DER 0.31, "
        "3,000 steps; aligned 77.9% of 200 clips, +2.3 points; long presence 70.0%, a copy 78.8%; "
        "identity loss 0.44 nats after 20 min.")
    # without a form: a share stays a number (never a percentage unless asked), a large one has separators
    assert render_notes("{{words-open: test one 50ms}}, {{probes/run.csv: step=1000/aux}}, "
                        "{{probes/run.csv: step=50/minutes}}", results) == "0.788, 0.4442, 1.1"
    assert render_notes("no references, 12.5 stays", results) == "no references, 12.5 stays"


@pytest.mark.parametrize("reference, problem", [
    ("{{words-closed: test one 50ms}}", "no stored results"),
    ("{{words-open: test_long one 50ms}}", "names nothing stored"),
    ("{{words-open: test one 20ms}}", "names nothing stored"),
    ("{{words-open: test one copy=late 50ms}}", "names nothing stored"),
    ("{{words-open: test one voice=new 50ms}}", "unknown selector"),
    ("{{words-open: /train/minutes}}", "names nothing stored"),
    ("{{probes/decoder.json: splits/test/clips}}", "names nothing stored"),
    ("{{probes/run.csv: step=2000/aux}}", "names nothing stored"),
    ("{{words-open test one 50ms}}", "write"),
    ("{{words-open: test presence balanced_accuracy | ,x}}", r"balanced_accuracy \| ,x\}\}: Cannot specify"),
    ("{{words-open: /config/data/corpus | %}}", "no number"),
])  # fmt: skip
def test_a_reference_to_nothing_stored_is_an_error_naming_it(tmp_path, reference, problem):
    with pytest.raises(NotStoredError, match=problem):
        render_notes(f"before {reference} after", _stored(tmp_path))


def test_the_stored_notes_name_only_stored_values():
    notes = sorted(RESULTS.rglob(NOTES_FILE))
    assert notes, "no stored notes"
    for path in notes:
        render_notes(path.read_text(), path.parent)  # raises on a reference to nothing stored


def test_the_report_marks_a_reference_to_nothing_stored_and_warns(tmp_path):
    from framestamp.errors import FramestampWarning

    with pytest.warns(FramestampWarning, match="words-closed"):
        text = render_notes("a {{words-closed: test one 50ms | %}} b", _stored(tmp_path), strict=False)
    assert text == "a **[not stored: `{{words-closed: test one 50ms | %}}`]** b"


def test_a_value_beside_its_reference_is_checked_and_filled(tmp_path):
    results = _stored(tmp_path)
    text = "at 6,000 steps: <!-- {{words-open: test one 50ms | %}} -->78.8%<!-- / --> and <!-- {{words-open: /train/steps}} -->2,000<!-- / -->."
    assert stale_marked(text, results) == ["words-open: /train/steps"]
    filled = fill_marked(text, results)
    assert filled == text.replace("-->2,000<", "-->3,000<") and stale_marked(filled, results) == []


def test_the_docs_quote_the_stored_values():
    docs = Path(__file__).resolve().parents[2] / "docs"
    stale = {path.name: stale_marked(path.read_text(), RESULTS) for path in sorted(docs.glob("*.md"))}
    assert not any(stale.values()), stale

