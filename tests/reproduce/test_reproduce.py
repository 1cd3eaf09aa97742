"""The reproduce pipeline end to end on a toy setting: tiny corpus, two steps per recipe."""

import json

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from framestamp.errors import FramestampError
from framestamp.reproduce.plan import FULL, PLANS, plan, recipe
from framestamp.reproduce.stored import Anchors
from framestamp.reproduce.run import reproduce
from framestamp.tasks import parse_answer


@pytest.mark.parametrize("preset", sorted(PLANS))
def test_every_recipe_of_each_plan_parses_and_is_on_its_preset(preset):
    for experiment in plan(quick=False, preset=preset) + plan(quick=True, preset=preset):
        config = recipe(experiment.recipe, preset=experiment.preset)
        assert experiment.preset == preset and config.model.backbone == preset
        assert config.output_dir.endswith(experiment.recipe)
    names = {e.recipe for e in PLANS[preset]}
    assert names >= {"words-ihp", "words-token", "speakers-ihp", "events-ihp", "words-all"}
    # every shipped checkpoint name is made by one experiment of each plan
    assert sorted(e.ships_as for e in PLANS[preset] if e.ships_as) == sorted(
        e.ships_as for e in FULL if e.ships_as)  # fmt: skip


def test_an_unknown_preset_or_experiment_is_a_config_error(tmp_path):
    from framestamp.errors import ConfigError

    with pytest.raises(ConfigError, match="no reproduction plan for preset 'huge'"):
        plan(quick=False, preset="huge")
    with pytest.raises(ConfigError, match="not in the plan: words-ihp-long"):
        reproduce(results_dir=tmp_path, runs_dir=tmp_path, only=("words-ihp-long",), preset="tiny")


def test_every_breakdown_the_plans_ask_for_exists():
    from framestamp.reproduce.plan import PLANS
    from framestamp.reproduce.run import GROUPINGS

    experiments = [e for experiments in PLANS.values() for e in experiments]
    asked = {grouping for experiment in experiments for spec in experiment.evals for grouping in spec.by}
    assert asked == set(GROUPINGS)  # each is used, and each used one exists


@pytest.mark.slow
def test_reproduce_runs_end_to_end_on_the_tiny_corpus(tmp_path):
    """The from-scratch plan, whose first stages train in seconds: reproduce, report, ship, cards."""
    report = reproduce(
        results_dir=tmp_path / "results", runs_dir=tmp_path / "runs",
        only=("words-ihp", "words-ihp-long", "words-token", "words-token-long", "words-all"),
        corpus="tiny", max_steps=2, eval_limit=3, preset="tiny-scratch",
    )  # fmt: skip
    text = report.read_text()
    assert "| words-ihp | 3 |" in text and "| words-token | 3 |" in text
    assert "All word starts" in text and "Length generalisation" in text
    assert "## Not there" in text and "| words-ihp | 1 / 1 |" in text and "| words-token | 1 / 1 |" in text
    summary = json.loads((tmp_path / "results" / "metrics" / "words-token.json").read_text())
    test_eval = summary["evaluations"][0]
    assert test_eval["split"] == "test" and test_eval["n"] == len(test_eval["examples"]) == 3
    # the rate counts the generated answers that hold no time, read again here from their text
    unparsed = [parse_answer(example["text"], "start", "one").parse_error for example in test_eval["examples"]]
    assert test_eval["metrics"]["parse_error_rate"] == pytest.approx(np.mean(unparsed))
    assert (tmp_path / "results" / "figures" / "accuracy_by_tolerance.png").stat().st_size > 1000
    assert (tmp_path / "runs" / "words-ihp" / "final" / "head.safetensors").exists()
    # words-ihp continues its first stage, which `only` brought in without being named.
    stage_two = json.loads((tmp_path / "results" / "metrics" / "words-ihp.json").read_text())["config"]
    assert stage_two["init_from"] == f"{tmp_path / 'runs'}/words-ihp-short/final"
    assert (tmp_path / "runs" / "words-ihp-short" / "final" / "head.safetensors").exists()
    assert not (tmp_path / "results" / "metrics" / "words-ihp-short.json").exists()

    from framestamp.model import FrameStampModel
    from framestamp.reproduce.ship import ship

    shipped = ship(tmp_path / "runs", tmp_path / "results", dest=tmp_path / "shipped", preset="tiny-scratch")
    assert sorted(p.name for p in shipped) == ["words", "words-all", "words-token"]
    card = (tmp_path / "shipped" / "words" / "README.md").read_text()
    # the shipped word model is the fourth stage: trained on with absent questions and position gaps
    assert ("clips of every length, 30% of questions about something absent, a gap of up to 40 s of positions "
            "between question and audio; continues `words-ihp-gap`") in card
    assert "| test | one | 3 |" in card and "Not there (test, 1 present and 1 absent questions" in card
    assert "| train | one | 3 |" in card and "`train` asks about clips it trained on" in card
    assert "`train` asks" not in (tmp_path / "shipped" / "words-all" / "README.md").read_text()  # no train evaluation
    assert "- Stage before: `words-ihp-short`, 2 steps" in card and "clips up to 5 s." in card
    assert "- Stage before: `words-ihp`, 2 steps" in card and "continues `words-ihp-short`." in card
    assert "- Stage before: `words-ihp-gap`, 2 steps" in card and "continues `words-ihp`." in card
    shipped_words = FrameStampModel.from_pretrained(tmp_path / "shipped" / "words").config
    assert shipped_words.head_objective == "ihp" and shipped_words.answers_absent
    # the threshold fitted on the dev split is the one the test split's presence evaluation used
    evaluations = json.loads((tmp_path / "results" / "metrics" / "words-ihp-long.json").read_text())["evaluations"]
    presence = next(e for e in evaluations if e["mode"] == "presence" and e["split"] == "test")
    assert shipped_words.presence_threshold == presence["metrics"]["threshold"]
    assert f"present when P(N >= 1) >= {shipped_words.presence_threshold})" in card
    assert FrameStampModel.from_pretrained(tmp_path / "shipped" / "words-token").config.presence_threshold is None
    again = ship(tmp_path / "runs", tmp_path / "results", tmp_path / "again", ("words-all",), preset="tiny-scratch")
    assert [p.name for p in again] == ["words-all"]


