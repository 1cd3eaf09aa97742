"""``framestamp reproduce``: build the corpus, train every recipe, evaluate, write the report."""

from __future__ import annotations

import json
import time
from collections import Counter
from dataclasses import asdict, dataclass, replace
from functools import cache
from pathlib import Path
from typing import Callable

import numpy as np
from rich.console import Console

from ..errors import ConfigError, FramestampError, MissingDependencyError
from ..evaluate.metrics import (
    MATCHINGS,
    OVERLAP_BUCKETS,
    all_events_metrics,
    all_events_metrics_by_event_count,
    bucket_by_overlap,
    bucket_by_time,
    jsonable,
    single_event_metrics_by_group,
    time_bucket_labels,
)
from ..evaluate.presence import fit_presence_threshold, presence_items, run_presence
from ..evaluate.run import EvalItem, EvalResult, evaluation_items, run
from ..model import CONFIG_NAME, HEAD_NAME, FrameStampModel
from ..decoding import presence_threshold
from ..train.config import TrainConfig
from ..train.loop import train
from ..train.stopping import StopRequests, StoppedOnRequest
from .plan import (FULL, HALF_PRECISION_FINALS, EvalSpec, Experiment, experiment_config, on_one_corpus, plan,
                   with_prerequisites)
from .ship import store_half_precision
from .stored import STANDARD_EVALUATIONS, evaluation

METRICS_DIR = "metrics"
EVALUATION_PROGRESS = "evaluations.partial.json"  # in a run's directory: its evaluations done so far

# Evaluations by the field's standard metrics, of what the user-facing API returns
# (``inference.api.Stamper``), one clip at a time; the metrics JSON keeps them under
# ``STANDARD_EVALUATIONS``, beside (not in) "evaluations", whose records all hold accuracies.
STANDARD_MODES = ("diarize", "events_f1")
# Checks of answers on input unlike the test clips (``evaluate.robustness``), after "presence" in a
# plan so that they decide with the calibrated threshold.
ROBUSTNESS_MODES = ("nonspeech", "presence_long", "late_words")
# In a metrics JSON: the evaluations of the plan left out because the model cannot answer them.
SKIPPED = "skipped_evaluations"
# The "all" questions about words with each clip's transcript given (``framestamp align --transcript``).
ALIGN_MODE = "align"
# The match probe of a model trained with the match loss, read as an answer to the single questions
# (``evaluate.probe_reading``): where its hidden states place the asked word.
PROBE_MODE = "probe"
# First in a plan's evaluations: choose the window length long audio is cut into, on the dev
# split's clips and recordings joined from them (``evaluate.window_choice``, with the default
# presence threshold, so that the choice does not depend on an earlier calibration), then fit the
# presence threshold at that window; both are written into the final model's config, so every
# later evaluation and every user answer uses them. The metrics JSON keeps each candidate's
# accuracy under ``WINDOW_CHOICE``.
WINDOW_MODE = "window"
WINDOW_CHOICE = "window_choice"
# Dev questions (half present) the presence threshold is fitted on when the window step fits it
# (unless the plan's presence evaluation names another number), as many again on long recordings
# (``presence_calibration_items``).
PRESENCE_CALIBRATION_QUESTIONS = 200
# Speaker turns: pyannote's collar is the full width around each reference boundary, so 0.5 is
# NIST's +-0.25 s; overlapping speech is scored.
DER_COLLAR_S = 0.5
DER_SKIP_OVERLAP = False
# Sound events: sed_eval's usual onset collar; offsets within max(collar, this share of the event).
SED_COLLAR_S = 0.2
SED_OFFSET_SHARE = 0.5
EVENT_OCCURRENCES = 3  # occurrences of each class ``Stamper.events`` looks for (its default)


