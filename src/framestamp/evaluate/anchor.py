"""An anchor for the all-word-starts results: pocketsphinx forced alignment GIVEN the transcript.

The frame models answer "where does every word start" from the audio alone (the count inferred
from the intensity). A forced aligner is told the words, in order, and only places them; it is the
classic way to get word starts when the transcript is known, and the yardstick this module puts
beside the frame models. It answers the very questions the frame models are scored on: the
``all`` questions of the words ``test`` split of the ``words-all`` recipe's corpus
(``evaluate.run.evaluation_items(clips, "all", seed=0, limit=200)``), scored with the same
functions (``evaluate.metrics.all_events_metrics`` under each matching, and
``evaluate.standard.onset_f_measure`` at 50 ms).

The aligner is the corpus's own (``framestamp.corpus.align``): pocketsphinx's US-English model,
``Decoder(samprate=16000, bestpath=False)``, ``set_align_text`` with each segment's word
normalised as the corpus normalises transcripts, the audio padded with 0.3 s of faint noise, and
the start of a word after silence snapped to the energy onset. Where the search fails with the
default beams ("final result does not match the grammar": the right path was pruned), the clip is
aligned again with the widest beams; a clip that still fails gets no starts (its words count as
missed). Three variants are scored from the same decoding:

- ``aligner``: as above (default beams, then the wide retry; onsets snapped);
- ``no_snap``: the same alignments, every start where pocketsphinx put it (10 ms frames);
- ``default_beams``: only the first pass (a failed clip gets no starts).

Groups: every clip; the synthetic voices timed by their synthesizer (espeak-ng's word events,
Festival's utterance structure); synthetic voices whose truth this aligner made (Flite's clips, if
the corpus has them); and the recorded voice. **The recorded voice's truth, and Flite's, comes
from this aligner itself** (each prompt or sentence aligned alone, with the same snap), so there
the anchor is right by construction, up to aligning whole clips instead of pieces; only the
synthetic voices timed by their synthesizer test it. A clip's group follows its provenance
(``source``, and ``word_times`` naming pocketsphinx).

Cost: CPU time of the aligning thread (``time.thread_time``; pocketsphinx runs in the caller's
thread, one core), divided by the seconds of audio aligned, retries included; loading the model is
reported apart.

Run ``python -m framestamp.evaluate.anchor`` to write ``results/metrics/anchor-pocketsphinx.json``
(``--help`` for the options); ``reproduce.report`` shows it beside ``words-all``. With ``--split
test_unseen`` it aligns the open corpus's clips of held-out words instead
(``anchor-pocketsphinx-test_unseen.json``); with ``--corpus C`` the clips of built-in corpus ``C``
(``anchor-pocketsphinx[-SPLIT]-C.json``), so that the report finds forced alignment on the clips of
every corpus a model was asked about (``reproduce.stored.Anchors``).
"""

from __future__ import annotations

import argparse
import json
import math
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Sequence

import numpy as np

from ..audio import SAMPLE_RATE_HZ
from ..corpus.align import search_words, snap_onsets
from ..data.examples import Clip
from ..errors import MissingDependencyError
from .metrics import MATCHINGS, all_events_metrics, jsonable
from .run import EvalItem, evaluation_items

ANCHOR_NAME = "anchor-pocketsphinx"  # results/metrics/<this>.json
RECIPE = "words-all"  # the frame model the anchor stands beside, and whose test questions it answers
SPLIT, MODE, SEED, LIMIT = "test", "all", 0, 200  # as reproduce.plan's ALL evaluation
ONSET_WINDOW_S = 0.05
OPEN_SPLITS = {"test_unseen": "open"}  # splits only a corpus with open words has, and its size
VARIANTS = ("aligner", "no_snap", "default_beams")
GROUPS = ("all", "synthetic", "synthetic_aligned", "recorded")
RECORDED_SOURCES = ("asterisk",)  # provenance sources of recorded speech (truth from pocketsphinx)
ALIGNED_TRUTH = "pocketsphinx"  # in a clip's provenance "word_times" when this aligner made its truth
# The retry after a failed search: the widest beams, no per-frame caps on HMMs or words.
WIDE_BEAMS = {"beam": 1e-300, "wbeam": 1e-300, "pbeam": 1e-300, "maxhmmpf": -1, "maxwpf": -1}