@pytest.mark.slow
def test_jobs_run_experiments_side_by_side_with_the_results_of_one_at_a_time(tmp_path):
    settings = {"only": ("words-ihp", "words-token"), "corpus": "tiny", "max_steps": 2, "eval_limit": 2}
    reproduce(results_dir=tmp_path / "one", runs_dir=tmp_path / "runs-one", **settings)
    reproduce(results_dir=tmp_path / "two", runs_dir=tmp_path / "runs-two", jobs=2, **settings)
    for name in ("words-ihp", "words-token"):
        one, two = (json.loads((tmp_path / d / "metrics" / f"{name}.json").read_text()) for d in ("one", "two"))
        assert [e["metrics"] for e in one["evaluations"]] == [e["metrics"] for e in two["evaluations"]]
        a, b = (load_file(tmp_path / d / name / "final" / "backbone" / "model.safetensors") for d in ("runs-one", "runs-two"))
        assert a.keys() == b.keys() and all(torch.equal(a[key], b[key]) for key in a)
    # the first stages ran too, each before the stage that continues it, with its output in a log
    assert "train" in (tmp_path / "runs-two" / "words-ihp-short.log").read_text()
    assert not (tmp_path / "two" / "metrics" / "words-ihp-short.json").exists()


@pytest.mark.slow
def test_a_failed_job_is_named_with_its_log(tmp_path):
    with pytest.raises(FramestampError, match=r"words-ihp-short failed .*words-ihp-short\.log"):
        reproduce(results_dir=tmp_path / "r", runs_dir=tmp_path / "runs", only=("words-ihp",),
                  corpus=str(tmp_path / "no-such-corpus"), max_steps=2, jobs=2)  # fmt: skip
    assert not (tmp_path / "runs" / "words-ihp").exists()  # never started: its first stage failed


def _summary(**accuracy_at_50ms_by_split) -> dict:
    evaluations = [{"split": split, "mode": "one", "n": 10, "metrics": {"accuracy": {"0.05": value}}}
                   for split, value in accuracy_at_50ms_by_split.items()]  # fmt: skip
    return {"evaluations": evaluations, "config": {}}


def test_report_targets_compare_measured_values_and_read_the_notes(tmp_path):
    from framestamp.reproduce.report import NOTES_FILE, _targets, write_report

    results = {"words-ihp-long": _summary(test=0.95, test_long=0.5), "words-ihp-absent": _summary(test=0.5, test_long=0.45),
               "words-token-long": _summary(test=0.2, test_long=0.0) | {"config": {"objective": "token"}}}  # fmt: skip
    rows = _targets(results, "tiny-scratch").splitlines()
    assert "| word, one occurrence within 50 ms: `words-ihp-long` | 95.0% | 90% | yes |" in rows
    assert "| long clips: keeps 50.0% of its 95.0% within 50 ms: `words-ihp-long` | 52.6% | 80% | **no** |" in rows
    assert "| long clips: keeps 45.0% of its 50.0% within 50 ms: `words-ihp-absent` | 90.0% | 80% | yes |" in rows
    assert any("`words-token-long`" in row and "(baseline)" in row for row in rows)
    assert not any("words-ihp-gap" in row for row in rows)  # not evaluated: no row
    assert not any("speakers" in row for row in rows)  # not evaluated: no row
    (tmp_path / "metrics").mkdir()
    (tmp_path / NOTES_FILE).write_text("## What was tried\n\nshort clips first.\n")
    assert "## What was tried\n\nshort clips first." in write_report(tmp_path, preset="tiny-scratch").read_text()


def test_the_pretrained_targets_read_breakdowns_copies_speaker_counts_and_the_anchor():
    from framestamp.reproduce.report import _targets

    def one(at_50, at_100=None, copy=None, **extra):
        record = {"split": "test", "mode": "one", "n": 10, "metrics": {"accuracy": {"0.05": at_50, "0.1": at_100}}}
        return record | extra | ({"copy": copy} if copy else {})

    by_source = {"asterisk-core-sounds-en-wav": {"n": 4, "accuracy": {"0.05": 0.75}}}
    by_voice = {"new voice": {"n": 5, "accuracy": {"0.1": 0.9}}, "seen voice": {"n": 5, "accuracy": {"0.1": 0.1}}}
    by_speakers = {"1": {"n": 10, "accuracy": 0.0}, "2": {"n": 3, "accuracy": 1.0}, "4": {"n": 1, "accuracy": 0.0},
                   "6": {"n": 5, "accuracy": 1.0}}  # fmt: skip
    results = {
        "words-spoken": {"config": {}, "evaluations": [one(0.96, by_source=by_source), one(0.93, copy="8khz"),
                                                    one(0.90, copy="8bit")]},
        "words-all": {"config": {}, "evaluations": [{"split": "test", "mode": "all", "metrics": {"accuracy": {"0.05": 0.9}}}]},
        "speakers-ihp": {"config": {}, "evaluations": [one(0.5, 0.86, by_voice=by_voice)],
                         "standard_evaluations": [{"split": "test", "mode": "diarize",
                                                   "metrics": {"speaker_count": {"by_speakers": by_speakers}}}]},
    }  # fmt: skip
    anchor = Anchors(({"groups": {"all": {"variants": {"aligner": {"metrics": {"accuracy": {"0.05": 0.87}}}}}}},))
    rows = _targets(results, "tiny", anchor).splitlines()
    assert "| word, one occurrence within 50 ms: `words-spoken` | 96.0% | 95% | yes |" in rows
    assert "| the recorded voice's held-out prompts within 50 ms: `words-spoken` | 75.0% | 90% | **no** |" in rows
    assert "| test clips as 8khz files: 93.0% within 50 ms, points lost: `words-spoken` | 3.0 points | <= 5 points | yes |" in rows
    assert "| test clips as 8bit files: 90.0% within 50 ms, points lost: `words-spoken` | 6.0 points | <= 5 points | **no** |" in rows
    assert "| speaker onset, one speaker within 100 ms: `speakers-ihp` | 86.0% | 85% | yes |" in rows
    assert "| speaker onsets of voices training never heard within 100 ms: `speakers-ihp` | 90.0% | 80% | yes |" in rows
    # 2-4 speakers only: 3 of 4 clips counted right
    assert "| `diarize` counts the speakers of 2-4-speaker test clips: `speakers-ihp` | 75.0% | 80% | **no** |" in rows
    assert ("| all word starts within 50 ms, above pocketsphinx alignment given the transcript: `words-all` | 90.0% "
            "| 87% | yes |") in rows
    assert "| all word starts, count inferred (Hungarian) within 50 ms: `words-all` | 90.0% | 95% | **no** |" in rows
    assert not any("long clips" in row or "event" in row or "non-speech" in row for row in rows)  # not evaluated
    results["words-spoken"]["evaluations"] += [
        {"split": "test", "mode": "nonspeech", "metrics": {"false_present": 0.01}},
        {"split": "test", "mode": "late_words", "metrics": {"accuracy_drop_late": 0.125}},
    ]  # fmt: skip
    rows = _targets(results, "tiny", anchor).splitlines()
    assert "| a word called present in non-speech of 10 s to 60 min: `words-spoken` | 1.0% | <= 2% | yes |" in rows
    assert any("after 30 s" in row and "| 12.5 points | <= 10 points | **no** |" in row for row in rows)
    assert not any("pocketsphinx" in row for row in _targets(results, "tiny").splitlines())  # no anchor stored


