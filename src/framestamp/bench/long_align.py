"""One long recording aligned through the command line, as a user runs it: wall time, peak memory,
accuracy.

Test clips are joined end to end into one recording of about ``seconds`` (one hour by default),
written as a 16-bit WAV; ``framestamp align FILE --transcript "..." -f json`` runs in a child
process with the bench's frame model (saved to a folder for it); its wall time, its peak
resident memory (reported by the child itself: ``REPORTING_PEAK``) and the share of word starts it places within 50 ms
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


# Runs the CLI (``python -c REPORTING_PEAK PEAK_FILE align ...``) and, at exit, writes the process's
# peak resident memory (VmHWM, KiB) to PEAK_FILE. Measured inside the child because a child's
# ``ru_maxrss`` counts the memory of the parent it was forked from.
REPORTING_PEAK = """
import atexit, runpy, sys
report = sys.argv.pop(1)
def write_peak():
    try:
        with open("/proc/self/status") as status:
            peak = next(line.split()[1] for line in status if line.startswith("VmHWM:"))
    except (OSError, StopIteration):
        return
    with open(report, "w") as out:
        out.write(peak)
atexit.register(write_peak)
sys.argv[0] = "framestamp"
runpy.run_module("framestamp", run_name="__main__", alter_sys=True)
"""


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
        peak = folder / "peak_kib.txt"
        command = [sys.executable, "-c", REPORTING_PEAK, str(peak), "align", str(wav), "--transcript", " ".join(words),
                   "--checkpoint", str(folder / "model"), "-f", "json", "-o", str(out), "-q"]  # fmt: skip
        environment = os.environ | ({"OMP_NUM_THREADS": str(threads)} if threads else {})
        started = time.perf_counter()
        done = subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=environment)
        wall = time.perf_counter() - started
        if done.returncode != 0:
            raise RuntimeError(f"framestamp align failed on the long recording: {done.stderr.strip()[-500:]}")
        peak_mib = int(peak.read_text()) / 1024 if peak.is_file() else None
        spans = json.loads(out.read_text())["spans"]
    predicted = [span["start_s"] for span in spans]
    truth = [segment.start_s for segment in recording.segments]
    metrics = all_events_metrics([predicted], [truth])
    return {
        "audio_s": len(recording.audio) / SAMPLE_RATE_HZ, "words": len(words), "wall_s": wall,
        "seconds_per_audio_hour": wall / (len(recording.audio) / SAMPLE_RATE_HZ) * 3600,
        "peak_memory_mib": peak_mib,
        "accuracy_50ms": metrics["accuracy"][0.05], "n_predicted": len(predicted),
    }  # fmt: skip
