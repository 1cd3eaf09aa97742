"""A frozen pre-trained audio tower inside a Qwen2.5-Omni thinker, and the cache of its outputs.

The thinker's audio tower (``Qwen2_5OmniAudioEncoder``) ends in a new, trainable projection
``proj`` to the text width. With the rest of the tower frozen, everything before ``proj`` (convs,
layers, stride-2 pooling, ``ln_post``) is a function of the clip's log-mel features alone, so it
is computed without gradients and can be cached: one fp16 array of ``[audio tokens, d_model]``
per clip, keyed by the tower's hash and a hash of the clip's features. A key can only match
features that are byte-identical, whose tower output is the same whatever corpus they came from,
so a different tower or different audio never reuses an entry.

With ``trainable_layers > 0`` the top layers of the tower train too; its output then depends on
trainable weights and is never cached.
"""

from __future__ import annotations

import hashlib
import os
import types
from collections import OrderedDict
from pathlib import Path

import numpy as np
import torch
from torch import nn
from transformers.modeling_outputs import BaseModelOutputWithPooling

TRAINABLE_ALWAYS = ("proj.", "audio_bos_eos_token.")  # new parts of the thinker's tower: never frozen


def default_cache_dir() -> Path:
    """``$FRAMESTAMP_CACHE/tower`` (default ``~/.cache/framestamp/tower``)."""
    root = os.environ.get("FRAMESTAMP_CACHE") or Path.home() / ".cache" / "framestamp"
    return Path(root) / "tower"


class TowerCache:
    """Tower outputs per clip: in memory (up to ``max_memory_bytes``) and, with ``directory``, on disk.

    Args:
        tower_hash: identifies the tower's weights; entries of another tower live elsewhere.
        directory: root folder of the on-disk cache (entries under ``<directory>/<tower_hash>/``);
            None keeps entries in memory only.
        max_memory_bytes: bound on the in-memory entries (least recently used leave first).
        disk_writes: whether new entries go to disk too (False: the disk is only read; for
            training on audio that is new every step, whose entries would never be read again).
    """

    def __init__(
        self, tower_hash: str, directory: str | Path | None = None, max_memory_bytes: int = 2 << 30,
        disk_writes: bool = True,
    ):  # fmt: skip
        self.tower_hash = tower_hash
        self.directory = None if directory is None else Path(directory) / tower_hash
        self.max_memory_bytes = max_memory_bytes
        self.disk_writes = disk_writes
        self._memory: OrderedDict[str, np.ndarray] = OrderedDict()
        self._bytes = 0
        self.hits = self.misses = 0

    @staticmethod
    def key(features: torch.Tensor) -> str:
        """Hash of one clip's log-mel features ``[mel bins, frames]`` (float32 bytes and shape)."""
        array = features.detach().to("cpu", torch.float32).contiguous().numpy()
        return hashlib.sha1(array.tobytes() + str(array.shape).encode()).hexdigest()

    def get(self, key: str) -> np.ndarray | None:
        if key in self._memory:
            self._memory.move_to_end(key)
            self.hits += 1
            return self._memory[key]
        path = self._path(key)
        if path is not None and path.is_file():
            value = np.load(path)
            self._remember(key, value)
            self.hits += 1
            return value
        self.misses += 1
        return None

    def look_up(self, key: str) -> np.ndarray | None:
        """The entry from memory or disk, without keeping it or counting a hit (a batch-preparing
        worker reads; the training process keeps)."""
        if key in self._memory:
            return self._memory[key]
        path = self._path(key)
        return np.load(path) if path is not None and path.is_file() else None

    def keep(self, key: str, value: np.ndarray) -> None:
        """Hold an entry in memory only (one read from disk by another process)."""
        if key not in self._memory:
            self._remember(key, np.ascontiguousarray(value, dtype=np.float16))

    def put(self, key: str, value: np.ndarray) -> None:
        value = np.ascontiguousarray(value, dtype=np.float16)
        self._remember(key, value)
        if self.disk_writes:
            self.write_disk(key, value)

    def write_disk(self, key: str, value: np.ndarray) -> None:
        """Store an entry on disk only, whatever ``disk_writes`` says (the training clips' warm-up pass)."""
        path = self._path(key)
        if path is None or path.is_file():
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(f".{os.getpid()}.tmp")
        with open(partial, "wb") as handle:
            np.save(handle, np.ascontiguousarray(value, dtype=np.float16))
        os.replace(partial, path)  # readers never see half an entry

    def on_disk(self, key: str) -> bool:
        path = self._path(key)
        return path is not None and path.is_file()

    def _remember(self, key: str, value: np.ndarray) -> None:
        self._memory[key] = value
        self._bytes += value.nbytes
        while self._bytes > self.max_memory_bytes and len(self._memory) > 1:
            _, dropped = self._memory.popitem(last=False)
            self._bytes -= dropped.nbytes

    def _path(self, key: str) -> Path | None:
        return None if self.directory is None else self.directory / key[:2] / f"{key}.npy"