def reproduce(
    quick: bool = False, results_dir: str | Path = "results", runs_dir: str | Path = "runs",
    only: tuple[str, ...] = (), console: Console | None = None, corpus: str | None = None,
    max_steps: int | None = None, eval_limit: int | None = None, jobs: int = 1, preset: str | None = None,
    reevaluate: bool = False,
) -> Path:  # fmt: skip
    """Train and evaluate the experiments of the plan; write ``results_dir/report.md``.

    Training resumes where a previous run stopped; finished experiments are not trained again,
    and not evaluated again when their stored metrics are newer than their final model (unless
    ``reevaluate``).

    Args:
        quick: the short plan (small corpus, two recipes, a few hundred steps).
        only: run just these recipe names (training first, but not evaluating, the ones they start from).
        corpus, max_steps: override every recipe's corpus and step count (toy runs).
        eval_limit: cap on the queries of each evaluation.
        jobs: experiments run at once, each after the one it starts from (``reproduce.schedule``).
        preset: the backbone preset whose plan runs (``reproduce.plan.PLANS``; default: the shipped one).
        reevaluate: evaluate every experiment again, stored metrics or not.

    Returns:
        Path of the report.
    """
    from .report import write_report

    console = console or Console()
    results_dir = Path(results_dir)
    (results_dir / METRICS_DIR).mkdir(parents=True, exist_ok=True)
    experiments = plan(quick, eval_limit, preset)
    if corpus is not None:
        experiments = on_one_corpus(experiments, corpus)
    unknown = sorted(set(only) - {e.name for e in experiments})
    if unknown:
        raise ConfigError(f"not in the plan: {', '.join(unknown)}; its experiments: "
                          f"{', '.join(e.name for e in experiments)}")  # fmt: skip
    wanted = with_prerequisites(only, experiments) if only else ()
    steps = [
        Step(experiment, experiment_config(experiment, quick, str(runs_dir), corpus, max_steps),
             evaluate=not only or experiment.name in only, reevaluate=reevaluate)
        for experiment in experiments
        if not only or experiment.name in wanted
    ]  # fmt: skip
    if jobs > 1:
        from .schedule import run_in_parallel

        run_in_parallel(steps, jobs, results_dir, Path(runs_dir), console)
    else:
        for step in steps:
            run_step(step, results_dir, console)
    return write_report(results_dir, quick=quick, preset=experiments[0].preset)


@dataclass(frozen=True)
class Step:
    """One experiment of a reproduction: its training config, and whether to evaluate it (an
    experiment that ``only`` brought in because a named one starts from it is trained, not evaluated)."""

    experiment: Experiment
    config: TrainConfig
    evaluate: bool = True
    reevaluate: bool = False  # evaluate even when the stored metrics are newer than the final model


def run_step(step: Step, results_dir: Path, console: Console) -> float:
    """Train the step's experiment unless its final model exists (rounded to float16 at once for
    ``HALF_PRECISION_FINALS``); evaluate it and write its
    metrics, unless they were written after the final model (or ``step.reevaluate``): then only
    the evaluations the plan gained since are asked, and added to them. Returns the minutes taken."""
    experiment, config = step.experiment, step.config
    final = Path(config.output_dir) / "final"
    metrics = results_dir / METRICS_DIR / f"{experiment.name}.json"
    started = time.monotonic()
    if not final.is_dir():
        console.print(f"[bold]train[/] {experiment.name}")
        train(config)
        if experiment.preset in HALF_PRECISION_FINALS:
            store_half_precision(final / "backbone")
    progress = Path(config.output_dir) / EVALUATION_PROGRESS
    stored_minutes = 0.0
    if step.evaluate and not step.reevaluate and _newer(metrics, final / HEAD_NAME):
        stored = json.loads(metrics.read_text())
        done = [_spec_key(spec) for spec in experiment.evals if has_record(stored, spec)]
        if len(done) == len(experiment.evals):
            console.print(f"[bold]skip[/] evaluating {experiment.name}: its metrics are newer than its final model")
            return (time.monotonic() - started) / 60
        # evaluations the plan added since: asked now, beside the stored ones (resumed from them)
        added = len(experiment.evals) - len(done)
        console.print(f"[bold]add[/] {added} evaluations to {experiment.name}'s stored ones")
        if not _newer(progress, final / HEAD_NAME):
            _keep_progress(progress, done, stored)
        stored_minutes = stored.get("wall_minutes", 0.0)
    if step.evaluate:
        figures = results_dir / "figures"
        figures.mkdir(exist_ok=True)
        # The run's own record of its settings: the recipe may have changed since it was trained.
        ran = Path(config.output_dir) / "config.yaml"
        trained = TrainConfig.load(ran) if ran.exists() else config
        summary = evaluate_experiment(experiment, trained, final, console, figures, progress=progress)
        summary["train"] = training_summary(Path(config.output_dir))
        summary["wall_minutes"] = round(stored_minutes + (time.monotonic() - started) / 60, 2)
        metrics.write_text(json.dumps(summary, indent=1))
        progress.unlink(missing_ok=True)
    return (time.monotonic() - started) / 60


def has_record(summary: dict, spec: EvalSpec) -> bool:
    """Whether stored metrics ``summary`` hold the outcome of evaluation ``spec`` (a record of its
    split, mode, copy and corpus, whatever its number of questions and groupings; or that it was
    left out as one the model cannot answer)."""
    if _spec_key(spec) in summary.get(SKIPPED, ()):
        return True
    if spec.mode == WINDOW_MODE:
        return WINDOW_CHOICE in summary
    if spec.mode in STANDARD_MODES:
        return evaluation(summary, spec.split, spec.mode, STANDARD_EVALUATIONS, spec.copy, spec.corpus) is not None
    return evaluation(summary, spec.split, spec.mode, copy=spec.copy, corpus=spec.corpus) is not None


