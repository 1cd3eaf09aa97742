"""One long recording aligned through the command line, as a user runs it: wall time, peak memory,
accuracy.

Test clips are joined end to end into one recording of about ``seconds`` (one hour by default),
written as a 16-bit WAV; ``framestamp align FILE --transcript "..." -f json`` runs in a child
process with the bench's frame model (saved to a folder for it); its wall time, its peak
resident memory (``getrusage`` of the child) and the share of word starts it places within 50 ms
of the truth (Hungarian matching, ``evaluate.metrics.all_events_metrics``) are recorded.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Sequence

import soundfile as sf

from ..audio import SAMPLE_RATE_HZ
from ..data.examples import Clip
from ..evaluate.metrics import all_events_metrics
from ..model import FrameStampModel
from .inputs import ClipStream, concatenate


def long_recording(pool: Sequence[Clip], seconds: float, seed: int) -> Clip:
    """Test clips joined end to end until at least ``seconds`` of audio."""
    stream = ClipStream(pool, (seed, 99))
    clips = stream.take(lambda taken: sum(len(c.audio) for c in taken) >= seconds * SAMPLE_RATE_HZ)
    return concatenate(clips, f"long-{seconds:g}s")


def time_long_align(model: FrameStampModel, pool: Sequence[Clip], seconds: float, seed: int, threads: int | None) -> dict:
    """Align one recording of about ``seconds`` through ``framestamp align`` in a child process."""
    recording = long_recording(pool, seconds, seed)
    words = [segment.label for segment in recording.segments]
    with tempfile.TemporaryDirectory(prefix="framestamp-long-") as folder:
        folder = Path(folder)
        model.save_pretrained(folder / "model")
        wav, out = folder / "long.wav", folder / "answer.json"
        sf.write(wav, recording.audio, SAMPLE_RATE_HZ, subtype="PCM_16")
        command = [sys.executable, "-m", "framestamp", "align", str(wav), "--transcript", " ".join(words),
                   "--checkpoint", str(folder / "model"), "-f", "json", "-o", str(out), "-q"]  # fmt: skip
        environment = os.environ | ({"OMP_NUM_THREADS": str(threads)} if threads else {})
        errors = folder / "stderr.txt"
        started = time.perf_counter()
        with open(errors, "w") as stderr:
            child = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=stderr, env=environment)
            _, status, usage = os.wait4(child.pid, 0)  # this child's own resource usage
        wall = time.perf_counter() - started
        child.returncode = os.waitstatus_to_exitcode(status)
        if child.returncode != 0:
            raise RuntimeError(f"framestamp align failed on the long recording: {errors.read_text().strip()[-500:]}")
        spans = json.loads(out.read_text())["spans"]
    predicted = [span["start_s"] for span in spans]
    truth = [segment.start_s for segment in recording.segments]
    metrics = all_events_metrics([predicted], [truth])
    return {
        "audio_s": len(recording.audio) / SAMPLE_RATE_HZ, "words": len(words), "wall_s": wall,
        "seconds_per_audio_hour": wall / (len(recording.audio) / SAMPLE_RATE_HZ) * 3600,
        "peak_memory_mib": usage.ru_maxrss / 1024,  # kibibytes on Linux
        "accuracy_50ms": metrics["accuracy"][0.05], "n_predicted": len(predicted),
    }  # fmt: skip
