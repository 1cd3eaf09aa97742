"""``framestamp reproduce``: build the corpus, train every recipe, evaluate, write the report."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, replace
from functools import cache
from pathlib import Path
from typing import Callable

import numpy as np
from rich.console import Console

from ..evaluate.metrics import (
    OVERLAP_BUCKETS,
    all_events_metrics_by_event_count,
    bucket_by_overlap,
    bucket_by_time,
    single_event_metrics_by_group,
    time_bucket_labels,
)
from ..evaluate.presence import fit_presence_threshold, presence_items, run_presence
from ..evaluate.run import EvalItem, EvalResult, evaluation_items, run
from ..model import CONFIG_NAME, FrameStampModel
from ..decoding import presence_threshold
from ..train.config import TrainConfig
from ..train.loop import train
from .plan import EvalSpec, Experiment, experiment_config, plan, with_prerequisites

METRICS_DIR = "metrics"


def reproduce(
    quick: bool = False, results_dir: str | Path = "results", runs_dir: str | Path = "runs",
    only: tuple[str, ...] = (), console: Console | None = None, corpus: str | None = None,
    max_steps: int | None = None, eval_limit: int | None = None, jobs: int = 1,
) -> Path:  # fmt: skip
    """Train and evaluate the experiments of the plan; write ``results_dir/report.md``.

    Training resumes where a previous run stopped; finished experiments are not trained again.

    Args:
        quick: the short plan (small corpus, two recipes, a few hundred steps).
        only: run just these recipe names (training first, but not evaluating, the ones they start from).
        corpus, max_steps: override every recipe's corpus and step count (toy runs).
        eval_limit: cap on the queries of each evaluation.
        jobs: experiments run at once, each after the one it starts from (``reproduce.schedule``).

    Returns:
        Path of the report.
    """
    from .report import write_report

    console = console or Console()
    results_dir = Path(results_dir)
    (results_dir / METRICS_DIR).mkdir(parents=True, exist_ok=True)
    wanted = with_prerequisites(only) if only else ()
    steps = [
        Step(experiment, experiment_config(experiment, quick, str(runs_dir), corpus, max_steps),
             evaluate=not only or experiment.name in only)
        for experiment in plan(quick, eval_limit)
        if not only or experiment.name in wanted
    ]  # fmt: skip
    if jobs > 1:
        from .schedule import run_in_parallel

        run_in_parallel(steps, jobs, results_dir, Path(runs_dir), console)
    else:
        for step in steps:
            run_step(step, results_dir, console)
    return write_report(results_dir, quick=quick)


@dataclass(frozen=True)
class Step:
    """One experiment of a reproduction: its training config, and whether to evaluate it (an
    experiment that ``only`` brought in because a named one starts from it is trained, not evaluated)."""

    experiment: Experiment
    config: TrainConfig
    evaluate: bool = True


def run_step(step: Step, results_dir: Path, console: Console) -> float:
    """Train the step's experiment unless its final model exists; evaluate it and write its
    metrics. Returns the minutes taken."""
    experiment, config = step.experiment, step.config
    final = Path(config.output_dir) / "final"
    started = time.monotonic()
    if not final.is_dir():
        console.print(f"[bold]train[/] {experiment.name}")
        train(config)
    if step.evaluate:
        figures = results_dir / "figures"
        figures.mkdir(exist_ok=True)
        # The run's own record of its settings: the recipe may have changed since it was trained.
        ran = Path(config.output_dir) / "config.yaml"
        trained = TrainConfig.load(ran) if ran.exists() else config
        summary = evaluate_experiment(experiment, trained, final, console, figures)
        summary["train"] = training_summary(Path(config.output_dir))
        summary["wall_minutes"] = round((time.monotonic() - started) / 60, 2)
        (results_dir / METRICS_DIR / f"{experiment.name}.json").write_text(json.dumps(summary, indent=1))
    return (time.monotonic() - started) / 60


def evaluate_experiment(
    experiment: Experiment, config: TrainConfig, final: Path, console: Console, figures_dir: Path | None = None
) -> dict:
    """Every evaluation of one experiment's final model, as a JSON-ready dict."""
    from ..train.loop import training_clips

    model = FrameStampModel.from_pretrained(final)
    summary = {"recipe": experiment.recipe, "config": config.to_dict(), "evaluations": []}
    split_clips = cache(lambda split: training_clips(replace(config.data, max_duration_s=None), split=split))
    for spec in experiment.evals:
        clips = split_clips(spec.split)
        if spec.mode == "presence":
            if model.config.answers_absent and model.config.head_objective != "none":
                calibrate_presence(model, final, presence_items(split_clips("dev"), seed=0, limit=spec.limit), console)
            items = presence_items(clips, seed=0, limit=spec.limit)
            console.print(f"[bold]evaluate[/] {experiment.name} on {spec.split} (present, absent: {len(items)} queries)")
            metrics = run_presence(model, items, threshold=presence_threshold(model.config))
            summary["evaluations"].append({"split": spec.split, "mode": spec.mode, "n": len(items), "metrics": metrics})
            continue
        items = evaluation_items(clips, spec.mode, seed=0, limit=spec.limit)
        console.print(f"[bold]evaluate[/] {experiment.name} on {spec.split} ({spec.mode}, {len(items)} queries)")
        result = run(model, items, batch_size=8)
        summary["evaluations"].append(describe(spec, result))
        if spec.split == "test" and model.config.head_objective == "ihp" and figures_dir is not None:
            from .report import plot_intensity_examples

            plot_intensity_examples(model, items, figures_dir / f"intensity_{experiment.name}_{spec.mode}.png")
    return summary


