"""Whisper log-mel features of a batch of clips, computed on any torch device.

``WhisperFeatureExtractor`` already computes its features with ``torch.stft`` (its ``device``
argument), but it takes numpy arrays and returns numpy arrays on the CPU. :func:`log_mel` runs
the same operations, in the same order, on tensors it keeps on the device, with the extractor's
own settings and mel filter bank. On the CPU its output equals the extractor's bit for bit (see
``tests/backbones/test_log_mel.py``, which also states the tolerance against the numpy path).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch
from transformers import WhisperFeatureExtractor

LOG10_FLOOR = 1e-10  # mel power below this is clamped before log10, as in the extractor
DYNAMIC_RANGE_LOG10 = 8.0  # each clip keeps 80 dB below its loudest mel bin


def log_mel(
    extractor: WhisperFeatureExtractor,
    waveforms: Sequence[np.ndarray | torch.Tensor],
    device: torch.device | str | None = None,
) -> torch.Tensor:
    """Log-mel features of clips zero-padded to the longest, as
    ``extractor(waveforms, padding="longest", truncation=False)["input_features"]``.

    Args:
        extractor: gives the window and hop (samples), the mel filter bank, the padding value
            and the dither.
        waveforms: mono audio at the extractor's sampling rate, one 1-D array or tensor per clip.
        device: where to compute; None keeps the device of the first waveform (CPU for numpy).

    Returns:
        float32 ``[B, n_mel, longest // hop_length]`` on ``device``; each clip's dynamic range
        is measured over its padded row, as the extractor does.
    """
    if device is None:
        device = waveforms[0].device if isinstance(waveforms[0], torch.Tensor) else "cpu"
    clips = [torch.as_tensor(w, dtype=torch.float32, device=device) for w in waveforms]
    batch = torch.nn.utils.rnn.pad_sequence(clips, batch_first=True, padding_value=extractor.padding_value)
    if extractor.dither != 0.0:
        batch = batch + extractor.dither * torch.randn(batch.shape, dtype=batch.dtype, device=batch.device)
    window = torch.hann_window(extractor.n_fft, device=batch.device)
    stft = torch.stft(batch, extractor.n_fft, extractor.hop_length, window=window, return_complex=True)
    power = (stft[..., :-1].abs() ** 2).contiguous()  # the last frame is dropped, as the extractor does
    mel_filters = torch.from_numpy(extractor.mel_filters).to(batch.device, torch.float32)
    log_spec = torch.clamp(mel_filters.T @ power, min=LOG10_FLOOR).log10()
    peak = log_spec.max(dim=2, keepdim=True)[0].max(dim=1, keepdim=True)[0]
    return (torch.maximum(log_spec, peak - DYNAMIC_RANGE_LOG10) + 4.0) / 4.0
