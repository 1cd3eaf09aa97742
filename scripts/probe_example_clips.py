"""The example clips a user tries first (``examples/*.wav`` with their exact word times), asked as
the CLI asks them. ``locate``: every word the models are asked about in training (not stop words),
each by its occurrence, through ``Stamper.locate``; a word counts when it is called present and its
time is within 50 ms. ``align``: every word start, with the clip's transcript and without it,
through ``Stamper.align``, matched one to one within 50 ms (``match_accuracy_optimal``).
Usage: CHECKPOINT locate|align OUT.json"""
import json, sys
from collections import Counter
from pathlib import Path

import torch
torch.set_num_threads(1)
import framestamp
from framestamp.evaluate.metrics import match_accuracy_optimal
from framestamp.inference.api import QuestionError
from framestamp.inference.engine import InferenceConfig
from framestamp.tasks import task_named

TOLERANCE_S = 0.05
EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
CLIPS = ("paragraph", "words")


def truth(clip: str) -> dict:
    return json.loads((EXAMPLES / f"{clip}.json").read_text())


def located(model, clip: str) -> dict:
    seen, rows = Counter(), []
    for segment in truth(clip)["segments"]:
        label = segment["label"]
        seen[label] += 1
        if not task_named("word").askable(label):
            continue
        asked = {"word": label, "occurrence": seen[label], "truth_s": segment["start_s"]}
        try:
            answer = model.locate(EXAMPLES / f"{clip}.wav", word=label, occurrence=seen[label])
        except QuestionError as error:  # a closed vocabulary cannot be asked about the word
            rows.append(asked | {"error": str(error), "within_50ms": False, "found": False})
            continue
        time_s = answer.times_s[0] if answer.times_s else None
        close = time_s is not None and abs(time_s - segment["start_s"]) <= TOLERANCE_S
        rows.append(asked | {"time_s": time_s, "presence_probability": answer.presence_probability,
                             "present": answer.present, "within_50ms": close, "found": close and answer.present})
    found = sum(r["found"] for r in rows)
    return {"n": len(rows), "not_askable": sum("error" in r for r in rows), "found": found,
            "within_50ms": sum(r["within_50ms"] for r in rows), "accuracy": found / len(rows), "words": rows}


def aligned(model, clip: str) -> dict:
    record = truth(clip)
    starts = [s["start_s"] for s in record["segments"]]
    result = {"n": len(starts)}
    for name, transcript in (("with_transcript", record["transcript"]), ("without_transcript", None)):
        predicted = [span.start_s for span in model.align(EXAMPLES / f"{clip}.wav", transcript=transcript).spans]
        placed = len(match_accuracy_optimal(predicted, starts, TOLERANCE_S)[0])
        result[name] = {"placed": placed, "accuracy": placed / len(starts), "n_predicted": len(predicted)}
    return result


if __name__ == "__main__":
    checkpoint, mode, out = sys.argv[1], sys.argv[2], Path(sys.argv[3])
    model = framestamp.load(checkpoint, device="cpu", config=InferenceConfig(progress=False))
    probe = {"locate": located, "align": aligned}[mode]
    result = {"checkpoint": checkpoint, "mode": mode, "tolerance_s": TOLERANCE_S,
              "clips": {clip: probe(model, clip) for clip in CLIPS}}
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1) + "\n")
    for clip, row in result["clips"].items():
        print(clip, {k: v for k, v in row.items() if k != "words"})
