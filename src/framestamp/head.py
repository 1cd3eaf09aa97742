"""The frame head: a linear map from each audio-token hidden state to k frame logits.

A backbone with 25 audio tokens per second and ``frames_per_token = 4`` gives 10 ms frames. The
bias starts at ``bias_init`` (-6: about one event per 4 s of 10 ms frames), so the initial
intensity is small and the first gradient steps are not spent unlearning a flood of events.
"""

from __future__ import annotations

import torch
from torch import nn


class FrameHead(nn.Module):
    """``Linear(hidden_size, frames_per_token)``; token t's outputs are frames t*k .. t*k+k-1."""

    def __init__(self, hidden_size: int, frames_per_token: int = 4, bias_init: float = -6.0):
        super().__init__()
        self.frames_per_token = frames_per_token
        self.proj = nn.Linear(hidden_size, frames_per_token)
        nn.init.normal_(self.proj.weight, std=hidden_size**-0.5 * 0.1)
        nn.init.constant_(self.proj.bias, bias_init)

    def forward(self, audio_hidden: torch.Tensor, audio_mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Frame logits ``[B, N * k]`` (float32) and the frame mask ``[B, N * k]``.

        Args:
            audio_hidden: ``[B, N, H]`` hidden states of the audio tokens.
            audio_mask: ``[B, N]`` True at real audio tokens.
        """
        logits = self.proj(audio_hidden.to(self.proj.weight.dtype)).float()
        batch, n_tokens, k = logits.shape
        frame_mask = audio_mask[:, :, None].expand(batch, n_tokens, k).reshape(batch, n_tokens * k)
        return logits.reshape(batch, n_tokens * k), frame_mask


def frames_per_token_for(token_rate_hz: float, frame_rate_hz: float = 100.0) -> int:
    """How many frames each audio token is split into to reach ``frame_rate_hz`` (at least 1)."""
    return max(1, round(frame_rate_hz / token_rate_hz))
