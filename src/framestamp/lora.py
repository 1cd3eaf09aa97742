"""LoRA adapters on the backbone's language model (the parameter-efficient option).

Adapters are injected in place with ``peft`` (the Hugging Face model keeps its class and
attribute paths, so the backbone code runs unchanged) and saved apart from the base weights in
peft's own layout, ``adapter_config.json`` + ``adapter_model.safetensors``, with the same key
prefix ``PeftModel.save_pretrained`` writes: ``PeftModel.from_pretrained(hf_model, directory)``
reads them too. The frame head is not part of the adapter; it is always trained and saved by
``FrameStampModel``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file
from torch import nn

from .config import Config, option, register_config
from .errors import CheckpointError

ADAPTER_DIR, ADAPTER_CONFIG, ADAPTER_WEIGHTS = "adapter", "adapter_config.json", "adapter_model.safetensors"
# What PeftModel puts in front of the wrapped model's parameter names when it saves an adapter.
PEFT_PREFIX = "base_model.model."
# The attention and MLP projections of the decoder LM (Qwen2.5-Omni, Qwen2-Audio, Voxtral); the
# audio tower's projections are left alone.
LM_PROJECTIONS = r".*language_model\..*\.(q_proj|k_proj|v_proj|o_proj|gate_proj|up_proj|down_proj)"


@register_config
@dataclass
class LoraSettings(Config):
    """LoRA on the LM: rank 0 means full fine-tuning (no adapter)."""

    rank: int = option(0, "LoRA rank r; 0 = no adapter, every backbone weight is trained")
    alpha: float = option(32.0, "LoRA scaling numerator (the update is scaled by alpha / rank)")
    dropout: float = option(0.05, "dropout on the adapter input")
    target_modules: str = option(LM_PROJECTIONS, "regex of the module names that get an adapter")

    def __post_init__(self):
        if self.rank < 0:
            raise ValueError(f"lora rank must be >= 0, got {self.rank}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"lora dropout must be in [0, 1), got {self.dropout}")

    @property
    def enabled(self) -> bool:
        return self.rank > 0


def _peft():
    try:
        import peft
    except ImportError:
        raise ImportError("LoRA needs peft: pip install 'framestamp[train]'") from None
    return peft


def add_lora(hf_model: nn.Module, settings: LoraSettings) -> nn.Module:
    """Inject fresh LoRA adapters into ``hf_model`` in place; freeze every other weight of it.

    Adapter weights are kept in float32 whatever the base dtype, so that small learning-rate
    updates are not rounded away in a bfloat16 base.
    """
    peft = _peft()
    config = peft.LoraConfig(
        r=settings.rank, lora_alpha=settings.alpha, lora_dropout=settings.dropout,
        target_modules=settings.target_modules,
    )  # fmt: skip
    peft.inject_adapter_in_model(config, hf_model)
    for name, parameter in hf_model.named_parameters():
        parameter.requires_grad_("lora_" in name)
    _adapters_to_float32(hf_model)
    return hf_model


def has_lora(hf_model: nn.Module) -> bool:
    """Whether ``hf_model`` carries peft adapters."""
    return hasattr(hf_model, "peft_config")


def save_lora(hf_model: nn.Module, directory: str | Path, state_dict: dict | None = None) -> None:
    """Write the adapter of ``hf_model`` as ``adapter_config.json`` + ``adapter_model.safetensors``.

    Args:
        state_dict: full weights of ``hf_model`` when its live parameters are sharded (FSDP,
            ZeRO-3); None reads the parameters themselves.
    """
    peft = _peft()
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    weights = peft.get_peft_model_state_dict(hf_model, state_dict=state_dict)
    save_file({PEFT_PREFIX + k: v.detach().contiguous().cpu() for k, v in weights.items()}, directory / ADAPTER_WEIGHTS)
    hf_model.peft_config["default"].save_pretrained(str(directory))


def load_lora(hf_model: nn.Module, directory: str | Path) -> nn.Module:
    """Inject the adapter saved in ``directory`` into ``hf_model`` and load its weights."""
    peft = _peft()
    directory = Path(directory)
    try:
        config = peft.LoraConfig.from_pretrained(str(directory))
        weights = load_file(directory / ADAPTER_WEIGHTS)
    except (OSError, ValueError, TypeError) as error:
        raise CheckpointError(f"cannot read the LoRA adapter in {directory}: {str(error).splitlines()[0]}") from None
    peft.inject_adapter_in_model(config, hf_model)
    _adapters_to_float32(hf_model)
    weights = {k.removeprefix(PEFT_PREFIX): v for k, v in weights.items()}
    result = peft.set_peft_model_state_dict(hf_model, weights)
    if getattr(result, "unexpected_keys", None):
        raise CheckpointError(f"adapter in {directory} does not fit the backbone: {result.unexpected_keys[:3]}")
    return hf_model


def _adapters_to_float32(hf_model: nn.Module) -> None:
    for name, parameter in hf_model.named_parameters():
        if "lora_" in name:
            parameter.data = parameter.data.float()


def trainable_parameters(module: nn.Module) -> list[torch.nn.Parameter]:
    """Parameters with ``requires_grad`` (all of them in full fine-tuning)."""
    return [p for p in module.parameters() if p.requires_grad]
