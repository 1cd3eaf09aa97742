"""Copy trained checkpoints into the package with a model card: the embedded defaults."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import torch

from ..inference.api import shipped_checkpoints_dir
from .plan import FULL, PLANS, Experiment
from .published import checkpoint_parameters, long_clip_range, recipe_drift, steps_trained
from ..objectives import objective
from .report import AUDIO_SIDE, training_data_text

CARD_NAME = "README.md"


def ship(
    runs_dir: str | Path = "runs", results_dir: str | Path = "results", dest: Path | None = None,
    only: tuple[str, ...] = (), preset: str | None = None,
) -> list[Path]:  # fmt: skip
    """Copy every experiment of ``preset``'s plan (default: the shipped one) with a ``ships_as``
    name (or just the recipes in ``only``) from ``runs_dir`` into the package.

    Only experiments that were trained and evaluated (metrics JSON present) are shipped.

    Returns:
        The checkpoint directories written.
    """
    dest = dest or shipped_checkpoints_dir()
    written = []
    for experiment in PLANS[preset] if preset else FULL:
        final = Path(runs_dir) / experiment.recipe / "final"
        metrics = Path(results_dir) / "metrics" / f"{experiment.recipe}.json"
        if only and experiment.recipe not in only:
            continue
        if experiment.ships_as is None or not final.is_dir() or not metrics.exists():
            continue
        target = dest / experiment.ships_as
        shutil.rmtree(target, ignore_errors=True)
        shutil.copytree(final, target)
        store_half_precision(target / "backbone")
        (target / CARD_NAME).write_text(card(experiment, Path(results_dir), target, Path(runs_dir)))
        written.append(target)
    return written


def store_half_precision(directory: Path) -> None:
    """Rewrite the float32 tensors of ``directory``'s safetensors files as float16: a shipped
    backbone takes half the room, and loading reads it back as float32 (``from_pretrained``'s
    dtype), rounded to float16's 11 significant bits. ``framestamp reproduce --reevaluate-shipped``
    measures the checkpoints as shipped."""
    from safetensors.torch import load_file, save_file

    for path in sorted(directory.glob("*.safetensors")):
        tensors = load_file(path)
        if any(t.dtype == torch.float32 for t in tensors.values()):
            half = {name: t.half() if t.dtype == torch.float32 else t for name, t in tensors.items()}
            save_file(half, path, metadata={"format": "pt"})


def write_cards(
    results_dir: str | Path = "results", dest: Path | None = None, runs_dir: str | Path = "runs"
) -> list[Path]:  # fmt: skip
    """Rewrite the model card of every shipped checkpoint in ``dest`` from the stored metrics
    (weights untouched): what ``ship`` would write for them today.

    Returns:
        The model cards written.
    """
    dest, written = dest or shipped_checkpoints_dir(), []
    for experiment in FULL:
        target = dest / experiment.ships_as if experiment.ships_as else None
        metrics = Path(results_dir) / "metrics" / f"{experiment.recipe}.json"
        if target is None or not target.is_dir() or not metrics.exists():
            continue
        (target / CARD_NAME).write_text(card(experiment, Path(results_dir), target, Path(runs_dir)))
        written.append(target / CARD_NAME)
    return written


def card(experiment: Experiment, results_dir: Path, checkpoint: Path, runs_dir: Path = Path("runs")) -> str:
    """The model card of ``experiment`` shipped in ``checkpoint``: its stored metrics, the stages
    before it and the checkpoint's parameter count."""
    summary = json.loads((results_dir / "metrics" / f"{experiment.recipe}.json").read_text())
    stages = earlier_stages(experiment, runs_dir, results_dir)
    return model_card(experiment, summary, stages, checkpoint_parameters(checkpoint))


