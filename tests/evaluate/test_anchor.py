"""The forced-alignment anchor: pocketsphinx given the transcript, scored like the frame models."""

from __future__ import annotations

import json
import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from framestamp.data.examples import Clip, Segment
from framestamp.evaluate.anchor import ANCHOR_NAME, GROUPS, VARIANTS, score, segment_words, source_group
from framestamp.evaluate.metrics import MATCHINGS, all_events_metrics

RESULTS = Path(__file__).resolve().parents[2] / "results"
TOLERANCE_S = 0.05  # a word start is right within 50 ms of the truth (the report's headline tolerance)
MOST = 0.8  # share of a synthetic clip's words the aligner must place within the tolerance


@pytest.fixture(scope="module")
def tiny_words_test(tmp_path_factory):
    """Test clips of the tiny built-in corpus (words only: about 1 s of CPU to build)."""
    pytest.importorskip("pocketsphinx")
    from framestamp.corpus import build_corpus
    from framestamp.corpus.config import SIZES
    from framestamp.data import load_subset

    config = replace(SIZES["tiny"], subsets=("words",))
    root = build_corpus("tiny", seed=0, out=tmp_path_factory.mktemp("corpus"), config=config, progress=False)
    return list(load_subset(root, "words", "test"))


@pytest.fixture(scope="module")
def aligner():
    pytest.importorskip("pocketsphinx")
    from framestamp.evaluate.anchor import Aligner

    return Aligner()


@pytest.mark.slow
def test_anchor_scores_the_all_questions_with_the_frame_models_metrics(tiny_words_test, aligner):
    from framestamp.evaluate.anchor import evaluate_anchor
    from framestamp.evaluate.run import evaluation_items

    items = evaluation_items(tiny_words_test, "all", seed=0)
    summary = evaluate_anchor(items, aligner)
    groups = summary["groups"]
    assert set(groups) <= set(GROUPS) and "all" in groups
    assert "synthetic" in groups, "the tiny test split has speech timed by its synthesizer"
    assert groups["all"]["n"] == len(items) == sum(groups[g]["n"] for g in groups if g != "all")
    assert groups["all"]["n_words"] == sum(len(i.query.targets_s) for i in items)
    expected_keys = set(all_events_metrics([[1.0]], [[1.0]]))
    for group in groups.values():
        assert set(group["variants"]) == set(VARIANTS)
        for record in group["variants"].values():
            assert set(record["metrics"]) == expected_keys
            assert {"0.02", "0.05", "0.1"} <= set(record["metrics"]["accuracy"])
            assert set(record["by_matching"]) == set(MATCHINGS)
            assert record["by_matching"]["hungarian_l1"] == record["metrics"]
            assert {"f1", "precision", "recall"} <= set(record["onset_f_measure_50ms"])
            assert 0 <= record["n_failed"] <= group["n"]
    assert not any("pocketsphinx" in w for w in groups["synthetic"]["word_times"])
    for group in ("recorded", "synthetic_aligned"):
        assert all("pocketsphinx" in w for w in groups.get(group, {}).get("word_times", ()))
    timing = summary["timing"]
    assert timing["threads"] == 1 and 0 < timing["cpu_ms_per_audio_s"] < 1000
    assert timing["audio_s"] == pytest.approx(sum(i.clip.duration_s for i in items))
    json.dumps(summary, allow_nan=True)  # JSON-ready


@pytest.mark.slow
def test_aligner_places_most_words_of_an_exactly_timed_synthetic_clip(tiny_words_test, aligner):
    clip = next(c for c in tiny_words_test if source_group(c) == "synthetic")
    assert "pocketsphinx" not in clip.provenance["word_times"]  # times from the synthesizer, not an aligner
    alignment = aligner.align(clip)
    assert alignment.ok and len(alignment.starts_s) == len(clip.segments)
    errors = [abs(start - segment.start_s) for start, segment in zip(alignment.starts_s, clip.segments)]
    assert np.mean(np.array(errors) <= TOLERANCE_S) >= MOST, errors
    assert alignment.cpu_s > 0


