"""Backbones: audio LMs seen as functions from (question, audio) to audio-token hidden states."""

from .base import SAMPLE_RATE_HZ, Backbone, BackboneInputs, BackboneOutput
from .registry import backbone_class, known_families, register
from . import qwen2_5_omni, qwen2_audio, tiny_scratch, tiny_whisper, voxtral  # noqa: F401  (registers the families)

__all__ = [
    "SAMPLE_RATE_HZ", "Backbone", "BackboneInputs", "BackboneOutput", "backbone_class", "known_families", "register",
]  # fmt: skip
