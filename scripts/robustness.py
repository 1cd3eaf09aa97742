"""The robustness checks of framestamp.evaluate.robustness on one checkpoint, with its own presence
threshold (as a user gets it); writes a JSON record (usage: CHECKPOINT OUT [N_NONSPEECH] [N_OTHERS])."""
import json, sys, time
from pathlib import Path

import torch
torch.set_num_threads(1)
from framestamp.data import load_subset
from framestamp.decoding import presence_threshold
from framestamp.evaluate import robustness
from framestamp.inference.api import resolve_checkpoint
from framestamp.model import FrameStampModel

checkpoint, out = sys.argv[1], sys.argv[2]
n_nonspeech = int(sys.argv[3]) if len(sys.argv) > 3 else 100
n_others = int(sys.argv[4]) if len(sys.argv) > 4 else 200
path = resolve_checkpoint(checkpoint)
model = FrameStampModel.from_pretrained(path)
clips = load_subset("builtin:default:0", "words", "test")
threshold = presence_threshold(model.config)
record = {"checkpoint": str(checkpoint), "threshold": threshold, "corpus": "builtin:default:0", "checks": []}
for name, check in (("nonspeech", lambda: robustness.nonspeech(model, clips, threshold, n_nonspeech)),
                    ("presence_long", lambda: robustness.presence_long(model, clips, threshold, n_others)),
                    ("late_words", lambda: robustness.late_words(model, clips, n_others))):
    started = time.time()
    result = check()
    result["minutes"] = round((time.time() - started) / 60, 2)
    record["checks"].append(result)
    print(name, json.dumps(result["metrics"]), result["minutes"], "min", flush=True)
Path(out).write_text(json.dumps(record, indent=1) + "\n")
