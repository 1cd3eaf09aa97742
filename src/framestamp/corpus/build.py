"""``build_corpus``: generate the built-in corpus once per settings and cache it on disk.

Layout of a build (``<out>/<size>-seed<seed>-<hash>/``), each subset a hub-style dataset
(``datasets.load_dataset("<dir>/words")`` or ``framestamp.data.load_subset`` read it):

    settings.json        settings, seed, source and tool versions (written last: a build is
                         complete when it exists)
    stats.json           counts, durations, target-time buckets, build seconds
    words/ speakers/ events/
        README.md        dataset card with the split configuration
        data/<split>-NNNNN-of-NNNNN.parquet

Every clip is generated from its own random generator, seeded by (seed, subset, split, index),
so a build is the same with any number of worker processes.
"""

from __future__ import annotations

import json
import math
import multiprocessing
import os
import shutil
import time
from collections import Counter
from pathlib import Path

import numpy as np

from framestamp.corpus.config import POOL_OF_SPLIT, SIZES, CorpusConfig, settings_hash
from framestamp.data.examples import SUBSETS
from framestamp.data.schemas import corpus_features

ROWS_PER_SHARD = 1000
ROWS_PER_ROW_GROUP = 32
DEFAULT_OUT = Path(os.environ.get("FRAMESTAMP_CACHE", Path.home() / ".cache" / "framestamp")) / "corpus"
ALIGNMENTS_FILE = "pocketsphinx-alignments.json"
_SPLIT_CODES = {"train": 0, "dev": 1, "test": 2, "test_long": 3, "test_unseen": 4}

_WORKER_POOLS = None  # the Pools of a worker process


def build_size(name: str) -> str | None:
    """The size a build directory named ``<size>-seed<seed>-<hash>`` (:func:`build_corpus`) holds;
    None for another name."""
    return name.split("-seed")[0] if "-seed" in name else None


def build_corpus(
    size: str = "default",
    seed: int = 0,
    out: str | os.PathLike | None = None,
    *,
    config: CorpusConfig | None = None,
    workers: int = 1,
    force: bool = False,
    progress: bool = True,
) -> Path:
    """Build the corpus (or find it in the cache) and return its directory.

    Args:
        size: a named size ("tiny", "small", "default", "large"); ignored when ``config`` is given
            except as part of the directory name.
        seed: random seed; the same settings and seed give identical files.
        out: cache root (default ``$FRAMESTAMP_CACHE/corpus`` or ``~/.cache/framestamp/corpus``).
        config: explicit settings instead of a named size.
        workers: processes generating clips (the output does not depend on it).
        force: rebuild even when a complete build with these settings exists.
        progress: show progress bars.

    Returns:
        Path of the build directory (see the module doc for its layout).

    Raises:
        MissingSourceError: a Debian package the corpus reads is not installed (one line).
    """
    if config is None:
        if size not in SIZES:
            raise ValueError(f"unknown size {size!r}; choose one of {', '.join(SIZES)}")
        config = SIZES[size]
    out = Path(out) if out is not None else DEFAULT_OUT
    _check_sources(config)
    versions = _versions(config)
    digest = settings_hash(config, seed, versions)
    root = out / f"{size}-seed{seed}-{digest[:12]}"
    if (root / "settings.json").exists() and not force:
        return root
    started = time.perf_counter()
    alignments = _alignments(config, out / "_cache") if "words" in config.subsets else {}
    partial = out / f".{root.name}.partial-{os.getpid()}"  # renamed to ``root`` when complete
    shutil.rmtree(partial, ignore_errors=True)
    try:
        stats = {"subsets": {}, "alignment_seconds": round(time.perf_counter() - started, 1)}
        for subset in config.subsets:
            t0 = time.perf_counter()
            stats["subsets"][subset] = _build_subset(partial / subset, subset, config, seed, alignments, workers, progress)
            stats["subsets"][subset]["build_seconds"] = round(time.perf_counter() - t0, 1)
        stats["build_seconds"] = round(time.perf_counter() - started, 1)
        stats["workers"] = workers
        (partial / "stats.json").write_text(json.dumps(stats, indent=2))
        settings = {"size": size, "seed": seed, "hash": digest, "config": config.to_dict(), "versions": versions}
        (partial / "settings.json").write_text(json.dumps(settings, indent=2))
        shutil.rmtree(root, ignore_errors=True)
        partial.rename(root)
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    return root


