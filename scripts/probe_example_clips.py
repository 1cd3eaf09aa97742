"""The example clips a user tries first (``examples/*.wav`` with their exact word times), asked as
the CLI asks them. ``locate``: every word the models are asked about in training (not stop words),
each by its occurrence, through ``Stamper.locate``; a word counts when it is called present and its
time is within 50 ms. ``align``: every word start, with the clip's transcript and without it,
through ``Stamper.align``, matched one to one within 50 ms (``match_accuracy_optimal``).
``speakers`` and ``events``: the speakers and events example clips, each speaker's first turn
(within 100 ms) and each event by class and occurrence (within 50 ms), and what ``diarize`` returns.
Usage: CHECKPOINT locate|align|speakers|events OUT.json"""
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


def speakers_located(model, clip: str) -> dict:
    """Each speaker's first turn through ``locate --speaker k`` (found: present and within 100 ms),
    and the onsets ``diarize`` returns."""
    first_turns = {}
    for segment in truth(clip)["segments"]:
        first_turns.setdefault(segment["label"], segment["start_s"])
    rows = []
    for k, start_s in enumerate(first_turns.values(), 1):
        answer = model.locate(EXAMPLES / f"{clip}.wav", speaker=k)
        close = bool(answer.times_s) and abs(answer.times_s[0] - start_s) <= SPEAKER_TOLERANCE_S
        rows.append({"speaker": k, "truth_s": start_s, "time_s": answer.times_s[0] if answer.times_s else None,
                     "presence_probability": answer.presence_probability, "present": answer.present,
                     "within_100ms": close, "found": close and answer.present})  # fmt: skip
    onsets = [span.start_s for span in model.diarize(EXAMPLES / f"{clip}.wav").spans]
    return {"n": len(rows), "found": sum(r["found"] for r in rows), "diarized": len(onsets), "onsets_s": onsets,
            "speakers": rows}  # fmt: skip


def events_located(model, clip: str) -> dict:
    """Every event of the clip by class and occurrence through ``locate --event`` (found: present
    and within 50 ms)."""
    seen, rows = Counter(), []
    for segment in truth(clip)["segments"]:
        seen[segment["label"]] += 1
        answer = model.locate(EXAMPLES / f"{clip}.wav", event=segment["label"], occurrence=seen[segment["label"]])
        close = bool(answer.times_s) and abs(answer.times_s[0] - segment["start_s"]) <= TOLERANCE_S
        rows.append({"event": segment["label"], "occurrence": seen[segment["label"]], "truth_s": segment["start_s"],
                     "time_s": answer.times_s[0] if answer.times_s else None,
                     "presence_probability": answer.presence_probability, "present": answer.present,
                     "within_50ms": close, "found": close and answer.present})  # fmt: skip
    return {"n": len(rows), "found": sum(r["found"] for r in rows), "events": rows}


SPEAKER_TOLERANCE_S = 0.1
PROBES = {"locate": (located, CLIPS), "align": (aligned, CLIPS), "speakers": (speakers_located, ("speakers",)),
          "events": (events_located, ("events",))}  # fmt: skip


if __name__ == "__main__":
    checkpoint, mode, out = sys.argv[1], sys.argv[2], Path(sys.argv[3])
    model = framestamp.load(checkpoint, device="cpu", config=InferenceConfig(progress=False))
    probe, clips = PROBES[mode]
    result = {"checkpoint": checkpoint, "mode": mode, "clips": {clip: probe(model, clip) for clip in clips}}
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1) + "\n")
    for clip, row in result["clips"].items():
        print(clip, {k: v for k, v in row.items() if k not in ("words", "speakers", "events")})