def test_the_presence_threshold_is_fitted_on_short_clips_and_long_recordings_alike():
    from framestamp.data.examples import Clip, Segment
    from framestamp.reproduce.run import presence_calibration_items

    def clip(clip_id, subset, labels):
        segments = tuple(Segment(label, 0.5 + i, 0.8 + i) for i, label in enumerate(labels))
        return Clip(clip_id, np.zeros(4 * 16_000, np.float32), subset, segments, " ".join(labels) * (subset == "words"))

    words = [clip("a", "words", ["apple", "dog"]), clip("b", "words", ["cherry", "bark"]), clip("c", "words", ["pear"])]
    items = presence_calibration_items(words, 6)
    short, long = items[:6], items[6:]
    assert [i.clip.id for i in short] == ["a", "a", "b", "b", "c", "c"] and len(long) == 6
    assert all(20.0 <= i.clip.duration_s and "joined" in i.clip.provenance for i in long)
    assert [i.query.n_events > 0 for i in long] == [True, False] * 3
    speakers = [clip("s", "speakers", ["speaker 1", "speaker 2"]), clip("t", "speakers", ["speaker 1"])]
    assert [i.clip.id for i in presence_calibration_items(speakers, 4)] == ["s", "s", "t", "t"]  # never joined


def test_the_window_table_shows_the_chosen_window_and_every_candidate():
    from framestamp.reproduce.report import _window_table

    choice = {"window_s": 15.0, "n": 96, "n_long": 48, "candidates": {
        "30": {"accuracy": 0.5, "short": 0.7, "long": 0.3}, "15": {"accuracy": 0.6, "short": 0.7, "long": 0.5}}}
    results = {"words-ihp": {"evaluations": [], "window_choice": choice}, "speakers-ihp": {"evaluations": []}}
    table = _window_table(results)
    assert "on 96 dev questions, 48 of them on 20-60 s recordings" in table
    assert "| experiment | chosen | 30 s | 15 s |" in table.splitlines()
    assert "| words-ihp | 15 s | 50.0% (70% / 30%) | 60.0% (70% / 50%) |" in table.splitlines()
    assert "speakers" not in table  # no window chosen: no row
    assert _window_table({"speakers-ihp": {"evaluations": []}}) == ""


def test_the_probe_table_sets_the_probe_beside_the_models_own_answer():
    from framestamp.reproduce.report import _probe_table

    probe = {"split": "test", "mode": "probe", "n": 4,
             "metrics": {"answered": 0.75, "accuracy": {"0.05": 0.5, "0.1": 0.75}, "chance_accuracy": {"0.05": 0.02}}}
    own = {"split": "test", "mode": "one", "n": 4, "metrics": {"accuracy": {"0.05": 0.0}}}
    rows = _probe_table({"words-token": {"evaluations": [own, probe]}, "words-ihp": {"evaluations": [own]}}).splitlines()
    assert "| words-token | 4 | 75.0% | 50.0% | 75.0% | 0.0% | 2.0% |" in rows
    assert not any(row.startswith("| words-ihp") for row in rows)  # no probe evaluation: no row
    assert _probe_table({"words-ihp": {"evaluations": [own]}}) == ""


def test_the_robustness_section_shows_each_check():
    from framestamp.reproduce.report import _robustness_section

    def balanced(value):
        return {"balanced_accuracy": value, "present_recall": 0.9, "absent_recall": 0.5}

    records = [
        {"split": "test", "mode": "nonspeech", "n": 3, "total_audio_s": 7200.0, "metrics": {"false_present": 1 / 3},
         "by_kind": {"tone": {"n": 1, "false_present": 1.0}}, "by_length": {"10-60 s": {"n": 3, "false_present": 1 / 3}}},
        {"split": "test", "mode": "presence_long", "short": balanced(0.8), "long": balanced(0.7),
         "metrics": {"balanced_accuracy_drop": 0.1}},
        {"split": "test", "mode": "late_words", "by_group": {"first said in the first 30 s": {"n": 2, "accuracy": {"0.05": 1.0}},
                                                              "first said after 30 s": {"n": 2, "accuracy": {"0.05": 0.5}}},
         "metrics": {"accuracy_drop_late": 0.5}},
    ]  # fmt: skip
    text = _robustness_section({"words-ihp": {"evaluations": records}})
    assert "| words-ihp | 3 | 2.0 h | 33.3% | tone 100.0% of 1, 10-60 s 33.3% of 3 |" in text
    assert "| words-ihp | 80.0% | 70.0% | 90.0% | 50.0% | 10.0 |" in text
    assert "| words-ihp | 2 / 2 | 100.0% | 50.0% | 50.0 |" in text
    assert _robustness_section({"words-ihp": {"evaluations": []}}) == ""