def _check_sources(config: CorpusConfig) -> None:
    """Fail fast, in one line, when a Debian package the build needs is missing."""
    from framestamp.corpus import sources

    if "words" in config.subsets and config.real_speech_fraction > 0:
        sources.english_prompts()
    if "speakers" in config.subsets and config.real_voice_prob > 0:
        for voice_dir in ("es_MX_f_Allison", "it_IT_m_Carlo"):
            sources.require(sources.PROMPT_VOICES[voice_dir][0], sources.SOUNDS / voice_dir)
    if {"words", "speakers"} & set(config.subsets):
        if config.engine_weights.get("festival", 0) > 0:
            from framestamp.corpus.festival import require_festival

            require_festival()
        if config.engine_weights.get("flite", 0) > 0:
            from framestamp.corpus.flite import FLITE

            sources.require(*FLITE)
    if "events" in config.subsets:
        sources.music_tracks()
        for families in sources.event_classes().values():
            for effect in (e for fam in families for e in fam):
                sources.require(effect.package, effect.path)


def _versions(config: CorpusConfig) -> dict:
    from importlib.metadata import version

    from framestamp.corpus import lexicon

    from framestamp.corpus.espeak import Synthesizer
    from framestamp.corpus.sources import source_versions

    from framestamp.corpus.festival import FESTIVAL, FESTIVAL_VOICES
    from framestamp.corpus.flite import FLITE
    from framestamp.corpus.sources import package_version

    packages = [FESTIVAL[0], FLITE[0]] + [package for package, _, _ in FESTIVAL_VOICES.values()]
    words = {lexicon.WORDFREQ[0]: lexicon.version()} if config.open_word_share > 0 else {}
    return {"espeak-ng": Synthesizer.version(), "pocketsphinx": version("pocketsphinx"), **source_versions(),
            **{p: package_version(p) for p in sorted(packages)}, **words}


def _alignments(config: CorpusConfig, cache_dir: Path) -> dict:
    from framestamp.corpus.align import align_prompts
    from framestamp.corpus.sources import english_prompts

    if config.real_speech_fraction <= 0:
        return {}
    return align_prompts(list(english_prompts()), cache_dir / ALIGNMENTS_FILE)


def _init_worker(config: CorpusConfig, seed: int, alignments: dict) -> None:
    global _WORKER_POOLS
    from framestamp.corpus.pools import Pools

    _WORKER_POOLS = Pools(config, seed, alignments)


def _make_row(task: tuple) -> dict:
    """Generate one row: ``task`` is (subset, split, index, seed, spec)."""
    from framestamp.corpus.events import make_events_row
    from framestamp.corpus.speakers import make_speakers_row
    from framestamp.corpus.words import make_words_row

    subset, split, index, seed, spec = task
    pools = _WORKER_POOLS
    rng = np.random.default_rng([seed, SUBSETS.index(subset), _SPLIT_CODES.get(split, 9), index])
    clip_id = f"{subset}-{split}-{index:06d}"
    pool = POOL_OF_SPLIT[split]
    if subset == "words":
        return make_words_row(pools, pool, spec, rng, clip_id, unseen=split == "test_unseen")
    if subset == "events":
        return make_events_row(pools, pool, spec, rng, clip_id)
    config = pools.config
    # Balanced k outside train (like LibriCount's test set: the same number per k).
    k = int(rng.integers(1, config.max_speakers + 1)) if split == "train" else index % config.max_speakers + 1
    fits = k * 2.5 <= spec.max_duration_s
    conversation = split == "test_long" or (fits and rng.random() < config.conversation_fraction)
    return make_speakers_row(pools, pool, spec, rng, clip_id, k, conversation)


def _build_subset(directory: Path, subset: str, config: CorpusConfig, seed: int, alignments: dict,
                  workers: int, progress: bool) -> dict:
    from tqdm import tqdm

    features = corpus_features(subset)
    (directory / "data").mkdir(parents=True, exist_ok=True)
    split_stats = {}
    with _RowMaker(config, seed, alignments, workers) as generate:
        for split, spec in config.splits(subset).items():
            tasks = [(subset, split, i, seed, spec) for i in range(spec.n_clips)]
            rows = tqdm(generate(tasks), total=len(tasks), desc=f"{subset}/{split}", disable=not progress,
                        unit="clip", leave=False)
            split_stats[split] = _write_split(directory / "data", split, rows, len(tasks), features, subset)
    (directory / "README.md").write_text(_dataset_card(subset, list(split_stats)))
    return {"splits": split_stats}


class _RowMaker:
    """Context manager giving a function tasks -> rows (in order), in this process or a pool."""

    def __init__(self, config, seed, alignments, workers):
        self.args, self.workers, self.pool = (config, seed, alignments), workers, None

    def __enter__(self):
        if self.workers <= 1:
            _init_worker(*self.args)
            return lambda tasks: map(_make_row, tasks)
        context = multiprocessing.get_context("spawn")
        self.pool = context.Pool(self.workers, initializer=_init_worker, initargs=self.args)
        return lambda tasks: self.pool.imap(_make_row, tasks, chunksize=4)

    def __exit__(self, *exc):
        if self.pool is not None:
            self.pool.close()
            self.pool.join()


