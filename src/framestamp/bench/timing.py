"""Wall-clock timing: warm up, synchronise, repeat, and summarise by median and IQR.

Methods of one sweep point are timed round-robin (one run of each per round, the order
rotated every round), so slow drifts of the machine (another job, thermal limits) hit every
method alike and the per-round ratios are paired measurements.
"""

from __future__ import annotations

import gc
import time
from typing import Callable, Mapping

import numpy as np
import torch


def synchronize(device: torch.device) -> None:
    """Wait for queued GPU work, so the clock reads the end of the computation, not its launch."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_once(run: Callable[[], object], device: torch.device) -> float:
    """Seconds one call of ``run`` takes, synchronised on both ends, garbage collector paused."""
    collecting = gc.isenabled()
    gc.disable()
    try:
        synchronize(device)
        started = time.perf_counter()
        run()
        synchronize(device)
        return time.perf_counter() - started
    finally:
        if collecting:
            gc.enable()


def time_round_robin(
    methods: Mapping[str, Callable[[], object]], repeats: Mapping[str, int], warmup: int, device: torch.device,
    warmups: Mapping[str, Callable[[], object]] | None = None,
) -> dict[str, list[float]]:  # fmt: skip
    """Per-run seconds of each method after ``warmup`` untimed runs of each.

    Args:
        methods: name -> a callable doing one batch of work.
        repeats: name -> timed runs wanted (methods run in every round until they have them).
        warmup: untimed runs of every method first (caches, allocators, lazy initialisation).
        device: the device to synchronise.
        warmups: name -> a cheaper callable to warm up with instead of the method itself.
    """
    warmups = warmups or {}
    for _ in range(warmup):
        for name, run in methods.items():
            warmups.get(name, run)()
        synchronize(device)
    gc.collect()  # once: the collector is paused inside each timed run and collects between runs
    names = list(methods)
    times: dict[str, list[float]] = {name: [] for name in names}
    for round_index in range(max(repeats[name] for name in names)):
        shift = round_index % len(names)
        for name in names[shift:] + names[:shift]:
            if len(times[name]) < repeats[name]:
                times[name].append(time_once(methods[name], device))
    return times


def summary(values) -> dict:
    """Median, quartiles, IQR, min, max and count of a list of numbers (NaN when empty)."""
    data = np.asarray(values, dtype=np.float64)
    if data.size == 0:
        return {"median": float("nan"), "q1": float("nan"), "q3": float("nan"), "iqr": float("nan"),
                "min": float("nan"), "max": float("nan"), "n": 0}  # fmt: skip
    q1, median, q3 = np.percentile(data, [25, 50, 75])
    return {"median": float(median), "q1": float(q1), "q3": float(q3), "iqr": float(q3 - q1),
            "min": float(data.min()), "max": float(data.max()), "n": int(data.size)}  # fmt: skip


def paired_ratios(numerator: list[float], denominator: list[float]) -> list[float]:
    """Round-by-round ratios of two methods timed in the same rounds (first ``min`` rounds)."""
    n = min(len(numerator), len(denominator))
    return [numerator[i] / denominator[i] for i in range(n) if denominator[i] > 0]