def test_fit_and_event_class_tables():
    from framestamp.corpus.pools import held_out_families
    from framestamp.corpus.sources import event_classes
    from framestamp.reproduce.report import _event_class_table, _fit_table

    def one(split, at_50, at_100, **extra):
        return {"split": split, "mode": "one", "n": 4, "metrics": {"accuracy": {"0.05": at_50, "0.1": at_100}}} | extra

    by_class = {"whoosh": {"n": 4, "accuracy": {"0.05": 0.75}}, "click": {"n": 2, "accuracy": {"0.05": 0.5}}}
    results = {
        "events-ihp": {"evaluations": [one("train", 0.9, 0.95), one("test", 0.5, 0.6, by_subject=by_class)]},
        "words-ihp": {"evaluations": [one("test", 0.7, 0.8)]},  # no train evaluation: no fit row
    }
    fit = _fit_table(results).splitlines()
    assert "| events-ihp | 4 / 4 | 90.0% | 50.0% | 95.0% | 60.0% |" in fit
    assert not any("words-ihp" in row for row in fit)
    rows = _event_class_table(results).splitlines()
    families = {name: len(held_out_families(f)["train"]) for name, f in event_classes().items()}
    assert f"| click | {families['click']} | 50% (2) |" in rows
    assert f"| whoosh | {families['whoosh']} | 75% (4) |" in rows
    assert rows.index(f"| click | {families['click']} | 50% (2) |") < rows.index(f"| whoosh | {families['whoosh']} | 75% (4) |")
    assert families["whoosh"] > families["click"] >= 1  # fewest recordings first
    assert _event_class_table({"words-ihp": results["words-ihp"]}) == ""


def test_describe_breaks_single_occurrence_results_down_by_event_class():
    from framestamp.data.examples import Clip, Segment
    from framestamp.evaluate.run import EvalItem, EvalResult
    from framestamp.decoding import Prediction
    from framestamp.reproduce.plan import EvalSpec
    from framestamp.reproduce.run import describe
    from framestamp.tasks import Query

    clip = Clip("c", np.zeros(16000 * 4, np.float32), "events", (Segment("bell", 1.0, 1.5), Segment("click", 2.0, 2.1)))
    items = [EvalItem(clip, Query("c", "event", "one", "start", f"when {s}?", (t,), (s,), s))
             for s, t in (("bell", 1.0), ("click", 2.0), ("bell", 1.0))]  # fmt: skip
    predictions = [Prediction(np.array([1.0]), 1.0), Prediction(np.array([3.0]), 1.0), Prediction(np.array([]), 0.0)]
    result = EvalResult(items, predictions, {"accuracy": {}}, [0.1], 3)
    record = describe(EvalSpec("test", "one", by=("subject",)), result)
    assert record["by_subject"]["bell"]["n"] == 2 and record["by_subject"]["bell"]["accuracy"]["0.05"] == 0.5
    assert record["by_subject"]["click"]["accuracy"]["0.2"] == 0.0
    assert "by_subject" not in describe(EvalSpec("test", "one"), result)


def test_speaker_onsets_are_broken_down_by_overlap():
    from framestamp.data.examples import Clip, Segment
    from framestamp.evaluate.run import EvalItem, EvalResult
    from framestamp.decoding import Prediction
    from framestamp.reproduce.plan import EvalSpec
    from framestamp.reproduce.report import BREAKDOWNS, _grouped_table
    from framestamp.reproduce.run import describe
    from framestamp.tasks import Query

    turns = (Segment("a", 0.0, 3.0), Segment("b", 1.0, 2.0), Segment("c", 1.5, 2.5))
    clip = Clip("c", np.zeros(16000 * 4, np.float32), "speakers", turns)
    items = [EvalItem(clip, Query("c", "speaker", "one", "start", f"when {k}?", (t,), (k,), k))
             for k, t in (("a", 0.0), ("b", 1.0), ("c", 1.5))]  # fmt: skip
    predictions = [Prediction(np.array([t]), 1.0) for t in (0.0, 1.0, 1.8)]
    record = describe(EvalSpec("test", "one", by=("overlap",)), EvalResult(items, predictions, {"accuracy": {}}, [0.1], 3))
    by = record["by_overlap"]
    assert list(by) == ["no other voice", "1 other voice", "2-3 other voices"]
    assert [by[b]["accuracy"]["0.1"] for b in by] == [1.0, 1.0, 0.0]
    overlap = next(b for b in BREAKDOWNS if b[0] == "overlap")
    results = {"speakers-ihp": {"evaluations": [record]}, "words-ihp": {"evaluations": []}}
    rows = _grouped_table(results, *overlap).splitlines()
    assert "| when the speaker starts | speakers-ihp |" in rows
    assert "| 2-3 other voices | 0% (1) |" in rows
    assert not any(row.startswith("| 4+") for row in rows)  # no question there: no row
    assert _grouped_table({"words-ihp": {"evaluations": []}}, *overlap) == ""


def test_words_are_broken_down_by_source_of_the_speech():
    from framestamp.data.examples import Clip, Segment
    from framestamp.evaluate.run import EvalItem, EvalResult
    from framestamp.decoding import Prediction
    from framestamp.reproduce.plan import EvalSpec
    from framestamp.reproduce.report import BREAKDOWNS, _grouped_table
    from framestamp.reproduce.run import describe
    from framestamp.tasks import Query

    def clip(source):
        audio = np.zeros(16000 * 4, np.float32)
        return Clip(source, audio, "words", (Segment("dog", 1.0, 1.4),), provenance={"source": source})

    items = [EvalItem(clip(s), Query(s, "word", "one", "start", "when dog?", (1.0,), ("dog",), "dog"))
             for s in ("espeak", "asterisk", "asterisk")]  # fmt: skip
    predictions = [Prediction(np.array([t]), 1.0) for t in (1.0, 1.0, 2.0)]
    result = EvalResult(items, predictions, {"accuracy": {}}, [0.1], 3)
    record = describe(EvalSpec("test", "one", by=("source", "time")), result)
    assert list(record["by_source"]) == ["asterisk", "espeak"]  # sorted
    assert record["by_source"]["asterisk"]["accuracy"]["0.05"] == 0.5
    assert list(record["by_time"]) == ["0-4 s"] and record["by_time"]["0-4 s"]["n"] == 3
    source = next(b for b in BREAKDOWNS if b[0] == "source")
    rows = _grouped_table({"words-ihp": {"evaluations": [record]}}, *source).splitlines()
    assert rows[0].startswith("## Words by source") and "| asterisk | 50% (2) |" in rows