def _newer(path: Path, than: Path) -> bool:
    return path.is_file() and than.is_file() and path.stat().st_mtime > than.stat().st_mtime


def evaluate_experiment(
    experiment: Experiment, config: TrainConfig, final: Path, console: Console, figures_dir: Path | None = None,
    calibrate: bool = True, progress: Path | None = None,
) -> dict:  # fmt: skip
    """Every evaluation of one experiment's final model, as a JSON-ready dict.

    Args:
        calibrate: before a presence evaluation, fit the presence threshold of a model trained
            with absent questions on dev questions and write it into ``final`` (see
            :func:`calibrate_presence`); False keeps the checkpoint's threshold and writes nothing.
        progress: a file where the evaluations done so far are kept after each one: a run
            stopped half way resumes after the last one done (when the file is newer than the
            final model), and the caller removes it once the summary is stored. With it, a stop
            request (SIGTERM, Ctrl-C, or the parent's in ``reproduce --jobs``) stops after the
            evaluation under way (``StoppedOnRequest``).
    """
    from ..train.loop import training_clips

    model = FrameStampModel.from_pretrained(final)
    summary = {"recipe": experiment.recipe, "config": config.to_dict(), "evaluations": []}
    done: list[str] = []
    if progress is not None and _newer(progress, final / HEAD_NAME):
        stored = json.loads(progress.read_text())
        if _chose_window_first(experiment, stored["done"]):
            summary, done = stored["summary"], stored["done"]
            console.print(f"[bold]resume[/] evaluating {experiment.name}: {len(done)} of {len(experiment.evals)} done")
        else:
            console.print(f"[bold]restart[/] evaluating {experiment.name}: the evaluations kept were answered "
                          "before its window was chosen")  # fmt: skip
    split_clips = cache(lambda split, corpus=None: training_clips(
        replace(config.data, max_duration_s=None, corpus=corpus or config.data.corpus), split=split))
    with StopRequests() as stop:
        for spec in experiment.evals:
            key = _spec_key(spec)
            if key in done:
                continue
            _evaluate_one(spec, experiment, model, final, summary, split_clips, console, figures_dir, calibrate)
            if progress is not None:
                done.append(key)
                _keep_progress(progress, done, summary)
                if stop.requested and len(done) < len(experiment.evals):  # what is done is kept
                    raise StoppedOnRequest(f"evaluating {experiment.name}, after {len(done)} of "
                                           f"{len(experiment.evals)} evaluations")  # fmt: skip
    return summary


def _keep_progress(progress: Path, done: list[str], summary: dict) -> None:
    """Write the evaluations done so far, whole or not at all."""
    partial = progress.with_name(progress.name + ".writing")
    partial.write_text(json.dumps({"done": done, "summary": summary}))
    partial.replace(progress)


def _chose_window_first(experiment: Experiment, done: list[str]) -> bool:
    """Whether evaluations kept as ``done`` can be resumed: a plan that chooses the window does so
    first, so any evaluation kept without that choice was answered with another window."""
    return not done or all(_spec_key(spec) in done for spec in experiment.evals if spec.mode == WINDOW_MODE)


def _spec_key(spec: EvalSpec) -> str:
    """How an evaluation is named in the progress file."""
    return json.dumps(asdict(spec), sort_keys=True)


