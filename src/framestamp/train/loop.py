"""The training loop: read it top to bottom in one sitting.

Single process on a CPU here; the same code runs under ``accelerate launch`` (the sampler draws
each process's shard from (seed, step, process index))."""

from __future__ import annotations

import csv
import math
import time
from dataclasses import replace
from pathlib import Path
from typing import Sequence

import torch
from accelerate import Accelerator
from accelerate.utils import set_seed
from tqdm.auto import tqdm
from transformers import get_cosine_schedule_with_warmup

from ..backbones.tiny import TinyBackbone
from ..data.examples import Clip
from ..model import FrameStampModel, ModelConfig, load_backbone
from .batches import QuerySampler
from .checkpoint import latest_checkpoint, load_training_state, prune_checkpoints, save_training_state
from .config import DataConfig, TrainConfig
from .objectives import batch_loss

FINAL_DIR = "final"
HEAD_OF_OBJECTIVE = {"ihp": "ihp", "joint": "ihp", "binary": "binary", "token": "none"}


def build_model(config: ModelConfig, seed: int = 0) -> FrameStampModel:
    """A fresh model: the tiny preset from scratch, or a named backbone with a new head."""
    torch.manual_seed(seed)
    if config.backbone == "tiny" and config.backbone_path is None:
        backbone = TinyBackbone.create(seed=seed)
    else:
        backbone = load_backbone(config.backbone, config.backbone_path or config.backbone)
    return FrameStampModel(backbone, config)


def training_clips(data: DataConfig, split: str = "train") -> Sequence[Clip]:
    """Clips of ``split`` that pass the duration filter of ``data``."""
    from ..corpus.config import SIZES
    from ..data import load_subset

    source = f"builtin:{data.corpus}:{data.seed}" if data.corpus in SIZES else data.corpus
    return load_subset(source, data.subset, split, max_duration_s=data.max_duration_s)


def train(config: TrainConfig, clips: Sequence[Clip] | None = None, resume: bool = True) -> Path:
    """Train a model as ``config`` says; return the directory of the final checkpoint.

    With ``resume``, continue from the latest checkpoint in ``config.output_dir`` if one exists.
    """
    if config.threads:
        torch.set_num_threads(config.threads)
    output_dir = Path(config.output_dir)
    accelerator = Accelerator(mixed_precision=config.mixed_precision, cpu=not torch.cuda.is_available())
    set_seed(config.seed)
    clips = training_clips(config.data) if clips is None else clips
    checkpoint = latest_checkpoint(output_dir) if resume else None
    model_config = replace(config.model, head_objective=HEAD_OF_OBJECTIVE[config.objective])
    model = FrameStampModel.from_pretrained(checkpoint) if checkpoint else build_model(model_config, config.seed)
    model.train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    scheduler = get_cosine_schedule_with_warmup(optimizer, config.warmup_steps, config.max_steps)
    start_step = load_training_state(checkpoint, optimizer, scheduler) if checkpoint else 0
    model, optimizer = accelerator.prepare(model, optimizer)
    sampler = QuerySampler(clips, config.data, config.seed, shard=accelerator.process_index)
    if accelerator.is_main_process:
        output_dir.mkdir(parents=True, exist_ok=True)
        config.save(output_dir / "config.yaml")
    log = MetricsLog(output_dir, enabled=accelerator.is_main_process)
    started = time.monotonic()
    progress = tqdm(range(start_step, config.max_steps), initial=start_step, total=config.max_steps,
                    desc="train", disable=not accelerator.is_main_process)  # fmt: skip
    for step in progress:
        losses = optimisation_step(model, optimizer, scheduler, sampler, step, config, accelerator)
        minutes = (time.monotonic() - started) / 60
        out_of_time = config.max_minutes is not None and minutes >= config.max_minutes
        if (step + 1) % config.log_every == 0 or step + 1 == config.max_steps or out_of_time:
            log.write(step + 1, losses, scheduler.get_last_lr()[0], minutes)
            progress.set_postfix(loss=f"{losses['loss']:.3f}")
        if (step + 1) % config.checkpoint_every == 0 or out_of_time:
            save_checkpoint(accelerator, model, optimizer, scheduler, output_dir, step + 1)
        if out_of_time:
            break
    log.close()
    final = output_dir / FINAL_DIR
    if accelerator.is_main_process:
        accelerator.unwrap_model(model).save_pretrained(final)
    accelerator.wait_for_everyone()
    return final


def optimisation_step(model, optimizer, scheduler, sampler, step, config, accelerator) -> dict[str, float]:
    """Accumulate ``grad_accumulation`` micro-batches, clip, step; return mean losses."""
    totals: dict[str, float] = {}
    for micro in range(config.grad_accumulation):
        items = sampler.batch(step * config.grad_accumulation + micro, config.batch_size)
        last = micro == config.grad_accumulation - 1
        with accelerator.no_sync(model) if not last else _nullcontext():
            losses = batch_loss(accelerator.unwrap_model(model), items, config)
            accelerator.backward(losses["loss"] / config.grad_accumulation)
        for name, value in losses.items():
            totals[name] = totals.get(name, 0.0) + float(value.detach()) / config.grad_accumulation
    if not all(math.isfinite(v) for v in totals.values()):
        raise FloatingPointError(f"non-finite loss at step {step}: {totals}")
    accelerator.clip_grad_norm_(model.parameters(), config.grad_clip)
    optimizer.step()
    scheduler.step()
    optimizer.zero_grad(set_to_none=True)
    return totals


def save_checkpoint(accelerator, model, optimizer, scheduler, output_dir: Path, step: int) -> None:
    """Model, optimiser and scheduler at ``step`` (main process), keeping the last two."""
    if accelerator.is_main_process:
        directory = output_dir / f"checkpoint-{step}"
        accelerator.unwrap_model(model).save_pretrained(directory)
        save_training_state(directory, optimizer, scheduler, step)
        prune_checkpoints(output_dir)
    accelerator.wait_for_everyone()


class MetricsLog:
    """Metrics to ``metrics.csv`` and, when tensorboard is installed, to TensorBoard."""

    def __init__(self, output_dir: Path, enabled: bool = True):
        self.enabled, self.path, self.rows = enabled, output_dir / "metrics.csv", 0
        self.board = None
        if enabled:
            try:
                from torch.utils.tensorboard import SummaryWriter

                self.board = SummaryWriter(str(output_dir / "tensorboard"))
            except ImportError:
                pass

    def write(self, step: int, losses: dict[str, float], lr: float, minutes: float) -> None:
        if not self.enabled:
            return
        row = {"step": step, "minutes": round(minutes, 3), "lr": lr} | {k: round(v, 6) for k, v in losses.items()}
        new_file = not self.path.exists()
        with self.path.open("a", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(row))
            if new_file:
                writer.writeheader()
            writer.writerow(row)
        if self.board is not None:
            for name, value in losses.items():
                self.board.add_scalar(f"train/{name}", value, step)
            self.board.add_scalar("train/lr", lr, step)

    def close(self) -> None:
        if self.board is not None:
            self.board.close()


class _nullcontext:
    def __enter__(self):
        return None

    def __exit__(self, *exc):
        return False