@pytest.mark.parametrize("preset", sorted(PLANS))
def test_robustness_checks_come_after_the_presence_calibration(preset):
    from framestamp.reproduce.run import ROBUSTNESS_MODES

    for experiment in PLANS[preset]:
        modes = [spec.mode for spec in experiment.evals]
        for mode in set(modes) & set(ROBUSTNESS_MODES):
            assert "presence" in modes[: modes.index(mode)], (experiment.name, mode)
    if preset == "tiny":
        shipped_words = next(e for e in PLANS[preset] if e.ships_as == "words")
        assert set(ROBUSTNESS_MODES) <= {spec.mode for spec in shipped_words.evals}


@pytest.mark.parametrize("preset", sorted(PLANS))
def test_every_table_shows_experiments_of_its_plan(preset):
    from dataclasses import fields

    from framestamp.reproduce.plan import TABLES

    names, tables = {e.name for e in PLANS[preset]}, TABLES[preset]
    for field in fields(tables):
        shown = getattr(tables, field.name)
        shown = {name for pair in shown for name in pair} if field.name == "open_vocabulary" else set(shown)
        assert shown <= names, (field.name, shown - names)
    assert tables.single and tables.long and tables.retention


def test_a_finished_experiment_is_evaluated_again_only_when_its_model_is_newer_or_asked(tmp_path, monkeypatch):
    import os

    from rich.console import Console

    from framestamp.reproduce import run as reproduce_run
    from framestamp.reproduce.plan import PLANS, experiment_config

    experiment = PLANS["tiny"][0]
    config = experiment_config(experiment, runs_dir=str(tmp_path / "runs"))
    final = tmp_path / "runs" / experiment.name / "final"
    final.mkdir(parents=True)
    (final / "head.safetensors").write_bytes(b"")
    metrics = tmp_path / "results" / "metrics" / f"{experiment.name}.json"
    metrics.parent.mkdir(parents=True)
    evaluated = []
    monkeypatch.setattr(reproduce_run, "evaluate_experiment", lambda *a, **k: evaluated.append(1) or {"evaluations": []})
    monkeypatch.setattr(reproduce_run, "train", lambda config: pytest.fail("a finished run is trained again"))
    step = reproduce_run.Step(experiment, config)
    console = Console(file=open(os.devnull, "w"))

    records = [{"split": spec.split, "mode": spec.mode} for spec in experiment.evals]
    metrics.write_text(json.dumps({"evaluations": records}))  # every evaluation of the plan is stored
    os.utime(final / "head.safetensors", (1, 1))  # the model is older than its metrics
    reproduce_run.run_step(step, tmp_path / "results", console)
    assert evaluated == []
    reproduce_run.run_step(reproduce_run.Step(experiment, config, reevaluate=True), tmp_path / "results", console)
    assert evaluated == [1]
    os.utime(metrics, (0, 0))  # now the metrics are older than the model: evaluated again
    reproduce_run.run_step(step, tmp_path / "results", console)
    assert evaluated == [1, 1]


@pytest.mark.parametrize("preset, dtype", [("tiny", "float16"), ("tiny-scratch", "float32")])
def test_a_pretrained_plans_final_is_rounded_to_float16_before_it_is_evaluated(tmp_path, monkeypatch, preset, dtype):
    import os

    import torch
    from rich.console import Console
    from safetensors.torch import load_file, save_file

    from framestamp.reproduce import run as reproduce_run
    from framestamp.reproduce.plan import PLANS, experiment_config

    experiment = PLANS[preset][0]
    config = experiment_config(experiment, runs_dir=str(tmp_path / "runs"))
    final = tmp_path / "runs" / experiment.name / "final"

    def train(config):
        (final / "backbone").mkdir(parents=True)
        save_file({"w": torch.ones(3), "step": torch.tensor([7])}, final / "backbone" / "model.safetensors")
        (final / "head.safetensors").write_bytes(b"")

    evaluated = []
    (tmp_path / "results" / "metrics").mkdir(parents=True)
    monkeypatch.setattr(reproduce_run, "train", train)
    monkeypatch.setattr(reproduce_run, "training_summary", lambda path: {})
    monkeypatch.setattr(reproduce_run, "evaluate_experiment", lambda experiment, config, final, *a, **k: evaluated.append(
        str(load_file(final / "backbone" / "model.safetensors")["w"].dtype)) or {"evaluations": []})
    reproduce_run.run_step(reproduce_run.Step(experiment, config), tmp_path / "results", Console(file=open(os.devnull, "w")))
    assert evaluated == [f"torch.{dtype}"]
    assert load_file(final / "backbone" / "model.safetensors")["step"].dtype == torch.int64  # only floats are rounded


def test_the_open_vocabulary_section_sets_new_words_beside_the_closed_namesake():
    from framestamp.reproduce.report import _open_vocabulary_section

    def one(split, accuracy, n=4, corpus=None, by_word=None):
        record = {"split": split, "mode": "one", "n": n, "metrics": {"accuracy": {"0.05": accuracy}}}
        return record | ({"corpus": corpus} if corpus else {}) | ({"by_word": by_word} if by_word else {})

    def group(accuracy, n):
        return {"n": n, "accuracy": {"0.05": accuracy}}

    open_model = {"evaluations": [
        one("test", 0.8, by_word={"seen word": group(0.8, 4)}),
        one("test_unseen", 0.5, by_word={"seen word": group(1.0, 1), "new word": group(0.25, 4)}),
        one("test", 0.7, corpus="default"),
        {"split": "test_unseen", "mode": "presence", "n": 8, "metrics": {"balanced_accuracy": 0.875}},
    ]}  # fmt: skip
    closed = {"evaluations": [one("test", 0.75)]}
    results = {"words-open": open_model, "words-ihp": closed}
    lines = _open_vocabulary_section(results, (("words-open", "words-ihp"), ("words-token-open", "words-token")))
    assert "| words-open | words-ihp | 80% (4) | 25% (4) | 100% (1) | 70% (4) | 75% (4) | 87.5% |" in lines.splitlines()
    assert not any(line.startswith("| words-token-open") for line in lines.splitlines())  # not evaluated: no row
    assert _open_vocabulary_section({"words-ihp": closed}, (("words-open", "words-ihp"),)) == ""