def _evaluate_one(
    spec: EvalSpec, experiment: Experiment, model: FrameStampModel, final: Path, summary: dict, split_clips,
    console: Console, figures_dir: Path | None, calibrate: bool,
) -> None:  # fmt: skip
    """One evaluation of ``experiment.evals``: its record appended to ``summary`` (nothing when the
    model cannot be evaluated that way); ``split_clips(split, corpus)`` gives the clips."""
    clips = split_clips(spec.split, spec.corpus)
    if spec.copy is not None:
        from ..evaluate.copies import as_copy

        clips = [as_copy(clip, spec.copy) for clip in clips]
    if spec.mode in STANDARD_MODES:
        if not stamper_can_run(model):
            _skip(spec, experiment, summary, console, "the API cannot run token baselines yet")
            return
        evaluate_standard = {"diarize": evaluate_diarization, "events_f1": evaluate_events_f1}[spec.mode]
        console.print(f"[bold]evaluate[/] {experiment.name} on {spec.split} ({spec.mode}, "
                      f"{min(len(clips), spec.limit or len(clips))} clips)")  # fmt: skip
        record = evaluate_standard(model, clips, spec)
        summary.setdefault(STANDARD_EVALUATIONS, []).append(record | ({"copy": spec.copy} if spec.copy else {}))
        return
    if spec.mode == "presence":
        chosen_first = any(s.mode == WINDOW_MODE for s in experiment.evals)  # then fitted with the window
        if calibrate and not chosen_first:
            _fit_presence(model, final, split_clips("dev"), spec.limit, console)
        items = presence_items(clips, seed=0, limit=spec.limit)
        console.print(f"[bold]evaluate[/] {experiment.name} on {spec.split} (present, absent: {len(items)} queries)")
        metrics = run_presence(model, items, threshold=presence_threshold(model.config))
        summary["evaluations"].append({"split": spec.split, "mode": spec.mode, "n": len(items), "metrics": metrics})
        return
    if spec.mode == WINDOW_MODE:
        if calibrate:
            dev = split_clips(spec.split, spec.corpus)
            choose_model_window(model, final, dev, spec.limit, summary, console)
            asked = next((s.limit for s in experiment.evals if s.mode == "presence"), None)
            _fit_presence(model, final, dev, asked or PRESENCE_CALIBRATION_QUESTIONS, console)
        return
    if spec.mode == PROBE_MODE:
        if model.match_probe is None:
            _skip(spec, experiment, summary, console, "trained without the match loss")
            return
        from ..evaluate.probe_reading import probe_reading

        items = evaluation_items(clips, "one", seed=0, limit=spec.limit)  # the "one" evaluation's questions
        console.print(f"[bold]evaluate[/] {experiment.name} on {spec.split} (match probe read as an answer, "
                      f"{len(items)} queries)")  # fmt: skip
        summary["evaluations"].append({"split": spec.split, "mode": spec.mode, "n": len(items),
                                       "metrics": probe_reading(model, items)})  # fmt: skip
        return
    if spec.mode in ROBUSTNESS_MODES:
        console.print(f"[bold]evaluate[/] {experiment.name} on {spec.split} ({spec.mode}, {spec.limit} questions)")
        summary["evaluations"].append(evaluate_robustness(spec, model, clips))
        return
    aligning = spec.mode == ALIGN_MODE  # the "all" questions, with each clip's transcript given
    if aligning and model.head_kind.generates_text:
        _skip(spec, experiment, summary, console, "a token answer does not use the transcript (its 'all' answers)")
        return
    items = evaluation_items(clips, "all" if aligning else spec.mode, seed=0, limit=spec.limit)
    copy = f", {spec.copy} copies" if spec.copy else ""
    console.print(f"[bold]evaluate[/] {experiment.name} on {spec.split} ({spec.mode}, {len(items)} queries{copy})")
    result = run(model, items, batch_size=8, transcript=aligning)
    summary["evaluations"].append(describe(spec, result))
    clips_as_built = spec.corpus is None and spec.copy is None and not aligning
    if spec.split == "test" and clips_as_built and not model.head_kind.generates_text and figures_dir:
        from .report import plot_intensity_examples

        plot_intensity_examples(model, items, figures_dir / f"intensity_{experiment.name}_{spec.mode}.png")


def _skip(spec: EvalSpec, experiment: Experiment, summary: dict, console: Console, why: str) -> None:
    """Leave out an evaluation the model cannot answer, and keep that it was left out (``SKIPPED``)."""
    console.print(f"[bold]skip[/] {spec.mode} of {experiment.name}: {why}")
    summary.setdefault(SKIPPED, []).append(_spec_key(spec))


def evaluate_robustness(spec: EvalSpec, model: FrameStampModel, clips) -> dict:
    """One check of :mod:`framestamp.evaluate.robustness` (``spec.mode``), ``spec.limit`` questions,
    presence decided with the model's (calibrated) threshold."""
    from ..evaluate import robustness

    threshold, n = presence_threshold(model.config), spec.limit or 100
    if spec.mode == "nonspeech":
        return robustness.nonspeech(model, clips, threshold, n)
    if spec.mode == "presence_long":
        return robustness.presence_long(model, clips, threshold, n)
    return robustness.late_words(model, clips, n)


