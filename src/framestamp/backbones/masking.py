"""Custom attention masks and position ids in the form a Hugging Face decoder takes them.

``base.audio_bidirectional_mask`` gives a boolean ``[B, 1, S, S]`` mask. SDPA takes it as it is;
eager attention adds the mask to the scores, so it needs 0 where allowed and the most negative
number elsewhere; flash attention takes no square mask at all.
"""

from __future__ import annotations

import torch

BOOLEAN_MASK_IMPLEMENTATIONS = ("sdpa",)
ADDITIVE_MASK_IMPLEMENTATIONS = ("eager",)


def mask_for_attention(allowed: torch.Tensor, implementation: str, dtype: torch.dtype) -> torch.Tensor:
    """The boolean mask ``allowed`` (True = may attend) as ``implementation`` wants a 4-D mask.

    Args:
        allowed: ``[B, 1, S, S]`` bool.
        implementation: the model's ``config._attn_implementation`` ("sdpa", "eager", ...).
        dtype: dtype of the attention scores (the model's dtype), for the additive form.

    Returns:
        ``allowed`` itself for SDPA, a 0 / most-negative float mask for eager attention.
    """
    if implementation in BOOLEAN_MASK_IMPLEMENTATIONS:
        return allowed
    if implementation in ADDITIVE_MASK_IMPLEMENTATIONS:
        blocked = torch.full_like(allowed, torch.finfo(dtype).min, dtype=dtype)
        return torch.where(allowed, torch.zeros((), dtype=dtype, device=allowed.device), blocked)
    raise ValueError(
        f"a custom attention mask (bidirectional audio) needs attn_implementation 'sdpa' or 'eager', "
        f"not {implementation!r}; load the backbone with one of those"
    )


def positions_from_padding(attention_mask: torch.Tensor) -> torch.Tensor:
    """``[B, S]`` position ids that start at 0 at each row's first real token (left padding).

    This is what ``generate`` uses, so scoring and generation see the same positions, and a row's
    states do not depend on how much padding its batch gave it.
    """
    positions = attention_mask.long().cumsum(-1) - 1
    return positions.masked_fill(attention_mask == 0, 0)
