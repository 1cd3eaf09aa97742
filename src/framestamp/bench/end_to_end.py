"""What a user waits for: files in, timestamps out, through the engine users run.

The batch's clips are written once as 16-bit WAV files; one timed run reads them
(``framestamp.audio``), answers every question with ``inference.engine.Engine`` (the windowed path
for recordings longer than a window, ordinals counted across windows, the presence decision) and
writes each answer as JSON text. Inside the run ``inference.stages`` times each stage (read,
features, forward, head, decoder, output); the rest (moving scores off the device, stitching
windows, Python between the stages) is "other".
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Callable

import numpy as np
import soundfile as sf

from ..audio import SAMPLE_RATE_HZ, load_audio
from ..decoding import DecodeConfig
from ..evaluate.run import ask_of
from ..inference.engine import Engine, InferenceConfig
from ..inference.stages import STAGES, StageTimes, stage, timing_stages
from ..model import FrameStampModel
from .inputs import BenchBatch


class EndToEnd:
    """The end-to-end runs of one batch for each decoder, and their time per stage."""

    def __init__(self, model: FrameStampModel, batch: BenchBatch, decoders: list[str]):
        self._folder = tempfile.TemporaryDirectory(prefix="framestamp-bench-")
        self.paths = []
        for index, clip in enumerate(batch.clips):
            path = Path(self._folder.name) / f"{index}.wav"
            sf.write(path, clip.audio, SAMPLE_RATE_HZ, subtype="PCM_16")
            self.paths.append(path)
        # every word start of a known transcript: the count is given, as `align` does
        self.asks = [ask_of(query, known_count=True) for query in batch.queries]
        self.engines = {d: Engine(model, InferenceConfig(decode=DecodeConfig(multi=d), progress=False)) for d in decoders}
        self.totals = {d: StageTimes() for d in decoders}
        self.runs = dict.fromkeys(decoders, 0)

    def run(self, decoder: str, timed: bool = True) -> Callable[[], list[str]]:
        """One batch answered end to end with ``decoder`` (``timed``: its stage times are kept)."""

        def answer() -> list[str]:
            with timing_stages() as times:
                with stage("read"):
                    waveforms = [load_audio(path) for path in self.paths]
                predictions = self.engines[decoder].answer(waveforms, self.asks)
                with stage("output"):
                    texts = [json.dumps(_answer(p)) for p in predictions]
            if timed:
                for name, seconds in times.items():
                    self.totals[decoder][name] += seconds
                self.runs[decoder] += 1
            return texts

        return answer

    def stages(self, decoder: str) -> dict[str, float]:
        """Mean seconds per timed run of each stage (every stage named, 0 where it did not run)."""
        runs = max(self.runs[decoder], 1)
        return {name: self.totals[decoder].get(name, 0.0) / runs for name in STAGES}

    def close(self) -> None:
        self._folder.cleanup()


def _answer(prediction) -> dict:
    """What ``framestamp locate`` / ``align`` print of an answer: times, count, presence."""
    return {"times_s": [round(float(t), 3) for t in np.asarray(prediction.times_s)],
            "count_estimate": round(float(prediction.count_estimate), 3),
            "presence_probability": round(float(prediction.presence_probability), 4)}  # fmt: skip
