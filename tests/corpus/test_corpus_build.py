"""The built-in corpus: build time, schemas, disjoint splits, determinism, cache, errors."""

from __future__ import annotations

import json
from dataclasses import replace

import pyarrow.parquet as pq
import pytest

from framestamp.corpus import SIZES, CorpusConfig, MissingSourceError, SplitSpec, build_corpus
from framestamp.corpus.config import POOL_FRACTIONS
from framestamp.corpus.text import split_of
from framestamp.data import SUBSETS, corpus_features, hub_features
from framestamp.data.schemas import shared_fields

SPLITS = ("train", "dev", "test", "test_long")


def _rows(root, subset, split):
    files = sorted((root / subset / "data").glob(f"{split}-*.parquet"))
    return [row for f in files for row in pq.read_table(f).to_pylist()]


def _provenance(row):
    return json.loads(row["provenance"])


def test_tiny_build_is_complete(tiny_corpus):
    stats = json.loads((tiny_corpus / "stats.json").read_text())
    for subset in SUBSETS:
        for split in SPLITS:
            n = SIZES["tiny"].splits(subset)[split].n_clips
            assert len(_rows(tiny_corpus, subset, split)) == n
            assert stats["subsets"][subset]["splits"][split]["clips"] == n


def _type_of(feature):
    """Feature type without options that do not change the stored data (Audio sampling rate)."""
    if type(feature).__name__ == "Audio":
        return "Audio"
    return repr(feature)


@pytest.mark.parametrize("subset", SUBSETS)
def test_schema_shares_the_hub_fields_names_and_types(subset, tiny_corpus):
    hub, ours = hub_features(subset), corpus_features(subset)
    shared = shared_fields(subset)
    assert {"audio"} < set(shared)
    for name in shared:
        assert _type_of(ours[name]) == _type_of(hub[name]), name
    stored = pq.read_schema(next((tiny_corpus / subset / "data").glob("train-*.parquet")))
    for name in shared:
        assert stored.field(name).type == hub.arrow_schema.field(name).type, name


def _sentences_and_files(root, subset, split):
    """Sentences (synthetic speech) and recording files used by a split."""
    sentences, files = set(), set()
    for row in _rows(root, subset, split):
        p = _provenance(row)
        if subset == "words":
            if "files" in p:
                files.update(p["files"])
            else:
                sentences.update(s.strip() for s in _split_sentences(row["transcript"]))
        elif subset == "speakers":
            for utterance in p["utterances"]:
                for piece in utterance["pieces"]:
                    (files if piece.endswith(".wav") else sentences).add(piece)
        else:
            files.update(e["file"] for e in p["events"])
    return sentences, files


def _split_sentences(text):
    out, current = [], ""
    for char in text:
        current += char
        if char in ".?!":
            out.append(current)
            current = ""
    return out


@pytest.mark.parametrize("subset", SUBSETS)
def test_splits_are_disjoint_in_sentences_and_recordings(subset, tiny_corpus):
    used = {split: _sentences_and_files(tiny_corpus, subset, split) for split in SPLITS}
    pools = {"train": ("train",), "dev": ("dev",), "test": ("test", "test_long")}
    for a in pools:
        for b in pools:
            if a >= b:
                continue
            for kind in (0, 1):
                left = set().union(*(used[s][kind] for s in pools[a]))
                right = set().union(*(used[s][kind] for s in pools[b]))
                assert not left & right, f"{subset}: {a} and {b} share {sorted(left & right)[:3]}"
    for split in SPLITS:
        pool = {"test_long": "test"}.get(split, split)
        assert all(split_of(s, POOL_FRACTIONS) == pool for s in used[split][0])


def test_music_backgrounds_come_from_disjoint_parts_of_each_track(tiny_corpus):
    parts = {"train": (0.0, 0.8), "dev": (0.8, 0.9), "test": (0.9, 1.0), "test_long": (0.9, 1.0)}
    import soundfile as sf

    for split in SPLITS:
        for row in _rows(tiny_corpus, "events", split):
            background = _provenance(row)["background"]
            for piece in background.get("pieces", ()):
                length_s = sf.info(piece["file"]).duration
                lo, hi = parts[split]
                assert lo * length_s - 1e-3 <= piece["offset_s"]
                assert piece["offset_s"] + piece["length_s"] <= hi * length_s + 1e-3


def _micro(seed_config=None):
    spec = SplitSpec(2, 2.0, 4.0)
    splits = {"train": spec, "dev": SplitSpec(1, 2.0, 4.0), "test": SplitSpec(1, 2.0, 4.0)}
    return CorpusConfig(words=splits, speakers=splits, events=splits, max_speakers=3)


def _contents(root):
    return {s: [_rows(root, s, split) for split in ("train", "dev", "test")] for s in SUBSETS}


@pytest.mark.slow
def test_same_seed_gives_identical_builds_and_other_seeds_differ(tmp_path):
    config = _micro()
    first = build_corpus("micro", 3, tmp_path / "a", config=config, progress=False)
    second = build_corpus("micro", 3, tmp_path / "b", config=config, progress=False)
    other = build_corpus("micro", 4, tmp_path / "a", config=config, progress=False)
    assert first.name == second.name != other.name
    assert _contents(first) == _contents(second)
    a, c = _contents(first), _contents(other)
    for subset in SUBSETS:
        assert a[subset] != c[subset]