def source_group(clip: Clip) -> str:
    """"recorded" for the recorded voice (asterisk prompts, pocketsphinx truth); for synthetic
    speech "synthetic_aligned" where pocketsphinx made the truth (Flite), else "synthetic"."""
    if str(clip.provenance.get("source", "")).startswith(RECORDED_SOURCES):
        return "recorded"
    return "synthetic_aligned" if ALIGNED_TRUTH in str(clip.provenance.get("word_times", "")) else "synthetic"


def segment_words(clip: Clip) -> list[list[str]]:
    """Per segment, the words the aligner is given for it, normalised as the corpus normalises
    transcripts (``corpus.sources.normalise_transcript``); [] for a label that is no word
    (``<unk>``), whose reference start the anchor then misses."""
    from ..corpus.sources import normalise_transcript

    return [normalise_transcript(segment.label) or [] for segment in clip.segments]


@dataclass
class ClipAlignment:
    """The aligner's answer for one clip: a start per segment, or None where it gave none."""

    starts_s: list[float | None]  # onsets snapped after silence (``aligner``)
    raw_starts_s: list[float | None]  # pocketsphinx's frame starts (``no_snap``)
    passes: int  # searches run: 1, or 2 after a failed first pass
    ok: bool  # whether a search ended in the transcript's words
    cpu_s: float  # thread CPU time of the searches and the snap

    def predictions(self, variant: str) -> list[float]:
        """The start times ``variant`` predicts (segments without a start left out)."""
        if variant == "default_beams" and self.passes > 1:
            return []
        starts = self.raw_starts_s if variant == "no_snap" else self.starts_s
        return [t for t in starts if t is not None]


class Aligner:
    """pocketsphinx as ``corpus.align`` configures it, with a wide-beam retry."""

    def __init__(self):
        from ..corpus.align import _decoder

        started = time.process_time()
        self.decoder = _decoder()  # a one-line error without pocketsphinx
        from pocketsphinx import Decoder

        self.wide = Decoder(samprate=SAMPLE_RATE_HZ, bestpath=False, loglevel="FATAL", **WIDE_BEAMS)
        self.load_cpu_s = time.process_time() - started

    @staticmethod
    def version() -> str:
        from importlib.metadata import version

        return version("pocketsphinx")

    def align(self, clip: Clip) -> ClipAlignment:
        """Word starts of ``clip``'s segments, given their words."""
        words = segment_words(clip)
        flat = [w for ws in words for w in ws]
        n = len(words)
        started = time.thread_time()
        if not flat or any(self.decoder.lookup_word(w) is None for w in flat):
            return ClipAlignment([None] * n, [None] * n, 0, False, time.thread_time() - started)
        audio = np.asarray(clip.audio, dtype=np.float64)
        aligned, passes = None, 0
        for decoder in (self.decoder, self.wide):
            passes += 1
            aligned = search_words(decoder, audio, flat)
            if aligned is not None:
                break
        if aligned is None:
            return ClipAlignment([None] * n, [None] * n, passes, False, time.thread_time() - started)
        snapped = snap_onsets(audio, aligned)
        raw, starts, k = [None] * n, [None] * n, 0
        for i, ws in enumerate(words):  # a segment starts where its first word does
            if ws:
                raw[i], starts[i] = aligned[k][0], snapped[k]
                k += len(ws)
        return ClipAlignment(starts, raw, passes, True, time.thread_time() - started)


def _shipped_recipe(name: str, corpus: str | None):
    """Recipe ``name`` of the shipped plan's preset (its corpus overridden by ``corpus``)."""
    from ..reproduce.plan import FULL, recipe

    return recipe(name, corpus=corpus, preset=FULL[0].preset)


def anchor_items(
    recipe: str = RECIPE, split: str = SPLIT, limit: int | None = LIMIT, corpus: str | None = None
) -> list[EvalItem]:
    """The questions ``reproduce`` asks ``recipe``'s model in "all" mode on ``split``: the same
    clips (every length, as ``reproduce.run.evaluate_experiment`` loads them) and queries."""
    from ..train.loop import training_clips

    config = _shipped_recipe(recipe, corpus)
    clips = training_clips(replace(config.data, max_duration_s=None), split=split)
    return evaluation_items(clips, MODE, seed=SEED, limit=limit)


def score(references: Sequence[Sequence[float]], predictions: Sequence[Sequence[float]]) -> dict:
    """The frame models' all-word-starts scores (``reproduce.run.describe``): Hungarian L1 metrics,
    every matching, and mir_eval's onset F-measure at 50 ms (an "error" entry without mir_eval)."""
    references, predictions = [list(r) for r in references], [list(p) for p in predictions]
    record = {
        "n": len(references),
        "metrics": jsonable(all_events_metrics(predictions, references)),
        "by_matching": {m: jsonable(all_events_metrics(predictions, references, m)) for m in MATCHINGS},
    }
    try:
        from .standard import onset_f_measure

        record["onset_f_measure_50ms"] = jsonable(onset_f_measure(references, predictions, ONSET_WINDOW_S))
    except (ImportError, MissingDependencyError) as error:
        record["onset_f_measure_50ms"] = {"error": str(error)}
    return record


