"""The field's standard metrics in the reproduction: DER/JER and speaker count of ``Stamper.diarize``,
event-based F1 of ``Stamper.events``, every matching of all-events questions, their report tables,
and re-evaluating shipped checkpoints."""

import hashlib
import json
from types import SimpleNamespace

import numpy as np
import pytest

from framestamp.data.examples import Clip, Segment
from framestamp.reproduce.plan import DIARIZE, EVENTS_F1, FULL, EvalSpec

RATE = 16000


def _clip(subset: str, seconds: float, segments, name: str) -> Clip:
    return Clip(name, np.zeros(int(seconds * RATE), np.float32), subset, tuple(Segment(*s) for s in segments))


def _timeline(*spans):
    """What the API returns, reduced to what the evaluation reads: spans with label, start_s, end_s."""
    return SimpleNamespace(spans=[SimpleNamespace(label=l, start_s=s, end_s=e) for l, s, e in spans])


@pytest.fixture
def frame_model(tiny_backbone):
    from framestamp.model import FrameStampModel, ModelConfig

    return FrameStampModel(tiny_backbone, ModelConfig(frames_per_token=4, question_modes=["one"]))


def test_the_plan_asks_for_the_standard_metrics_of_every_speaker_and_event_experiment():
    from framestamp.reproduce.run import ALIGN_MODE, PROBE_MODE, ROBUSTNESS_MODES, STANDARD_MODES, WINDOW_MODE

    for experiment in FULL:
        task = experiment.name.split("-")[0]
        assert (DIARIZE in experiment.evals) == (task == "speakers"), experiment.name
        assert (EVENTS_F1 in experiment.evals) == (task == "events"), experiment.name
    modes = {spec.mode for experiment in FULL for spec in experiment.evals}
    handled = {"one", "all", "presence", ALIGN_MODE, PROBE_MODE, WINDOW_MODE, *STANDARD_MODES, *ROBUSTNESS_MODES}
    assert modes == handled  # every mode is handled, and asked by some experiment


def test_diarization_scores_the_turns_of_the_api_against_first_turns(monkeypatch, frame_model):
    pytest.importorskip("pyannote.metrics")
    from framestamp.inference.api import Stamper
    from framestamp.reproduce.run import evaluate_diarization

    # clip 1 (10 s): A speaks [0, 4) and again [8.5, 9.5), B [5, 8); clip 2 (8 s): C [2, 3).
    first = _clip("speakers", 10.0, [("A", 0.0, 4.0), ("B", 5.0, 8.0), ("A", 8.5, 9.5)], "one")
    second = _clip("speakers", 8.0, [("C", 2.0, 3.0)], "two")
    # The API finds A exactly, B from its onset on (no end: to the clip end), and C plus a speaker too many.
    answers = {
        len(first.audio): _timeline(("speaker_1", 0.0, 4.0), ("speaker_2", 5.0, None)),
        len(second.audio): _timeline(("speaker_1", 2.0, 3.0), ("speaker_2", 5.0, 6.0)),
    }
    asked = []

    def diarize(self, audio, ends=False, max_speakers=10, sample_rate_hz=RATE):
        asked.append((ends, sample_rate_hz))
        return answers[len(audio)]

    monkeypatch.setattr(Stamper, "diarize", diarize)
    record = evaluate_diarization(frame_model, [first, second, first], EvalSpec("test", "diarize", 2))
    assert asked == [(True, RATE)] * 2 and record["n"] == 2  # the limit counts clips
    assert record["reference"] == "first_turns" and record["collar_each_side_s"] == 0.25 and not record["skip_overlap"]
    m = record["metrics"]
    # Collar +-0.25 s around reference boundaries. Clip 1 (first turns): A [0.25, 3.75) and B [5.25, 7.75)
    # found, 3.5 + 2.5 s of speech; speaker_2 goes on over [8.25, 10): 1.75 s false alarm. Clip 2: C
    # [2.25, 2.75) found (0.5 s), speaker_2 [5, 6) is 1 s false alarm. DER = 2.75 / 6.5.
    assert m["der"]["der"] == pytest.approx(2.75 / 6.5)
    assert m["der"]["false_alarm_s"] == pytest.approx(2.75) and m["der"]["total_s"] == pytest.approx(6.5)
    assert m["der"]["missed_s"] == pytest.approx(0.0) and m["der"]["confusion_s"] == pytest.approx(0.0)
    # JER: A 0; B against speaker_2: false alarm 1.75 of a 4.25 s union; C 0 (the unpaired extra costs nothing)
    assert m["jer"]["jer"] == pytest.approx((0 + 1.75 / 4.25 + 0) / 3) and m["jer"]["n_speakers"] == 3
    # Every turn: A's second turn [8.75, 9.25) is speaker_2's (0.5 s confusion), [9.75, 10) false alarm;
    # clip 2 as before: (0.5 + 0.25 + 1) / (6.5 + 0.5)
    assert m["der_every_turn"]["der"] == pytest.approx(1.75 / 7.0)
    assert m["der_every_turn"]["confusion_s"] == pytest.approx(0.5)
    # clip 1 holds 2 speakers and 2 are found; clip 2 holds 1 and 2 are found
    assert m["speaker_count"] == {"accuracy": 0.5, "mae": 0.5, "n_reference": 3, "n_found": 4,
                                  "by_speakers": {"1": {"n": 1, "accuracy": 0.0}, "2": {"n": 1, "accuracy": 1.0}}}
    # From onsets: each speaker found from its onset to the clip end, against each speaker from first onset
    # to last end (A [0, 9.5), B [5, 8); C [2, 3)). Clip 1 scored speech: A 4.5 + 2.5 + 1 s, B 2.5 s; false
    # alarm: speaker_2 over [8.25, 9.25) 1 s, both over [9.75, 10) 0.5 s. Clip 2: C 0.5 s found; false alarm
    # speaker_1 [3.25, 8) 4.75 s and speaker_2 [5, 8) 3 s. DER = (1.5 + 7.75) / (10.5 + 0.5).
    assert m["der_onsets"]["der"] == pytest.approx(9.25 / 11.0)
    assert m["der_onsets"]["missed_s"] == pytest.approx(0.0)
    assert record["examples"][0]["hypothesis"] == [[0.0, 4.0, "speaker_1"], [5.0, 10.0, "speaker_2"]]
    json.dumps(record)  # JSON-ready


