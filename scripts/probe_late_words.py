"""Why single questions on 2-minute recordings miss (the plan's ``late_words`` check): for each
question, the P(present) of every window, the window the engine answers from (the first one at
or above the checkpoint's threshold) and the window that holds the word's first occurrence. A
miss is the decision's (another window answered) or the window's own (the right window, the
wrong time). Usage: CHECKPOINT N_QUESTIONS OUT.json"""
import json, sys
from pathlib import Path

import numpy as np
import torch
torch.set_num_threads(1)
from framestamp.data import load_subset
from framestamp.evaluate.robustness import late_word_items
from framestamp.evaluate.run import answer_token_budget, ask_of
from framestamp.inference.api import resolve_checkpoint
from framestamp.inference.engine import Engine, InferenceConfig
from framestamp.model import FrameStampModel

TOLERANCE_S = 0.05


def window_of(regions, time_s):
    return next((i for i, (start, end) in enumerate(regions) if start <= time_s < end), len(regions) - 1)


checkpoint, n, out = sys.argv[1], int(sys.argv[2]), Path(sys.argv[3])
model = FrameStampModel.from_pretrained(resolve_checkpoint(checkpoint))
engine = Engine(model, InferenceConfig(progress=False))
threshold = engine.presence_threshold
questions = []
for group, items in late_word_items(load_subset("builtin:default:0", "words", "test"), n).items():
    for item in items:
        ask = ask_of(item.query, False, answer_token_budget(model, item.query), None)
        long = engine.scores(item.clip.audio, [ask.question])
        row, rate = long.scores[0], long.frame_rate_hz
        parts = [(first, last) for first, last in long.regions if last > first]
        regions = [(first / rate, last / rate) for first, last in parts]
        presence = [engine.head.presence_probability(row[a:b], rate) for a, b in parts]
        local = [float(engine.decode(row[a:b], ask).times_s[0]) + a / rate for a, b in parts]
        truth = float(item.query.targets_s[0])
        answered = next((i for i, p in enumerate(presence) if p >= threshold), None)
        holds = window_of(regions, truth)
        questions.append({"group": group, "truth_s": truth, "windows": regions, "presence": presence,
                          "local_s": local, "answered_window": answered, "truth_window": holds})
summary = {"checkpoint": str(checkpoint), "threshold": threshold, "by_group": {}}
for group in dict.fromkeys(q["group"] for q in questions):
    mine = [q for q in questions if q["group"] == group]
    right_window = [abs(q["local_s"][q["truth_window"]] - q["truth_s"]) <= TOLERANCE_S for q in mine]
    decided_right = [q["answered_window"] == q["truth_window"] for q in mine]
    summary["by_group"][group] = {
        "n": len(mine),
        "answered_from_the_truths_window": float(np.mean(decided_right)),
        "within_50ms_if_the_truths_window_answered": float(np.mean(right_window)),
        "no_window_present": float(np.mean([q["answered_window"] is None for q in mine])),
        "earlier_window_answered": float(np.mean([q["answered_window"] is not None
                                                  and q["answered_window"] < q["truth_window"] for q in mine])),
    }
out.write_text(json.dumps({"summary": summary, "questions": questions}, indent=1) + "\n")
print(json.dumps(summary, indent=1))
