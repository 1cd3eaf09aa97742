"""``framestamp demo | train | reproduce | bench``: the experiment commands."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from .app import app, console


@app.command()
def demo(
    queries: Annotated[int, typer.Option(help="held-out questions per task")] = 60,
    batch_size: Annotated[int, typer.Option(help="questions per forward pass")] = 8,
) -> None:
    """The main job: shipped frame models vs token baselines on held-out clips (accuracy, speed)."""
    from ..showcase import run_showcase

    run_showcase(console, n_queries=queries, batch_size=batch_size)


@app.command()
def train(
    config: Annotated[Path, typer.Argument(help="experiment YAML file")],
    resume: Annotated[bool, typer.Option(help="continue from the latest checkpoint in output_dir")] = True,
) -> None:
    """Train a model from an experiment YAML file."""
    from ..train.config import TrainConfig
    from ..train.loop import train as run_training

    final = run_training(TrainConfig.load(config), resume=resume)
    console.print(f"final checkpoint: {final}")


@app.command()
def reproduce(
    quick: Annotated[bool, typer.Option(help="the short version (small corpus, two recipes, minutes)")] = False,
    results: Annotated[Path, typer.Option(help="where report.md, figures and metrics go")] = Path("results"),
    runs: Annotated[Path, typer.Option(help="where training runs and checkpoints go")] = Path("runs"),
    only: Annotated[list[str] | None, typer.Option(help="run only these recipes")] = None,
    preset: Annotated[str | None, typer.Option(
        help="backbone preset whose plan runs: tiny (pre-trained tower) or tiny-scratch (default: the shipped "
             "models' preset)")] = None,
    jobs: Annotated[int, typer.Option(
        min=1, help="experiments at once (one training thread each; output in <runs>/<name>.log)")] = 1,
    reevaluate: Annotated[bool, typer.Option(
        "--reevaluate", help="evaluate finished experiments again even when their stored metrics are newer "
        "than their final model")] = False,
    reevaluate_shipped: Annotated[bool, typer.Option(
        "--reevaluate-shipped", help="train nothing: evaluate the shipped checkpoints again (with --only, just "
        "those experiments or shipped names), rewrite their metrics (keeping training records) and the "
        "report")] = False,
) -> None:  # fmt: skip
    """Train and evaluate the paper's comparison on the built-in corpus; write the report."""
    from ..reproduce.run import reproduce as run_reproduction

    if reevaluate_shipped:
        from ..reproduce.run import reevaluate_shipped as run_reevaluation

        written = run_reevaluation(results_dir=results, names=tuple(only or ()), console=console)
        console.print(f"metrics: {', '.join(str(path) for path in written)}; report: {results / 'report.md'}")
        return
    report = run_reproduction(
        quick=quick, results_dir=results, runs_dir=runs, only=tuple(only or ()), console=console, jobs=jobs,
        preset=preset, reevaluate=reevaluate,
    )
    console.print(f"report: {report}")


@app.command()
def bench(
    frame_checkpoint: Annotated[str | None, typer.Option(
        help="frame model dir or shipped name, all modes (default: shipped words / words-all)")] = None,
    token_checkpoint: Annotated[str | None, typer.Option(
        help="token baseline dir or shipped name, all modes (default: shipped words-token / words-all-token)")] = None,
    backbone: Annotated[str | None, typer.Option(help="time an untrained model on this backbone family")] = None,
    backbone_path: Annotated[str | None, typer.Option(help="hub name or directory of --backbone's weights")] = None,
    fixed_length: Annotated[bool, typer.Option(
        help="token answers exactly as long as the reference, even from a trained model")] = False,
    corpus: Annotated[str, typer.Option(help="test clips to build inputs from")] = "builtin:default:0",
    events: Annotated[str, typer.Option(help="word counts of the events sweep, comma-separated")] = "3,8,13,18,23,30",
    durations: Annotated[str, typer.Option(help="audio lengths of the duration sweep (s), comma-sep.")] = "5,10,30,60",
    modes: Annotated[str, typer.Option(help="question modes: one, all (comma-separated)")] = "one,all",
    batch_size: Annotated[int, typer.Option(help="questions per batch, the same for every method")] = 8,
    repeats: Annotated[int, typer.Option(help="timed runs of the token baseline per batch")] = 5,
    frame_repeats: Annotated[int, typer.Option(help="timed runs of forward and frame methods per batch")] = 7,
    warmup: Annotated[int, typer.Option(help="untimed runs of every method first")] = 1,
    threads: Annotated[int | None, typer.Option(help="torch CPU threads (default: torch's)")] = None,
    device: Annotated[str, typer.Option(help="torch device")] = "cpu",
    long_align_s: Annotated[float, typer.Option(
        help="seconds of audio aligned through `framestamp align` in a child process (wall, peak memory); 0: skip")
    ] = 3600.0,
    output_dir: Annotated[Path, typer.Option(help="where the JSON, table and plot go")] = Path("results/bench"),
) -> None:  # fmt: skip
    """Wall time of the frame method vs generated timestamps and the bare forward pass, end to end from
    files, and one long recording through `framestamp align` (JSON, table, plot)."""
    from ..bench import BenchConfig, run_bench
    from ..errors import ConfigError

    try:
        config = BenchConfig(
            frame_checkpoint=frame_checkpoint, token_checkpoint=token_checkpoint, backbone=backbone,
            backbone_path=backbone_path, fixed_length=fixed_length, corpus=corpus,
            events=[int(x) for x in events.split(",") if x.strip()],
            durations_s=[float(x) for x in durations.split(",") if x.strip()],
            modes=[x.strip() for x in modes.split(",") if x.strip()], batch_size=batch_size, repeats=repeats,
            frame_repeats=frame_repeats, warmup=warmup, threads=threads, device=device, long_align_s=long_align_s,
            output_dir=str(output_dir),
        )  # fmt: skip
    except ValueError as error:
        raise ConfigError(f"bench: {error}") from None
    result = run_bench(config, log=lambda line: console.print(line, markup=False, highlight=False, soft_wrap=True))
    plot = result.plot_path or "no plot (matplotlib missing)"
    console.print(f"results: {result.json_path}, {result.markdown_path}, {plot}")