def test_event_f1_asks_about_every_class_of_the_split_and_scores_every_event(monkeypatch, frame_model):
    pytest.importorskip("sed_eval")
    from framestamp.inference.api import Stamper
    from framestamp.reproduce.run import evaluate_events_f1

    first = _clip("events", 10.0, [("dog", 1.0, 2.0), ("cat", 3.0, 4.0), ("dog", 5.0, 5.5)], "one")
    clicks = _clip("events", 6.0, [("click", t, t + 0.1) for t in (1.0, 2.0, 3.0, 4.0)], "two")
    unasked = _clip("events", 3.0, [("bell", 1.0, 1.5)], "three")  # past the limit: its class is still asked
    # dog: onset 0.1 s late (found), offset 0.6 s late (over max(0.2 s, half of 1 s)); cat 0.5 s late
    answers = {len(first.audio): _timeline(("dog", 1.1, 2.6), ("cat", 3.5, None)), len(clicks.audio): _timeline()}
    asked = []

    def events(self, audio, classes=None, ends=False, max_occurrences=3, sample_rate_hz=RATE):
        asked.append((tuple(classes), ends, max_occurrences))
        return answers[len(audio)]

    monkeypatch.setattr(Stamper, "events", events)
    record = evaluate_events_f1(frame_model, [first, clicks, unasked], EvalSpec("test", "events_f1", 2))
    assert asked == [(("bell", "cat", "click", "dog"), True, 3)] * 2
    assert record["classes"] == ["bell", "cat", "click", "dog"] and record["t_collar_s"] == 0.2
    onset, both = record["metrics"]["onset"], record["metrics"]["onset_offset"]
    # 7 reference events (every one, the 4th click too), 2 found, 1 right: F = 2 * 1 / (7 + 2)
    assert (onset["n_reference"], onset["n_estimated"], onset["n_correct"]) == (7, 2, 1)
    assert onset["f1"] == pytest.approx(2 / 9) and onset["precision"] == pytest.approx(0.5)
    assert both["n_correct"] == 0 and both["f1"] == 0.0
    assert record["metrics"]["n_reference_beyond_cap"] == 1  # the 4th click
    assert record["examples"][0]["estimated"] == [[1.1, 2.6, "dog"], [3.5, 10.0, "cat"]]  # no end: the clip end