def earlier_stages(experiment: Experiment, runs_dir: Path, results_dir: Path | None = None) -> list[str]:
    """One line per run that ``experiment`` continues (its curriculum stages), earliest first: from
    the stage's stored metrics under ``results_dir`` when it was evaluated, else from its run folder."""
    from ..train.config import TrainConfig
    from .run import training_summary

    lines, name = [], experiment.continue_from
    while name is not None:
        stored = results_dir / "metrics" / f"{name}.json" if results_dir is not None else None
        if stored is not None and stored.is_file():
            summary = json.loads(stored.read_text())
            config, train = TrainConfig.from_dict(summary["config"]).to_dict(), summary.get("train", {})
        else:
            config, train = TrainConfig.load(runs_dir / name / "config.yaml").to_dict(), training_summary(runs_dir / name)
        lines.insert(0, f"- Stage before: `{name}`, {steps_trained({'config': config, 'train': train}, ' steps')} in "
                        f"{train.get('minutes', 0):.1f} min (last session), AdamW lr {config['lr']} "
                        f"({config['lr_schedule']}), seed {config['seed']}; {training_data_text(config)}.")  # fmt: skip
        name = Experiment(name, (), preset=experiment.preset).continue_from
    return lines


def model_card(experiment: Experiment, summary: dict, stages: list[str] = (), parameters: int | None = None) -> str:
    """A markdown model card: what the model answers, its data, training (and earlier stages) and test
    scores, every number from ``summary`` (the experiment's stored metrics) and ``parameters``."""
    config, train = summary["config"], summary.get("train", {})
    data, model = config["data"], config["model"]
    size = f" of {parameters / 1e6:.2f} M parameters (head included)" if parameters else ""
    long_clips = long_clip_range(data) or "longer clips"
    drift = recipe_drift(experiment, summary)
    lines = [
        f"# framestamp `{experiment.ships_as}`",
        "",
        f"Answers: {data['subset']} questions, mode `{'/'.join(data['modes'])}`, boundary "
        f"`{'/'.join(data['boundaries'])}`. Objective: `{config['objective']}`"
        + (" (token baseline: the answer is generated as JSON text)." if objective(config["objective"]).head.generates_text else
           " (frame head; timestamps decoded from one forward pass)."),
        "",
        f"- Backbone: `{model['backbone']}` preset, a Qwen2.5-Omni thinker (`Qwen2_5OmniThinkerForConditionalGeneration`)"
        f"{size} {_text_side(model)}, {AUDIO_SIDE.get(model['backbone'], 'trained here')}; tied embeddings; "
        f"bidirectional audio attention: {model['bidirectional_audio']}; head bias init {model['head_bias_init']}.",
        f"- Data: built-in corpus `{data['corpus']}` (seed {data['seed']}), subset `{data['subset']}`, train split, "
        f"{training_data_text(config)}.",
        f"- Training: AdamW lr {config['lr']} ({config.get('lr_schedule', 'cosine')}), batch {config['batch_size']}, auxiliary identity loss weight "
        f"{config['aux_identity_weight']}, match loss weight {config.get('aux_match_weight', 0.0)}, "
        f"{steps_trained(summary, ' steps')} in {train.get('minutes', 0):.1f} min "
        f"(last session) on {config['threads']} CPU thread(s), seed {config['seed']}.",
        *stages,
        *([f"- Recipe: these weights and scores come from an earlier version of the `{experiment.recipe}` recipe: "
           f"{', '.join(drift)}. They have not been retrained with today's recipe yet."] if drift else []),
        f"- Reproduce: `framestamp reproduce --only {experiment.recipe}`, then "
        f"`python -m framestamp.reproduce.ship {experiment.recipe}`.",
        "",
        "## Scores (built-in corpus, measured by `framestamp reproduce`)",
        "",
        _splits_text(summary, long_clips),
        "",
        "| split | mode | questions | acc 20 ms | acc 50 ms | acc 100 ms | MAE (s) | parse errors |",
        "|---|---|---|---|---|---|---|---|",
    ]
    presence = [record for record in summary["evaluations"] if record["mode"] == "presence"]
    for record in (r for r in summary["evaluations"] if r["mode"] in ("one", "all") and "copy" not in r):
        m = record["metrics"]
        parse = m.get("parse_error_rate")
        split = record["split"] + (f" ({record['corpus']} corpus)" if record.get("corpus") else "")
        lines.append(
            f"| {split} | {record['mode']} | {record['n']} | {m['accuracy']['0.02']:.1%} | "
            f"{m['accuracy']['0.05']:.1%} | {m['accuracy']['0.1']:.1%} | {m['mae_s']:.3f} | "
            + (f"{parse:.1%}" if parse is not None else "-") + " |"
        )
    for record in presence:
        m = record["metrics"]
        lines += ["", f"Not there ({record['split']}, {m['n_present']} present and {m['n_absent']} absent questions, "
                      f"present when P(N >= 1) >= {m['threshold']}): {m['present_recall']:.1%} of present and "
                      f"{m['absent_recall']:.1%} of absent ones called right (balanced accuracy "
                      f"{m['balanced_accuracy']:.1%}, AUC {m['auc']:.3f})."]  # fmt: skip
    lines += _window_text(summary)
    if model.get("spoken_words"):
        words = "any word espeak-ng can say is heard; the report measures words never said in training apart"
    elif model.get("text_pieces"):
        words = "any word is read in Whisper's pieces; the report measures words never said in training apart"
    else:
        words = "a question about a word outside the word-level vocabulary is refused"
    if data["subset"] == "words" and "one" in data["modes"]:
        words += ("; training asks only about words of letters alone and no stop words ('the', 'of', 'and', ...), "
                  "and a question about another word is answered with a warning")
    lines += ["", "Limits: trained on the built-in corpus's synthetic and recorded speech and event classes "
              f"(docs/corpus.md); expect lower accuracy on other audio. English only; {words}."]
    return "\n".join(lines) + "\n"