def freeze_tower(tower: nn.Module, trainable_layers: int = 0) -> None:
    """Freeze the tower except its new parts (``proj``, ``audio_bos_eos_token``) and its top
    ``trainable_layers`` encoder layers (with ``ln_post`` when any layer trains)."""
    n_layers = len(tower.layers)
    trainable = tuple(f"layers.{i}." for i in range(n_layers - trainable_layers, n_layers))
    trainable += ("ln_post.",) if trainable_layers else ()
    for name, parameter in tower.named_parameters():
        parameter.requires_grad_(name.startswith(TRAINABLE_ALWAYS + trainable))


def frozen_names(tower: nn.Module) -> list[str]:
    """Names (within the tower) of the parameters that do not train."""
    return [name for name, parameter in tower.named_parameters() if not parameter.requires_grad]


def attach_cached_forward(tower: nn.Module, cache: TowerCache | None) -> None:
    """Make ``tower`` compute its frozen part once per clip (from ``cache`` when it holds it) and
    apply only the trainable ``proj`` with gradients. The tower's parameter names do not change."""
    original = type(tower).forward

    def frozen_states(input_features, feature_lens) -> torch.Tensor:
        proj, tower.proj = tower.proj, nn.Identity()
        try:
            with torch.no_grad():
                return original(tower, input_features, feature_lens=feature_lens).last_hidden_state
        finally:
            tower.proj = proj

    def forward(self, input_features=None, feature_lens=None, aftercnn_lens=None, **kwargs):
        states = _cached_states(self, input_features, feature_lens, cache, frozen_states)
        hidden = self.proj(states.to(self.proj.weight.dtype))
        return BaseModelOutputWithPooling(last_hidden_state=hidden, pooler_output=hidden)

    tower.forward = types.MethodType(forward, tower)
    tower.frozen_states = frozen_states  # the frozen part alone, uncached: [sum of tokens, d_model]


def _cached_states(tower, input_features, feature_lens, cache: TowerCache | None, compute) -> torch.Tensor:
    """Frozen states ``[sum of tokens, d_model]`` of a packed batch (features ``[mel, sum of frames]``)."""
    if cache is None:  # rounded as the cache stores them, so cached and uncached runs agree
        return compute(input_features, feature_lens).to(torch.float16).to(torch.float32)
    lens = [int(n) for n in feature_lens]
    pieces = list(torch.split(input_features, lens, dim=1))
    keys = [cache.key(piece) for piece in pieces]
    found = [cache.get(key) for key in keys]
    missing = [i for i, value in enumerate(found) if value is None]
    if missing:
        computed = compute(torch.cat([pieces[i] for i in missing], dim=1), feature_lens[missing])
        tokens = [int(n) for n in tower._get_feat_extract_output_lengths(feature_lens[missing])[1]]
        for i, states in zip(missing, torch.split(computed, tokens, dim=0)):
            found[i] = states.to(torch.float16).cpu().numpy()
            cache.put(keys[i], found[i])
    device = input_features.device
    return torch.cat([torch.from_numpy(np.asarray(value)).to(device, torch.float32) for value in found], dim=0)
