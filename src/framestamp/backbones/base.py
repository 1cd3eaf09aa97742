"""The protocol every backbone follows: one forward pass, audio-token hidden states out.

A backbone owns a Hugging Face audio LM, its tokenizer and its feature extractor. It turns
(question, waveform) pairs into model inputs with the question BEFORE the audio, runs one
forward pass, and returns the hidden states at the audio-token positions of one layer, padded
into ``[batch, n_audio_tokens, hidden]`` with a mask. For the token baseline it also scores an
answer text (teacher forcing) and generates answers.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar, Sequence

import numpy as np
import torch
from torch import nn

from ..audio import SAMPLE_RATE_HZ
from ..errors import ConfigError
IGNORE_INDEX = -100


@dataclass
class BackboneInputs:
    """A tokenized batch.

    Attributes:
        model_kwargs: tensors passed to the Hugging Face model (input_ids, attention_mask, ...).
        audio_start: ``[B]`` index of the first audio token of each row.
        n_audio_tokens: ``[B]`` number of audio tokens of each row.
        labels: ``[B, S]`` answer token ids for the LM loss, ``IGNORE_INDEX`` elsewhere, or None.
        position_gaps: ``[B]`` positions to skip between each row's question and its audio (the
            audio and everything after it sit that much further on), or None for none.
    """

    model_kwargs: dict[str, torch.Tensor]
    audio_start: torch.Tensor
    n_audio_tokens: torch.Tensor
    labels: torch.Tensor | None = None
    position_gaps: torch.Tensor | None = None

    @property
    def input_ids(self) -> torch.Tensor:
        return self.model_kwargs["input_ids"]

    @property
    def attention_mask(self) -> torch.Tensor:
        return self.model_kwargs["attention_mask"]

    def to(self, device: torch.device | str, non_blocking: bool = False) -> "BackboneInputs":
        return self._map(lambda t: t.to(device, non_blocking=non_blocking))

    def pin_memory(self) -> "BackboneInputs":
        """The batch in page-locked memory, for an asynchronous copy to a GPU."""
        return self._map(lambda t: t.pin_memory())

    def _map(self, apply) -> "BackboneInputs":
        each = lambda t: apply(t) if t is not None else None  # noqa: E731
        return BackboneInputs({k: each(v) for k, v in self.model_kwargs.items()}, each(self.audio_start),
                              each(self.n_audio_tokens), each(self.labels), each(self.position_gaps))  # fmt: skip


@dataclass
class BackboneOutput:
    """What one forward pass gives the head and the losses.

    Attributes:
        audio_hidden: ``[B, N, H]`` hidden states of the audio tokens (zero-padded).
        audio_mask: ``[B, N]`` True where a real audio token is.
        hidden: ``[B, S, H]`` hidden states of the whole sequence at the chosen layer.
        logits: ``[B, S - logits_from, V]`` LM logits of the last layer when asked for, else None.
        all_hidden: ``[B, S, H]`` hidden states of every layer: the input embeddings first, the
            last layer's (after the final norm) last.
        logits_from: the first position ``logits`` cover: with answer labels, the one before the
            first labelled token (positions before it predict no label), else 0.
    """

    audio_hidden: torch.Tensor
    audio_mask: torch.Tensor
    hidden: torch.Tensor
    logits: torch.Tensor | None = None
    all_hidden: tuple[torch.Tensor, ...] = ()
    logits_from: int = 0


@dataclass(frozen=True)
class BackboneSpec:
    """Static facts of a backbone family."""

    family: str
    token_rate_hz: float
    extra: dict = field(default_factory=dict)


class Backbone(nn.Module, abc.ABC):
    """An audio LM seen as a function from (question, audio) to audio-token hidden states."""

    family: ClassVar[str]

    def __init__(self, model: nn.Module, tokenizer, feature_extractor):
        super().__init__()
        self.model = model
        self.tokenizer = tokenizer
        self.feature_extractor = feature_extractor

    # ----- what each family provides -------------------------------------------------------
    @property
    @abc.abstractmethod
    def token_rate_hz(self) -> float:
        """Audio tokens per second of audio."""

    @property
    @abc.abstractmethod
    def hidden_size(self) -> int:
        """Width of the decoder hidden states."""

    @abc.abstractmethod
    def prepare(
        self, questions: Sequence[str], waveforms: Sequence[np.ndarray], answers: Sequence[str] | None = None
    ) -> BackboneInputs:
        """Tokenize a batch: question text, then the audio, then (optionally) the answer text.

        Args:
            questions: one question per clip.
            waveforms: float32 mono audio at 16 kHz, one array per clip.
            answers: answer texts for the token loss (teacher forcing), or None.
        """

    def cached_tower_states(self, inputs: BackboneInputs) -> dict[str, np.ndarray]:
        """The frozen audio tower's outputs for the clips of ``inputs`` that its cache holds on disk
        ({cache key: array}), read where a batch is prepared (``train.pipeline``); empty for a
        backbone without such a cache."""
        return {}

    def keep_tower_states(self, states: dict[str, np.ndarray]) -> None:
        """Hold ``cached_tower_states``' arrays in the tower cache's memory for the next forward."""

    @abc.abstractmethod
    def _decoder_hidden_states(
        self, inputs: BackboneInputs, attention_mask, position_ids
    ) -> tuple[torch.Tensor, ...]:
        """Run the model without the LM head; return hidden states of every decoder layer."""

    @property
    @abc.abstractmethod
    def lm_head(self) -> nn.Module:
        """The output projection to the vocabulary."""

    @property
    def final_norm(self) -> nn.Module:
        """The norm the last layer's hidden states pass through before the LM head."""
        raise NotImplementedError(f"{self.family}: reading an inner layer through the LM head is not implemented")

    def read_out(
        self, hidden: torch.Tensor, layer: int, n_layers: int, ids: torch.Tensor | None = None
    ) -> torch.Tensor:  # fmt: skip
        """LM logits of the hidden states of ``layer`` (an index into the ``n_layers`` of
        ``BackboneOutput.all_hidden``): the last layer's go to the LM head as they are, an inner
        layer's through the final norm first (the "logit lens"). ``ids``: the logits of those
        vocabulary entries only (``[..., len(ids)]``, a sampled softmax), else of all."""
        if layer % n_layers != n_layers - 1:
            hidden = self.final_norm(hidden)
        if ids is None:
            return self.lm_head(hidden)
        head = self.lm_head
        rows = head.rows(ids) if hasattr(head, "rows") else head.weight[ids]
        logits = hidden @ rows.to(hidden.dtype).T
        return logits if getattr(head, "bias", None) is None else logits + head.bias[ids]

    @abc.abstractmethod
    def generate(self, inputs: BackboneInputs, max_new_tokens: int, bidirectional_audio: bool = False) -> list[str]:
        """Greedy generation of the textual answer (token baseline), one string per row; the
        prompt's audio block attended bidirectionally when the model was trained that way."""

    @abc.abstractmethod
    def save_pretrained(self, directory: str | Path, state_dict: dict | None = None) -> None:
        """Save model, tokenizer and feature extractor like a hub checkpoint; ``state_dict`` (names
        as in ``self.model``) are the weights to write when the live ones are sharded (FSDP, ZeRO-3)."""

    @classmethod
    @abc.abstractmethod
    def from_pretrained(cls, name_or_path: str | Path, **kwargs) -> "Backbone":
        """Load a hub name or a local directory."""

    @torch.no_grad()
    def _generate_with_hf(
        self, inputs: BackboneInputs, max_new_tokens: int, bidirectional_audio: bool, end_id: int, pad_id: int
    ) -> list[str]:
        """Greedy ``model.generate`` from a causally encoded prompt (families without their own loop)."""
        if bidirectional_audio:
            raise NotImplementedError(
                f"{self.family}: generation with a bidirectional audio block is implemented for "
                "qwen2.5-omni only; train the token baseline with bidirectional_audio: false"
            )
        sequences = self.model.generate(
            **inputs.model_kwargs, max_new_tokens=max_new_tokens, do_sample=False, eos_token_id=end_id, pad_token_id=pad_id
        )
        return self.tokenizer.batch_decode(sequences[:, inputs.input_ids.shape[1] :], skip_special_tokens=True)

    @property
    def hears_asked_words(self) -> bool:
        """Whether a question about a word carries the word as spoken (the tiny preset's spoken
        words, :mod:`framestamp.backbones.spoken_words`); never, here."""
        return False

    @property
    def writes_asked_words(self) -> bool:
        """Whether a question's text names its asked word: always, but for a backbone that hears
        the word and leaves naming it to the spoken block (``spoken_words.json``'s ``with_text``)."""
        return True

    def hear_asked_words(self, with_text: bool = True) -> None:
        """Make questions about a word carry the word as spoken; only the tiny preset can."""
        raise ConfigError(f"spoken_words needs the tiny preset (its tower hears the asked word); {self.family} cannot")

    def reuse_frozen_outputs(self) -> None:
        """Keep what frozen parts compute from a clip in memory, so that several questions about one
        clip compute it once (answering; a no-op for backbones with nothing frozen to keep)."""

    def count_audio_tokens(self, n_samples: int) -> int:
        """Number of audio tokens the model makes of ``n_samples`` samples at 16 kHz."""
        raise NotImplementedError

    def _position_ids(self, inputs: BackboneInputs) -> torch.Tensor | None:
        """Position ids to pass with a custom attention mask (None: the model's default)."""
        return None

    # ----- shared machinery ----------------------------------------------------------------
    def forward(
        self,
        inputs: BackboneInputs,
        layer: int = -1,
        bidirectional_audio: bool = False,
        need_logits: bool = False,
    ) -> BackboneOutput:
        """One forward pass; hidden states of ``layer`` (index into all layers, -1 = last).

        With ``bidirectional_audio`` the audio tokens attend to each other in both directions;
        text stays causal.
        """
        attention_mask, position_ids = inputs.attention_mask, None
        if bidirectional_audio:
            attention_mask = {"full_attention": audio_bidirectional_mask(inputs)}
        if bidirectional_audio or inputs.position_gaps is not None:
            position_ids = self._position_ids(inputs)
        if inputs.position_gaps is not None:
            if position_ids is None:
                raise NotImplementedError(f"{self.family}: position gaps need the family's position ids")
            position_ids = gap_before_audio(position_ids, inputs.audio_start, inputs.position_gaps)
        all_hidden = self._decoder_hidden_states(inputs, attention_mask, position_ids)
        hidden = all_hidden[layer]
        audio_hidden, audio_mask = gather_audio_states(hidden, inputs.audio_start, inputs.n_audio_tokens)
        logits_from = answer_span_start(inputs.labels)
        logits = self.lm_head(all_hidden[-1][:, logits_from:]) if need_logits else None
        return BackboneOutput(audio_hidden, audio_mask, hidden, logits, tuple(all_hidden), logits_from)

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device