def test_all_events_questions_are_scored_under_every_matching():
    pytest.importorskip("mir_eval")
    from framestamp.decoding import Prediction
    from framestamp.evaluate.metrics import MATCHINGS
    from framestamp.evaluate.run import EvalItem, EvalResult
    from framestamp.reproduce.run import describe
    from framestamp.tasks import Query

    clip = _clip("words", 4.0, [("a", 1.0, 1.2), ("b", 2.0, 2.2)], "c")
    item = EvalItem(clip, Query("c", "word", "all", "start", "every word?", (1.0, 2.0), ("a", "b")))
    # one prediction, at 1.9: Hungarian and greedy pair it with 2.0 (hit), positional with 1.0 (miss)
    result = EvalResult([item], [Prediction(np.array([1.9]), 1.0)], {"accuracy": {}}, [0.1], 1)
    record = describe(EvalSpec("test", "all"), result)
    by = record["by_matching"]
    assert list(by) == list(MATCHINGS)
    assert by["hungarian_l1"]["accuracy"]["0.1"] == by["greedy"]["accuracy"]["0.1"] == 0.5
    assert by["accuracy_optimal"]["accuracy"]["0.1"] == 0.5 and by["positional"]["accuracy"]["0.1"] == 0.0
    assert record["onset_f_measure_50ms"]["n_reference"] == 2


def _all_record(**extra) -> dict:
    metrics = {"accuracy": {"0.02": 0.5, "0.05": 0.6, "0.1": 0.7, "0.2": 0.8}, "f1": {"0.05": 0.65},
               "count_accuracy": 0.4, "count_mae": 1.5, "mae_s": 0.1}  # fmt: skip
    return {"split": "test", "mode": "all", "n": 10, "metrics": metrics, "median_seconds_per_query": 0.05} | extra


def _diarize_record() -> dict:
    der = {"der": 0.4, "missed_rate": 0.1, "false_alarm_rate": 0.2, "confusion_rate": 0.1}
    return {
        "split": "test", "mode": "diarize", "n": 5, "reference": "first_turns", "collar_each_side_s": 0.25,
        "skip_overlap": False, "median_seconds_per_clip": 0.5,
        "metrics": {"der": der, "jer": {"jer": 0.3}, "der_every_turn": {"der": 0.6},
                    "speaker_count": {"accuracy": 0.8, "mae": 0.2}},
    }  # fmt: skip


def _events_record() -> dict:
    onset = {"f1": 0.5, "precision": 0.4, "recall": 0.6, "error_rate": 0.9, "f1_class_average": 0.45,
             "n_reference": 12, "n_estimated": 9}  # fmt: skip
    return {
        "split": "test", "mode": "events_f1", "n": 5, "t_collar_s": 0.2, "offset_share": 0.5, "max_occurrences": 3,
        "median_seconds_per_clip": 0.7,
        "metrics": {"onset": onset, "onset_offset": {"error": "sed_eval cannot be imported"}},
    }  # fmt: skip


