"""Column schemas of the paper's hub datasets and of the built-in corpus (a superset of them).

The built-in corpus mirrors the hub schemas field for field (same names, same types) and only
adds fields, so one adapter per subset reads both. Types of the hub datasets:
- gilkeyio/librispeech-alignments: from its dataset card (``dataset_info``).
- enyoukai/libricount-timings: from the script that built it (``Dataset.from_generator`` on
  Python ints and floats, so int64 / float64).
- enyoukai/audioset-humans-reprocessed: from the paper's adapter, which reads ``events`` items
  with ``event_name``, ``start`` and ``end`` (seconds, ``end`` = clip length means "runs to the
  end"); float64 assumed as for the others.
"""

from __future__ import annotations

from framestamp.audio import SAMPLE_RATE_HZ
from framestamp.errors import MissingDependencyError

HUB_DATASETS = {
    "gilkeyio/librispeech-alignments": "words",
    "enyoukai/libricount-timings": "speakers",
    "enyoukai/audioset-humans-reprocessed": "events",
}

# Hub split names, and the names we use for the same role (train / dev / test).
HUB_SPLITS = {
    "gilkeyio/librispeech-alignments": (
        "train_clean_100", "train_clean_360", "train_other_500",
        "dev_clean", "dev_other", "test_clean", "test_other",
    ),
    "enyoukai/libricount-timings": ("train", "test"),
    "enyoukai/audioset-humans-reprocessed": ("train", "eval"),
}
SPLIT_ALIASES = {
    "train": ("train", "train_clean_100"),
    "dev": ("dev", "validation", "dev_clean", "valid"),
    "test": ("test", "test_clean", "eval"),
}


def _import_datasets():
    """The ``datasets`` package, or an error that names the extra to install."""
    try:
        import datasets
    except ImportError as error:
        raise MissingDependencyError(
            "reading or building datasets needs the 'corpus' extra: pip install 'framestamp[corpus]'"
        ) from error
    return datasets


def hub_features(subset: str):
    """``datasets.Features`` of the paper's hub dataset for a subset (see the module doc)."""
    datasets = _import_datasets()
    Audio, Features, List, Value = datasets.Audio, datasets.Features, datasets.List, datasets.Value
    word = {"end": Value("float64"), "start": Value("float64"), "word": Value("string")}
    phoneme = {"end": Value("float64"), "phoneme": Value("string"), "start": Value("float64")}
    if subset == "words":
        return Features({
            "sex": Value("string"),
            "subset": Value("string"),
            "id": Value("string"),
            "audio": Audio(),
            "transcript": Value("string"),
            "words": List(word),
            "phonemes": List(phoneme),
        })
    if subset == "speakers":
        return Features({"audio": Audio(), "k": Value("int64"), "components": List(_component(Value))})
    if subset == "events":
        return Features({"video_id": Value("string"), "audio": Audio(), "events": List(_event(Value))})
    raise ValueError(f"unknown subset {subset!r}")


def corpus_features(subset: str):
    """``datasets.Features`` of the built-in corpus for a subset: the hub fields plus ``id``,
    ``duration`` (seconds), ``provenance`` (a JSON string: its structure differs per source),
    and for speakers the diarization ``turns``."""
    datasets = _import_datasets()
    Audio, Features, List, Value = datasets.Audio, datasets.Features, datasets.List, datasets.Value
    hub = hub_features(subset)
    added = {"id": Value("string"), "duration": Value("float64"), "provenance": Value("string")}
    if subset == "words":
        shared = {name: hub[name] for name in ("id", "transcript", "words")}
    elif subset == "speakers":
        turn = {"speaker_id": Value("string"), "start": Value("float64"), "end": Value("float64")}
        shared = {"k": hub["k"], "components": hub["components"], "turns": List(turn)}
    else:
        shared = {"video_id": hub["video_id"], "events": hub["events"]}
    return Features({**added, "audio": Audio(sampling_rate=SAMPLE_RATE_HZ), **shared})


def _component(Value) -> dict:
    return {
        "speaker_id": Value("string"),
        "utterance_id": Value("string"),
        "utterance_length_sec": Value("float64"),
        "first_word_start_sec": Value("float64"),
    }


def _event(Value) -> dict:
    return {"event_name": Value("string"), "start": Value("float64"), "end": Value("float64")}


def shared_fields(subset: str) -> list[str]:
    """Names of the columns the built-in corpus shares with the paper's dataset for a subset."""
    hub, ours = hub_features(subset), corpus_features(subset)
    return [name for name in hub if name in ours]


def write_parquet(rows: list[dict], features, path) -> None:
    """Write rows (audio as ``{"bytes", "path"}``) to one parquet file whose schema carries the
    ``datasets`` features, as the hub's files do (so ``load_dataset("parquet")`` restores them)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = features.arrow_schema
    pq.write_table(pa.Table.from_pylist(rows, schema=schema), str(path), row_group_size=32)
