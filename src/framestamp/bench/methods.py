"""The models compared and the timed work of one batch: bare forward, frame method, token baseline.

Which models: trained checkpoints when given or shipped ("words"/"words-token" for one
timestamp, "words-all"/"words-all-token" for all of them), else an untrained model whose token
baseline generates exactly as many tokens as the reference answer takes ("fixed" regime).
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Callable

import torch

from ..inference.api import resolve_checkpoint
from ..errors import CheckpointError
from ..backbones.registry import backbone_class
from ..backbones.tiny_thinker import TinyThinkerBackbone
from ..inference.windows import WindowConfig
from ..model import FrameStampModel, ModelConfig, load_backbone
from ..decoding import DecodeConfig, head_kind
from ..tasks import parse_answer
from .end_to_end import EndToEnd
from .inputs import BenchBatch

SHIPPED_PAIRS = {"one": ("words", "words-token"), "all": ("words-all", "words-all-token")}
TRAINED_CAP_SLACK = 16  # a trained token model may run this many tokens past its reference answer


@dataclass
class ModelPair:
    """The frame model and the token baseline of one question mode, with where they came from.

    Attributes:
        frame, token: the models (the same object when one untrained model plays both roles).
        frame_source, token_source: checkpoint path, or how the untrained model was made.
        frame_trained: the frame head was trained (else its scores are random but cost the same).
        token_trained: the token model was trained to answer in text, so it stops by itself.
    """

    frame: FrameStampModel
    token: FrameStampModel
    frame_source: str
    token_source: str
    frame_trained: bool
    token_trained: bool

    def describe(self) -> dict:
        """JSON-ready sources, training state, backbone family, parameter count and the window each
        model answers long audio with (its own, else 30 s)."""
        return {"frame_source": self.frame_source, "token_source": self.token_source,
                "frame_trained": self.frame_trained, "token_trained": self.token_trained,
                "backbone": self.frame.config.backbone, "parameters": count_parameters(self.frame),
                "frame_window_s": WindowConfig().resolved(self.frame.config.window_s).window_s,
                "token_window_s": WindowConfig().resolved(self.token.config.window_s).window_s}  # fmt: skip


def count_parameters(model: torch.nn.Module) -> int:
    """Distinct parameters (tied weights counted once)."""
    return sum(p.numel() for p in {id(p): p for p in model.parameters()}.values())


def _shipped(name: str) -> str | None:
    try:
        return str(resolve_checkpoint(name))
    except CheckpointError:
        return None


class ModelLoader:
    """Loads each checkpoint (or untrained model) once, onto one device."""

    def __init__(self, device: torch.device, seed: int = 0):
        self.device, self.seed = device, seed
        self._cache: dict[str, FrameStampModel] = {}

    def checkpoint(self, name: str) -> tuple[FrameStampModel, str]:
        """A checkpoint directory or shipped name: the model and its resolved path."""
        path = str(resolve_checkpoint(name))
        if path not in self._cache:
            self._cache[path] = FrameStampModel.from_pretrained(path).to(self.device).eval()
        return self._cache[path], path

    def untrained(self, family: str | None, path: str | None) -> tuple[FrameStampModel, str]:
        """A fresh head on a backbone (a new tiny preset, ``tiny`` by default, when no path is
        given), and how it was made."""
        family = family or "tiny"
        key = f"untrained:{family}:{path}"
        if key not in self._cache:
            cls = backbone_class(family)
            if path is None and issubclass(cls, TinyThinkerBackbone):
                backbone = cls.create(seed=self.seed)
            else:
                backbone = load_backbone(family, path)
            torch.manual_seed(self.seed)
            config = ModelConfig(backbone=family, backbone_path=path)
            self._cache[key] = FrameStampModel(backbone, config).to(self.device).eval()
        where = f" from {path}" if path else ""
        return self._cache[key], f"untrained {family} backbone{where} with an untrained head"

    def pair(self, mode: str, frame_name: str | None, token_name: str | None, family: str | None,
             backbone_path: str | None) -> ModelPair:  # fmt: skip
        """The models of ``mode``; given checkpoints win, then shipped ones, then an untrained model."""
        if family is None and frame_name is None and token_name is None:
            frame_name, token_name = (_shipped(name) for name in SHIPPED_PAIRS[mode])
        if family is not None or (frame_name is None and token_name is None):
            model, source = self.untrained(family, backbone_path)
            return ModelPair(model, model, source, source, False, False)
        frame = self.checkpoint(frame_name) if frame_name else None
        token = self.checkpoint(token_name) if token_name else None
        frame = frame or (token[0], f"{token[1]} (its untrained head)")
        token = token or (frame[0], f"{frame[1]} (its backbone, not trained to answer in text)")
        frame_trained = frame_name is not None and not frame[0].head_kind.generates_text
        token_trained = token_name is not None and token[0].head_kind.generates_text
        return ModelPair(frame[0], token[0], frame[1], token[1], frame_trained, token_trained)


@contextmanager
def generation_length(model: FrameStampModel, min_new_tokens: int | None):
    """Make every generation of ``model`` run at least ``min_new_tokens`` steps (None: unchanged)."""
    config = model.backbone.model.generation_config
    previous = config.min_new_tokens
    config.min_new_tokens = min_new_tokens if min_new_tokens is not None else previous
    try:
        yield
    finally:
        config.min_new_tokens = previous


class StepCounter:
    """Counts LM-head calls of a generating model: one per generated token."""

    def __init__(self, model: FrameStampModel):
        self.count = 0
        self._handle = model.backbone.lm_head.register_forward_hook(self._hook)

    def _hook(self, *_):
        self.count += 1

    def remove(self) -> None:
        self._handle.remove()


@dataclass
class TokenPlan:
    """How long the token baseline of one batch generates, and what it did.

    Attributes:
        regime: "fixed" (exactly ``max_new_tokens`` steps, end of answer suppressed before) or
            "trained" (greedy until the end-of-turn token, at most ``max_new_tokens``).
        reference_tokens: per row, tokens of the reference answer plus its end-of-turn token.
        steps: generation steps of every timed run.
        parse_errors: rows of the last run whose answer held no time.
    """

    regime: str
    reference_tokens: list[int]
    max_new_tokens: int
    min_new_tokens: int | None
    steps: list[int] = field(default_factory=list)
    parse_errors: int = 0

    def to_dict(self) -> dict:
        return dict(self.__dict__)


def token_plan(pair: ModelPair, batch: BenchBatch, fixed_length: bool) -> TokenPlan:
    """Generation budget of the batch: the longest reference (fixed) or reference + slack (trained)."""
    tokenizer = pair.token.backbone.tokenizer
    reference = [len(tokenizer(q.answer_text(), add_special_tokens=False)["input_ids"]) + 1 for q in batch.queries]
    if pair.token_trained and not fixed_length:
        return TokenPlan("trained", reference, max(reference) + TRAINED_CAP_SLACK, None)
    return TokenPlan("fixed", reference, max(reference), max(reference))


@dataclass
class BatchWork:
    """The timed callables of one batch.

    Attributes:
        methods: name -> one batch of that method.
        warmups: name -> a cheaper stand-in for warm-up runs (the token baseline warms up on its
            full prompt but only ``WARMUP_TOKENS`` steps: later steps repeat the same kernels).
        cleanup: call when timing is done.
    """

    methods: dict[str, Callable[[], object]]
    warmups: dict[str, Callable[[], object]]
    cleanup: Callable[[], None]
    stages: Callable[[str], dict[str, float]] | None = None  # decoder -> mean seconds per stage, end to end


WARMUP_TOKENS = 16


def batch_methods(pair: ModelPair, batch: BenchBatch, plan: TokenPlan, decoders: list[str]) -> BatchWork:
    """Callables doing one batch of each method (timed runs of ``token`` record their steps in ``plan``).

    Methods: ``prepare`` (tokenize and featurize, shared by all, timed apart), ``forward``
    (bare backbone pass: the floor), ``frame_<decoder>`` (forward + head + decoder, times out),
    ``token`` (greedy generation with KV cache + text decoding + answer parsing), and for a frame
    model ``end_to_end_<decoder>`` (WAV files in, JSON answers out: ``bench.end_to_end``).
    """
    frame, token = pair.frame, pair.token
    frame_inputs = frame.prepare(batch.questions, batch.waveforms)
    token_inputs = frame_inputs if token is frame else token.prepare(batch.questions, batch.waveforms)
    # a token model's untrained head is read as an IHP head
    head = head_kind("ihp") if frame.head_kind.generates_text else frame.head_kind
    counts = batch.answer_events
    counter = StepCounter(token)

    @torch.no_grad()
    def run_forward():
        config = frame.config
        return frame.backbone(frame_inputs, layer=config.layer, bidirectional_audio=config.bidirectional_audio)

    def run_frame(decoder: str):
        config = DecodeConfig(multi=decoder)

        @torch.no_grad()
        def run():
            scores = frame(frame_inputs)
            rows = [row[m].cpu().numpy() for row, m in zip(scores.logits, scores.mask)]
            return [head.decode(r, frame.frame_rate_hz, "all", n, config) for r, n in zip(rows, counts)]

        return run

    def generate(max_new_tokens: int, min_new_tokens: int | None) -> list:
        with generation_length(token, min_new_tokens):
            texts = token.backbone.generate(
                token_inputs, max_new_tokens, bidirectional_audio=token.config.bidirectional_audio
            )
        return [parse_answer(text, "start", batch.mode) for text in texts]

    def run_token():
        counter.count = 0
        parsed = generate(plan.max_new_tokens, plan.min_new_tokens)
        plan.steps.append(counter.count)
        plan.parse_errors = sum(p.parse_error for p in parsed)
        return parsed

    def warm_token():
        short = min(plan.max_new_tokens, WARMUP_TOKENS)
        return generate(short, None if plan.min_new_tokens is None else short)

    methods = {"prepare": lambda: frame.prepare(batch.questions, batch.waveforms), "forward": run_forward}
    methods |= {f"frame_{decoder}": run_frame(decoder) for decoder in decoders}
    methods["token"] = run_token
    warmups = {"token": warm_token}
    if frame.head_kind.generates_text:  # an untrained stand-in: the engine would answer in text
        return BatchWork(methods, warmups, counter.remove)
    end_to_end = EndToEnd(frame, batch, decoders)
    methods |= {f"end_to_end_{decoder}": end_to_end.run(decoder) for decoder in decoders}
    warmups |= {f"end_to_end_{decoder}": end_to_end.run(decoder, timed=False) for decoder in decoders}

    def cleanup():
        counter.remove()
        end_to_end.close()

    return BatchWork(methods, warmups, cleanup, end_to_end.stages)


def check_fixed_steps(plan: TokenPlan) -> None:
    """Raise when a fixed-length generation did not run exactly its planned number of steps."""
    wrong = [s for s in plan.steps if s != plan.max_new_tokens]
    if plan.regime == "fixed" and wrong:
        raise RuntimeError(f"fixed-length generation ran {wrong[0]} steps instead of {plan.max_new_tokens}")