def test_score_is_the_frame_models_scoring():
    references, predictions = [[1.0, 2.0, 3.0], [0.5]], [[1.01, 2.2], [0.5, 0.9]]
    record = score(references, predictions)
    assert record["n"] == 2
    assert record["metrics"] == _str_keys(all_events_metrics(predictions, references))
    assert record["metrics"]["accuracy"]["0.02"] == pytest.approx(2 / 5)  # 1.01 and 0.5, of max(2, 3) + max(2, 1)
    if "error" not in record["onset_f_measure_50ms"]:
        assert record["onset_f_measure_50ms"]["n_matched"] == 2


def test_clips_are_grouped_by_source_and_words_normalised():
    def clip(source: str, labels: tuple[str, ...] = ("yes",)) -> Clip:
        segments = tuple(Segment(w, 0.1 * i, 0.1 * i + 0.05) for i, w in enumerate(labels))
        return Clip("c", np.zeros(1600, np.float32), "words", segments, provenance={"source": source})

    assert source_group(clip("asterisk-core-sounds-en-wav")) == "recorded"
    assert source_group(clip("espeak-ng (PyPI espeakng-loader)")) == "synthetic"
    flite = replace(clip("Flite"), provenance={"source": "Flite", "word_times": "pocketsphinx forced alignment"})
    assert source_group(flite) == "synthetic_aligned"
    assert segment_words(clip("x", ("twelve", "<unk>", "don't"))) == [["twelve"], [], ["don't"]]


# ------------------------------------------------------------------ the report's section


def _anchor_json(frame_matches: bool = True) -> dict:
    references = {"synthetic": [[1.0, 2.0]], "recorded": [[0.5, 1.5, 2.5]]}  # no Flite clips
    predictions = {"synthetic": [[1.01, 2.005]], "recorded": [[0.5, 1.5, 2.5]]}
    for times in (references, predictions):
        times["all"] = times["synthetic"] + times["recorded"]
    frame = {g: score(references[g], [[t + 0.03 for t in r] for r in references[g]]) for g in references}  # 30 ms late
    if not frame_matches:
        frame["all"] = score(references["all"], predictions["all"])
    return {
        "anchor": "pocketsphinx forced alignment given the transcript", "pocketsphinx": "5.1.1",
        "corpus": "tiny-seed0-x", "recipe": "words-all", "split": "test", "mode": "all", "n_clips": 2,
        "groups": {g: {"n": len(references[g]), "n_words": sum(map(len, references[g])),
                       "variants": {v: score(references[g], predictions[g]) | {"n_failed": 0} for v in VARIANTS}}
                   for g in references},
        "timing": {"cpu_ms_per_audio_s": 12.34, "threads": 1},
        "alignment": {"first_pass_ok": 1, "retried_ok": 1, "failed": 0},
        "frame_model": {"checkpoint": "words-all", "groups": frame},
    }  # fmt: skip


def _results(tmp_path: Path, anchor: dict | None) -> Path:
    (tmp_path / "metrics").mkdir(parents=True)
    stored = _anchor_json()["frame_model"]["groups"]["all"]
    record = {"split": "test", "mode": "all", "median_seconds_per_query": 0.02, **stored}
    words_all = {"config": {}, "evaluations": [record]}
    (tmp_path / "metrics" / "words-all.json").write_text(json.dumps(words_all))
    if anchor is not None:
        (tmp_path / "metrics" / f"{ANCHOR_NAME}.json").write_text(json.dumps(anchor))
    return tmp_path