def test_report_shows_the_standard_metrics_and_renders_results_that_predate_them(tmp_path):
    from framestamp.reproduce.stored import STANDARD_EVALUATIONS
    from framestamp.reproduce.report import write_report

    by_matching = {m: _all_record()["metrics"] for m in ("hungarian_l1", "accuracy_optimal", "greedy", "positional")}
    worse = {"accuracy": {"0.02": 0.1, "0.05": 0.2, "0.1": 0.3, "0.2": 0.4}}
    by_matching["positional"] = by_matching["positional"] | worse
    config = {"data": {"boundaries": ["start"]}, "max_steps": 10, "max_minutes": 1}
    results = {
        "words-all": {"config": config, "evaluations": [_all_record(by_matching=by_matching)]},
        "words-all-token": {"config": config, "evaluations": [_all_record()]},  # stored before by_matching
        "speakers-ihp": {"config": config, "evaluations": [], STANDARD_EVALUATIONS: [_diarize_record()]},
        "events-ihp": {"config": config, "evaluations": [], STANDARD_EVALUATIONS: [_events_record()]},
        "speakers-token": {"config": config, "evaluations": []},  # no standard evaluation: no row
    }
    (tmp_path / "metrics").mkdir()
    for name, summary in results.items():
        (tmp_path / "metrics" / f"{name}.json").write_text(json.dumps(summary))
    lines = write_report(tmp_path).read_text().splitlines()
    assert "## All word starts by matching" in lines
    assert "| words-all | positional | 10 | 10.0% | 20.0% | 30.0% | 40.0% | 65.0% | 0.100 |" in lines
    assert "| words-all-token | Hungarian L1 | 10 | 50.0% | 60.0% | 70.0% | 80.0% | 65.0% | 0.100 |" in lines
    assert "| words-all-token | greedy | 10 | - | - | - | - | - | - |" in lines
    assert "## Speaker turns from `diarize`: DER and JER (test split, collar ±0.25 s)" in lines
    assert "| speakers-ihp | 5 | - | - | 40.0% | 10.0% | 20.0% | 10.0% | 30.0% | 60.0% | 80.0% | 0.20 | no | 0.50 |" in lines
    assert "## Sound events from `events`: event-based F1 (sed_eval, test split, collar 200 ms)" in lines
    assert "| events-ihp | 5 | 50.0% | 40.0% | 60.0% | 0.90 | 45.0% | - | 12 / 9 | no | 0.70 |" in lines
    text = "\n".join(lines)
    assert "Reference: each speaker's first turn" in text and "`skip_overlap=False`" in text
    assert "a collar of ±0.25 s around each reference boundary (pyannote `collar=0.5`)" in text
    assert "onset F (mir_eval, 50 ms)" in text
    assert not any(line.startswith("| speakers-token |") for line in lines)


def test_report_without_standard_metrics_has_no_such_tables():
    from framestamp.reproduce.report import _diarization_table, _events_f1_table, _matching_table

    old = {"speakers-ihp": {"evaluations": [{"split": "test", "mode": "one", "n": 3, "metrics": {}}]}}
    assert _diarization_table(old) == _events_f1_table(old) == _matching_table(old) == ""


def _checkpoint(directory, objective: str, modes: list[str], absent: bool, threshold: float | None) -> None:
    """A tiny random model saved like a shipped checkpoint."""
    from framestamp.model import ModelConfig
    from framestamp.train.loop import build_model

    config = ModelConfig(frames_per_token=4, head_bias_init=-3.0, head_objective=objective, question_modes=modes,
                         answers_absent=absent, presence_threshold=threshold)  # fmt: skip
    build_model(config, seed=0).save_pretrained(directory)


def _digests(directory) -> dict:
    return {p.relative_to(directory): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(directory.rglob("*")) if p.is_file()}  # fmt: skip


