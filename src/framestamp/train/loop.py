"""The training loop: read it top to bottom in one sitting.

The same code runs in one process or under ``accelerate launch`` with any number of processes
(DDP, DeepSpeed ZeRO, FSDP; see docs/scaling.md). Optimisation step ``s`` trains on a global
batch of ``batch_size x accumulation x processes`` items drawn from (seed, s) and split over
processes and micro-batches (``QuerySampler``): N processes follow the loss trajectory of one
process with the same global batch, and a run resumes exactly from its last checkpoint.
"""

from __future__ import annotations

import csv
import math
import time
from dataclasses import replace
from pathlib import Path
from typing import Sequence

import torch
from accelerate import Accelerator
from accelerate.utils import DistributedDataParallelKwargs, set_seed
from tqdm.auto import tqdm
from transformers import get_scheduler

from ..backbones import backbone_class
from ..backbones.tiny_thinker import TinyThinkerBackbone
from ..data.examples import Clip
from ..errors import ConfigError
from ..lora import add_lora, trainable_parameters
from ..model import FrameStampModel, ModelConfig, load_backbone
from ..objectives import objective
from .batches import QuerySampler
from .checkpoint import (
    SHARDED_STATE_DIR, is_sharded, latest_checkpoint, load_training_state, save_checkpoint, save_model,
)  # fmt: skip
from .config import DataConfig, TrainConfig
from .objectives import LossModule
from .pipeline import MicroBatches, micro_batches
from .stopping import StopRequests, StoppedOnRequest

FINAL_DIR = "final"
HF_SCHEDULES = {"cosine": "cosine", "constant": "constant_with_warmup"}  # lr_schedule -> transformers name


def build_model(config: ModelConfig, seed: int = 0, dtype: str | None = None) -> FrameStampModel:
    """A fresh model: the tiny preset from scratch, or a named backbone (in ``dtype``) with a new head."""
    torch.manual_seed(seed)
    family = backbone_class(config.backbone)
    if config.backbone_path is None and issubclass(family, TinyThinkerBackbone):  # a preset made here, not loaded
        backbone = family.create(seed=seed, **family.create_options(config))
    else:
        kwargs = {"dtype": dtype} if dtype else {}
        backbone = load_backbone(config.backbone, config.backbone_path or config.backbone, **kwargs)
        if config.spoken_words and not backbone.hears_asked_words:
            backbone.hear_asked_words(config.spoken_word_text)
    return FrameStampModel(backbone, config)


def training_clips(data: DataConfig, split: str = "train") -> Sequence[Clip]:
    """Clips of ``split`` that pass the duration filter of ``data``."""
    from ..corpus.config import SIZES
    from ..data import load_subset

    source = f"builtin:{data.corpus}:{data.seed}" if data.corpus in SIZES else data.corpus
    return load_subset(source, data.subset, split, max_duration_s=data.max_duration_s)


def make_accelerator(config: TrainConfig) -> Accelerator:
    """The ``Accelerator`` of a run; ``accelerate launch`` settings pick the strategy."""
    precision = config.mixed_precision
    if precision == "auto":
        precision = "bf16" if torch.cuda.is_available() and torch.cuda.is_bf16_supported() else "no"
    # Some parameters get no gradient in some runs (the vision tower, the head of the token
    # baseline, layers above ``model.layer``): DDP must not wait for them. Gradients live in
    # DDP's buckets instead of beside them (one copy of the gradients less).
    ddp = DistributedDataParallelKwargs(find_unused_parameters=True, gradient_as_bucket_view=True)
    accelerator = Accelerator(mixed_precision=precision, cpu=not torch.cuda.is_available(), kwargs_handlers=[ddp])
    accelerator.gradient_accumulation_steps = config.accumulation_steps(accelerator.num_processes)
    deepspeed = accelerator.state.deepspeed_plugin
    if deepspeed is not None:  # no dataloader is prepared, so DeepSpeed learns the batch from us
        deepspeed.deepspeed_config["train_micro_batch_size_per_gpu"] = config.batch_size
        if deepspeed.deepspeed_config.get("gradient_clipping", "auto") == "auto":
            deepspeed.deepspeed_config["gradient_clipping"] = config.grad_clip
    return accelerator


def training_model(config: TrainConfig, checkpoint: Path | None) -> FrameStampModel:
    """The model to train: from ``checkpoint`` when resuming, else fresh (with LoRA when asked)."""
    dtype = getattr(torch, config.weights_dtype)
    if checkpoint is not None:
        model = FrameStampModel.from_pretrained(checkpoint, dtype=dtype)
    elif config.init_from is not None:
        model = starting_model(config, dtype)
    else:
        model_config = replace(config.model, head_objective=objective(config.objective).head_name)
        model = build_model(model_config, config.seed, dtype)
        if config.lora.enabled:
            add_lora(model.backbone.model, config.lora)
    if config.gradient_checkpointing:
        enable_checkpointing(model.backbone.model)
    if config.tower_cache and hasattr(model.backbone, "enable_tower_cache"):
        # augmented and non-speech clips are new audio every step: their tower outputs stay in memory
        # (bounded); the plain clips' come from disk (``warm_frozen_tower``)
        model.backbone.enable_tower_cache(disk_writes=not fresh_audio(config))
    # saved with the model: what its head was trained to answer (a threshold or window chosen for
    # the model it started from no longer holds)
    model.config = replace(model.config, question_modes=list(config.data.modes),
                           answers_absent=config.data.absent_share > 0 or config.data.nonspeech_share > 0,
                           presence_threshold=None, window_s=None)  # fmt: skip
    return model.train()