def group_rows(items: Sequence[EvalItem]) -> dict[str, list[int]]:
    """{group: indices of its items} for ``GROUPS``, empty groups left out."""
    rows = {"all": list(range(len(items)))}
    for i, item in enumerate(items):
        rows.setdefault(source_group(item.clip), []).append(i)
    return {g: rows[g] for g in GROUPS if rows.get(g)}


def evaluate_anchor(items: Sequence[EvalItem], aligner: Aligner | None = None) -> dict:
    """Align every item's clip and score each variant in each group; JSON-ready.

    Returns:
        dict with ``groups`` ({group: {"n", "n_words", "audio_s", "sources", "word_times", "variants":
        {variant: score record, plus "n_failed" (clips without starts) and
        "accuracy_answered_clips" (Hungarian accuracy over the other clips)}}}), ``timing``,
        ``alignment`` (searches that succeeded, retried and failed clips) and a few ``examples``.
    """
    aligner = aligner or Aligner()
    alignments = [aligner.align(item.clip) for item in items]
    references = [list(item.query.targets_s) for item in items]
    groups = {}
    for group, rows in group_rows(items).items():
        variants = {}
        for variant in VARIANTS:
            record = score([references[i] for i in rows], [alignments[i].predictions(variant) for i in rows])
            answered = [i for i in rows if alignments[i].predictions(variant)]
            record["n_failed"] = len(rows) - len(answered)
            record["accuracy_answered_clips"] = jsonable(all_events_metrics(
                [alignments[i].predictions(variant) for i in answered], [references[i] for i in answered])["accuracy"])
            variants[variant] = record
        groups[group] = {
            "n": len(rows),
            "n_words": sum(len(references[i]) for i in rows),
            "audio_s": round(sum(items[i].clip.duration_s for i in rows), 3),
            "sources": sorted({str(items[i].clip.provenance.get("source", "unknown")) for i in rows}),
            "word_times": sorted({str(items[i].clip.provenance.get("word_times", "unknown")) for i in rows}),
            "variants": variants,
        }
    audio_s = sum(item.clip.duration_s for item in items)
    cpu_s = sum(a.cpu_s for a in alignments)
    per_clip = [a.cpu_s / item.clip.duration_s * 1000 for a, item in zip(alignments, items) if item.clip.duration_s]
    return {
        "groups": groups,
        "timing": {
            "cpu_ms_per_audio_s": cpu_s / audio_s * 1000 if audio_s else math.nan,
            "median_clip_cpu_ms_per_audio_s": float(np.median(per_clip)) if per_clip else math.nan,
            "cpu_s": cpu_s,
            "audio_s": audio_s,
            "threads": 1,
            "clock": "time.thread_time of the aligning thread: searches (retries included) and the onset snap",
            "model_load_cpu_s": aligner.load_cpu_s,
        },
        "alignment": {
            "first_pass_ok": sum(a.ok and a.passes == 1 for a in alignments),
            "retried_ok": sum(a.ok and a.passes > 1 for a in alignments),
            "failed": sum(not a.ok for a in alignments),
            "retried_clips": [item.clip.id for a, item in zip(alignments, items) if a.passes > 1],
            "failed_clips": [item.clip.id for a, item in zip(alignments, items) if not a.ok],
            "wide_beams": WIDE_BEAMS,
        },
        "examples": [
            {"clip": item.clip.id, "group": source_group(item.clip), "target_s": references[i][:8],
             "predicted_s": [round(t, 3) for t in alignments[i].predictions("aligner")[:8]]}
            for i, item in enumerate(items[:5])
        ],  # fmt: skip
    }


def frame_model_by_group(items: Sequence[EvalItem], checkpoint: str | Path = RECIPE) -> dict:
    """The frame model's scores on the same items in each group (``evaluate.run.run``, count
    inferred): what its stored record (overall only) does not break down. ``checkpoint``: a
    shipped name or a path."""
    from ..inference.api import resolve_checkpoint
    from ..model import FrameStampModel
    from .run import run

    path = resolve_checkpoint(checkpoint)
    result = run(FrameStampModel.from_pretrained(path), items, batch_size=8, progress=False)
    predictions = [list(map(float, p.times_s)) for p in result.predictions]
    references = [list(item.query.targets_s) for item in items]
    return {
        "checkpoint": str(checkpoint),
        "groups": {
            group: score([references[i] for i in rows], [predictions[i] for i in rows])
            for group, rows in group_rows(items).items()
        },
    }