@pytest.mark.slow
def test_shipped_checkpoints_are_evaluated_again_without_their_runs(tmp_path):
    pytest.importorskip("pyannote.metrics")
    pytest.importorskip("sed_eval")
    from rich.console import Console

    from framestamp.evaluate.metrics import MATCHINGS
    from framestamp.reproduce.plan import experiment_config
    from framestamp.reproduce.run import STANDARD_MODES
    from framestamp.reproduce.stored import STANDARD_EVALUATIONS
    from framestamp.reproduce.run import reevaluate_shipped

    checkpoints = tmp_path / "checkpoints"
    _checkpoint(checkpoints / "speakers", "ihp", ["one"], True, 0.123)
    _checkpoint(checkpoints / "events", "ihp", ["one"], True, None)
    _checkpoint(checkpoints / "words-all", "ihp", ["all"], False, None)
    _checkpoint(checkpoints / "speakers-token", "none", ["one"], True, None)
    before = _digests(checkpoints)
    shipped = {e.ships_as: e for e in FULL if e.ships_as}
    speakers, events, speakers_token = shipped["speakers"], shipped["events"], shipped["speakers-token"]
    # the shipped speakers model was evaluated before: its training record stays, its evaluations go

    config = experiment_config(speakers, corpus="tiny", max_steps=7).to_dict()
    stale = {"split": "test", "mode": "one", "n": 1, "metrics": {"accuracy": {"0.05": 1.0}}}
    (tmp_path / "results" / "metrics").mkdir(parents=True)
    choice = {"window_s": 15.0, "n": 2, "n_long": 1, "candidates": {"15": {"accuracy": 1.0, "short": 1.0, "long": 1.0}}}
    stored = {"recipe": speakers.recipe, "config": config, "evaluations": [stale], "train": {"step": 7.0},
              "wall_minutes": 1.5, "window_choice": choice}  # fmt: skip
    (tmp_path / "results" / "metrics" / f"{speakers.name}.json").write_text(json.dumps(stored))

    written = reevaluate_shipped(tmp_path / "results", ("speakers", events.name, "words-all", "speakers-token"),
                                 Console(quiet=True), checkpoints, corpus="tiny", eval_limit=2)  # fmt: skip

    assert sorted(p.stem for p in written) == sorted([events.name, speakers.name, speakers_token.name, "words-all"])
    assert _digests(checkpoints) == before  # nothing written into a checkpoint (no calibration)
    summary = json.loads((tmp_path / "results" / "metrics" / f"{speakers.name}.json").read_text())
    assert summary["train"] == {"step": 7.0} and summary["wall_minutes"] == 1.5 and summary["config"] == config
    assert summary["window_choice"] == choice  # the window the checkpoint was given is still described
    assert summary["evaluated_from"] == "shipped checkpoint speakers" and stale not in summary["evaluations"]
    asked = {(s.split, s.mode, s.copy) for s in speakers.evals if s.mode not in STANDARD_MODES}
    assert {(e["split"], e["mode"], e.get("copy")) for e in summary["evaluations"]} == asked
    (presence,) = [e for e in summary["evaluations"] if e["mode"] == "presence"]
    assert presence["metrics"]["threshold"] == 0.123  # the shipped threshold, as it is
    diarize = summary[STANDARD_EVALUATIONS][0]
    assert (diarize["mode"], diarize["n"]) == ("diarize", 2)
    assert {"der", "jer", "der_every_turn", "speaker_count"} <= set(diarize["metrics"])
    assert 0.0 <= diarize["metrics"]["jer"]["jer"] <= 1.0
    events_summary = json.loads((tmp_path / "results" / "metrics" / f"{events.name}.json").read_text())
    (f1,) = events_summary[STANDARD_EVALUATIONS]
    assert f1["mode"] == "events_f1" and 0.0 <= f1["metrics"]["onset"]["f1"] <= 1.0 and f1["classes"]
    assert "train" not in events_summary  # never evaluated before: no training record to keep
    words_all = json.loads((tmp_path / "results" / "metrics" / "words-all.json").read_text())
    assert list(words_all["evaluations"][0]["by_matching"]) == list(MATCHINGS)
    token = json.loads((tmp_path / "results" / "metrics" / f"{speakers_token.name}.json").read_text())
    assert STANDARD_EVALUATIONS not in token  # the API cannot run a token baseline yet
    report = (tmp_path / "results" / "report.md").read_text()
    assert f"| {speakers.name} | 2 |" in report.split("## Speaker turns from `diarize`")[1]
    assert f"| {events.name} | 2 |" in report.split("## Sound events from `events`")[1]
    assert "| words-all | accuracy-optimal | 2 |" in report


def test_only_shipped_experiments_can_be_evaluated_again(tmp_path):
    from framestamp.errors import FramestampError
    from framestamp.reproduce.run import reevaluate_shipped

    with pytest.raises(FramestampError, match="not shipped: words-ihp"):
        reevaluate_shipped(tmp_path, ("words-ihp",), checkpoints_dir=tmp_path)


def test_the_cli_reevaluates_the_shipped_checkpoints_instead_of_training(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from framestamp.cli import app
    from framestamp.reproduce import run

    calls = []
    monkeypatch.setattr(run, "reevaluate_shipped", lambda **kwargs: calls.append(kwargs) or [])
    monkeypatch.setattr(run, "reproduce", lambda **kwargs: pytest.fail("trained instead"))
    args = ["reproduce", "--reevaluate-shipped", "--results", str(tmp_path), "--only", "speakers", "--only", "words"]
    result = CliRunner().invoke(app, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert [(c["results_dir"], c["names"]) for c in calls] == [(tmp_path, ("speakers", "words"))]