def test_a_corpus_override_leaves_out_evaluations_of_other_corpora_and_missing_splits():
    from framestamp.reproduce.plan import PLANS, on_one_corpus

    opened = next(e for e in PLANS["tiny"] if e.name == "words-open")
    assert any(s.corpus for s in opened.evals) and any(s.split == "test_unseen" for s in opened.evals)
    (small,) = on_one_corpus((opened,), "small")
    assert small.evals and all(s.corpus is None and s.split != "test_unseen" for s in small.evals)
    (own,) = on_one_corpus((opened,), "open")
    assert any(s.split == "test_unseen" for s in own.evals) and all(s.corpus is None for s in own.evals)


def test_tables_name_an_experiment_of_the_open_corpus_as_such():
    from framestamp.evaluate.metrics import TOLERANCES_S
    from framestamp.reproduce.report import _single_table

    record = {"split": "test", "mode": "one", "n": 4, "median_seconds_per_query": 0.01,
              "metrics": {"accuracy": {str(t): 0.5 for t in TOLERANCES_S}, "mae_s": 0.1,
                          "median_ae_s": 0.05, "parse_error_rate": 0.0}}  # fmt: skip
    results = {name: {"config": {"data": {"corpus": corpus}}, "evaluations": [record]}
               for name, corpus in (("words-open", "open"), ("words-ihp", "default"))}  # fmt: skip
    rows = _single_table(results, "test", "test").splitlines()
    assert any(row.startswith("| words-open (open corpus) | 4 |") for row in rows)
    assert any(row.startswith("| words-ihp | 4 |") for row in rows)


def test_open_vocabulary_targets_read_new_words_the_closed_namesake_and_the_unseen_anchor():
    from framestamp.reproduce.targets import measured_targets

    def one(split, accuracy, corpus=None, by_word=None):
        record = {"split": split, "mode": "one", "n": 4, "metrics": {"accuracy": {"0.05": accuracy}}}
        return record | ({"corpus": corpus} if corpus else {}) | ({"by_word": by_word} if by_word else {})

    new_words = {"new word": {"n": 4, "accuracy": {"0.05": 0.75}}}
    results = {
        "words-spoken": {"evaluations": [one("test_unseen", 0.7, by_word=new_words), one("test", 0.6, "default")]},
        "words-ihp": {"evaluations": [one("test", 0.65)]},
        "words-all": {"config": {"data": {"corpus": "open"}}, "evaluations": [
            {"split": "test_unseen", "mode": "align", "n": 3, "metrics": {"accuracy": {"0.05": 0.92}}},
            {"split": "test_unseen", "mode": "all", "n": 3, "metrics": {"accuracy": {"0.05": 0.6}}}]},
    }  # fmt: skip
    anchor = {"split": "test_unseen", "groups": {"all": {"variants": {"aligner": {"metrics": {"accuracy": {"0.05": 0.95}}}}}}}
    rows = {row.what: row for row in measured_targets(results, "tiny", Anchors((anchor,)))}
    new = rows["questions about words never said in training (test_unseen) within 50 ms"]
    assert (new.value, new.met) == (0.75, False)
    lost = next(row for what, row in rows.items() if what.startswith("the closed models' test questions"))
    assert lost.value == pytest.approx(0.05) and lost.met is False and lost.unit == "points"
    aligned = rows["`align --transcript` on clips of words never said in training (test_unseen) within 50 ms"]
    assert (aligned.value, aligned.met) == (0.92, True)
    above = rows["`align --transcript` on clips of new words within 50 ms, above pocketsphinx alignment given the "
                 "transcript"]  # fmt: skip
    assert (above.value, above.goal, above.met) == (0.92, 0.95, False)
    assert not any("pocketsphinx" in what for what in {r.what for r in measured_targets(results, "tiny")})


def evaluations_of(tmp_path, monkeypatch, specs, evaluate_one):
    """A call of ``evaluate_experiment`` on a stand-in final model whose evaluations ``evaluate_one``
    answers, keeping its progress in a file; and that file."""
    import os

    from rich.console import Console

    from framestamp.reproduce import run as reproduce_run
    from framestamp.reproduce.plan import Experiment

    final = tmp_path / "final"
    final.mkdir()
    (final / "head.safetensors").write_bytes(b"")
    os.utime(final / "head.safetensors", (1, 1))
    monkeypatch.setattr(reproduce_run.FrameStampModel, "from_pretrained", staticmethod(lambda path: object()))
    monkeypatch.setattr(reproduce_run, "_evaluate_one", evaluate_one)
    console, progress = Console(file=open(os.devnull, "w")), tmp_path / "evaluations.partial.json"
    experiment = Experiment("words-ihp", specs, preset="tiny")
    return lambda: reproduce_run.evaluate_experiment(experiment, reproduce_run.TrainConfig(), final, console,
                                                     progress=progress), progress  # fmt: skip


def test_an_evaluation_stopped_half_way_resumes_after_the_last_one_done(tmp_path, monkeypatch):
    import os

    from framestamp.reproduce.plan import EvalSpec

    asked = []

    def evaluate_one(spec, experiment, model, final, summary, *rest):
        asked.append(spec.split)
        if spec.split == "test_long" and len(asked) == 2:
            raise KeyboardInterrupt  # the session ends in the middle of the second evaluation
        summary["evaluations"].append({"split": spec.split})

    specs = (EvalSpec("test", "one", 4), EvalSpec("test_long", "one", 2))
    evaluate, progress = evaluations_of(tmp_path, monkeypatch, specs, evaluate_one)
    with pytest.raises(KeyboardInterrupt):
        evaluate()
    summary = evaluate()
    assert asked == ["test", "test_long", "test_long"]  # the first one is not asked again
    assert [r["split"] for r in summary["evaluations"]] == ["test", "test_long"]
    os.utime(progress, (0, 0))  # progress older than the model (retrained since): start afresh
    evaluate()
    assert asked[3:] == ["test", "test_long"]