def anchor_summary(
    items: Sequence[EvalItem], corpus: str, aligner: Aligner | None = None,
    frame_checkpoint: str | Path | None = RECIPE, split: str = SPLIT,
) -> dict:  # fmt: skip
    """Everything ``results/metrics/anchor-pocketsphinx.json`` holds."""
    from ..corpus.build import build_size

    aligner = aligner or Aligner()
    summary = {
        "anchor": "pocketsphinx forced alignment given the transcript",
        "pocketsphinx": aligner.version(),
        "corpus": corpus,
        "corpus_size": build_size(corpus),
        "recipe": RECIPE,
        "split": split,
        "mode": MODE,
        "seed": SEED,
        "n_clips": len(items),
        "variants": {
            "aligner": "corpus.align's procedure: default beams, a wide-beam retry, onsets after silence snapped",
            "no_snap": "the same alignments, pocketsphinx's own frame starts",
            "default_beams": "first pass only: a clip whose search fails gets no starts",
        },
        **evaluate_anchor(items, aligner),
    }
    if frame_checkpoint is not None:
        summary["frame_model"] = frame_model_by_group(items, frame_checkpoint)
    return summary


def anchor_file_name(split: str = SPLIT, corpus: str | None = None) -> str:
    """The anchor's metrics file name (without ``.json``) for ``split`` (``ANCHOR_NAME`` for test) of
    the built-in corpus ``corpus`` when one is named (the recipe's own when not)."""
    name = ANCHOR_NAME if split == SPLIT else f"{ANCHOR_NAME}-{split}"
    return f"{name}-{corpus}" if corpus else name


def corpus_name(recipe: str = RECIPE, corpus: str | None = None) -> str:
    """The corpus the recipe's clips come from: its build directory for the built-in corpus."""
    from ..corpus.config import SIZES
    data = _shipped_recipe(recipe, corpus).data
    if data.corpus not in SIZES:
        return Path(data.corpus).name if Path(data.corpus).is_dir() else data.corpus
    from ..corpus import build_corpus

    return Path(build_corpus(data.corpus, seed=data.seed, progress=False)).name  # the cached build


def main(argv: Sequence[str] | None = None) -> Path:
    parser = argparse.ArgumentParser(prog="python -m framestamp.evaluate.anchor", description=__doc__.split("\n")[0])
    parser.add_argument("--results-dir", default="results", help="writes <dir>/metrics/anchor-pocketsphinx.json")
    parser.add_argument("--corpus", default=None, help="override the recipe's corpus (a size, or a build directory)")
    parser.add_argument("--limit", type=int, default=LIMIT, help="questions (clips), as reproduce asks")
    parser.add_argument("--split", default=SPLIT, help="the corpus split whose clips are aligned (test_unseen: the "
                                                       "open corpus's, unless --corpus says otherwise)")
    parser.add_argument("--frame-checkpoint", default=RECIPE,
                        help="frame model to break down by group on the same clips ('' to skip)")  # fmt: skip
    args = parser.parse_args(argv)
    import torch

    torch.set_num_threads(1)
    corpus = args.corpus or OPEN_SPLITS.get(args.split)
    items = anchor_items(split=args.split, limit=args.limit, corpus=corpus)
    summary = anchor_summary(items, corpus_name(corpus=corpus), frame_checkpoint=args.frame_checkpoint or None,
                             split=args.split)  # fmt: skip
    named = (summary["corpus_size"] or Path(str(summary["corpus"])).name) if args.corpus else None
    name = anchor_file_name(args.split, named)
    path = Path(args.results_dir) / "metrics" / f"{name}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(jsonable(summary), indent=1) + "\n")
    for group, record in summary["groups"].items():
        m = record["variants"]["aligner"]["metrics"]["accuracy"]
        print(f"{group}: {record['n']} clips, {record['n_words']} words; within 20/50/100 ms "
              f"{m['0.02']:.1%} / {m['0.05']:.1%} / {m['0.1']:.1%}")  # fmt: skip
    print(f"{summary['timing']['cpu_ms_per_audio_s']:.1f} CPU ms per second of audio; wrote {path}")
    return path


if __name__ == "__main__":
    main()