def _write_split(directory: Path, split: str, rows, n_rows: int, features, subset: str) -> dict:
    """Write rows as parquet shards of ``ROWS_PER_SHARD`` and return the split's statistics."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = features.arrow_schema
    n_shards = max(math.ceil(n_rows / ROWS_PER_SHARD), 1)
    summary = _SplitSummary(subset)
    writer, batch, shard = None, [], -1
    for i, row in enumerate(rows):
        if i // ROWS_PER_SHARD != shard:
            if writer is not None:
                writer.close()
            shard = i // ROWS_PER_SHARD
            path = directory / f"{split}-{shard:05d}-of-{n_shards:05d}.parquet"
            writer = pq.ParquetWriter(path, schema)
        summary.add(row)
        batch.append(row)
        if len(batch) == ROWS_PER_ROW_GROUP or (i + 1) % ROWS_PER_SHARD == 0:
            writer.write_table(pa.Table.from_pylist(batch, schema=schema))
            batch = []
    if batch:
        writer.write_table(pa.Table.from_pylist(batch, schema=schema))
    if writer is not None:
        writer.close()
    else:  # an empty split still gets a (row-less) file, so that it exists
        pq.write_table(schema.empty_table(), directory / f"{split}-00000-of-00001.parquet")
    return summary.as_dict()


class _SplitSummary:
    """Counts and durations of a split, with starts of segments in 4-second buckets."""

    def __init__(self, subset: str):
        self.subset = subset
        self.n_clips, self.seconds, self.max_clip_s = 0, 0.0, 0.0
        self.n_segments, self.labels, self.buckets, self.extra = 0, Counter(), Counter(), Counter()
        self.voices: dict[str, set] = {}  # engine -> voice ids

    def add(self, row: dict) -> None:
        self.n_clips += 1
        self.seconds += row["duration"]
        self.max_clip_s = max(self.max_clip_s, row["duration"])
        provenance = json.loads(row["provenance"])
        if self.subset == "words":
            starts = [w["start"] for w in row["words"]]
            self.labels.update(w["word"] for w in row["words"])
            self.extra["real_speech_clips"] += provenance["engine"] == "asterisk"
            if provenance["engine"] != "asterisk":
                self.extra[f"{provenance['engine']} clips"] += 1
            self.extra["new-voice clips"] += provenance["new_voice"]
            self.voices.setdefault(provenance["engine"], set()).add(provenance["speaker"])
        elif self.subset == "speakers":
            starts = [c["first_word_start_sec"] for c in row["components"]]
            self.labels.update(c["speaker_id"] for c in row["components"])
            self.extra[f"k={row['k']}"] += 1
            self.extra["conversations"] += provenance["kind"] == "conversation"
            for speaker in provenance["speakers"]:
                self.extra[f"{speaker['engine']} speakers"] += 1
                self.extra["new-voice speakers"] += speaker["new_voice"]
                self.voices.setdefault(speaker["engine"], set()).add(speaker["speaker_id"])
        else:
            starts = [e["start"] for e in row["events"]]
            self.labels.update(e["event_name"] for e in row["events"])
            self.extra[f"{len(row['events'])} events"] += 1
        self.n_segments += len(starts)
        self.buckets.update(f"{int(s // 4) * 4}-{int(s // 4) * 4 + 4}s" for s in starts)

    def as_dict(self) -> dict:
        target = {"words": "word starts", "speakers": "speaker onsets", "events": "event onsets"}[self.subset]
        return {
            "clips": self.n_clips,
            "hours": round(self.seconds / 3600, 3),
            "mean_clip_s": round(self.seconds / max(self.n_clips, 1), 2),
            "max_clip_s": round(self.max_clip_s, 2),
            "targets": self.n_segments,
            "distinct_labels": len(self.labels),
            f"{target} by start time": dict(sorted(self.buckets.items(), key=lambda kv: int(kv[0].split("-")[0]))),
            "details": dict(sorted(self.extra.items())),
            **({"voices by engine": {e: len(v) for e, v in sorted(self.voices.items())}} if self.voices else {}),
        }


def _dataset_card(subset: str, splits: list[str]) -> str:
    lines = ["---", "configs:", "- config_name: default", "  data_files:"]
    for split in splits:
        lines += [f"  - split: {split}", f"    path: data/{split}-*"]
    lines += ["---", "", f"# framestamp built-in corpus: {subset}", "",
              "Generated by `framestamp corpus build`; see docs/corpus.md in the framestamp repository.", ""]
    return "\n".join(lines)
