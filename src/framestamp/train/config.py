"""Experiment configuration: one YAML file per run."""

from __future__ import annotations

from dataclasses import dataclass

from ..config import Config, option, register_config
from ..model import ModelConfig
from ..tasks import BOUNDARIES, MODES

OBJECTIVES = ("ihp", "binary", "token", "joint")


@register_config
@dataclass
class DataConfig(Config):
    """Which clips and questions a run trains on."""

    corpus: str = option("tiny", "built-in corpus size (tiny, default, ...) or a path / hub dataset name")
    seed: int = option(0, "corpus seed (built-in corpus only)")
    subset: str = option("words", "words, speakers or events")
    modes: list = option(["one"], "question modes to sample: one, all")
    boundaries: list = option(["start"], "segment boundaries to ask about: start, end")
    max_target_s: float | None = option(None, "train only on targets earlier than this (length generalisation)")
    max_duration_s: float | None = option(None, "train only on clips shorter than this")

    def __post_init__(self):
        if self.subset not in ("words", "speakers", "events"):
            raise ValueError(f"subset must be words, speakers or events, got {self.subset!r}")
        for mode in self.modes:
            if mode not in MODES:
                raise ValueError(f"unknown mode {mode!r}; choose from {MODES}")
        for boundary in self.boundaries:
            if boundary not in BOUNDARIES:
                raise ValueError(f"unknown boundary {boundary!r}; choose from {BOUNDARIES}")


@register_config
@dataclass
class TrainConfig(Config):
    """A training run: model, data, objective and optimisation."""

    model: ModelConfig = option(ModelConfig(), "backbone and head")
    data: DataConfig = option(DataConfig(), "training data")
    objective: str = option("ihp", "ihp, binary, token (baseline) or joint (token + joint_weight * ihp)")
    joint_weight: float = option(0.01, "weight of the IHP loss in the joint objective")
    aux_identity_weight: float = option(
        0.0, "weight of the per-audio-token identity loss (tiny preset's stand-in for pre-training)"
    )
    lr: float = option(1e-3, "AdamW learning rate")
    weight_decay: float = option(0.01, "AdamW weight decay")
    warmup_steps: int = option(100, "linear learning-rate warm-up steps")
    batch_size: int = option(8, "clips per optimisation step (per process)")
    grad_accumulation: int = option(1, "micro-batches per optimisation step")
    grad_clip: float = option(1.0, "max gradient norm")
    max_steps: int = option(1000, "optimisation steps")
    max_minutes: float | None = option(None, "stop after this much wall time (checkpointing first)")
    checkpoint_every: int = option(500, "steps between checkpoints")
    log_every: int = option(20, "steps between log lines")
    seed: int = option(0, "seed of initialisation, data order and query sampling")
    threads: int | None = option(None, "torch CPU threads (None: torch default)")
    mixed_precision: str = option("no", "no, bf16 or fp16 (accelerate)")
    output_dir: str = option("runs/experiment", "where checkpoints and logs go")

    def __post_init__(self):
        if isinstance(self.model, dict):
            self.model = ModelConfig.from_dict(self.model)
        if isinstance(self.data, dict):
            self.data = DataConfig.from_dict(self.data)
        if self.objective not in OBJECTIVES:
            raise ValueError(f"objective must be one of {OBJECTIVES}, got {self.objective!r}")
        for name in ("batch_size", "grad_accumulation", "max_steps", "checkpoint_every", "log_every"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.lr <= 0:
            raise ValueError(f"lr must be > 0, got {self.lr}")
