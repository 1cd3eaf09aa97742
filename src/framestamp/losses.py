"""The loss functions of the training objectives (:mod:`framestamp.objectives`; docs/method.md).

All losses take batched, padded tensors: per-frame scores ``[B, T]`` with a bool ``mask``
``[B, T]`` (True = real frame). Whatever the input dtype (bf16 / fp16 from a mixed-precision
forward), everything is computed in float32, and padded frames contribute neither to the value
nor to the gradient, even when they hold inf or NaN.

Units: ``z`` (log-intensity) is the log of the expected number of events per frame, so
``exp(z)`` is events per frame; every NLL is in nats.

Numerics: ``exp(z)`` is not clamped. A clamp would zero the gradient exactly where the head
most needs to be pushed down; float32 ``exp`` overflows only for z > 88 (1e38 events in one
frame), which is a diverged run and should show as ``inf``.
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F

Reduction = Literal["none", "mean", "per_frame"]


def _real(values: torch.Tensor, mask: torch.Tensor, fill: float = 0.0) -> torch.Tensor:
    """``values`` in float32 with padded frames replaced by ``fill`` (no gradient flows to them)."""
    return torch.where(mask, values.float(), torch.full_like(values, fill, dtype=torch.float32))


def reduce_nll(per_example: torch.Tensor, mask: torch.Tensor, reduction: Reduction = "none") -> torch.Tensor:
    """Reduce per-example NLLs ``[B]`` (nats).

    Args:
        per_example: NLL of each example, nats, shape ``[B]``.
        mask: ``[B, T]`` bool, True = real frame (used by ``"per_frame"``).
        reduction: ``"none"`` keeps ``[B]``; ``"mean"`` averages over the batch (nats per
            example, the scale of the paper's loss); ``"per_frame"`` divides the batch sum by
            the number of real frames (nats per frame, independent of clip length).

    Returns:
        ``[B]`` or a scalar float32 tensor.
    """
    if reduction == "none":
        return per_example
    if reduction == "mean":
        return per_example.mean()
    if reduction == "per_frame":
        return per_example.sum() / mask.sum().clamp(min=1)
    raise ValueError(f"reduction must be 'none', 'mean' or 'per_frame', got {reduction!r}")


def binary_frame_loss(
    logits: torch.Tensor,
    targets: torch.Tensor,
    mask: torch.Tensor,
    pos_weight: float | torch.Tensor | None = None,
) -> torch.Tensor:
    """Class-weighted binary cross-entropy of frame logits, averaged over real frames.

    Args:
        logits: ``[B, T]`` frame logits, ``p_t = sigmoid(z_t)``.
        targets: ``[B, T]`` 1 for frames holding an event, else 0.
        mask: ``[B, T]`` bool, True = real frame.
        pos_weight: weight of the positive-class term. None: ``#negative / #positive`` real
            frames of the whole batch; with no positive frame the denominator is taken as 1
            (the weight then multiplies only zero terms, so its value is moot).

    Returns:
        Scalar float32 loss, nats per real frame (0 when there is no real frame).
    """
    y = _real(targets, mask)
    if pos_weight is None:
        n_pos = y.sum()
        pos_weight = (mask.sum() - n_pos) / n_pos.clamp(min=1.0)
    pos_weight = torch.as_tensor(pos_weight, dtype=torch.float32, device=logits.device)
    per_frame = F.binary_cross_entropy_with_logits(_real(logits, mask), y, pos_weight=pos_weight, reduction="none")
    return torch.where(mask, per_frame, 0.0).sum() / mask.sum().clamp(min=1)


def ihp_nll(
    log_intensity: torch.Tensor,
    targets: torch.Tensor,
    mask: torch.Tensor,
    reduction: Reduction = "none",
) -> torch.Tensor:
    """Inhomogeneous-Poisson-process NLL: ``sum_t exp(z_t) - sum_t c_t z_t`` over real frames.

    ``c_t`` is the number of events in frame t, so several events in one frame each count
    (the discrete form of ``integral(lambda) - sum_e log lambda(t_e)``). The gradient with
    respect to ``z_t`` is ``exp(z_t) - c_t``.

    Args:
        log_intensity: ``[B, T]`` head outputs ``z_t = log lambda_t`` (lambda in events per frame).
        targets: ``[B, T]`` event counts per frame (float or bool).
        mask: ``[B, T]`` bool, True = real frame.
        reduction: see :func:`reduce_nll`; default ``"none"`` returns one NLL per example.

    Returns:
        float32 NLL in nats: ``[B]`` or a scalar, according to ``reduction``.
    """
    z = _real(log_intensity, mask)
    counts = _real(targets, mask)
    per_frame = torch.where(mask, torch.exp(z) - counts * z, 0.0)
    return reduce_nll(per_frame.sum(dim=-1), mask, reduction)


def token_loss(logits: torch.Tensor, labels: torch.Tensor, ignore_index: int = -100) -> torch.Tensor:
    """Language-model cross-entropy with the usual shift: position s predicts label s + 1.

    Args:
        logits: ``[B, S, V]`` next-token logits.
        labels: ``[B, S]`` token ids, ``ignore_index`` where no loss is wanted (prompt, audio,
            padding).

    Returns:
        Scalar float32 mean cross-entropy in nats per supervised token (0 when none is).
    """
    shifted_logits = logits[:, :-1].float().reshape(-1, logits.shape[-1])
    shifted_labels = labels[:, 1:].reshape(-1)
    total = F.cross_entropy(shifted_logits, shifted_labels, ignore_index=ignore_index, reduction="sum")
    return total / (shifted_labels != ignore_index).sum().clamp(min=1)


def joint_loss(token: torch.Tensor, ihp: torch.Tensor, weight: float = 0.01) -> torch.Tensor:
    """Joint objective ``token + weight * ihp`` (the paper uses weight 0.01 or 0.05).

    Args:
        token: scalar token cross-entropy (nats per token), e.g. from :func:`token_loss`.
        ihp: scalar IHP NLL, e.g. ``ihp_nll(..., reduction="mean")`` (nats per example).
        weight: non-negative weight of the IHP term.

    Returns:
        Scalar float32 loss.
    """
    if not weight >= 0:
        raise ValueError(f"weight must be non-negative, got {weight}")
    return token.float() + weight * ihp.float()
