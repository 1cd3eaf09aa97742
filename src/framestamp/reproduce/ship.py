"""Copy trained checkpoints into the package with a model card: the embedded defaults."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from ..inference.api import shipped_checkpoints_dir
from .plan import FULL, Experiment
from .report import evaluation, training_data_text

CARD_NAME = "README.md"


def ship(
    runs_dir: str | Path = "runs", results_dir: str | Path = "results", dest: Path | None = None,
    only: tuple[str, ...] = (),
) -> list[Path]:  # fmt: skip
    """Copy every experiment with a ``ships_as`` name (or just the recipes in ``only``) from
    ``runs_dir`` into the package.

    Only experiments that were trained and evaluated (metrics JSON present) are shipped.

    Returns:
        The checkpoint directories written.
    """
    dest = dest or shipped_checkpoints_dir()
    written = []
    for experiment in FULL:
        final = Path(runs_dir) / experiment.recipe / "final"
        metrics = Path(results_dir) / "metrics" / f"{experiment.recipe}.json"
        if only and experiment.recipe not in only:
            continue
        if experiment.ships_as is None or not final.is_dir() or not metrics.exists():
            continue
        target = dest / experiment.ships_as
        shutil.rmtree(target, ignore_errors=True)
        shutil.copytree(final, target)
        stages = earlier_stages(experiment, Path(runs_dir))
        (target / CARD_NAME).write_text(model_card(experiment, json.loads(metrics.read_text()), stages))
        written.append(target)
    return written


def earlier_stages(experiment: Experiment, runs_dir: Path) -> list[str]:
    """One line per run that ``experiment`` continues (its curriculum stages), earliest first."""
    from ..train.config import TrainConfig
    from .run import training_summary

    lines, name = [], experiment.continue_from
    while name is not None:
        config = TrainConfig.load(runs_dir / name / "config.yaml").to_dict()
        train = training_summary(runs_dir / name)
        lines.insert(0, f"- Stage before: `{name}`, {int(train.get('step', 0))} steps in {train.get('minutes', 0):.1f} "
                        f"min (last session), AdamW lr {config['lr']} ({config['lr_schedule']}), seed "
                        f"{config['seed']}; {training_data_text(config)}.")  # fmt: skip
        name = Experiment(name, ()).continue_from
    return lines


def model_card(experiment: Experiment, summary: dict, stages: list[str] = ()) -> str:
    """A markdown model card: what the model answers, its data, training (and earlier stages) and test scores."""
    config, train = summary["config"], summary.get("train", {})
    data, model = config["data"], config["model"]
    lines = [
        f"# framestamp `{experiment.ships_as}`",
        "",
        f"Answers: {data['subset']} questions, mode `{'/'.join(data['modes'])}`, boundary "
        f"`{'/'.join(data['boundaries'])}`. Objective: `{config['objective']}`"
        + (" (token baseline: the answer is generated as JSON text)." if config["objective"] == "token" else
           " (frame head; timestamps decoded from one forward pass)."),
        "",
        "- Backbone: `tiny` preset, a Qwen2.5-Omni thinker (`Qwen2_5OmniThinkerForConditionalGeneration`) of "
        "about 1.65 M parameters with a word-level tokenizer, trained from scratch; tied embeddings; "
        f"bidirectional audio attention: {model['bidirectional_audio']}; head bias init {model['head_bias_init']}.",
        f"- Data: built-in corpus `{data['corpus']}` (seed {data['seed']}), subset `{data['subset']}`, train split, "
        f"{training_data_text(config)}.",
        f"- Training: AdamW lr {config['lr']} ({config.get('lr_schedule', 'cosine')}), batch {config['batch_size']}, auxiliary identity loss weight "
        f"{config['aux_identity_weight']}, {int(train.get('step', 0))} steps in {train.get('minutes', 0):.1f} min "
        f"(last session) on {config['threads']} CPU thread(s), seed {config['seed']}.",
        *stages,
        f"- Reproduce: `framestamp reproduce --only {experiment.recipe}`, then "
        f"`python -m framestamp.reproduce.ship {experiment.recipe}`.",
        "",
        "## Scores (built-in corpus, measured by `framestamp reproduce`)",
        "",
        "Held-out splits: `test`, and `test_long` (clips of 10-60 s)"
        + ("; `train` asks about clips it trained on, for comparison." if any(
            record["split"] == "train" for record in summary["evaluations"]) else "."),
        "",
        "| split | mode | questions | acc 20 ms | acc 50 ms | acc 100 ms | MAE (s) | parse errors |",
        "|---|---|---|---|---|---|---|---|",
    ]
    presence = [record for record in summary["evaluations"] if record["mode"] == "presence"]
    for record in (record for record in summary["evaluations"] if record["mode"] != "presence"):
        m = record["metrics"]
        parse = m.get("parse_error_rate")
        lines.append(
            f"| {record['split']} | {record['mode']} | {record['n']} | {m['accuracy']['0.02']:.1%} | "
            f"{m['accuracy']['0.05']:.1%} | {m['accuracy']['0.1']:.1%} | {m['mae_s']:.3f} | "
            + (f"{parse:.1%}" if parse is not None else "-") + " |"
        )
    for record in presence:
        m = record["metrics"]
        lines += ["", f"Not there ({record['split']}, {m['n_present']} present and {m['n_absent']} absent questions, "
                      f"present when P(N >= 1) >= {m['threshold']}): {m['present_recall']:.1%} of present and "
                      f"{m['absent_recall']:.1%} of absent ones called right (balanced accuracy "
                      f"{m['balanced_accuracy']:.1%}, AUC {m['auc']:.3f})."]  # fmt: skip
    lines += ["", "Limits: trained on synthetic (espeak-ng) and one real voice's speech, the built-in event "
              "classes and voices; expect lower accuracy on other audio. English only."]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    import sys

    for path in ship(only=tuple(sys.argv[1:])):
        print(path)
