"""Training objectives as types, found through a registry by the name a recipe gives.

An objective knows which head kind it trains (:mod:`framestamp.decoding`: how the head's frame
scores are read and decoded), whether it needs the textual answer, and its loss. Like peft's
methods, each one is a small class registered under its name:

- ``ihp``: Poisson-process NLL of the frame log-intensities;
- ``binary``: class-weighted BCE of frame logits;
- ``token``: LM cross-entropy on the JSON answer (the baseline: no frame head is read);
- ``joint``: token + ``joint_weight`` x IHP (the head is an IHP head).
"""

from __future__ import annotations

from typing import ClassVar

import torch

from .decoding import HeadKind, head_kind
from .losses import binary_frame_loss, ihp_nll, joint_loss, token_loss


class Objective:
    """One training objective: the head kind it trains and its loss."""

    name: ClassVar[str]
    head_name: ClassVar[str]  # the head kind (``decoding.head_kind``) a model trained this way has
    needs_text: ClassVar[bool] = False  # the loss reads the tokenized answer and the LM logits
    needs_frames: ClassVar[bool] = True  # the loss reads the frame targets

    @property
    def head(self) -> HeadKind:
        return head_kind(self.head_name)

    def losses(self, scores, counts: torch.Tensor | None, labels: torch.Tensor | None, joint_weight: float) -> dict:
        """The named loss terms of one batch; ``"objective"`` is the one to minimise.

        Args:
            scores: the model's ``FrameScores`` (frame logits, mask, backbone output).
            counts: ``[B, T]`` events per frame (when ``needs_frames``).
            labels: ``[B, S]`` answer token labels (when ``needs_text``).
            joint_weight: weight of the IHP term of the joint objective.
        """
        raise NotImplementedError


def answer_loss(out, labels: torch.Tensor) -> torch.Tensor:
    """``token_loss`` of a backbone output's LM logits, which start at ``out.logits_from``."""
    return token_loss(out.logits, labels[:, out.logits_from :])


_OBJECTIVES: dict[str, Objective] = {}


def register_objective(cls: type[Objective]) -> type[Objective]:
    """Class decorator: make ``cls`` findable by :func:`objective` under ``cls.name``."""
    _OBJECTIVES[cls.name] = cls()
    return cls


def objective(name: str) -> Objective:
    """The objective a recipe names (``ValueError`` if unknown)."""
    if name not in _OBJECTIVES:
        raise ValueError(f"objective must be one of {objective_names()}, got {name!r}")
    return _OBJECTIVES[name]


def objective_names() -> tuple[str, ...]:
    return tuple(_OBJECTIVES)


@register_objective
class PoissonObjective(Objective):
    name, head_name = "ihp", "ihp"

    def losses(self, scores, counts, labels, joint_weight):
        ihp = ihp_nll(scores.logits, counts, scores.mask, reduction="mean")
        return {"ihp": ihp, "objective": ihp}


@register_objective
class BinaryObjective(Objective):
    name, head_name = "binary", "binary"

    def losses(self, scores, counts, labels, joint_weight):
        binary = binary_frame_loss(scores.logits, counts > 0, scores.mask)
        return {"binary": binary, "objective": binary}


@register_objective
class TokenObjective(Objective):
    name, head_name, needs_text, needs_frames = "token", "none", True, False

    def losses(self, scores, counts, labels, joint_weight):
        token = answer_loss(scores.backbone, labels)
        return {"token": token, "objective": token}


@register_objective
class JointObjective(Objective):
    name, head_name, needs_text = "joint", "ihp", True

    def losses(self, scores, counts, labels, joint_weight):
        token = answer_loss(scores.backbone, labels)
        ihp = ihp_nll(scores.logits, counts, scores.mask, reduction="mean")
        return {"token": token, "ihp": ihp, "objective": joint_loss(token, ihp, joint_weight)}