def test_a_stop_request_ends_the_evaluations_after_the_one_under_way_and_a_rerun_goes_on(tmp_path, monkeypatch):
    import signal

    from framestamp.reproduce.plan import EvalSpec
    from framestamp.train.stopping import StoppedOnRequest

    asked = []

    def evaluate_one(spec, experiment, model, final, summary, *rest):
        asked.append(spec.split)
        if len(asked) == 1:
            signal.raise_signal(signal.SIGTERM)  # `kill` while the first evaluation runs
        summary["evaluations"].append({"split": spec.split})

    specs = (EvalSpec("test", "one", 4), EvalSpec("test_long", "one", 2), EvalSpec("dev", "one", 2))
    evaluate, _ = evaluations_of(tmp_path, monkeypatch, specs, evaluate_one)
    with pytest.raises(StoppedOnRequest, match="after 1 of 3 evaluations"):
        evaluate()
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL  # the handler is gone with the request
    summary = evaluate()
    assert asked == ["test", "test_long", "dev"] and len(summary["evaluations"]) == 3


def test_an_evaluation_of_the_runs_own_corpus_is_found_whether_or_not_it_is_named():
    from framestamp.reproduce.stored import evaluation

    summary = {"config": {"data": {"corpus": "open"}}, "evaluations": [
        {"split": "test_unseen", "mode": "all", "n": 1},
        {"split": "test", "mode": "all", "corpus": "default", "n": 2},
        {"split": "test", "mode": "all", "n": 3},
    ]}  # fmt: skip
    assert evaluation(summary, "test_unseen", "all", corpus="open")["n"] == 1
    assert evaluation(summary, "test_unseen", "all")["n"] == 1
    assert evaluation(summary, "test", "all")["n"] == 3
    assert evaluation(summary, "test", "all", corpus="open")["n"] == 3
    assert evaluation(summary, "test", "all", corpus="default")["n"] == 2
    assert evaluation(summary, "test_unseen", "all", corpus="default") is None


def test_evaluations_the_plan_added_since_are_asked_beside_the_stored_ones(tmp_path, monkeypatch):
    import os

    from rich.console import Console

    from framestamp.reproduce import run as reproduce_run
    from framestamp.reproduce.plan import EvalSpec, Experiment

    evals = (EvalSpec("test", "all", 4), EvalSpec("test", "all", 4, corpus="default"), EvalSpec("test", "align", 4),
             EvalSpec("test", "window", 4), EvalSpec("test", "diarize", 4))  # fmt: skip
    experiment = Experiment("words-all", evals, preset="tiny")
    config = reproduce_run.TrainConfig(output_dir=str(tmp_path / "runs" / "words-all"))
    final = tmp_path / "runs" / "words-all" / "final"
    final.mkdir(parents=True)
    (final / "head.safetensors").write_bytes(b"")
    os.utime(final / "head.safetensors", (1, 1))
    stored = {"recipe": "words-all", "config": {"data": {"corpus": "open"}}, "wall_minutes": 5.0, "window_choice": {},
              "evaluations": [{"split": "test", "mode": "all", "n": 4}, {"split": "test", "mode": "all", "corpus": "open"}],
              "standard_evaluations": [{"split": "test", "mode": "diarize"}]}  # fmt: skip
    metrics = tmp_path / "results" / "metrics" / "words-all.json"
    metrics.parent.mkdir(parents=True)
    metrics.write_text(json.dumps(stored))
    monkeypatch.setattr(reproduce_run.FrameStampModel, "from_pretrained", staticmethod(lambda path: object()))
    monkeypatch.setattr(reproduce_run, "training_summary", lambda path: {"step": 3})
    asked = []

    def evaluate_one(spec, experiment, model, final, summary, *rest):
        asked.append(spec)
        summary["evaluations"].append({"split": spec.split, "mode": spec.mode, "corpus": spec.corpus})

    monkeypatch.setattr(reproduce_run, "_evaluate_one", evaluate_one)
    step = reproduce_run.Step(experiment, config)
    console = Console(file=open(os.devnull, "w"))
    reproduce_run.run_step(step, tmp_path / "results", console)
    assert asked == [evals[1], evals[2]]  # the run's own corpus named or not is one evaluation
    summary = json.loads(metrics.read_text())
    assert [r["mode"] for r in summary["evaluations"]] == ["all", "all", "all", "align"]
    assert summary["standard_evaluations"] == stored["standard_evaluations"] and summary["train"] == {"step": 3}
    assert summary["wall_minutes"] >= 5.0 and not (final.parent / reproduce_run.EVALUATION_PROGRESS).exists()
    reproduce_run.run_step(step, tmp_path / "results", console)  # nothing left to add
    assert len(asked) == 2



