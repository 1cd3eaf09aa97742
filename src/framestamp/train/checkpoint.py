"""Training checkpoints: the model as ``save_pretrained`` writes it, plus optimiser and
scheduler state in safetensors/JSON (nothing pickled), enough to resume exactly.

One process or DDP: the main process writes everything (every process holds the same weights
and optimiser state). Sharded strategies (DeepSpeed ZeRO, FSDP): every process takes part in
gathering the weights, which the main process writes in the same layout; the optimiser shards
are saved by ``accelerator.save_state`` in ``sharded_state/`` (the strategy's own format,
resumed with the same number of processes).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from ..errors import CheckpointError

STATE_NAME, OPTIMIZER_NAME, SHARDED_STATE_DIR = "trainer_state.json", "optimizer.safetensors", "sharded_state"


def is_sharded(accelerator) -> bool:
    """Whether weights or optimiser state are split over processes (DeepSpeed, FSDP)."""
    from accelerate.utils import DistributedType

    return accelerator.distributed_type in (DistributedType.DEEPSPEED, DistributedType.FSDP)


def save_model(accelerator, module, directory: Path) -> None:
    """Write the ``FrameStampModel`` inside the prepared ``LossModule`` with ``save_pretrained``.

    Every process must call this: under sharded strategies the full weights are gathered first.
    """
    state = None
    if is_sharded(accelerator):
        gathered = accelerator.get_state_dict(module)
        state = {k.removeprefix("model."): v for k, v in gathered.items()} if gathered else None
    if accelerator.is_main_process:
        accelerator.unwrap_model(module).model.save_pretrained(directory, state_dict=state)
    accelerator.wait_for_everyone()


def save_checkpoint(accelerator, module, optimizer, scheduler, output_dir: Path, step: int) -> Path:
    """Model, optimiser and scheduler at ``step``, keeping the last two checkpoints.

    Every process must call this. ``trainer_state.json`` is written last, so a checkpoint cut
    short by a kill is never taken for the latest one.
    """
    directory = output_dir / f"checkpoint-{step}"
    save_model(accelerator, module, directory)
    sharded = is_sharded(accelerator)
    if sharded:
        accelerator.save_state(str(directory / SHARDED_STATE_DIR))
    if accelerator.is_main_process:
        save_training_state(directory, None if sharded else optimizer, scheduler, step)
        prune_checkpoints(output_dir)
    accelerator.wait_for_everyone()
    return directory


def save_training_state(directory: Path, optimizer: torch.optim.Optimizer | None, scheduler, step: int) -> None:
    """Write optimiser tensors, scheduler state and the step next to a saved model.

    ``optimizer`` None: its state is saved elsewhere (sharded strategies); only the param groups
    are left out too.
    """
    state = optimizer.state_dict() if optimizer is not None else {"state": {}, "param_groups": []}
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


def load_training_state(directory: Path, optimizer: torch.optim.Optimizer | None, scheduler) -> int:
    """Restore optimiser (unless None) and scheduler from ``directory``; return the step to continue from."""
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
    if optimizer is not None:
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
