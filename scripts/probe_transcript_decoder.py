"""Probe: what a transcript adds to an all-words model's word starts, and the transcript decoder's gap prior.

The every-word questions of a split (as ``framestamp reproduce`` asks them), scored once per clip
through the engine users run (windowed where a clip is longer than a window) and answered from the
same scores: the count inferred (round(Lambda)), the count given (the peak decoder's n highest
peaks) and the transcript given (``framestamp.decoders_transcript``), the last with each gap prior
of ``PRIORS``; with ``--grid SPLIT``, also every prior of a grid on that split (the one to choose
the defaults on: dev). Scored within 50 ms under Hungarian L1 and positional matching (the i-th
start against the i-th word).

    python scripts/probe_transcript_decoder.py CHECKPOINT --split dev:open --split test:open \
        --split test:default --split test_unseen:open --grid dev:open --long 120 --long 300 --long 3600 \
        -o results/probes/transcript-decoder-open.json
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import time
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np

from framestamp.decoders_transcript import GapPrior, candidates, decode_transcript_starts, peak_starts
from framestamp.evaluate.metrics import all_events_metrics
from framestamp.evaluate.run import ask_of, evaluation_items, spoken_words
from framestamp.inference.engine import Engine
from framestamp.model import FrameStampModel
from framestamp.reproduce.plan import recipe
from framestamp.train.loop import training_clips

PRIORS = {"one normal (sigma 0.7)": GapPrior(sigma=0.7, pause_share=0.0), "with pauses (default)": GapPrior()}
# The decoder on long recordings: as it is, and without what keeps it on track there.
LONG_VARIANTS = {"default": {}, "no band": {"band": np.inf}, "no band, beam 2048": {"band": np.inf, "beam": 2048},
                 "one normal (sigma 0.7)": {"prior": PRIORS["one normal (sigma 0.7)"]}}  # fmt: skip
GRID = [GapPrior(sigma, share, shift, spread) for sigma, share, (shift, spread) in
        itertools.product((0.4, 0.5, 0.6), (0.1, 0.2, 0.35), ((0.7, 1.0), (1.0, 1.0), (1.0, 1.5), (1.5, 1.5)))]  # fmt: skip


def within_50ms(predictions: list[list[float]], references: list[list[float]]) -> dict[str, float]:
    return {matching: all_events_metrics(predictions, references, matching)["accuracy"][0.05]
            for matching in ("hungarian_l1", "positional")}  # fmt: skip


def candidate_recall(curves, references, model) -> float:
    """The share of word starts with a candidate of the transcript decoder within 50 ms: what
    choosing among the candidates could reach at best (each candidate used once or more)."""
    found = []
    for curve, starts in zip(curves, references):
        times, _ = candidates(curve, model.frame_rate_hz, peak_starts(curve, len(starts), model.frame_rate_hz))
        found += [bool(np.min(np.abs(times - start)) <= 0.05) for start in starts]
    return float(np.mean(found))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("checkpoint")
    parser.add_argument("--split", action="append", required=True, help="SPLIT:CORPUS (a built-in corpus size)")
    parser.add_argument("--grid", default=None, help="SPLIT:CORPUS on which every prior of the grid is tried")
    parser.add_argument("--limit", type=int, default=200)
    parser.add_argument("--long", type=float, action="append", default=[],
                        help="also align one recording of about this many seconds of test clips joined end to end")
    parser.add_argument("-o", "--output", type=Path, required=True)
    args = parser.parse_args()
    model = FrameStampModel.from_pretrained(args.checkpoint).eval()
    engine = Engine(model)
    data = recipe("words-all", preset="tiny").data
    record = {"command": "python scripts/probe_transcript_decoder.py " + " ".join(sys.argv[1:]),
              "checkpoint": args.checkpoint, "model": model.config.to_dict(),
              "limit": args.limit, "priors": {k: asdict(p) for k, p in PRIORS.items()}, "splits": {}}  # fmt: skip
    for asked in args.split:
        split, _, corpus = asked.partition(":")
        clips = training_clips(replace(data, corpus=corpus, max_duration_s=None), split=split)
        items = evaluation_items(clips, "all", seed=0, limit=args.limit)
        references = [list(item.query.targets_s) for item in items]
        started = time.process_time()
        rows = [engine.scores(item.clip.audio, [item.query.question]).scores[0] for item in items]
        scoring_s = time.process_time() - started
        curves = [engine.head.curve(row) for row in rows]
        words = [spoken_words(item) for item in items]
        ways = {way: within_50ms([list(engine.decode(row, ask_of(item.query, known)).times_s)
                                  for row, item in zip(rows, items)], references)
                for way, known in (("count inferred", False), ("count given", True))}  # fmt: skip

        def aligned(prior: GapPrior) -> dict[str, float]:
            return within_50ms([list(decode_transcript_starts(curve, [len(w) for w in said], model.frame_rate_hz,
                                                              prior=prior))
                                for curve, said in zip(curves, words)], references)  # fmt: skip

        for name, prior in PRIORS.items():
            ways[f"transcript given, {name}"] = aligned(prior)
        record["splits"][asked] = {"clips": len(items), "scoring_cpu_s": scoring_s, "within_50ms": ways,
                                   "candidate_recall_50ms": candidate_recall(curves, references, model)}
        if asked == args.grid:
            record["grid"] = {"split": asked, "priors": [asdict(p) | aligned(p) for p in GRID]}
        print(asked, json.dumps(ways), flush=True)
    for seconds in args.long:
        record.setdefault("long", {})[f"{seconds:g}"] = long_recording_alignment(engine, model, data, seconds)
        print(f"long {seconds:g} s", json.dumps(record["long"][f"{seconds:g}"]), flush=True)
    args.output.write_text(json.dumps(record, indent=1) + "\n")


def long_recording_alignment(engine, model, data, seconds: float) -> dict:
    """One recording of the open corpus's test clips joined end to end (as the bench's long
    alignment makes it), aligned with its transcript with each prior and beam: within 50 ms, and
    what the candidates allow."""
    from framestamp.bench.long_align import long_recording
    from framestamp.tasks import task_named

    pool = training_clips(replace(data, corpus="open", max_duration_s=None), split="test")
    recording = long_recording(pool, seconds, 0)
    words = [segment.label for segment in recording.segments]
    truth = np.array([segment.start_s for segment in recording.segments])
    curve = engine.head.curve(engine.scores(recording.audio, [task_named("word").all_question("start")]).scores[0])
    out = {"audio_s": len(recording.audio) / 16000, "words": len(words),
           "candidate_recall_50ms": candidate_recall([curve], [list(truth)], model)}  # fmt: skip
    for name, options in LONG_VARIANTS.items():
        starts = decode_transcript_starts(curve, [len(w) for w in words], model.frame_rate_hz, **options)
        out[name] = float(np.mean(np.abs(starts - truth) <= 0.05))
    return out


if __name__ == "__main__":
    main()