def test_the_align_table_sets_the_transcript_given_beside_the_count_inferred_and_forced_alignment():
    from framestamp.reproduce.report import _align_table

    def record(split, mode, accuracy, corpus=None):
        return {"split": split, "mode": mode, "n": 200, "metrics": {"accuracy": {"0.05": accuracy}}} | (
            {"corpus": corpus} if corpus else {})

    results = {
        "words-all": {"config": {"data": {"corpus": "open"}}, "evaluations": [
            record("test", "all", 0.73), record("test", "align", 0.887), record("test_unseen", "align", 0.66),
            record("test", "align", 0.9, "default")]},
        "words-ihp": {"evaluations": [{"split": "test", "mode": "one", "n": 4, "metrics": {}}]},
    }  # fmt: skip
    anchor = {"corpus": "open-seed0-81f99db3dbac",
              "groups": {"all": {"n": 200, "variants": {"aligner": {"metrics": {"accuracy": {"0.05": 0.895}}}}}}}
    lines = _align_table(results, Anchors((anchor,))).splitlines()
    assert "| words-all (open corpus) | 88.7% (200) / 73.0% (200) | 90.0% (200) / - | 66.0% (200) / - |" in lines
    assert "| pocketsphinx, given the transcript | 89.5% (200) |  |  |" in lines
    # the anchor answered the grammar-only corpus's test clips: it stands under those
    lines = _align_table(results, Anchors((anchor | {"corpus_size": "default"},))).splitlines()
    assert "| pocketsphinx, given the transcript |  | 89.5% (200) |  |" in lines
    # one anchor for each corpus's clips, and one on test_unseen: each under its column
    unseen = anchor | {"split": "test_unseen", "groups": {"all": {"n": 100, "variants": {"aligner": {
        "metrics": {"accuracy": {"0.05": 0.903}}}}}}}  # fmt: skip
    lines = _align_table(results, Anchors((anchor | {"corpus_size": "default"}, anchor, unseen))).splitlines()
    assert "| pocketsphinx, given the transcript | 89.5% (200) | 89.5% (200) | 90.3% (100) |" in lines
    assert not any(line.startswith("| words-ihp") for line in lines)
    assert _align_table({"words-ihp": results["words-ihp"]}, Anchors((anchor,))) == ""


def test_an_evaluation_a_model_cannot_answer_is_kept_as_left_out_and_not_asked_again():
    import os
    from types import SimpleNamespace

    from rich.console import Console

    from framestamp.reproduce import run as reproduce_run
    from framestamp.reproduce.plan import EvalSpec, Experiment

    token_model = SimpleNamespace(head_kind=SimpleNamespace(generates_text=True), match_probe=None)
    specs = (EvalSpec("test", "align", 4), EvalSpec("test", "diarize", 4), EvalSpec("test", "probe", 4))
    summary = {"evaluations": []}
    console = Console(file=open(os.devnull, "w"))
    for spec in specs:
        reproduce_run._evaluate_one(spec, Experiment("words-all-token", specs), token_model, None, summary,
                                    lambda split, corpus=None: [], console, None, False)  # fmt: skip
    assert summary["evaluations"] == [] and len(summary[reproduce_run.SKIPPED]) == 3
    assert all(reproduce_run.has_record(summary, spec) for spec in specs)
    assert not reproduce_run.has_record(summary, EvalSpec("test", "all", 4))


def test_a_target_above_the_anchor_needs_the_anchor_on_the_same_clips():
    from framestamp.reproduce.targets import measured_targets

    words_all = {"config": {"data": {"corpus": "open"}},
                 "evaluations": [{"split": "test", "mode": "all", "n": 3, "metrics": {"accuracy": {"0.05": 0.9}}}]}
    anchor = {"corpus": "open-seed0-81f99db3dbac",
              "groups": {"all": {"variants": {"aligner": {"metrics": {"accuracy": {"0.05": 0.87}}}}}}}  # fmt: skip

    def above(anchor):
        return [row for row in measured_targets({"words-all": words_all}, "tiny", Anchors((anchor,)))
                if "pocketsphinx" in row.what]  # fmt: skip

    assert [(row.goal, row.met) for row in above(anchor)] == [(0.87, True)]
    assert above(anchor | {"corpus": "default-seed0-c712a7ba02cf"}) == []  # the grammar-only corpus's clips


def test_speaker_targets_read_the_late_copies_apart_from_the_clips_as_built():
    from framestamp.reproduce.targets import measured_targets

    def diarize(accuracy, copy=None):
        record = {"split": "test", "mode": "diarize",
                  "metrics": {"speaker_count": {"by_speakers": {"2": {"n": 4, "accuracy": accuracy}}}}}
        return record | ({"copy": copy} if copy else {})

    by_voice = {"new voice": {"n": 5, "accuracy": {"0.1": 0.6}}}
    speakers = {"config": {}, "evaluations": [
        {"split": "test", "mode": "one", "n": 5, "metrics": {"accuracy": {"0.1": 0.9}}, "by_voice": by_voice | {
            "new voice": {"n": 5, "accuracy": {"0.1": 0.9}}}},
        {"split": "test", "mode": "one", "n": 5, "copy": "late", "metrics": {"accuracy": {"0.1": 0.6}}, "by_voice": by_voice},
    ], "standard_evaluations": [diarize(1.0), diarize(0.25, "late")]}  # fmt: skip
    rows = {row.what: row for row in measured_targets({"speakers-ihp": speakers}, "tiny")}
    assert rows["`diarize` counts the speakers of 2-4-speaker test clips"].value == 1.0
    assert rows["`diarize` counts the speakers of 2-4-speaker test clips after a 1-30 s lead-in"].value == 0.25
    late = "speaker onsets of voices training never heard, the first starting after a 1-30 s lead-in within 100 ms"
    assert (rows[late].value, rows[late].met) == (0.6, False)
    assert rows["speaker onsets of voices training never heard within 100 ms"].value == 0.9


def test_the_copies_table_sets_each_copy_beside_the_clips_as_built():
    from framestamp.reproduce.report import _copies_table

    def one(accuracy, copy=None, at="0.05"):
        return {"split": "test", "mode": "one", "n": 4, "metrics": {"accuracy": {at: accuracy}}} | (
            {"copy": copy} if copy else {})

    results = {
        "words-open": {"config": {"data": {"subset": "words"}}, "evaluations": [one(0.8), one(0.75, "8khz"), one(0.5, "late")]},
        "speakers-ihp": {"config": {"data": {"subset": "speakers"}},
                         "evaluations": [one(0.9, at="0.1"), one(0.6, "late", at="0.1")]},
        "words-ihp-short": {"config": {"data": {"subset": "words"}}, "evaluations": [one(0.3)]},
    }  # fmt: skip
    lines = _copies_table(results).splitlines()
    assert "| words-open | 50 ms | 80.0% (4) | 75.0% (4) | - | 50.0% (4) |" in lines
    assert "| speakers-ihp | 100 ms | 90.0% (4) | - | - | 60.0% (4) |" in lines
    assert not any(line.startswith("| words-ihp-short") for line in lines)  # no copies asked
