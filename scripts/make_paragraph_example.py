"""Write examples/paragraph.wav, paragraph.json and paragraph.txt (the transcript, for
``align --transcript-file``): ordinary English, with exact word times.

A paragraph of everyday text full of words the grammar of the built-in corpus does not have
(names, technical words), spoken by Festival's kal_diphone voice, which the corpus keeps for test
and test_long only (no training clip has it), at 16 kHz. The truth is Festival's own word timing
(its utterance structure, as the corpus reads it; ``framestamp.corpus.festival``), with the
sentences joined by 0.4 s pauses. Run from the repository root: ``python scripts/make_paragraph_example.py``.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import soundfile

from framestamp.audio import SAMPLE_RATE_HZ, resample
from framestamp.corpus.festival import Festival, FestivalVoice
from framestamp.corpus.text import tokens

SENTENCES = (
    "Kubernetes schedules containers across a cluster of machines.",
    "On Tuesday, Priya deployed the new version before lunch.",
    "The dashboard turned green within minutes, and everyone relaxed.",
)
VOICE = FestivalVoice("kal_diphone")
PAUSE_S = 0.4
LEAD_S = 0.3
OUT = Path("examples")


def main() -> None:
    festival = Festival.get()
    pieces, segments = [np.zeros(int(LEAD_S * SAMPLE_RATE_HZ), np.float32)], []
    offset = LEAD_S
    for sentence in SENTENCES:
        utterance = festival.synthesize(sentence, VOICE)
        audio = resample(utterance.audio / 32768.0, utterance.sample_rate, SAMPLE_RATE_HZ).astype(np.float32)
        for word, start, end in utterance.words:
            for spoken in tokens(word)[:1]:
                segments.append({"label": spoken, "start_s": round(offset + start / utterance.sample_rate, 3),
                                 "end_s": round(offset + end / utterance.sample_rate, 3)})  # fmt: skip
        pieces += [audio, np.zeros(int(PAUSE_S * SAMPLE_RATE_HZ), np.float32)]
        offset += (len(audio) + int(PAUSE_S * SAMPLE_RATE_HZ)) / SAMPLE_RATE_HZ
    waveform = np.concatenate(pieces)
    waveform *= 0.5 / np.abs(waveform).max()
    soundfile.write(OUT / "paragraph.wav", waveform, SAMPLE_RATE_HZ, subtype="PCM_16")
    record = {
        "source": f"Festival {VOICE.name} (a voice the built-in corpus never uses in training); word times from "
                  "Festival's utterance structure; scripts/make_paragraph_example.py",
        "transcript": " ".join(SENTENCES),
        "segments": segments,
    }  # fmt: skip
    (OUT / "paragraph.json").write_text(json.dumps(record, indent=1) + "\n")
    (OUT / "paragraph.txt").write_text(record["transcript"] + "\n")
    print(f"{len(segments)} words, {len(waveform) / SAMPLE_RATE_HZ:.2f} s")


if __name__ == "__main__":
    main()