def test_report_shows_the_anchor_beside_the_frame_model(tmp_path):
    from framestamp.evaluate.anchor import anchor_file_name
    from framestamp.reproduce.stored import ANCHOR, Anchors, load_results
    from framestamp.reproduce.report import write_report

    assert ANCHOR == ANCHOR_NAME
    results_dir = _results(tmp_path, _anchor_json())
    unseen = results_dir / "metrics" / f"{anchor_file_name('test_unseen')}.json"
    unseen.write_text(json.dumps(_anchor_json() | {"split": "test_unseen"}))
    assert set(load_results(results_dir)) == {"words-all"}  # the anchors are no experiments
    anchors = Anchors.load(results_dir)
    assert anchors.on("test_unseen", None)["split"] == "test_unseen" and anchor_file_name() == ANCHOR_NAME
    assert anchors.on("test", "tiny")["split"] == "test" and anchors.on("test", "open") is None
    assert anchor_file_name("test_unseen", "open") == f"{ANCHOR_NAME}-test_unseen-open"
    # another corpus's anchor beside the recipe's own: asked for no corpus, the own one answers
    (results_dir / "metrics" / f"{anchor_file_name('test', 'default')}.json").write_text(
        json.dumps(_anchor_json() | {"corpus": "default-seed0-x"}))
    anchors = Anchors.load(results_dir)
    assert anchors.on("test", None)["corpus"] == "tiny-seed0-x"
    assert anchors.on("test", "default")["corpus"] == "default-seed0-x"
    text = write_report(results_dir).read_text()
    section = text[text.index("## Anchor: forced alignment given the transcript") :].split("\n## ")[0]
    rows = [row for row in section.splitlines() if row.startswith("| ")]
    assert rows[0].startswith("| speech | answered by | clips | words | acc 20 ms | acc 50 ms | acc 100 ms |")
    synthetic = "| synthetic voices (synthesizer's times) |"
    assert f"{synthetic} pocketsphinx, given the transcript | 1 | 2 | 100.0% | 100.0% | 100.0% | 100.0% |" in section
    assert f"{synthetic} `words-all` (frame model, count inferred) | 1 | 2 | 0.0% | 100.0% |" in section  # 30 ms late
    assert "| every clip | `words-all` (frame model, count inferred) | 2 | 5 |" in section
    assert "| recorded voice (truth from pocketsphinx) | pocketsphinx, given the transcript | 1 | 3 |" in section
    assert "| synthetic voices (truth from pocketsphinx) |" not in section  # no Flite clips, no row
    assert "right by construction" in section and "12.3 CPU ms per second of audio" in section
    assert "pocketsphinx 5.1.1" in section and "`tiny-seed0-x`" in section


def test_report_leaves_out_stale_frame_rows_and_the_section_without_the_anchor(tmp_path):
    from framestamp.reproduce.report import write_report

    stale = write_report(_results(tmp_path / "stale", _anchor_json(frame_matches=False))).read_text()
    assert "| every clip | `words-all` (frame model, count inferred) |" in stale  # the stored record
    assert "| synthetic voices (synthesizer's times) | `words-all`" not in stale
    assert "does not match its stored record" in stale
    assert "## Anchor" not in write_report(_results(tmp_path / "none", None)).read_text()


def test_stored_anchor_renders_beside_words_all():
    """results/metrics/anchor-pocketsphinx.json, as written by ``python -m framestamp.evaluate.anchor``."""
    from framestamp.reproduce.stored import Anchors, load_results
    from framestamp.reproduce.report import _anchor_table

    anchors = Anchors.load(RESULTS)
    anchor = anchors.on("test", None)
    if anchor is None:
        pytest.skip("no stored anchor results")
    assert anchor["split"] == "test" and anchor["mode"] == "all" and anchor["n_clips"] > 0
    assert anchor["pocketsphinx"] and anchor["corpus"]
    assert math.isfinite(anchor["timing"]["cpu_ms_per_audio_s"])
    section = _anchor_table(load_results(RESULTS), anchors)
    assert "| synthetic voices (synthesizer's times) | pocketsphinx, given the transcript |" in section
    assert "| every clip | `words-all` (frame model, count inferred) |" in section


def _str_keys(value):
    if isinstance(value, dict):
        return {str(k): _str_keys(v) for k, v in value.items()}
    return value
