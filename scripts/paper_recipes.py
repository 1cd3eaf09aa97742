"""Write the paper's training runs as recipe YAML files under src/framestamp/recipes/paper/.

One file per run, so each run is one command (docs/scaling.md). The files are checked in; this
script is how they were made, and tests/distributed/test_recipes.py checks they still match it.

    python scripts/paper_recipes.py          # rewrite the files
    python scripts/paper_recipes.py --check  # exit 1 if a file differs from what it would write
"""

from __future__ import annotations

import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1] / "src" / "framestamp" / "recipes" / "paper"

# Paper settings (docs/method.md sections 2-3): full fine-tuning, lr 1e-6, effective batch 8, bf16,
# 3 epochs (3B) / 6 epochs (7B), head bias -6 (-6.9 speakers), 4 logits per audio token,
# bidirectional audio, last layer. Gradient checkpointing is on so that the 3B run fits one 80 GB
# GPU (docs/scaling.md).
BACKBONES = {
    "qwen2.5-omni-3b": {"path": "Qwen/Qwen2.5-Omni-3B", "epochs": 3, "checkpointing": True},
    "qwen2.5-omni-7b": {"path": "Qwen/Qwen2.5-Omni-7B", "epochs": 6, "checkpointing": True},
}
TASKS = {
    "words-one": {"corpus": "gilkeyio/librispeech-alignments", "subset": "words", "modes": ["one"], "bias": -6.0},
    "words-all": {"corpus": "gilkeyio/librispeech-alignments", "subset": "words", "modes": ["all"], "bias": -6.0},
    "speakers": {"corpus": "enyoukai/libricount-timings", "subset": "speakers", "modes": ["one"], "bias": -6.9},
    "events": {"corpus": "enyoukai/audioset-humans-reprocessed", "subset": "events", "modes": ["one"], "bias": -6.0},
}
OBJECTIVES = {"binary": ("binary", None), "ihp": ("ihp", None), "token": ("token", None),
              "joint-w0.01": ("joint", 0.01), "joint-w0.05": ("joint", 0.05)}  # fmt: skip
LENGTH_LIMITS_S = (4, 8, 12, 16, 20)
LENGTH_OBJECTIVES = ("ihp", "token")

HEADER = """\
# {title}
# Paper settings: full fine-tuning of {path}, lr 1e-6, effective batch 8,
# bf16 ("auto": bf16 where the GPU supports it), {epochs} epochs, head bias {bias}, 4 logits per
# audio token (10 ms frames), bidirectional audio, last layer. Our choices where the paper is
# silent: AdamW without weight decay, 100 warm-up steps then cosine decay, gradient clipping at
# 1.0, shuffled epochs. How to run it and on what hardware: docs/scaling.md.
"""


class _Dumper(yaml.SafeDumper):
    """Block mappings, flow lists: ``modes: [one]``."""


_Dumper.add_representer(
    list, lambda dumper, value: dumper.represent_sequence("tag:yaml.org,2002:seq", value, flow_style=True)
)


def recipe(backbone: str, task: str, objective: str, max_target_s: float | None = None) -> dict:
    """The TrainConfig values of one paper run."""
    b, t = BACKBONES[backbone], TASKS[task]
    name, weight = OBJECTIVES[objective]
    suffix = f"-lt{max_target_s:02.0f}s" if max_target_s else ""
    folder = f"{backbone}/lengthgen" if max_target_s else backbone
    values = {
        "objective": name,
        "joint_weight": weight,
        "model": {
            "backbone": "qwen2.5-omni", "backbone_path": b["path"], "layer": -1, "frames_per_token": 4,
            "head_bias_init": t["bias"], "bidirectional_audio": True,
        },
        "data": {
            "corpus": t["corpus"], "subset": t["subset"], "modes": t["modes"], "boundaries": ["start"],
            "max_target_s": float(max_target_s) if max_target_s else None, "order": "epochs",
        },
        "lr": 1.0e-6, "weight_decay": 0.0, "warmup_steps": 100, "grad_clip": 1.0,
        "batch_size": 1, "effective_batch_size": 8, "epochs": b["epochs"],
        "mixed_precision": "auto", "weights_dtype": "float32", "gradient_checkpointing": b["checkpointing"],
        "checkpoint_every": 1000, "log_every": 50, "seed": 0,
        "output_dir": f"runs/paper/{folder}/{task}-{objective}{suffix}",
    }  # fmt: skip
    if weight is None:
        del values["joint_weight"]
    if max_target_s is None:
        del values["data"]["max_target_s"]
    return values


def render_all() -> dict[str, str]:
    """Relative path (under recipes/paper/) -> file text, for every paper run."""
    files = {}
    for backbone, b in BACKBONES.items():
        for task, t in TASKS.items():
            for objective in OBJECTIVES:
                title = f"{backbone}: {task} ({', '.join(t['modes'])}) on {t['corpus']}, {objective} objective."
                files[f"{backbone}/{task}-{objective}.yaml"] = _text(title, b, t, recipe(backbone, task, objective))
        for limit in LENGTH_LIMITS_S:
            for objective in LENGTH_OBJECTIVES:
                title = (f"{backbone}: length generalisation, words (one) trained only on targets earlier "
                         f"than {limit} s, {objective} objective.")  # fmt: skip
                values = recipe(backbone, "words-one", objective, max_target_s=limit)
                files[f"{backbone}/lengthgen/words-one-{objective}-lt{limit:02d}s.yaml"] = _text(
                    title, b, TASKS["words-one"], values
                )
    return files


def _text(title: str, backbone: dict, task: dict, values: dict) -> str:
    header = HEADER.format(title=title, path=backbone["path"], epochs=backbone["epochs"], bias=task["bias"])
    return header + yaml.dump(values, Dumper=_Dumper, sort_keys=False, default_flow_style=False)


def main(argv: list[str]) -> int:
    files = render_all()
    if "--check" in argv:
        on_disk = {name: (ROOT / name).read_text() if (ROOT / name).exists() else None for name in files}
        stale = [name for name, text in files.items() if on_disk[name] != text]
        print("\n".join(stale) or "paper recipes are up to date")
        return 1 if stale else 0
    for name, text in files.items():
        (ROOT / name).parent.mkdir(parents=True, exist_ok=True)
        (ROOT / name).write_text(text)
    print(f"wrote {len(files)} recipes under {ROOT}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
