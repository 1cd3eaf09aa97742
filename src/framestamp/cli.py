"""The ``framestamp`` command line: each command is a thin layer over one public function."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from .errors import FramestampError

app = typer.Typer(add_completion=False, no_args_is_help=True, help="Timestamps from audio LM hidden states.")
console = Console()
errors = Console(stderr=True, soft_wrap=True)


def _mount_corpus() -> None:
    from .corpus.cli import corpus_app

    app.add_typer(corpus_app, name="corpus", help="Build the built-in corpus.")


@app.command()
def demo(
    queries: Annotated[int, typer.Option(help="held-out questions per task")] = 60,
    batch_size: Annotated[int, typer.Option(help="questions per forward pass")] = 8,
) -> None:
    """The main job: shipped frame models vs token baselines on held-out clips (accuracy, speed)."""
    from .showcase import run_showcase

    run_showcase(console, n_queries=queries, batch_size=batch_size)


@app.command()
def train(
    config: Annotated[Path, typer.Argument(help="experiment YAML file")],
    resume: Annotated[bool, typer.Option(help="continue from the latest checkpoint in output_dir")] = True,
) -> None:
    """Train a model from an experiment YAML file."""
    from .train.config import TrainConfig
    from .train.loop import train as run_training

    final = run_training(TrainConfig.load(config), resume=resume)
    console.print(f"final checkpoint: {final}")


@app.command()
def reproduce(
    quick: Annotated[bool, typer.Option(help="the short version (small corpus, two recipes, minutes)")] = False,
    results: Annotated[Path, typer.Option(help="where report.md, figures and metrics go")] = Path("results"),
    runs: Annotated[Path, typer.Option(help="where training runs and checkpoints go")] = Path("runs"),
    only: Annotated[list[str] | None, typer.Option(help="run only these recipes")] = None,
) -> None:
    """Train and evaluate the paper's comparison on the built-in corpus; write the report."""
    from .reproduce.run import reproduce as run_reproduction

    report = run_reproduction(quick=quick, results_dir=results, runs_dir=runs, only=tuple(only or ()), console=console)
    console.print(f"report: {report}")


def main() -> None:
    """Entry point: run the app, printing user errors as one line without a traceback."""
    _mount_corpus()
    from .commands_inference import register_commands

    register_commands(app)
    try:
        code = app(standalone_mode=False)
    except FramestampError as error:
        errors.print(f"[bold red]error:[/] {error}", highlight=False)
        sys.exit(1)
    except (typer.Abort, KeyboardInterrupt):
        errors.print("aborted")
        sys.exit(130)
    except typer.Exit as done:
        sys.exit(done.exit_code)
    except Exception as error:  # click usage errors arrive here in standalone_mode=False
        from click import ClickException

        if isinstance(error, ClickException):
            error.show()
            sys.exit(error.exit_code)
        raise
    sys.exit(code if isinstance(code, int) else 0)
