"""Why "present" holds worse on long recordings (the plan's ``presence_long`` check), and whether
a threshold that grows with the number of windows helps. For each present and absent question
about test clips and about 20-120 s recordings joined from them, the P(present) of every window
(the engine's decision: present when any window reaches the threshold). Two rules on the same
numbers: the checkpoint's threshold t for any length ("max"), and a threshold per number of
windows n that keeps an absent recording's false "present" at one window's ("per-window"):
t_n = Q(F(t) ** (1 / n)), F and Q the distribution and quantiles of absent windows' P(present)
on dev questions (short and joined, as the threshold is fitted). Per-window P(present) is the
engine's evidence for a 1st occurrence only: a k-th one (k > 1; half the absent questions ask for
one more occurrence than the clip holds) is decided by counting occurrences across windows
(``Engine.occurrences``), so the two rules are compared on 1st-occurrence questions, and every
question's own engine decision (``Engine.answer``) is reported beside them. Usage: CHECKPOINT N
OUT.json [CORPUS] (the built-in corpus size the clips come from: default, or open for the
open-vocabulary models)."""
import json, sys
from pathlib import Path

import numpy as np
import torch
torch.set_num_threads(1)
from framestamp.data import load_subset
from framestamp.evaluate.presence import presence_items, presence_metrics
from framestamp.evaluate.robustness import long_presence_items
from framestamp.evaluate.run import answer_token_budget, ask_of
from framestamp.inference.api import resolve_checkpoint
from framestamp.inference.engine import Engine, InferenceConfig
from framestamp.model import FrameStampModel


def window_presence(engine, model, items):
    """Per item: whether its answer is in the recording, the occurrence asked for, the engine's
    P(present), and (1st occurrences) every window's P(present)."""
    rows = []
    for item in items:
        ask = ask_of(item.query, False, answer_token_budget(model, item.query), None)
        engine_p = engine.answer([item.clip.audio], [ask])[0].presence_probability
        presence = engine.part_presence(engine.scores(item.clip.audio, [ask.question])) if ask.k == 1 else None
        rows.append({"present": item.query.n_events > 0, "k": ask.k, "seconds": item.clip.duration_s,
                     "engine": engine_p, "windows": presence})
    return rows


def decide(rows, threshold_for):
    return [max(r["windows"]) >= threshold_for(len(r["windows"])) for r in rows]


checkpoint, n, out = sys.argv[1], int(sys.argv[2]), Path(sys.argv[3])
corpus = f"builtin:{sys.argv[4] if len(sys.argv) > 4 else 'default'}:0"
model = FrameStampModel.from_pretrained(resolve_checkpoint(checkpoint))
engine = Engine(model, InferenceConfig(progress=False))
threshold = engine.presence_threshold
test = load_subset(corpus, "words", "test")
dev = load_subset(corpus, "words", "dev")
dev_items = presence_items(dev, seed=0, limit=n)
dev_items += long_presence_items(dev, len(dev_items), seed=0)
null = np.sort([p for r in window_presence(engine, model, dev_items) if not r["present"] and r["k"] == 1
                for p in r["windows"]])
below_t = float(np.mean(null < threshold))  # F(t): an absent window stays under t


def per_window(n_windows: int) -> float:
    return float(np.quantile(null, below_t ** (1.0 / n_windows))) if n_windows > 1 else threshold


groups = {"short": window_presence(engine, model, presence_items(test, seed=0, limit=n)),
          "long": window_presence(engine, model, long_presence_items(test, n, seed=0))}
summary = {"checkpoint": str(checkpoint), "corpus": corpus, "threshold": threshold, "n_null_windows": int(null.size),
           "absent_window_below_threshold": below_t,
           "per_window_thresholds": {k: per_window(k) for k in range(1, 9)}}


def recalls(truth, called):
    # presence_metrics at 0.5 on 0/1 calls: recalls of the rule's own decisions
    record = presence_metrics(truth, [float(c) for c in called], 0.5)
    return {key: value for key, value in record.items() if key not in ("auc", "threshold")}


firsts = {name: [r for r in rows if r["k"] == 1] for name, rows in groups.items()}
summary["rules (1st occurrences)"] = {}
for rule, threshold_for in (("max", lambda k: threshold), ("per-window", per_window)):
    record = {name: recalls([r["present"] for r in rows], decide(rows, threshold_for)) for name, rows in firsts.items()}
    record["balanced_accuracy_drop"] = record["short"]["balanced_accuracy"] - record["long"]["balanced_accuracy"]
    summary["rules (1st occurrences)"][rule] = record
engine_record = {name: recalls([r["present"] for r in rows], [r["engine"] >= threshold for r in rows])
                 for name, rows in groups.items()}  # fmt: skip
engine_record["balanced_accuracy_drop"] = engine_record["short"]["balanced_accuracy"] - engine_record["long"]["balanced_accuracy"]
summary["engine (every question)"] = engine_record
for name, rows in groups.items():  # threshold-free: how well P(present) ranks present above absent
    summary[f"auc_{name}"] = presence_metrics([r["present"] for r in rows], [r["engine"] for r in rows])["auc"]
    summary[f"auc_{name}_1st_largest_window"] = presence_metrics(
        [r["present"] for r in firsts[name]], [max(r["windows"]) for r in firsts[name]])["auc"]
out.write_text(json.dumps({"summary": summary, "questions": groups}, indent=1) + "\n")
print(json.dumps(summary, indent=1))