def choose_model_window(model: FrameStampModel, final: Path, dev_clips, n: int | None, summary: dict,
                        console: Console) -> None:  # fmt: skip
    """Set the window of ``model`` and of ``final``'s config file to the best one on ``n`` dev
    questions (half on recordings of joined dev clips), and keep every candidate's accuracy in
    ``summary``."""
    from ..evaluate.window_choice import choose_window, window_items

    items = window_items(dev_clips, max(2, n or 96))
    console.print(f"[bold]choose[/] the window for long audio on {len(items)} dev questions")
    model.config = replace(model.config, presence_threshold=None)  # decided at the default until fitted again
    window_s, record = choose_window(model, items)
    summary[WINDOW_CHOICE] = record
    _set_model_config(model, final, window_s=window_s)
    console.print(f"[bold]choose[/] {window_s:g} s windows: " + ", ".join(
        f"{name} s {value['accuracy']:.1%}" for name, value in record["candidates"].items()))


def _set_model_config(model: FrameStampModel, final: Path, **values) -> None:
    """Change fields of ``model``'s config and of ``final``'s config file alike."""
    model.config = replace(model.config, **values)
    path = final / CONFIG_NAME
    path.write_text(json.dumps(json.loads(path.read_text()) | values, indent=2) + "\n")


def _fit_presence(model: FrameStampModel, final: Path, dev_clips, limit: int | None, console: Console) -> None:
    """Fit the presence threshold of a frame model trained with absent questions on dev questions
    (:func:`presence_calibration_items`); other models keep theirs."""
    if model.config.answers_absent and not model.head_kind.generates_text:
        calibrate_presence(model, final, presence_calibration_items(dev_clips, limit), console)


def presence_calibration_items(dev_clips, limit: int | None) -> list[EvalItem]:
    """Present and absent dev questions to fit the presence threshold on: ``limit`` about dev clips
    and, for words and events, as many about 20-120 s recordings joined from them, so that the
    threshold holds at any length (joined speaker clips would give one "speaker 1" several voices)."""
    items = presence_items(dev_clips, seed=0, limit=limit)
    if dev_clips and dev_clips[0].subset != "speakers":
        from ..evaluate.robustness import long_presence_items

        items += long_presence_items(dev_clips, len(items), seed=0)
    return items


def calibrate_presence(model: FrameStampModel, final: Path, items, console: Console) -> None:
    """Set the checkpoint's presence threshold to the best one on ``items`` (held-out present and
    absent questions), in ``model`` and in ``final``'s config file."""
    threshold = round(fit_presence_threshold(model, items), 4)
    _set_model_config(model, final, presence_threshold=threshold)
    console.print(f"[bold]calibrate[/] presence threshold {threshold} on {len(items)} dev questions")


# How a single-occurrence evaluation can be broken down (``EvalSpec.by``): {name: (the group of a
# question, the groups' order or None for sorted)}; the record keeps each under "by_<name>".
GROUPINGS: dict[str, tuple[Callable[[EvalItem], str], tuple[str, ...] | None]] = {
    "time": (lambda item: bucket_by_time(item.query.targets_s[0]), time_bucket_labels()),
    "subject": (lambda item: item.query.subject, None),
    "overlap": (
        lambda item: bucket_by_overlap(item.clip.speakers_talking_at(item.query.targets_s[0])), OVERLAP_BUCKETS
    ),
    "source": (lambda item: item.clip.provenance.get("source", "unknown"), None),
    "voice": (lambda item: voice_heard(item), ("seen voice", "new voice")),
    "word": (lambda item: word_heard(item), ("seen word", "new word")),
}


def word_heard(item: EvalItem) -> str:
    """"new word" when the asked word is one the open corpus holds out of training
    (:mod:`framestamp.corpus.lexicon`), else "seen word"."""
    from ..corpus.lexicon import held_out_words

    return "new word" if item.query.subject in held_out_words() else "seen word"


def voice_heard(item: EvalItem) -> str:
    """"new voice" when the asked word (or speaker) is said by a voice training never heard
    (the corpus's ``new_voice`` in the clip's, or the asked speaker's, provenance), else "seen voice"."""
    from ..tasks.families import first_turns

    provenance = item.clip.provenance
    if item.query.task.ordinal_only:  # the asked speaker: the k-th to start
        label = first_turns(item.clip)[item.query.k - 1].label
        new = any(s.get("new_voice") for s in provenance.get("speakers", []) if s.get("speaker_id") == label)
    else:
        new = bool(provenance.get("new_voice"))
    return "new voice" if new else "seen voice"


