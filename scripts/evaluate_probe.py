"""Evaluate a training checkpoint on the words test split through the engine, as reproduce does:
all clips and clips of at most 5 s; writes a JSON record (usage: CHECKPOINT RECIPE OUT LIMIT)."""
import json, sys, time
from dataclasses import replace
from pathlib import Path

import torch
torch.set_num_threads(1)
from framestamp.evaluate.run import evaluation_items, run
from framestamp.model import FrameStampModel
from framestamp.train.config import TrainConfig
from framestamp.train.loop import training_clips

checkpoint, recipe, out, limit = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
config = TrainConfig.load(recipe)
model = FrameStampModel.from_pretrained(checkpoint)
record = {"checkpoint": checkpoint, "recipe": recipe, "evaluations": []}
for split, max_s in (("test", None), ("test", 5.0)):
    clips = training_clips(replace(config.data, max_duration_s=max_s), split=split)
    items = evaluation_items(clips, "one", seed=0, limit=limit)
    started = time.time()
    result = run(model, items, batch_size=8, progress=False)
    record["evaluations"].append({"split": split, "max_duration_s": max_s, "n": len(items),
                                  "accuracy": result.metrics["accuracy"], "median_ae_s": result.metrics["median_ae_s"],
                                  "minutes": round((time.time() - started) / 60, 2)})
    print(record["evaluations"][-1], flush=True)
Path(out).write_text(json.dumps(record, indent=1) + "\n")