def answer_span_start(labels: torch.Tensor | None) -> int:
    """The position before the first labelled token of any row (0 without labels): LM logits are
    needed from there on, which spares the LM head the prompt and the audio block."""
    if labels is None:
        return 0
    labelled = (labels != IGNORE_INDEX).any(0).nonzero()
    return max(int(labelled[0]) - 1, 0) if len(labelled) else 0


def gather_audio_states(
    hidden: torch.Tensor, audio_start: torch.Tensor, n_audio_tokens: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Cut the contiguous audio block out of each row of ``hidden`` ``[B, S, H]``.

    Returns ``[B, N_max, H]`` states (zero where padded) and a ``[B, N_max]`` bool mask.
    """
    n_max = int(n_audio_tokens.max()) if n_audio_tokens.numel() else 0
    offsets = torch.arange(n_max, device=hidden.device)
    mask = offsets[None, :] < n_audio_tokens[:, None]
    index = (audio_start[:, None] + offsets[None, :]).clamp(max=hidden.shape[1] - 1)
    gathered = torch.gather(hidden, 1, index[..., None].expand(-1, -1, hidden.shape[-1]))
    return gathered * mask[..., None].to(gathered.dtype), mask


def gap_before_audio(position_ids: torch.Tensor, audio_start: torch.Tensor, gaps: torch.Tensor) -> torch.Tensor:
    """``position_ids`` (``[B, S]``, or ``[3, B, S]`` for multimodal RoPE) with ``gaps[b]`` added
    from row ``b``'s first audio token on: the question keeps its positions, the audio and the
    text after it move away from it."""
    from_audio = torch.arange(position_ids.shape[-1], device=position_ids.device)[None, :] >= audio_start[:, None]
    return position_ids + from_audio.long() * gaps[:, None].long()


def audio_bidirectional_mask(inputs: BackboneInputs) -> torch.Tensor:
    """``[B, 1, S, S]`` boolean mask (True = may attend): causal, padding-aware, audio block full."""
    padding = inputs.attention_mask.bool()
    length = padding.shape[1]
    positions = torch.arange(length, device=padding.device)
    causal = positions[None, :, None] >= positions[None, None, :]
    start = inputs.audio_start[:, None]
    is_audio = (positions[None, :] >= start) & (positions[None, :] < start + inputs.n_audio_tokens[:, None])
    audio_block = is_audio[:, :, None] & is_audio[:, None, :]
    allowed = (causal | audio_block) & padding[:, None, :]
    # Padding rows attend to themselves only, so no row is fully masked (NaN-free softmax).
    eye = torch.eye(length, dtype=torch.bool, device=padding.device)[None]
    allowed = allowed | (eye & ~padding[:, :, None])
    return allowed[:, None]