def describe(spec: EvalSpec, result: EvalResult) -> dict:
    """Metrics, timings and a few raw predictions of one evaluation."""
    record = {
        "split": spec.split, **({"corpus": spec.corpus} if spec.corpus else {}), "mode": spec.mode,
        "n": len(result.items), "metrics": jsonable(result.metrics),
        "median_seconds_per_query": result.median_seconds_per_query,
        "max_clip_s": max((i.clip.duration_s for i in result.items), default=0.0),
    }  # fmt: skip
    if spec.copy is not None:
        record["copy"] = spec.copy
    if spec.mode == "one":
        single = (
            [p.times_s[0] if len(p.times_s) else None for p in result.predictions],
            [i.query.targets_s[0] for i in result.items], [i.clip.duration_s for i in result.items],
        )  # fmt: skip
        parse_errors = [p.parse_error for p in result.predictions]
        for grouping in spec.by:
            group_of, order = GROUPINGS[grouping]
            groups = [group_of(item) for item in result.items]
            record[f"by_{grouping}"] = jsonable(single_event_metrics_by_group(*single, groups, parse_errors, order))
    if spec.mode in ("all", ALIGN_MODE):
        references = [list(i.query.targets_s) for i in result.items]
        predictions = [list(p.times_s) for p in result.predictions]
        record["by_event_count"] = jsonable(all_events_metrics_by_event_count(predictions, references))
        # "metrics" is the Hungarian L1 matching; every matching of ``evaluate.metrics`` side by side
        record["by_matching"] = {m: jsonable(all_events_metrics(predictions, references, m)) for m in MATCHINGS}
        try:
            from ..evaluate.standard import onset_f_measure

            record["onset_f_measure_50ms"] = jsonable(onset_f_measure(references, predictions, window_s=0.05))
        except (ImportError, MissingDependencyError) as error:  # the eval extra is optional
            record["onset_f_measure_50ms"] = {"error": str(error)}
    record["examples"] = [
        {"question": i.query.question, "clip": i.clip.id, "target_s": list(i.query.targets_s)[:8],
         "predicted_s": [round(float(t), 3) for t in p.times_s[:8]], "text": p.text}
        for i, p in list(zip(result.items, result.predictions))[:5]
    ]  # fmt: skip
    return record


def stamper_can_run(model: FrameStampModel) -> bool:
    """Whether ``inference.api.Stamper`` can answer with this model: not yet with a token baseline
    (no frame head). The one place to change when it can."""
    return not model.head_kind.generates_text


def _first_clips(clips, limit: int | None) -> list:
    return [clips[i] for i in range(len(clips) if limit is None else min(limit, len(clips)))]


def _spans(timeline, clip) -> list[tuple[float, float, str]]:
    """(start_s, end_s, label) of a ``Timeline``'s spans; a missing end is the end of the clip."""
    return [(s.start_s, max(s.start_s, clip.duration_s if s.end_s is None else s.end_s), s.label)
            for s in timeline.spans]  # fmt: skip


def _standard(compute, *args, **kwargs) -> dict:
    """A standard metric's dict, or {"error": why} when its optional library is missing."""
    try:
        return jsonable(compute(*args, **kwargs))
    except (ImportError, MissingDependencyError) as error:
        return {"error": str(error)}


