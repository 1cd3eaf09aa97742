"""``load_subset``: the built-in corpus, a hub dataset by name, or a local copy, as Clips.

Sources ``load_subset`` understands:
- a hub name: ``gilkeyio/librispeech-alignments``, ``enyoukai/libricount-timings``,
  ``enyoukai/audioset-humans-reprocessed`` (downloaded by ``datasets.load_dataset``);
- ``"builtin"``, ``"builtin:<size>"`` or ``"builtin:<size>:<seed>"``: the built-in corpus,
  built (or found in its cache) by ``framestamp.corpus.build_corpus``;
- a path: a built corpus (the directory ``build_corpus`` returns, or one of its subset
  directories), a local copy of a hub dataset (a directory of ``<split>-NNNNN-of-NNNNN.parquet``
  files, e.g. from ``huggingface-cli download --repo-type dataset``), a single parquet or arrow
  file, or a directory written by ``Dataset(Dict).save_to_disk``.
"""

from __future__ import annotations

import io
import os
import re
import socket
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from framestamp.data.adapters import row_to_clip
from framestamp.data.examples import SUBSETS, Clip, crop_clip
from framestamp.data.schemas import HUB_DATASETS, SPLIT_ALIASES, _import_datasets
from framestamp.errors import FramestampError

_SHARD = re.compile(r"^(?P<split>.+?)(-\d{5}-of-\d{5})?\.(parquet|arrow)$")


class DatasetUnavailableError(FramestampError, RuntimeError):
    """A dataset could not be found or downloaded (the message says why in one line)."""


class ClipDataset(Sequence):
    """A lazy sequence of Clips over a ``datasets.Dataset``; audio is decoded on access.

    Attributes:
        rows: the underlying dataset (audio column not decoded).
        subset, source, split: what was loaded.
        max_target_s: when set, every clip is cut so that its segments start before it.
    """

    def __init__(self, rows, subset: str, source: str, split: str, max_target_s: float | None = None):
        self.rows = rows
        self.subset = subset
        self.source = source
        self.split = split
        self.max_target_s = max_target_s

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, index):
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError(index)
        context = {"dataset": self.source, "split": self.split, "row": int(index)}
        fallback_id = f"{Path(self.source).name}-{self.split}-{index:06d}"
        clip = row_to_clip(self.subset, self.rows[int(index)], context, fallback_id)
        if self.max_target_s is not None:
            clip = crop_clip(clip, self.max_target_s)
        return clip

    def __repr__(self) -> str:
        return f"ClipDataset({self.source!r}, subset={self.subset!r}, split={self.split!r}, n={len(self)})"


def load_subset(
    source: str | os.PathLike,
    subset: str | None = None,
    split: str = "train",
    *,
    max_duration_s: float | None = None,
    max_target_s: float | None = None,
) -> ClipDataset:
    """Load one split of a dataset as a lazy sequence of ``Clip``s.

    Args:
        source: hub name, ``"builtin[:size[:seed]]"``, or a local path (see the module doc).
        subset: "words", "speakers" or "events"; implied by a hub name or a subset directory.
        split: split name. "train", "dev" and "test" also find the hub's names for the same
            role (train_clean_100 / dev_clean / test_clean, eval).
        max_duration_s: keep only clips at most this long (seconds).
        max_target_s: cut every clip so that all its segments start before this time (seconds),
            see ``framestamp.data.examples.crop_clip``.

    Returns:
        A ``ClipDataset`` (``Sequence[Clip]``).

    Raises:
        DatasetUnavailableError: the source cannot be found, downloaded, or lacks the split.
    """
    source = str(source)
    if source in HUB_DATASETS:
        subset = _check_subset(subset, HUB_DATASETS[source], source)
        rows = _load_hub(source, split)
    else:
        root, subset = _resolve_local(source, subset)
        rows = _load_local(root, split)
    rows = _without_audio_decoding(rows)
    if max_duration_s is not None:
        rows = rows.select(np.nonzero(_durations_s(rows) <= max_duration_s)[0])
    return ClipDataset(rows, subset, source, split, max_target_s)


def _check_subset(subset: str | None, implied: str, source: str) -> str:
    if subset is not None and subset != implied:
        raise ValueError(f"{source} holds the {implied!r} subset, not {subset!r}")
    return implied


