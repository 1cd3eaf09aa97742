"""Probe: what a transcript adds to an all-words model's word starts.

The every-word questions of a split (as ``framestamp reproduce`` asks them), answered three ways
through the engine users run: the count inferred (round(Lambda)), the count given (the peak
decoder's n highest peaks) and the transcript given (``framestamp.decoders_transcript``). Scored
within 50 ms under Hungarian L1 and positional matching (the i-th start against the i-th word).

    python scripts/probe_transcript_decoder.py CHECKPOINT --split dev --split test --corpus default \
        --split test_unseen:open -o results/probes/transcript-decoder.json
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import replace
from pathlib import Path

from framestamp.evaluate.metrics import all_events_metrics
from framestamp.evaluate.run import evaluation_items, run
from framestamp.model import FrameStampModel
from framestamp.reproduce.plan import recipe
from framestamp.train.loop import training_clips

WAYS = {"count inferred": {}, "count given": {"known_count": True}, "transcript given": {"transcript": True}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("checkpoint")
    parser.add_argument("--split", action="append", required=True, help="SPLIT or SPLIT:CORPUS")
    parser.add_argument("--corpus", default="default", help="the built-in corpus of splits that name none")
    parser.add_argument("--limit", type=int, default=200)
    parser.add_argument("-o", "--output", type=Path, required=True)
    args = parser.parse_args()
    model = FrameStampModel.from_pretrained(args.checkpoint)
    data = recipe("words-all", preset="tiny").data
    record = {"checkpoint": args.checkpoint, "limit": args.limit, "splits": {}}
    for asked in args.split:
        split, _, corpus = asked.partition(":")
        clips = training_clips(replace(data, corpus=corpus or args.corpus, max_duration_s=None), split=split)
        items = evaluation_items(clips, "all", seed=0, limit=args.limit)
        references = [list(item.query.targets_s) for item in items]
        ways = {}
        for way, options in WAYS.items():
            started = time.process_time()
            result = run(model, items, progress=False, **options)
            predictions = [list(p.times_s) for p in result.predictions]
            ways[way] = {matching: all_events_metrics(predictions, references, matching)["accuracy"][0.05]
                         for matching in ("hungarian_l1", "positional")}  # fmt: skip
            ways[way]["cpu_s"] = time.process_time() - started
            print(asked, way, ways[way], flush=True)
        record["splits"][asked if corpus else f"{split}:{args.corpus}"] = {"clips": len(items), "within_50ms": ways}
    args.output.write_text(json.dumps(record, indent=1) + "\n")


if __name__ == "__main__":
    main()
