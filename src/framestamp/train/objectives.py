"""The training loss of one batch, for each objective."""

from __future__ import annotations

from dataclasses import replace
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from ..backbones.base import BackboneInputs, BackboneOutput, gather_audio_states
from ..errors import ConfigError
from ..losses import binary_frame_loss
from ..model import FrameStampModel
from ..objectives import objective
from .batches import Item, frame_targets, identity_targets, match_targets
from .pipeline import PreparedBatch, tokenize
from .config import TrainConfig


def batch_loss(
    model: FrameStampModel, items: Sequence[Item], config: TrainConfig, inputs: BackboneInputs | None = None
) -> dict[str, torch.Tensor]:  # fmt: skip
    """Forward one batch and return its losses; ``"loss"`` is the one to minimise.

    The objective (:mod:`framestamp.objectives`) gives its loss terms; the auxiliary identity
    loss is added with ``config.aux_identity_weight`` (as ``"aux"``) and the auxiliary match loss
    with ``config.aux_match_weight`` (as ``"match"``); a weight of 0 leaves its term out.
    ``inputs``: ``items`` already tokenized (``train.pipeline``), None to tokenize them here.
    """
    method = objective(config.objective)
    if inputs is None:
        inputs = tokenize(model.backbone, items, method.needs_text)
    inputs = inputs.to(model.backbone.device, non_blocking=True)
    if any(item.position_gap_s for item in items):
        gaps = [round(item.position_gap_s * model.backbone.token_rate_hz) for item in items]
        inputs = replace(inputs, position_gaps=torch.tensor(gaps, device=inputs.audio_start.device))
    scores = model(inputs, need_logits=method.needs_text)
    counts = frame_targets(items, scores.mask, scores.frame_rate_hz) if method.needs_frames else None
    losses = method.losses(scores, counts, inputs.labels, config.joint_weight)
    total = losses.pop("objective")
    if config.aux_identity_weight > 0:
        losses["aux"] = identity_loss(model, items, scores.backbone, inputs, config.aux_identity_layer,
                                      config.aux_identity_candidates)  # fmt: skip
        total = total + config.aux_identity_weight * losses["aux"]
    if config.aux_match_weight > 0:
        out = scores.backbone
        losses["match"] = match_loss(model, items, out.audio_hidden, out.audio_mask, inputs.n_audio_tokens)
        total = total + config.aux_match_weight * losses["match"]
    losses["loss"] = total
    return losses


class LossModule(nn.Module):
    """The model and its training loss as one module.

    ``accelerator.prepare`` wraps this module, so the whole loss path runs inside the wrapper's
    forward: DDP's gradient hooks, FSDP's parameter gathering and DeepSpeed's engine all see it.
    """

    def __init__(self, model: FrameStampModel, config: TrainConfig):
        super().__init__()
        self.model = model
        self.config = config

    def forward(self, batch: PreparedBatch) -> dict[str, torch.Tensor]:
        """``batch_loss`` of a prepared micro-batch (its cached tower outputs held for the forward)."""
        self.model.backbone.keep_tower_states(batch.tower_states)
        return batch_loss(self.model, batch.items, self.config, batch.inputs)


def identity_loss(
    model: FrameStampModel, items, out: BackboneOutput, inputs: BackboneInputs, layer: int = -1,
    candidates: int | None = None,
) -> torch.Tensor:  # fmt: skip
    """Cross-entropy of the LM head, reading the audio tokens' hidden states of ``layer``, against
    the id of what is heard at each audio token.

    ``candidates``: None scores the whole vocabulary; N scores the ids heard in the batch and N
    more drawn uniformly from the vocabulary with a generator seeded by the batch's targets (a
    resumed run draws the same).
    """
    backbone = model.backbone
    n_layers = len(out.all_hidden)
    if not -n_layers <= layer < n_layers:
        raise ConfigError(f"aux_identity_layer {layer} is not a layer of this backbone (0..{n_layers - 1}, or -1)")
    targets = identity_targets(
        items, inputs.n_audio_tokens, backbone.token_rate_hz, backbone.tokenizer, backbone.tokenizer.pad_token_id
    )
    audio_hidden, _ = gather_audio_states(out.all_hidden[layer], inputs.audio_start, inputs.n_audio_tokens)
    if candidates is None:
        logits = backbone.read_out(audio_hidden, layer, n_layers).float()
        return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1), ignore_index=-100)
    ids, targets = sampled_classes(targets, len(backbone.tokenizer), candidates)
    logits = backbone.read_out(audio_hidden, layer, n_layers, ids).float()
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1), ignore_index=-100)


def sampled_classes(targets: torch.Tensor, vocabulary: int, n_others: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The classes a sampled softmax scores: the ids in ``targets`` (-100 ignored) and ``n_others``
    more drawn without replacement from the rest of ``range(vocabulary)``, with a generator seeded
    by the targets; and ``targets`` renumbered as positions in that list (-100 kept)."""
    valid = targets[targets != -100]
    heard = torch.unique(valid.cpu())
    generator = torch.Generator().manual_seed(int(valid.sum()) if valid.numel() else 0)
    rest = torch.ones(vocabulary, dtype=torch.bool)
    rest[heard] = False
    others = rest.nonzero().squeeze(1)
    others = others[torch.randperm(len(others), generator=generator)[:n_others]]
    ids = torch.cat([heard, others.sort().values])
    position = torch.full((vocabulary,), -100, dtype=torch.long)
    position[ids] = torch.arange(len(ids))
    renumbered = torch.where(targets != -100, position.to(targets.device)[targets.clamp(min=0)], targets)
    return ids.to(targets.device), renumbered


def match_loss(
    model: FrameStampModel, items, audio_hidden: torch.Tensor, audio_mask: torch.Tensor, n_audio_tokens
) -> torch.Tensor:  # fmt: skip
    """Class-balanced BCE of the match probe on each audio token: is the asked subject heard there?

    The probe (``model.match_probe``, ``Linear(hidden, 1)``) reads the hidden states the head
    reads, so its gradient trains the thinker to find the asked subject at every token of every
    occurrence, not only at the one onset frame the objective supervises. Targets:
    :func:`~framestamp.train.batches.match_targets`; the positive weight is #negative / #positive
    tokens of the batch (``losses.binary_frame_loss``).
    """
    if model.match_probe is None:
        raise ConfigError("aux_match_weight > 0 needs a model with a match probe (model.match_probe: true); "
                          "a model loaded from a checkpoint trained without one (init_from) has none")
    targets = match_targets(items, n_audio_tokens, model.backbone.token_rate_hz)
    probe = model.match_probe
    logits = probe(audio_hidden.to(probe.weight.dtype)).squeeze(-1).float()
    return binary_frame_loss(logits, targets, audio_mask)
