"""Why single questions on 2-minute recordings miss (the plan's ``late_words`` check): for each
question, the P(present) of every window, the window each rule of ``InferenceConfig.first_window``
answers from ("first-present": the first one at or above the checkpoint's threshold;
"likeliest": ``engine.likeliest_first``) and the window that holds the word's first occurrence.
A miss is the decision's (another window answered) or the window's own (the right window, the
wrong time). Usage: CHECKPOINT N_QUESTIONS OUT.json [CORPUS] (the built-in corpus size the clips
come from: default, or open for the open-vocabulary models)."""
import json, sys
from pathlib import Path

import numpy as np
import torch
torch.set_num_threads(1)
from framestamp.data import load_subset
from framestamp.evaluate.robustness import late_word_items
from framestamp.evaluate.run import answer_token_budget, ask_of
from framestamp.inference.api import resolve_checkpoint
from framestamp.inference.engine import FIRST_WINDOW_RULES, Engine, InferenceConfig, likeliest_first
from framestamp.model import FrameStampModel

TOLERANCE_S = 0.05


def window_of(regions, time_s):
    return next((i for i, (start, end) in enumerate(regions) if start <= time_s < end), len(regions) - 1)


checkpoint, n, out = sys.argv[1], int(sys.argv[2]), Path(sys.argv[3])
corpus = f"builtin:{sys.argv[4] if len(sys.argv) > 4 else 'default'}:0"
model = FrameStampModel.from_pretrained(resolve_checkpoint(checkpoint))
engine = Engine(model, InferenceConfig(progress=False))
threshold = engine.presence_threshold
questions = []
for group, items in late_word_items(load_subset(corpus, "words", "test"), n).items():
    for item in items:
        ask = ask_of(item.query, False, answer_token_budget(model, item.query), None)
        long = engine.scores(item.clip.audio, [ask.question])
        row, rate = long.scores[0], long.frame_rate_hz
        parts = [(first, last) for first, last in long.regions if last > first]
        regions = [(first / rate, last / rate) for first, last in parts]
        presence = engine.part_presence(long)
        local = [float(engine.decode(row[a:b], ask).times_s[0]) + a / rate for a, b in parts]
        anywhere = float(engine.decode(row, ask).times_s[0])  # the answer when no window is present
        truth = float(item.query.targets_s[0])
        answered = {"first-present": next((i for i, p in enumerate(presence) if p >= threshold), None),
                    "likeliest": likeliest_first(presence, threshold)}
        holds = window_of(regions, truth)
        questions.append({"group": group, "truth_s": truth, "windows": regions, "presence": presence,
                          "local_s": local, "anywhere_s": anywhere, "answered_window": answered, "truth_window": holds})
summary = {"checkpoint": str(checkpoint), "corpus": corpus, "threshold": threshold, "by_group": {}}
for group in dict.fromkeys(q["group"] for q in questions):
    mine = [q for q in questions if q["group"] == group]
    right_window = [abs(q["local_s"][q["truth_window"]] - q["truth_s"]) <= TOLERANCE_S for q in mine]
    record = {"n": len(mine), "within_50ms_if_the_truths_window_answered": float(np.mean(right_window))}
    for rule in FIRST_WINDOW_RULES:
        chosen = [q["answered_window"][rule] for q in mine]
        record[rule] = {
            "within_50ms": float(np.mean([abs((q["anywhere_s"] if c is None else q["local_s"][c]) - q["truth_s"])
                                          <= TOLERANCE_S for q, c in zip(mine, chosen)])),
            "answered_from_the_truths_window": float(np.mean([c == q["truth_window"] for q, c in zip(mine, chosen)])),
            "no_window_present": float(np.mean([c is None for c in chosen])),
            "earlier_window_answered": float(np.mean([c is not None and c < q["truth_window"]
                                                      for q, c in zip(mine, chosen)])),
        }
    summary["by_group"][group] = record
out.write_text(json.dumps({"summary": summary, "questions": questions}, indent=1) + "\n")
print(json.dumps(summary, indent=1))