@pytest.mark.slow
def test_build_is_cached_until_settings_change(tmp_path):
    config = _micro()
    root = build_corpus("micro", 0, tmp_path, config=config, progress=False)
    stamp = (root / "settings.json").stat().st_mtime_ns
    assert build_corpus("micro", 0, tmp_path, config=config, progress=False) == root
    assert (root / "settings.json").stat().st_mtime_ns == stamp
    changed = build_corpus("micro", 0, tmp_path, config=replace(config, subsets=("events",)), progress=False)
    assert changed != root and (changed / "events").is_dir() and not (changed / "words").exists()


@pytest.mark.slow
def test_two_workers_give_the_same_build(tmp_path):
    config = replace(_micro(), subsets=("words",))
    one = build_corpus("micro", 1, tmp_path / "one", config=config, progress=False)
    two = build_corpus("micro", 1, tmp_path / "two", config=config, workers=2, progress=False)
    assert _rows(one, "words", "train") == _rows(two, "words", "train")


def test_missing_debian_package_is_a_one_line_error(tmp_path, monkeypatch):
    from framestamp.corpus import sources

    monkeypatch.setattr(sources, "MUSIC", ("asterisk-moh-opsound-wav", tmp_path / "nowhere"))
    sources.music_tracks.cache_clear()
    try:
        with pytest.raises(MissingSourceError) as error:
            build_corpus("micro", 0, tmp_path, config=replace(_micro(), subsets=("events",)), progress=False)
    finally:
        sources.music_tracks.cache_clear()
    message = str(error.value)
    assert "\n" not in message and "asterisk-moh-opsound-wav" in message


def test_train_max_duration_caps_train_clips():
    config = replace(SIZES["default"], train_max_duration_s=8.0)
    assert config.splits("words")["train"].max_duration_s == 8.0
    assert config.splits("words")["test_long"].max_duration_s == 60.0


def test_long_test_split_reaches_60_seconds():
    for subset in SUBSETS:
        assert SIZES["default"].splits(subset)["test_long"].max_duration_s >= 60.0


def test_words_repeat_within_clips_and_real_prompts_are_used(tiny_corpus):
    rows = [r for split in SPLITS for r in _rows(tiny_corpus, "words", split)]
    assert any(len({w["word"] for w in r["words"]}) < len(r["words"]) for r in rows)
    assert any("pocketsphinx" in r["provenance"] for r in rows)
    assert any("espeak-ng" in r["provenance"] for r in rows)
    for row in rows:
        starts = [w["start"] for w in row["words"]]
        assert starts == sorted(starts)
        assert all(0 <= w["start"] < w["end"] <= row["duration"] + 1e-6 for w in row["words"])


def test_sentences_of_a_clip_repeat_nouns():
    import numpy as np

    from framestamp.corpus.pools import Pools
    from framestamp.corpus.text import NOUNS
    from framestamp.corpus.voices import random_voice
    from framestamp.corpus.words import _synthetic_pieces

    rng = np.random.default_rng(0)
    pools = Pools(replace(SIZES["tiny"], repeat_word_prob=1.0), 0)
    pieces = _synthetic_pieces(pools, "train", random_voice(rng), rng)
    previous = None
    for _ in range(6):
        _, words, _, _ = next(pieces)
        nouns = {w for w, _, _ in words if w in NOUNS}
        if previous:
            assert nouns & previous
        previous = nouns


def test_speaker_onsets_are_first_turns_and_mixtures_start_at_zero(tiny_corpus):
    for split in SPLITS:
        for row in _rows(tiny_corpus, "speakers", split):
            first_turn = {}
            for turn in row["turns"]:
                first_turn.setdefault(turn["speaker_id"], turn["start"])
            assert row["k"] == len(row["components"]) == len(first_turn)
            assert {c["speaker_id"]: c["first_word_start_sec"] for c in row["components"]} == first_turn
            onsets = [c["first_word_start_sec"] for c in row["components"]]
            assert onsets == sorted(onsets)
            p = _provenance(row)
            if p["kind"] == "mixture":
                assert min(u["start_s"] for u in p["utterances"]) == 0.0


def test_events_have_exact_onsets_inside_the_clip(tiny_corpus):
    from framestamp.corpus.sources import Effect, read_effect

    for split in SPLITS:
        for row in _rows(tiny_corpus, "events", split):
            placed = _provenance(row)["events"]
            for event, info in zip(row["events"], placed):
                assert event["event_name"] == info["event_name"]
                assert event["start"] == info["onset_s"] and 0 < event["start"] < event["end"] <= row["duration"]
                length = len(read_effect(Effect(info["event_name"], info["file"]))) / 16000
                assert event["end"] == pytest.approx(min(event["start"] + length, row["duration"]), abs=1e-9)


def test_corpus_config_round_trips_through_yaml_with_the_same_settings_hash(tmp_path):
    from framestamp.corpus.config import SIZES, CorpusConfig, settings_hash

    path = tmp_path / "corpus.yaml"
    SIZES["tiny"].save(path)
    loaded = CorpusConfig.load(path)
    assert loaded == SIZES["tiny"]
    assert settings_hash(loaded, 0, {}) == settings_hash(SIZES["tiny"], 0, {})
