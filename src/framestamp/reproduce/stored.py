"""Stored results of a reproduction (``results/metrics/*.json``): loading them, and finding an
experiment's evaluation records and the forced-alignment anchor's answers on given clips."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from .plan import FULL

# Where a metrics JSON keeps its evaluations by the field's standard metrics (``reproduce.run.STANDARD_MODES``):
# records without accuracies, so apart from "evaluations".
STANDARD_EVALUATIONS = "standard_evaluations"
# The forced-alignment anchor's metrics JSON (``evaluate.anchor.ANCHOR_NAME``): no experiment, so
# ``load_results`` leaves it out and ``Anchors`` reads it.
ANCHOR = "anchor-pocketsphinx"

# The plan whose models ship: its preset, and the experiment each shipped checkpoint comes from.
SHIPPED_PRESET = FULL[0].preset
SHIPPED = {experiment.ships_as: experiment.name for experiment in FULL if experiment.ships_as}


def load_results(results_dir: Path) -> dict[str, dict]:
    """{experiment name: summary} of every ``metrics/*.json`` (the anchor's left out: see ``Anchors``)."""
    paths = sorted((results_dir / "metrics").glob("*.json"))
    return {p.stem: json.loads(p.read_text()) for p in paths if not p.stem.startswith(ANCHOR)}


@dataclass(frozen=True)
class Anchors:
    """The forced-alignment anchor's stored results (``python -m framestamp.evaluate.anchor``), each on
    one split's clips of one corpus."""

    records: tuple[dict, ...] = ()

    @classmethod
    def load(cls, results_dir: Path) -> Anchors:
        """Every stored anchor, the ones run on the recipe's own corpus (no corpus in the file name) first."""
        paths = sorted((results_dir / "metrics").glob(f"{ANCHOR}*.json"), key=lambda p: (len(p.name), p.name))
        return cls(tuple(json.loads(p.read_text()) for p in paths))

    def on(self, split: str, corpus: str | None) -> dict | None:
        """The anchor's results on ``split``'s clips of ``corpus`` (a size name; None: the first stored,
        the recipe's own corpus's when there is one), None when it answered none; a record whose
        corpus is unknown is taken for any, after one that names it."""
        found = [a for a in self.records if a.get("split", "test") == split
                 and (corpus is None or anchor_corpus(a) in (None, corpus))]  # fmt: skip
        return min(found, key=lambda a: anchor_corpus(a) is None, default=None)


def aligned_record(anchor: dict) -> dict:
    """The anchor's own answers on all its clips as an evaluation record (``n`` clips, ``metrics``)."""
    group = anchor["groups"]["all"]
    return {"n": group.get("n"), "metrics": group["variants"]["aligner"]["metrics"]}


def anchor_corpus(anchor: dict) -> str | None:
    """The built-in corpus (size name) whose clips the forced-alignment anchor answered, when known
    (``corpus_size``, else read from its build directory's name)."""
    from ..corpus.build import build_size

    return anchor.get("corpus_size") or build_size(anchor.get("corpus") or "")


def run_corpus(summary: dict) -> str | None:
    """The corpus a stored run trained on (its own, whose clips an evaluation naming none asked)."""
    return summary.get("config", {}).get("data", {}).get("corpus")


def is_baseline(summary: dict) -> bool:
    """Whether a stored experiment is a token baseline (its objective's head generates text)."""
    from ..objectives import objective

    return objective(summary.get("config", {}).get("objective", "ihp")).head.generates_text


def evaluation(
    summary: dict, split: str, mode: str, key: str = "evaluations", copy: str | None = None, corpus: str | None = None
) -> dict | None:  # fmt: skip
    """The record of ``summary[key]`` for ``split`` and ``mode`` on the clips as built, or on their
    ``copy`` (``evaluate.copies``), of the run's own corpus or of ``corpus`` (naming the run's own
    corpus is the same as naming none); None when there is none."""
    own = run_corpus(summary)
    wanted = corpus or own
    return next((e for e in summary.get(key, ()) if e["split"] == split and e["mode"] == mode
                 and e.get("copy") == copy and (e.get("corpus") or own) == wanted), None)  # fmt: skip


def evaluated(results: dict, split: str, mode: str, key: str = "evaluations", corpus: str | None = None):
    """(experiment name, evaluation record) of every experiment evaluated on ``split`` in ``mode``
    (records under ``key``: "evaluations", or ``STANDARD_EVALUATIONS``), of its own corpus or ``corpus``."""
    for name, summary in results.items():
        record = evaluation(summary, split, mode, key, corpus=corpus)
        if record is not None:
            yield name, record