def calibrate_presence(model: FrameStampModel, final: Path, items, console: Console) -> None:
    """Set the checkpoint's presence threshold to the best one on ``items`` (held-out present and
    absent questions), in ``model`` and in ``final``'s config file."""
    threshold = round(fit_presence_threshold(model, items), 4)
    model.config = replace(model.config, presence_threshold=threshold)
    path = final / CONFIG_NAME
    path.write_text(json.dumps(json.loads(path.read_text()) | {"presence_threshold": threshold}, indent=2) + "\n")
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
}


def describe(spec: EvalSpec, result: EvalResult) -> dict:
    """Metrics, timings and a few raw predictions of one evaluation."""
    record = {
        "split": spec.split, "mode": spec.mode, "n": len(result.items), "metrics": _jsonable(result.metrics),
        "median_seconds_per_query": result.median_seconds_per_query,
        "max_clip_s": max((i.clip.duration_s for i in result.items), default=0.0),
    }  # fmt: skip
    if spec.mode == "one":
        single = (
            [p.times_s[0] if len(p.times_s) else None for p in result.predictions],
            [i.query.targets_s[0] for i in result.items], [i.clip.duration_s for i in result.items],
        )  # fmt: skip
        parse_errors = [p.parse_error for p in result.predictions]
        for grouping in spec.by:
            group_of, order = GROUPINGS[grouping]
            groups = [group_of(item) for item in result.items]
            record[f"by_{grouping}"] = _jsonable(single_event_metrics_by_group(*single, groups, parse_errors, order))
    if spec.mode == "all":
        references = [list(i.query.targets_s) for i in result.items]
        predictions = [list(p.times_s) for p in result.predictions]
        record["by_event_count"] = _jsonable(all_events_metrics_by_event_count(predictions, references))
        try:
            from ..evaluate.standard import onset_f_measure

            record["onset_f_measure_50ms"] = _jsonable(onset_f_measure(references, predictions, window_s=0.05))
        except ImportError as error:  # the eval extra is optional
            record["onset_f_measure_50ms"] = {"error": str(error)}
    record["examples"] = [
        {"question": i.query.question, "clip": i.clip.id, "target_s": list(i.query.targets_s)[:8],
         "predicted_s": [round(float(t), 3) for t in p.times_s[:8]], "text": p.text}
        for i, p in list(zip(result.items, result.predictions))[:5]
    ]  # fmt: skip
    return record


def training_summary(output_dir: Path) -> dict:
    """Steps, minutes and last losses from a run's ``metrics.csv``."""
    path = output_dir / "metrics.csv"
    if not path.exists():
        return {}
    lines = path.read_text().splitlines()
    header, last = lines[0].split(","), lines[-1].split(",")
    return dict(zip(header, (float(v) for v in last)))


def _jsonable(value):
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (np.floating, np.integer)):
        return value.item()
    return value
