"""Training checkpoints: the model as ``save_pretrained`` writes it, plus optimiser and
scheduler state in safetensors/JSON (nothing pickled), enough to resume exactly."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from ..errors import CheckpointError

STATE_NAME, OPTIMIZER_NAME = "trainer_state.json", "optimizer.safetensors"


def save_training_state(directory: Path, optimizer: torch.optim.Optimizer, scheduler, step: int) -> None:
    """Write optimiser tensors, scheduler state and the step next to a saved model."""
    state = optimizer.state_dict()
    tensors, scalars = {}, {}
    for param_id, param_state in state["state"].items():
        for key, value in param_state.items():
            if torch.is_tensor(value) and value.dim() > 0:
                tensors[f"{param_id}.{key}"] = value.detach().contiguous().cpu()
            else:
                scalars[f"{param_id}.{key}"] = float(value)
    save_file(tensors, directory / OPTIMIZER_NAME)
    meta = {
        "step": step,
        "optimizer_scalars": scalars,
        "param_groups": state["param_groups"],
        "scheduler": scheduler.state_dict(),
        "torch_rng": torch.get_rng_state().tolist(),
    }
    (directory / STATE_NAME).write_text(json.dumps(meta))


def load_training_state(directory: Path, optimizer: torch.optim.Optimizer, scheduler) -> int:
    """Restore optimiser and scheduler from ``directory``; return the step to continue from."""
    try:
        meta = json.loads((directory / STATE_NAME).read_text())
        tensors = load_file(directory / OPTIMIZER_NAME)
    except (OSError, json.JSONDecodeError) as error:
        raise CheckpointError(f"cannot resume from {directory}: {str(error).splitlines()[0]}") from None
    per_param: dict[int, dict] = {}
    for name, value in tensors.items():
        param_id, key = name.split(".", 1)
        per_param.setdefault(int(param_id), {})[key] = value
    for name, value in meta["optimizer_scalars"].items():
        param_id, key = name.split(".", 1)
        per_param.setdefault(int(param_id), {})[key] = torch.tensor(value)
    optimizer.load_state_dict({"state": per_param, "param_groups": meta["param_groups"]})
    scheduler.load_state_dict(meta["scheduler"])
    torch.set_rng_state(torch.tensor(meta["torch_rng"], dtype=torch.uint8))
    return int(meta["step"])


def latest_checkpoint(output_dir: Path) -> Path | None:
    """The checkpoint directory with the highest step under ``output_dir``, if any."""
    found = [p for p in output_dir.glob("checkpoint-*") if (p / STATE_NAME).is_file()]
    return max(found, key=lambda p: int(p.name.split("-")[1])) if found else None


def prune_checkpoints(output_dir: Path, keep: int = 2) -> None:
    """Delete all but the ``keep`` most recent checkpoints."""
    found = sorted(output_dir.glob("checkpoint-*"), key=lambda p: int(p.name.split("-")[1]))
    for old in found[:-keep]:
        shutil.rmtree(old, ignore_errors=True)