def _window_text(summary: dict) -> list[str]:
    """The window chosen for long audio (``reproduce.run.WINDOW_CHOICE``), for a card; none when not chosen."""
    choice = summary.get("window_choice")
    if choice is None:
        return []
    tried = ", ".join(f"{name} s {value['accuracy']:.1%}" for name, value in choice["candidates"].items())
    return ["", f"Long audio is cut into windows of {choice['window_s']:g} s (overlap a fifth, at most 5 s), the best "
                f"of those tried on {choice['n']} dev questions, {choice['n_long']} of them on 20-60 s recordings "
                f"(accuracy within 50 ms: {tried}); `--window-s` overrides it."]  # fmt: skip


def _text_side(model: dict) -> str:
    """How a model's thinker reads its questions, for its card."""
    pieces = model.get("text_pieces")
    if not pieces:
        text = "with a word-level tokenizer"
    else:
        text = (f"reading any text in Whisper tiny.en's first {pieces:,} BPE pieces through its frozen decoder "
                "embeddings (docs/open-vocabulary.md)")
    if model.get("spoken_words"):
        text += (", and hearing each asked word as espeak-ng says it through the same frozen tower "
                 "(docs/open-vocabulary.md)")
    return text


def _splits_text(summary: dict, long_clips: str) -> str:
    """Which splits the scores below are on."""
    splits = {record["split"] for record in summary["evaluations"]}
    held_out = ["`test`"] + ([f"`test_long` (clips of {long_clips})"] if "test_long" in splits else [])
    text = ("Held-out splits: " + ", and ".join(held_out)) if len(held_out) > 1 else "Held-out split: `test`"
    return text + ("; `train` asks about clips it trained on, for comparison." if "train" in splits else ".")


if __name__ == "__main__":
    import sys

    # python -m framestamp.reproduce.ship [recipe ...]   copy runs into the package, with cards
    # python -m framestamp.reproduce.ship --cards        rewrite the shipped cards from results/metrics
    arguments = sys.argv[1:]
    for path in write_cards() if arguments == ["--cards"] else ship(only=tuple(arguments)):
        print(path)
