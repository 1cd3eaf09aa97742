"""The main job: the shipped models against the token baseline on held-out built-in clips.

For each task family, the shipped frame model and its token baseline (same data, budget and
auxiliary help) answer the same held-out questions; the table shows accuracy within 50 and
100 ms, mean absolute error, and the median wall time per query of each, in one run.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from rich.console import Console
from rich.table import Table

SHOWCASE_SEED = 1  # any seed draws from the held-out test pool; 0 is the one the model cards use


@dataclass(frozen=True)
class ShowcaseTask:
    """One row pair of the table: a question family, its checkpoints and its held-out clips."""

    title: str
    subset: str
    mode: str
    frame_checkpoint: str
    token_checkpoint: str | None


TASKS = (
    ShowcaseTask("word, k-th occurrence", "words", "one", "words", "words-token"),
    ShowcaseTask("all word starts (count inferred)", "words", "all", "words-all", "words-all-token"),
    ShowcaseTask("speaker k onset", "speakers", "one", "speakers", "speakers-token"),
    ShowcaseTask("event, k-th occurrence", "events", "one", "events", "events-token"),
)


def showcase_corpus(n_clips: int):
    """Held-out test clips of every subset (a small build of the test split only)."""
    from .corpus import build_corpus
    from .corpus.config import SIZES, _splits

    base = SIZES["default"]
    config = type(base)(
        words=_splits(0, 0, n_clips, 0, 1.0, 10.0),
        speakers=_splits(0, 0, n_clips, 0, 5.0, 12.0),
        events=_splits(0, 0, n_clips, 0, 10.0, 10.0),
    )
    return build_corpus(size=f"showcase{n_clips}", seed=SHOWCASE_SEED, config=config, progress=False)


def run_showcase(console: Console, n_queries: int = 60, batch_size: int = 8, tasks: Sequence[ShowcaseTask] = TASKS):
    """Evaluate each task's frame model and token baseline and print the comparison table."""
    from .inference.api import resolve_checkpoint
    from .data import load_subset
    from .evaluate.run import evaluation_items, run
    from .model import FrameStampModel

    with console.status("building held-out clips"):
        corpus = showcase_corpus(n_queries)
    table = Table(title=f"framestamp vs token timestamps, {n_queries} held-out questions per task (CPU)")
    for column in ("task", "method", "acc 50 ms", "acc 100 ms", "MAE (s)", "ms / query", "speed-up"):
        table.add_column(column, justify="left" if column in ("task", "method") else "right")
    shown = [t for t in tasks if shipped(t.frame_checkpoint)]
    missing = [t.title for t in tasks if t not in shown]
    for task in shown:
        items = evaluation_items(load_subset(corpus, task.subset, "test"), task.mode, seed=SHOWCASE_SEED, limit=n_queries)
        results = {}
        for method, name in (("frame (IHP)", task.frame_checkpoint), ("token", task.token_checkpoint)):
            if name is None or not shipped(name):
                continue
            with console.status(f"{task.title}: {method}"):
                model = FrameStampModel.from_pretrained(resolve_checkpoint(name))
                results[method] = run(model, items, batch_size=batch_size, progress=False)
        frame_ms = results["frame (IHP)"].median_seconds_per_query * 1000
        for method, result in results.items():
            metrics, ms = result.metrics, result.median_seconds_per_query * 1000
            table.add_row(
                task.title if method.startswith("frame") else "", method,
                f"{metrics['accuracy'][0.05]:.1%}", f"{metrics['accuracy'][0.1]:.1%}",
                f"{metrics['mae_s']:.3f}", f"{ms:.1f}", "1.0x" if method.startswith("frame") else f"{ms / frame_ms:.1f}x",
            )  # fmt: skip
    console.print(table)
    console.print("speed-up = token time / frame time per query, same batch size, measured in this run.")
    console.print("Each frame model and its token baseline trained on the same data, from the same start, with the "
                  "same auxiliary loss; the steps each actually trained are in its model card and in README.md's "
                  "results tables (a pair trained by an earlier recipe is marked there).")
    if missing:
        console.print(f"not shipped yet, so not shown: {', '.join(missing)} (see results/report.md)")


def shipped(name: str) -> bool:
    """Whether the shipped checkpoint ``name`` is installed in the package."""
    from .inference.api import shipped_checkpoints_dir

    return (shipped_checkpoints_dir() / name / "framestamp_config.json").is_file()