def _resolve_local(source: str, subset: str | None) -> tuple[Path, str]:
    """Directory (or file) holding the subset's splits, and the subset."""
    if source == "builtin" or source.startswith("builtin:"):
        from framestamp.corpus import build_corpus  # heavy; only needed for the built-in corpus

        parts = source.split(":")
        size = parts[1] if len(parts) > 1 else "default"
        seed = int(parts[2]) if len(parts) > 2 else 0
        source = str(build_corpus(size=size, seed=seed))
    path = Path(source)
    if not path.exists():
        raise DatasetUnavailableError(
            f"no dataset at {source!r}: expected a hub name ({', '.join(HUB_DATASETS)}), "
            "'builtin[:size[:seed]]', or an existing path"
        )
    if subset is not None and subset not in SUBSETS:
        raise ValueError(f"unknown subset {subset!r}; expected one of {SUBSETS}")
    if subset is not None and (path / subset).is_dir():
        return path / subset, subset
    if path.name in SUBSETS:
        return path, _check_subset(subset, path.name, source)
    if subset is None:
        raise ValueError(f"say which subset {source!r} holds: one of {SUBSETS}")
    return path, subset


def _load_hub(name: str, split: str):
    """Download (or read from the local Hugging Face cache) one split of a hub dataset."""
    datasets = _import_datasets()

    offline = os.environ.get("HF_HUB_OFFLINE") == "1" or os.environ.get("HF_DATASETS_OFFLINE") == "1"
    if not offline and not _hub_reachable():
        raise DatasetUnavailableError(
            f"cannot download {name}: the Hugging Face hub is unreachable from this machine; "
            "download it elsewhere and pass the local directory instead"
        )
    try:
        builder = datasets.load_dataset_builder(name)
        available = tuple(builder.info.splits or ())
        return datasets.load_dataset(name, split=_pick_split(split, available, name))
    except DatasetUnavailableError:
        raise
    except Exception as error:  # datasets raises many types; report one line either way
        raise DatasetUnavailableError(
            f"cannot load {name} (split {split!r}): {type(error).__name__}: "
            f"{str(error).splitlines()[0] if str(error) else ''}"
        ) from error


def _hub_reachable(timeout_s: float = 3.0) -> bool:
    endpoint = os.environ.get("HF_ENDPOINT", "https://huggingface.co")
    host = re.sub(r"^https?://", "", endpoint).split("/")[0].split(":")[0]
    try:
        socket.create_connection((host, 443), timeout=timeout_s).close()
        return True
    except OSError:
        return False


def _pick_split(split: str, available: Sequence[str], source: str) -> str:
    """The split itself when present, else the first available alias for its role."""
    if not available or split in available:
        return split
    for alias in SPLIT_ALIASES.get(split, ()):
        if alias in available:
            return alias
    raise DatasetUnavailableError(
        f"{source} has no split {split!r}; available: {', '.join(sorted(available))}"
    )


def _local_splits(root: Path) -> dict[str, list[str]]:
    """Split name -> data files, from ``<split>-NNNNN-of-NNNNN.parquet`` style file names."""
    files = [root] if root.is_file() else sorted(
        p for p in root.rglob("*") if p.suffix in (".parquet", ".arrow") and ".hf_cache" not in p.parts
    )
    splits: dict[str, list[str]] = {}
    for path in files:
        match = _SHARD.match(path.name)
        name = match.group("split") if match else path.stem
        if name == "data":  # save_to_disk shards are named data-NNNNN-of-NNNNN.arrow
            name = path.parent.name
        splits.setdefault(name, []).append(str(path))
    return splits


def _load_local(root: Path, split: str):
    datasets = _import_datasets()

    if (root / "dataset_dict.json").exists():
        dataset_dict = datasets.load_from_disk(str(root))
        return dataset_dict[_pick_split(split, list(dataset_dict), str(root))]
    if (root / "state.json").exists():
        return datasets.load_from_disk(str(root))
    splits = _local_splits(root)
    if not splits:
        raise DatasetUnavailableError(f"no parquet or arrow files under {root}")
    if root.is_file():
        files = next(iter(splits.values()))
    else:
        files = splits[_pick_split(split, list(splits), str(root))]
    kind = "parquet" if files[0].endswith(".parquet") else "arrow"
    corpus_root = next((p for p in (root, *root.parents) if (p / "settings.json").exists()), None)
    cache_dir = str(corpus_root / ".hf_cache") if corpus_root else None
    return datasets.load_dataset(kind, data_files={"rows": files}, split="rows", cache_dir=cache_dir)


def _without_audio_decoding(rows):
    if "audio" in rows.column_names and getattr(rows.features["audio"], "decode", False):
        rows = rows.cast_column("audio", _import_datasets().Audio(decode=False))
    return rows


def _durations_s(rows) -> np.ndarray:
    """Clip lengths in seconds: the ``duration`` column, else read from the audio headers."""
    if "duration" in rows.column_names:
        return np.asarray(rows["duration"], dtype=np.float64)
    import soundfile as sf

    durations = []
    for cell in rows.select_columns(["audio"]):
        audio = cell["audio"]
        info = sf.info(io.BytesIO(audio["bytes"])) if audio.get("bytes") else sf.info(audio["path"])
        durations.append(info.frames / info.samplerate)
    return np.asarray(durations, dtype=np.float64)