def fresh_audio(config: TrainConfig) -> bool:
    """Whether some training clips are new audio every step (cut, augmented, or made of non-speech)."""
    data = config.data
    return data.crop_words is not None or data.augment_share > 0 or data.nonspeech_share > 0


def warm_frozen_tower(
    model: FrameStampModel, clips: Sequence[Clip], config: TrainConfig, accelerator: Accelerator
) -> None:  # fmt: skip
    """Before training on fresh audio, put the plain clips' frozen-tower outputs on disk (each process
    computes a share of the missing ones), so a step runs the tower on its new audio only (no clip
    is heard whole when every clip is cut: nothing to put)."""
    cache = getattr(model.backbone, "tower_cache", None)
    if cache is None or cache.disk_writes or cache.directory is None or config.data.crop_words is not None:
        return
    share = clips[accelerator.process_index :: accelerator.num_processes]
    started = time.monotonic()
    computed = model.backbone.warm_tower_cache(clip.audio for clip in share)
    accelerator.wait_for_everyone()
    accelerator.print(f"frozen tower: {computed} of {len(share)} plain clips computed for the disk cache in "
                      f"{time.monotonic() - started:.0f} s")  # fmt: skip


def starting_model(config: TrainConfig, dtype: torch.dtype) -> FrameStampModel:
    """The trained model ``config.init_from`` names, checked against the run it starts."""
    model = FrameStampModel.from_pretrained(config.init_from, dtype=dtype)
    head = objective(config.objective).head
    if model.config.backbone != config.model.backbone or model.head_kind is not head:
        raise ConfigError(f"init_from {config.init_from} is a {model.config.backbone} model with a "
                          f"{model.config.head_objective!r} head; this run trains a {config.model.backbone} "
                          f"model with a {head.name!r} head")
    pieces = config.model.text_pieces
    if pieces != model.config.text_pieces:  # the one model setting a continued run may change
        if pieces is None or model.config.text_pieces is not None or not hasattr(model.backbone, "read_text_in_pieces"):
            raise ConfigError(f"init_from {config.init_from} reads text in {model.config.text_pieces or 'words'}; "
                              f"a run can only move a word-level model to the open text side, not to "
                              f"text_pieces {pieces}")  # fmt: skip
        model.backbone.read_text_in_pieces(pieces)
        model.config = replace(model.config, text_pieces=pieces)
    if model.config.spoken_words and not config.model.spoken_words:
        raise ConfigError(f"init_from {config.init_from} hears the asked words; a run cannot stop it")
    reads = config.model.spoken_word_text
    if config.model.spoken_words and (not model.config.spoken_words or model.config.spoken_word_text != reads):
        # likewise: a model may start hearing asked words, or change whether it reads them
        model.backbone.hear_asked_words(reads)
        model.config = replace(model.config, spoken_words=True, spoken_word_text=reads)
    return model


def enable_checkpointing(hf_model) -> None:
    """Recompute each layer's activations in the backward pass (non-reentrant: frozen inputs are fine)."""
    kwargs = {"use_reentrant": False}
    if hasattr(hf_model, "activation_checkpointing_enable"):  # transformers >= 5.2x renamed it
        hf_model.activation_checkpointing_enable(activation_checkpointing_kwargs=kwargs)
    else:
        hf_model.gradient_checkpointing_enable(gradient_checkpointing_kwargs=kwargs)


