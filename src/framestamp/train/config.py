"""Experiment configuration: one YAML file per run."""

from __future__ import annotations

import math
from dataclasses import dataclass

from ..config import Config, option, register_config
from ..data.augment import AugmentConfig, check_nonspeech_options
from ..data.examples import SUBSETS
from ..errors import ConfigError
from ..lora import LoraSettings
from ..model import ModelConfig
from ..objectives import objective
from ..tasks import BOUNDARIES, MODES

ORDERS = ("random", "epochs")
PRECISIONS = ("no", "bf16", "fp16", "auto")
WEIGHT_DTYPES = ("float32", "bfloat16")
LR_SCHEDULES = ("cosine", "constant")


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
    absent_share: float = option(
        0.0, "share of single-occurrence questions about something the clip does not hold (the next "
             "occurrence after the last, or a subject of another clip); their answer is empty, which "
             "teaches the head to say 'not there'"
    )  # fmt: skip
    max_position_gap_s: float = option(
        0.0, "length generalisation: each question is followed by a gap of position ids, uniform up to this "
             "many seconds of audio tokens, before its audio, so short clips train the question-to-audio "
             "distances of long ones (0: none; inference never has a gap)"
    )  # fmt: skip
    joined_share: float = option(
        0.0, "length generalisation: share of items whose clip is followed by another training clip, the "
             "question still about a target in the first one, so the model hears long clips without being "
             "asked about a time later than any training clip's end (0: none)"
    )  # fmt: skip
    order: str = option("random", "random: every item drawn independently (with replacement); "
                                  "epochs: each pass visits every clip once, in a shuffled order")
    group_by_length: bool = option(
        False, "speed: sort a step's items by clip length before they are split into micro-batches and "
               "processes, so each micro-batch pads to a closer length (the step's items are the same; "
               "no effect with one micro-batch on one process)"
    )  # fmt: skip
    crop_words: list | None = option(
        None, "curriculum: [min, max] words; each words clip is cut to a random run of that many consecutive "
              "words (cut in the pauses around them) before its question is drawn, so fewer words compete "
              "(None: whole clips)"
    )  # fmt: skip
    augment_share: float = option(
        0.0, "robustness: share of training items whose clip is augmented (late start, background, level, "
             "telephone band, 8-bit samples; see docs/augmentation.md), targets moved with the audio (0: none)"
    )  # fmt: skip
    unwritten_word_share: float = option(
        0.0, "models that hear the asked words (model.spoken_words): share of questions whose text names their "
             "word as unknown, so the spoken block alone names it, as for a word the text side has never read; "
             "the others read it too (0: every question as the model reads it at inference)"
    )  # fmt: skip
    augment: AugmentConfig = option(AugmentConfig(), "which augmentations an augmented item gets, and their ranges")
    nonspeech_share: float = option(
        0.0, "share of single-occurrence items replaced by a question (a subject of the training vocabulary; "
             "speakers: the 1st speaker) about a generated clip with no speech, speaker or event in it "
             "(silence, tones, noise, music, mixes), whose answer is empty: non-speech is never 'present' "
             "(0: none; see docs/augmentation.md)"
    )  # fmt: skip
    nonspeech_s: list = option(
        [1.0, 30.0], "range of a non-speech clip's length, seconds (log-uniform; at most 30, and shorter than "
                     "max_duration_s when that is set)"
    )  # fmt: skip
    nonspeech_kinds: list = option(
        ["silence", "tone", "noise", "music", "mix"], "non-speech clips of the words and speakers subsets, one "
                                                      "kind drawn per item: silence, tone, noise, music, mix"
    )  # fmt: skip
    nonspeech_event_kinds: list = option(
        ["silence", "noise"], "non-speech clips of the events subset (silence, steady noise; tones and music can "
                              "be event classes, so they are not allowed here); [] asks no events question "
                              "about non-speech"
    )  # fmt: skip
    nonspeech_level_db: list = option([-70.0, -6.0], "range of the RMS level of non-speech tones, noise and "
                                                     "music, dBFS (silence has its own floor)")

    def __post_init__(self):
        if self.order not in ORDERS:
            raise ValueError(f"order must be one of {ORDERS}, got {self.order!r}")
        if self.subset not in SUBSETS:
            raise ValueError(f"subset must be one of {SUBSETS}, got {self.subset!r}")
        if not 0.0 <= self.absent_share < 1.0:
            raise ValueError(f"absent_share must be in [0, 1), got {self.absent_share}")
        if not 0.0 <= self.joined_share <= 1.0:
            raise ValueError(f"joined_share must be in [0, 1], got {self.joined_share}")
        if not self.max_position_gap_s >= 0:
            raise ValueError(f"max_position_gap_s must be >= 0, got {self.max_position_gap_s}")
        crop = self.crop_words
        if crop is not None and not (len(crop) == 2 and 1 <= crop[0] <= crop[1]):
            raise ValueError(f"crop_words must be [min, max] with 1 <= min <= max, got {self.crop_words}")
        if not 0.0 <= self.augment_share <= 1.0:
            raise ValueError(f"augment_share must be in [0, 1], got {self.augment_share}")
        if not 0.0 <= self.unwritten_word_share <= 1.0:
            raise ValueError(f"unwritten_word_share must be in [0, 1], got {self.unwritten_word_share}")
        if isinstance(self.augment, dict):
            self.augment = AugmentConfig.from_dict(self.augment)
        check_nonspeech_options(self.nonspeech_share, self.nonspeech_s, self.nonspeech_kinds,
                                self.nonspeech_event_kinds, self.nonspeech_level_db)  # fmt: skip
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
    init_from: str | None = option(
        None, "framestamp checkpoint to start from, head included (fine-tuning, or the next stage of a "
              "curriculum); its model settings are kept (but text_pieces: a word-level tiny model moves to the "
              "open text side; spoken_words and spoken_word_text: a tiny model starts hearing the asked words, "
              "or changes whether it reads them), and it must have this run's backbone family and head"
    )  # fmt: skip
    objective: str = option("ihp", "ihp, binary, token (baseline) or joint (token + joint_weight * ihp)")
    joint_weight: float = option(0.01, "weight of the IHP loss in the joint objective")
    aux_identity_weight: float = option(
        0.0, "weight of the per-audio-token identity loss (tiny preset's stand-in for pre-training)"
    )
    aux_identity_layer: int = option(
        -1, "layer whose audio-token hidden states the identity loss reads through the LM head (an index into "
            "the input embeddings and every decoder layer: 0 = the audio tower's output as the thinker gets it, "
            "-1 = the last layer, the one the head reads by default); an inner layer goes through the final norm"
    )  # fmt: skip
    aux_identity_candidates: int | None = option(
        None, "classes the identity loss scores at each audio token: None = the whole vocabulary; N = the ids heard "
              "in the batch plus N others drawn at random (a sampled softmax, for large vocabularies such as the "
              "open text side's pieces)"
    )  # fmt: skip
    aux_match_weight: float = option(
        0.0, "weight of the per-audio-token match loss: a linear probe on the head's hidden states says whether "
             "the asked subject is heard at each audio token (class-balanced BCE; every occurrence, whole spans); "
             "> 0 gives the model its probe (model.match_probe), which inference never uses (0: off)"
    )  # fmt: skip
    lr: float = option(1e-3, "AdamW learning rate")
    weight_decay: float = option(0.01, "AdamW weight decay")
    warmup_steps: int = option(100, "linear learning-rate warm-up steps")
    lr_schedule: str = option("cosine", "after warm-up: cosine (decays to 0 at the last step) or constant")
    batch_size: int = option(8, "clips per micro-batch on each process")
    grad_accumulation: int = option(1, "micro-batches per optimisation step (ignored when effective_batch_size is set)")
    effective_batch_size: int | None = option(
        None, "clips per optimisation step over all processes; sets grad_accumulation to "
              "effective_batch_size / (batch_size x processes), which must be a whole number"
    )  # fmt: skip
    grad_clip: float = option(1.0, "max gradient norm")
    max_steps: int = option(1000, "optimisation steps (ignored when epochs is set)")
    epochs: float | None = option(None, "passes over the training clips; sets max_steps = "
                                        "ceil(epochs x clips / effective batch)")
    max_minutes: float | None = option(None, "stop after this much wall time (checkpointing first)")
    loader_workers: int = option(
        0, "processes that prepare micro-batches (features, tokens, cached tower outputs) ahead of the step "
           "(train.pipeline); 0: in the training process. The batches are the same whatever the number"
    )  # fmt: skip
    tower_cache: bool = option(True, "pre-trained presets with a frozen audio tower: cache its output per clip on "
                                     "disk ($FRAMESTAMP_CACHE/tower), so each clip is encoded once")
    checkpoint_every: int = option(500, "steps between checkpoints")
    log_every: int = option(20, "steps between log lines")
    seed: int = option(0, "seed of initialisation, data order and query sampling")
    threads: int | None = option(None, "torch CPU threads (None: torch default)")
    mixed_precision: str = option("no", "no, bf16, fp16 (accelerate autocast) or auto (bf16 where the GPU supports it)")
    weights_dtype: str = option(
        "float32", "dtype the backbone is loaded in for training: float32 master weights (bf16 compute comes "
                   "from mixed_precision), or bfloat16 (half the memory; fine for a frozen LoRA base only)"
    )  # fmt: skip
    gradient_checkpointing: bool = option(False, "recompute backbone activations in the backward pass (less memory)")
    lora: LoraSettings = option(LoraSettings(), "LoRA adapters on the LM instead of full fine-tuning (rank 0: off)")
    output_dir: str = option("runs/experiment", "where checkpoints and logs go")

    def __post_init__(self):
        if isinstance(self.model, dict):
            self.model = ModelConfig.from_dict(self.model)
        if isinstance(self.data, dict):
            self.data = DataConfig.from_dict(self.data)
        if isinstance(self.lora, dict):
            self.lora = LoraSettings.from_dict(self.lora)
        if self.aux_identity_candidates is not None and self.aux_identity_candidates < 0:
            raise ValueError(f"aux_identity_candidates must be >= 0 or None, got {self.aux_identity_candidates}")
        if not self.aux_match_weight >= 0:
            raise ValueError(f"aux_match_weight must be >= 0, got {self.aux_match_weight}")
        if self.aux_match_weight > 0 and not self.model.match_probe:  # the probe must exist before the optimizer
            self.model = ModelConfig.from_dict(self.model.to_dict() | {"match_probe": True})
        if self.data.unwritten_word_share > 0 and not self.model.spoken_words:
            raise ValueError("data.unwritten_word_share needs model.spoken_words (the spoken block names the word)")
        objective(self.objective)  # raises ValueError naming the registered objectives
        if self.loader_workers < 0:
            raise ValueError(f"loader_workers must be >= 0, got {self.loader_workers}")
        for name in ("batch_size", "grad_accumulation", "max_steps", "checkpoint_every", "log_every"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.lr <= 0:
            raise ValueError(f"lr must be > 0, got {self.lr}")
        if self.lr_schedule not in LR_SCHEDULES:
            raise ValueError(f"lr_schedule must be one of {LR_SCHEDULES}, got {self.lr_schedule!r}")
        if self.effective_batch_size is not None and self.effective_batch_size % self.batch_size:
            raise ValueError(f"effective_batch_size ({self.effective_batch_size}) must be a multiple of "
                             f"batch_size ({self.batch_size})")
        if self.epochs is not None and self.epochs <= 0:
            raise ValueError(f"epochs must be > 0, got {self.epochs}")
        if self.mixed_precision not in PRECISIONS:
            raise ValueError(f"mixed_precision must be one of {PRECISIONS}, got {self.mixed_precision!r}")
        if self.weights_dtype not in WEIGHT_DTYPES:
            raise ValueError(f"weights_dtype must be one of {WEIGHT_DTYPES}, got {self.weights_dtype!r}")
        if self.lora.enabled and self.init_from is not None:
            raise ValueError("lora adapters start from a base backbone (model.backbone_path), not from init_from")
        if self.lora.enabled and self.model.backbone_path is None:
            raise ValueError("lora needs a pretrained backbone: set model.backbone_path")

    def accumulation_steps(self, num_processes: int) -> int:
        """Micro-batches per optimisation step on each of ``num_processes`` processes."""
        if self.effective_batch_size is None:
            return self.grad_accumulation
        per_pass = self.batch_size * num_processes
        if self.effective_batch_size % per_pass:
            raise ConfigError(f"effective_batch_size {self.effective_batch_size} is not a multiple of batch_size "
                              f"{self.batch_size} x {num_processes} processes")
        return self.effective_batch_size // per_pass

    def total_steps(self, n_clips: int, global_batch: int) -> int:
        """Optimisation steps of the run: ``max_steps``, or ``epochs`` passes over ``n_clips``."""
        if self.epochs is None:
            return self.max_steps
        return max(1, math.ceil(self.epochs * n_clips / global_batch))