def evaluate_diarization(model: FrameStampModel, clips, spec: EvalSpec) -> dict:
    """Speaker turns of the first ``spec.limit`` clips from ``Stamper.diarize(ends=True)``: DER
    and JER (pyannote.metrics) and how often the number of speakers is right.

    ``der_onsets``/``jer_onsets`` score speaker onsets turned into turns: each speaker found,
    from its onset to the end of the clip, against each speaker from their first onset to the
    end of their last turn (onsets and the number of speakers decide it; no end is decoded).
    The other scores use diarize's ends: the reference is each speaker's first turn
    (``tasks.families.first_turns``): diarize
    gives one span per speaker, from their onset to the end of their first turn, and speaker k
    is the k-th to start in both. ``der_every_turn`` scores the same spans against every turn
    (a later turn is missed unless a span happens to run over it). Scored over [0, clip end) with a collar of
    ``DER_COLLAR_S`` (full width) around reference boundaries, overlapping speech included;
    a span without an end lasts to the end of the clip.
    """
    from ..evaluate.standard import diarization_error_rate, jaccard_error_rate
    from ..inference.api import InferenceConfig, Stamper
    from ..tasks.families import first_turns as speaker_first_turns

    stamper = Stamper(model, InferenceConfig())
    clips = _first_clips(clips, spec.limit)
    first_turns, every_turn, hypotheses, seconds = [], [], [], []
    activity, from_onsets = [], []
    for clip in clips:
        started = time.perf_counter()
        timeline = stamper.diarize(clip.audio, ends=True, sample_rate_hz=clip.sample_rate)
        seconds.append(time.perf_counter() - started)
        hypotheses.append(_spans(timeline, clip))
        first_turns.append([(s.start_s, s.end_s, s.label) for s in speaker_first_turns(clip)])
        every_turn.append([(s.start_s, s.end_s, s.label) for s in clip.segments])
        activity.append(_activity_spans(clip))
        from_onsets.append([(s.start_s, clip.duration_s, s.label) for s in timeline.spans])
    durations = [clip.duration_s for clip in clips]
    scoring = {"collar_s": DER_COLLAR_S, "skip_overlap": DER_SKIP_OVERLAP, "clip_durations_s": durations}
    found = np.array([len({label for *_, label in h}) for h in hypotheses])
    speakers = np.array([len(r) for r in first_turns])
    metrics = {
        "der_onsets": _standard(diarization_error_rate, activity, from_onsets, **scoring),
        "jer_onsets": _standard(jaccard_error_rate, activity, from_onsets, **scoring),
        "der": _standard(diarization_error_rate, first_turns, hypotheses, **scoring),
        "jer": _standard(jaccard_error_rate, first_turns, hypotheses, **scoring),
        "der_every_turn": _standard(diarization_error_rate, every_turn, hypotheses, **scoring),
        "speaker_count": {
            "accuracy": float(np.mean(found == speakers)) if len(clips) else float("nan"),
            "mae": float(np.mean(np.abs(found - speakers))) if len(clips) else float("nan"),
            "n_reference": int(speakers.sum()), "n_found": int(found.sum()),
            # by the number of speakers the clip holds: {count: {"n": clips, "accuracy": share counted right}}
            "by_speakers": {str(n): {"n": int((speakers == n).sum()), "accuracy": float(np.mean(found[speakers == n] == n))}
                            for n in sorted(set(speakers.tolist()))},
        },
    }  # fmt: skip
    examples = [{"clip": clip.id, "reference": _rounded(r), "hypothesis": _rounded(h)}
                for clip, r, h in list(zip(clips, first_turns, hypotheses))[:3]]  # fmt: skip
    return {
        "split": spec.split, "mode": spec.mode, "n": len(clips), "reference": "first_turns",
        "collar_each_side_s": DER_COLLAR_S / 2, "skip_overlap": DER_SKIP_OVERLAP, "metrics": metrics,
        "median_seconds_per_clip": float(np.median(seconds)) if seconds else float("nan"), "examples": examples,
    }  # fmt: skip


def _activity_spans(clip) -> list[tuple[float, float, str]]:
    """Each speaker of ``clip`` from their first onset to the end of their last turn."""
    spans: dict[str, list[float]] = {}
    for segment in clip.segments:
        first, last = spans.setdefault(segment.label, [segment.start_s, segment.end_s])
        spans[segment.label] = [min(first, segment.start_s), max(last, segment.end_s)]
    return [(start, end, label) for label, (start, end) in spans.items()]


def evaluate_events_f1(model: FrameStampModel, clips, spec: EvalSpec) -> dict:
    """Sound events of the first ``spec.limit`` clips from ``Stamper.events(classes, ends=True)``,
    asked about every class heard in the split: event-based F1 (sed_eval) of onsets, and of
    onsets with offsets, against every event of each clip.

    ``Stamper.events`` looks for the first ``EVENT_OCCURRENCES`` occurrences of each class;
    ``n_reference_beyond_cap`` counts the reference events past that, which it cannot find.
    """
    from ..evaluate.standard import event_based_f1
    from ..inference.api import InferenceConfig, Stamper

    stamper = Stamper(model, InferenceConfig())
    classes = sorted({segment.label for clip in clips for segment in clip.segments})
    clips = _first_clips(clips, spec.limit)
    references, estimates, seconds, beyond = [], [], [], 0
    for clip in clips:
        started = time.perf_counter()
        timeline = stamper.events(clip.audio, classes=classes, ends=True, max_occurrences=EVENT_OCCURRENCES,
                                  sample_rate_hz=clip.sample_rate)  # fmt: skip
        seconds.append(time.perf_counter() - started)
        estimates.append(_spans(timeline, clip))
        references.append([(s.start_s, s.end_s, s.label) for s in clip.segments])
        beyond += sum(max(0, n - EVENT_OCCURRENCES) for n in Counter(s.label for s in clip.segments).values())
    collar = {"t_collar_s": SED_COLLAR_S, "percentage_of_length": SED_OFFSET_SHARE}
    metrics = {
        "onset": _standard(event_based_f1, references, estimates, **collar),
        "onset_offset": _standard(event_based_f1, references, estimates, evaluate_offset=True, **collar),
        "n_reference_beyond_cap": beyond,
    }
    examples = [{"clip": clip.id, "reference": _rounded(r), "estimated": _rounded(e)}
                for clip, r, e in list(zip(clips, references, estimates))[:3]]  # fmt: skip
    return {
        "split": spec.split, "mode": spec.mode, "n": len(clips), "classes": classes,
        "max_occurrences": EVENT_OCCURRENCES, "t_collar_s": SED_COLLAR_S, "offset_share": SED_OFFSET_SHARE,
        "metrics": metrics, "median_seconds_per_clip": float(np.median(seconds)) if seconds else float("nan"),
        "examples": examples,
    }  # fmt: skip


