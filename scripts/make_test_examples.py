"""Write examples/words, speakers and events (.wav and .json): held-out clips of the built-in
corpus's test split, whose voices training never hears, with their exact truth.

The rows are fixed (words 3, speakers 2, events 2: the rows the first examples were taken from),
not picked by how a model answers them. Each ``.json`` names its corpus version and row, the voices
(or sound files) the clip is made of, and every segment. Needs the default corpus built
(``framestamp corpus build --size default``). Run from the repository root:
``python scripts/make_test_examples.py``.
"""

from __future__ import annotations

import json
from pathlib import Path

import soundfile

from framestamp.audio import SAMPLE_RATE_HZ
from framestamp.corpus.config import CORPUS_VERSION
from framestamp.data import load_subset

CORPUS = "builtin:default:0"
ROWS = {"words": 3, "speakers": 2, "events": 2}
OUT = Path("examples")


def voices(provenance: dict) -> list[str]:
    """Who or what makes the sound of a clip, as its provenance records it."""
    if "speaker" in provenance:
        return [provenance["speaker"]]
    if "speakers" in provenance:
        return [speaker["speaker_id"] for speaker in provenance["speakers"]]
    return sorted({f"{event['package']}/{event['file']}" for event in provenance.get("events", [])})


def main() -> None:
    for subset, row in ROWS.items():
        clip = load_subset(CORPUS, subset, "test")[row]
        soundfile.write(OUT / f"{subset}.wav", clip.audio, SAMPLE_RATE_HZ, subtype="PCM_16")
        record = {
            "source": f"{CORPUS} (corpus version {CORPUS_VERSION}) {subset} test row {row}; scripts/make_test_examples.py",
            "voices": voices(clip.provenance),
            "transcript": clip.transcript,
            "segments": [{"label": s.label, "start_s": round(s.start_s, 3), "end_s": round(s.end_s, 3)}
                         for s in clip.segments],
        }  # fmt: skip
        (OUT / f"{subset}.json").write_text(json.dumps(record, indent=1) + "\n")
        print(f"{subset}: {len(clip.segments)} segments, {len(clip.audio) / SAMPLE_RATE_HZ:.2f} s, {record['voices']}")


if __name__ == "__main__":
    main()
