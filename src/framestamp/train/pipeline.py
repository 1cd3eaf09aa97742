"""The training input pipeline: micro-batches prepared ahead of the step by a torch DataLoader.

Micro-batch ``i`` of a run is optimisation step ``i // accumulation``'s micro-batch
``i % accumulation``: its items are drawn by ``QuerySampler.batch`` from (seed, step, micro,
process), so the batches do not depend on how many workers prepare them or on where a run resumed.
Preparing a batch (log-mel features, tokens, and for a frozen pre-trained tower its cached outputs
read from disk) runs in ``TrainConfig.loader_workers`` forked worker processes while the model
trains on the previous batch; with 0 workers it runs in the training process, as a plain loop would.
"""

from __future__ import annotations

import signal
from dataclasses import dataclass, replace
from typing import Sequence

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from ..backbones.base import BackboneInputs
from ..errors import ConfigError
from ..objectives import objective
from .batches import Item, QuerySampler
from .config import TrainConfig


@dataclass
class PreparedBatch:
    """One micro-batch as the loss takes it.

    Attributes:
        items: the clips and questions.
        inputs: the backbone's tokenized batch, on the CPU.
        tower_states: frozen-tower outputs of its clips found in the on-disk cache ({key: array}),
            for the training process's cache to hold before the forward (empty without a cache).
    """

    items: list[Item]
    inputs: BackboneInputs
    tower_states: dict[str, np.ndarray]

    def pin_memory(self) -> "PreparedBatch":
        """The batch with its tensors in page-locked memory (the DataLoader's ``pin_memory``)."""
        return replace(self, inputs=self.inputs.pin_memory())


class MicroBatches(Dataset):
    """Micro-batch ``index`` (``step * accumulation + micro``) of a run, prepared for the loss."""

    def __init__(self, sampler: QuerySampler, backbone, config: TrainConfig, accumulation: int, max_steps: int):
        self.sampler, self.backbone, self.config = sampler, backbone, config
        self.accumulation, self.max_steps = accumulation, max_steps
        self.needs_text = objective(config.objective).needs_text

    def __len__(self) -> int:
        return self.max_steps * self.accumulation

    def __getitem__(self, index: int) -> PreparedBatch:
        step, micro = divmod(index, self.accumulation)
        items = self.sampler.batch(step, self.config.batch_size, micro, self.accumulation)
        return prepare_batch(self.backbone, items, self.needs_text)


def prepare_batch(backbone, items: Sequence[Item], needs_text: bool) -> PreparedBatch:
    """Tokenize ``items`` on the CPU and read the frozen-tower outputs the disk cache holds for them."""
    inputs = tokenize(backbone, items, needs_text)
    return PreparedBatch(list(items), inputs, backbone.cached_tower_states(inputs))


def tokenize(backbone, items: Sequence[Item], needs_text: bool) -> BackboneInputs:
    """The backbone's batch of ``items`` on the CPU (with the answer text when ``needs_text``)."""
    answers = [item.query.answer_text() for item in items] if needs_text else None
    # Log-mel features are computed with torch on the CPU: a CPU autocast region (mixed precision
    # on a CPU run) would hand them back in bfloat16, which the feature extractor cannot return.
    questions, waveforms = [item.query.question for item in items], [item.clip.audio for item in items]
    with torch.autocast("cpu", enabled=False):
        if backbone.hears_asked_words:  # some questions may leave their word to the spoken block
            return backbone.prepare(questions, waveforms, answers, written=[item.word_written for item in items])
        return backbone.prepare(questions, waveforms, answers)


def _as_is(batch: PreparedBatch) -> PreparedBatch:
    return batch


def micro_batches(dataset: MicroBatches, start_step: int, workers: int, pin_memory: bool) -> DataLoader:
    """The DataLoader over ``dataset`` from ``start_step`` on, in order, ``workers`` processes ahead."""
    if workers < 0:
        raise ConfigError(f"loader_workers must be >= 0, got {workers}")
    if workers and getattr(dataset.backbone, "features_on_device", False):
        raise ConfigError("loader_workers > 0 prepares batches in forked CPU processes; this backbone computes "
                          "its features on its device (features_on_device): use loader_workers: 0")  # fmt: skip
    order = range(start_step * dataset.accumulation, len(dataset))
    return DataLoader(dataset, batch_size=None, sampler=order, num_workers=workers, collate_fn=_as_is,
                      pin_memory=pin_memory, prefetch_factor=2 if workers else None,
                      multiprocessing_context="fork" if workers else None, worker_init_fn=_worker_started)  # fmt: skip


def _worker_started(worker: int) -> None:
    """Ctrl-C at the terminal reaches the loader workers too: they ignore it, and the training
    process, which stops after finishing its step (``train.stopping``), ends them."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