def _rounded(spans: list[tuple[float, float, str]]) -> list[list]:
    return [[round(float(start), 3), round(float(end), 3), label] for start, end, label in spans[:10]]


def reevaluate_shipped(
    results_dir: str | Path = "results", names: tuple[str, ...] = (), console: Console | None = None,
    checkpoints_dir: str | Path | None = None, corpus: str | None = None, eval_limit: int | None = None,
    report: bool = True,
) -> list[Path]:  # fmt: skip
    """Evaluate the shipped checkpoints again, without their training runs, and rewrite their metrics.

    For each experiment of the plan with a ``ships_as`` name (or just those in ``names``, given
    as experiment or shipped names), every evaluation of the plan runs on the checkpoint
    ``checkpoints_dir/<ships_as>`` (default: the package's ``framestamp/checkpoints``), and
    ``results_dir/metrics/<experiment>.json`` is rewritten with the new evaluations, keeping the
    stored ``train``, ``config`` and ``wall_minutes`` (a stored ``config`` is also what the
    evaluation clips come from). The record says where the model came from (``evaluated_from``)
    and how long evaluating took (``evaluation_minutes``).

    Neither the window nor the presence threshold is chosen again: the checkpoint's own (chosen on
    dev questions when it was trained, and shipped with it; the stored ``window_choice`` record is
    kept) are used as they are, and nothing is written into the checkpoint directory.

    Args:
        corpus, eval_limit: override the clips and the number of queries of each evaluation (toy runs).
        report: write ``results_dir/report.md`` afterwards.

    Returns:
        The metrics files written.
    """
    from ..inference.api import shipped_checkpoints_dir
    from .report import write_report

    console = console or Console()
    results_dir = Path(results_dir)
    checkpoints = Path(checkpoints_dir) if checkpoints_dir is not None else shipped_checkpoints_dir()
    shipped = [e for e in FULL if e.ships_as is not None]
    unknown = set(names) - {e.name for e in shipped} - {e.ships_as for e in shipped}
    if unknown:
        raise FramestampError(f"not shipped: {', '.join(sorted(unknown))}; the shipped experiments are "
                              + ", ".join(f"{e.name} ({e.ships_as})" for e in shipped))  # fmt: skip
    (results_dir / METRICS_DIR).mkdir(parents=True, exist_ok=True)
    figures = results_dir / "figures"
    figures.mkdir(exist_ok=True)
    written = []
    for experiment in shipped:
        if names and experiment.name not in names and experiment.ships_as not in names:
            continue
        path = results_dir / METRICS_DIR / f"{experiment.name}.json"
        stored = json.loads(path.read_text()) if path.exists() else {}
        config = TrainConfig.from_dict(stored["config"]) if "config" in stored else experiment_config(experiment)
        if corpus is not None:
            config = replace(config, data=replace(config.data, corpus=corpus))
            experiment = on_one_corpus((experiment,), corpus)[0]
        if eval_limit is not None:
            experiment = replace(experiment, evals=tuple(replace(s, limit=eval_limit) for s in experiment.evals))
        started = time.monotonic()
        console.print(f"[bold]re-evaluate[/] {experiment.name} from the shipped checkpoint {experiment.ships_as}")
        summary = evaluate_experiment(experiment, config, checkpoints / experiment.ships_as, console, figures,
                                      calibrate=False)  # fmt: skip
        summary.update({key: stored[key] for key in ("config", "train", "wall_minutes", WINDOW_CHOICE) if key in stored})
        summary["evaluated_from"] = f"shipped checkpoint {experiment.ships_as}"
        summary["evaluation_minutes"] = round((time.monotonic() - started) / 60, 2)
        path.write_text(json.dumps(summary, indent=1))
        written.append(path)
    if report:
        write_report(results_dir)
    return written


def training_summary(output_dir: Path) -> dict:
    """Steps, minutes and last losses from a run's ``metrics.csv``."""
    path = output_dir / "metrics.csv"
    if not path.exists():
        return {}
    lines = path.read_text().splitlines()
    header, last = lines[0].split(","), lines[-1].split(",")
    return dict(zip(header, (float(v) for v in last)))
