"""The robustness checks of the pre-trained plan (reproduce.plan.ROBUSTNESS) on one checkpoint, with its
own presence threshold (as a user gets it); writes a JSON record (usage: CHECKPOINT OUT)."""
import json, sys, time
from pathlib import Path

import torch
torch.set_num_threads(1)
from framestamp.data import load_subset
from framestamp.inference.api import resolve_checkpoint
from framestamp.model import FrameStampModel
from framestamp.reproduce.plan import ROBUSTNESS
from framestamp.reproduce.run import evaluate_robustness

checkpoint, out = sys.argv[1], sys.argv[2]
model = FrameStampModel.from_pretrained(resolve_checkpoint(checkpoint))
clips = load_subset("builtin:default:0", "words", "test")
record = {"checkpoint": str(checkpoint), "corpus": "builtin:default:0", "checks": []}
for spec in ROBUSTNESS:
    started = time.time()
    result = evaluate_robustness(spec, model, clips)
    result["minutes"] = round((time.time() - started) / 60, 2)
    record["checks"].append(result)
    print(spec.mode, json.dumps(result["metrics"]), result["minutes"], "min", flush=True)
Path(out).write_text(json.dumps(record, indent=1) + "\n")