def train(config: TrainConfig, clips: Sequence[Clip] | None = None, resume: bool = True) -> Path:
    """Train a model as ``config`` says; return the directory of the final checkpoint.

    With ``resume``, continue from the latest checkpoint in ``config.output_dir`` if one exists.
    Every process of an ``accelerate launch`` calls this with the same arguments.
    """
    if config.threads:
        torch.set_num_threads(config.threads)
    output_dir = Path(config.output_dir)
    accelerator = make_accelerator(config)
    accumulation = accelerator.gradient_accumulation_steps
    global_batch = config.batch_size * accumulation * accelerator.num_processes
    set_seed(config.seed)
    clips = training_clips(config.data) if clips is None else clips
    max_steps = config.total_steps(len(clips), global_batch)
    checkpoint = latest_checkpoint(output_dir) if resume else None
    model = training_model(config, checkpoint)
    warm_frozen_tower(model, clips, config, accelerator)
    optimizer = torch.optim.AdamW(trainable_parameters(model), lr=config.lr, weight_decay=config.weight_decay)
    scheduler = get_scheduler(HF_SCHEDULES[config.lr_schedule], optimizer, config.warmup_steps, max_steps)
    sharded = is_sharded(accelerator)
    start_step = load_training_state(checkpoint, None if sharded else optimizer, scheduler) if checkpoint else 0
    module, optimizer = accelerator.prepare(LossModule(model, config), optimizer)
    if checkpoint is not None and sharded:
        accelerator.load_state(str(checkpoint / SHARDED_STATE_DIR))
    sampler = QuerySampler(clips, config.data, config.seed, accelerator.process_index, accelerator.num_processes)
    dataset = MicroBatches(sampler, model.backbone, config, accumulation, max_steps)
    batches = iter(micro_batches(dataset, start_step, config.loader_workers, pin_memory=torch.cuda.is_available()))
    if accelerator.is_main_process:
        output_dir.mkdir(parents=True, exist_ok=True)
        config.save(output_dir / "config.yaml")
    accelerator.print(f"{max_steps} steps of {global_batch} clips ({config.batch_size} per micro-batch x "
                      f"{accumulation} micro-batches x {accelerator.num_processes} processes)")  # fmt: skip
    log = MetricsLog(output_dir, enabled=accelerator.is_main_process, start_step=start_step)
    started = time.monotonic()
    progress = tqdm(range(start_step, max_steps), initial=start_step, total=max_steps,
                    desc="train", disable=not accelerator.is_main_process)  # fmt: skip
    stopped = False
    with StopRequests() as stop:
        for step in progress:
            losses = optimisation_step(module, optimizer, scheduler, batches, step, config, accelerator)
            minutes = (time.monotonic() - started) / 60
            out_of_time, stopped = any_process(accelerator, config.max_minutes is not None and
                                               minutes >= config.max_minutes, stop.requested is not None)  # fmt: skip
            stopped = stopped and step + 1 < max_steps  # asked during the last step: it finishes
            if (step + 1) % config.log_every == 0 or step + 1 == max_steps or out_of_time or stopped:
                log.write(step + 1, losses, scheduler.get_last_lr()[0], minutes)
                progress.set_postfix(loss=f"{losses['loss']:.3f}")
            if (step + 1) % config.checkpoint_every == 0 or out_of_time or stopped:
                saved = save_checkpoint(accelerator, module, optimizer, scheduler, output_dir, step + 1)
            if out_of_time or stopped:
                break
    log.close()
    if stopped:
        raise StoppedOnRequest(f"on request ({stop.requested or 'another process'}) after step {step + 1} of "
                               f"{max_steps}; checkpoint {saved}: run the same command again to continue from it")
    final = output_dir / FINAL_DIR
    save_model(accelerator, module, final)
    return final


def optimisation_step(module, optimizer, scheduler, batches, step, config, accelerator) -> dict[str, float]:
    """Accumulate the micro-batches of ``step`` (the next ones of ``batches``: ``train.pipeline``),
    clip, step; return losses averaged over the global batch."""
    accumulation = accelerator.gradient_accumulation_steps
    totals: dict[str, torch.Tensor] = {}
    for micro in range(accumulation):
        batch = next(batches)
        # Gradients are synchronised across processes on the last micro-batch only; the loss is
        # divided by ``accumulation`` inside ``backward``.
        with accelerator.accumulate(module):
            losses = module(batch)
            accelerator.backward(losses["loss"])
        for name, value in losses.items():
            totals[name] = totals.get(name, 0.0) + value.detach().float() / accumulation
    names = sorted(totals)
    means = accelerator.reduce(torch.stack([totals[name] for name in names]), reduction="mean").tolist()
    totals = dict(zip(names, means))
    if not all(math.isfinite(v) for v in totals.values()):
        raise FloatingPointError(f"non-finite loss at step {step}: {totals}")
    if accelerator.sync_gradients:
        accelerator.clip_grad_norm_(module.parameters(), config.grad_clip)
    optimizer.step()
    scheduler.step()
    optimizer.zero_grad(set_to_none=True)
    return totals


def any_process(accelerator: Accelerator, *flags: bool) -> tuple[bool, ...]:
    """Whether each of ``flags`` holds on any process (one reduction): every process then takes the
    same branches."""
    counts = accelerator.reduce(torch.tensor([float(f) for f in flags], device=accelerator.device), reduction="sum")
    return tuple(bool(count > 0) for count in counts.tolist())


class MetricsLog:
    """Metrics to ``metrics.csv`` and, when tensorboard is installed, to TensorBoard.

    Rows past ``start_step`` (written by a run that was killed after its last checkpoint) are
    dropped, so a resumed run's log has each step once.
    """

    def __init__(self, output_dir: Path, enabled: bool = True, start_step: int = 0):
        self.enabled, self.path, self.rows = enabled, output_dir / "metrics.csv", 0
        self.board = None
        if enabled and self.path.exists():
            header, *rows = self.path.read_text().splitlines(keepends=True) or [""]
            rows = [row for row in rows if int(row.split(",", 1)[0]) <= start_step]
            if rows:
                self.path.write_text(header + "".join(rows))
            else:
                self.path.unlink()
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
        # A resumed run appends under the header it wrote first, whatever order the losses come in.
        fields = list(row) if new_file else self.path.read_text().split("\n", 1)[0].split(",")
        with self.path.open("a", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=fields, extrasaction="ignore")
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
