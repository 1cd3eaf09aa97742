"""``run_bench``: frame method vs token baseline vs bare forward, by number of events and audio length.

Two sweeps over the same models and batch size:
- "events": inputs with exactly n words (test clips joined end to end), n picked in each of
  the paper's buckets 1-5, 6-10, 11-15, 16-20, 21-25, 26+; "all" questions ask for every word.
- "duration": inputs of exactly 5, 10, 30, 60 s of audio.
Each (sweep point, question mode) is one batch; every method runs it after warm-up, round-robin,
several times; medians, IQRs and ratios come from this one run, so every ratio compares
measurements taken side by side.
"""

from __future__ import annotations

import os
import platform
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from ..config import Config, option, register_config
from ..errors import ConfigError
from ..evaluate.metrics import bucket_by_event_count
from .inputs import BenchBatch, build_batches
from .methods import ModelLoader, ModelPair, batch_methods, check_fixed_steps, token_plan
from .timing import paired_ratios, summary, time_round_robin

MODES = ("one", "all")
DECODERS = ("posterior_mode", "iterative_mode")


@register_config
@dataclass
class BenchConfig(Config):
    """What ``framestamp bench`` measures and where it writes."""

    frame_checkpoint: str | None = option(None, "frame model (dir or shipped name) for every mode; default: "
                                                "shipped 'words' / 'words-all' when installed")
    token_checkpoint: str | None = option(None, "token baseline (dir or shipped name) for every mode; default: "
                                                "shipped 'words-token' / 'words-all-token' when installed")
    backbone: str | None = option(None, "benchmark an untrained model on this backbone family instead "
                                        "(tiny, tiny-scratch, qwen2.5-omni, qwen2-audio, voxtral)")
    backbone_path: str | None = option(None, "hub name or directory of --backbone's weights")
    fixed_length: bool = option(False, "token baseline generates exactly the reference length even when trained")
    corpus: str = option("builtin:default:0", "source of the test clips the inputs are built from (words subset)")
    split: str = option("test", "split of the corpus")
    events: list = option([3, 8, 13, 18, 23, 30], "word counts of the events sweep (one per bucket)")
    durations_s: list = option([5.0, 10.0, 30.0, 60.0], "audio lengths of the duration sweep, seconds")
    modes: list = option(["one", "all"], "question modes: one (a single timestamp), all (every word)")
    decoders: list = option(["posterior_mode", "iterative_mode"], "frame decoders timed")
    batch_size: int = option(8, "questions per batch (every method gets the same batch)")
    repeats: int = option(5, "timed runs of the token baseline (and of prepare) per batch")
    frame_repeats: int = option(7, "timed runs of the bare forward and the frame methods per batch")
    warmup: int = option(1, "untimed runs of every method first")
    threads: int | None = option(None, "torch CPU threads (None: torch's default)")
    device: str = option("cpu", "torch device: cpu, cuda, cuda:1, ...")
    seed: int = option(0, "orders the clips and picks the one-word questions")
    long_align_s: float = option(3600.0, "length of the recording aligned through `framestamp align` in a child "
                                         "process (wall time, peak memory, accuracy); 0: skip")
    output_dir: str = option("results/bench", "where bench.json, bench.md and speedup.png go")

    def __post_init__(self):
        bad = [m for m in self.modes if m not in MODES] + [d for d in self.decoders if d not in DECODERS]
        if bad:
            raise ValueError(f"unknown mode/decoder {bad[0]!r}; modes: {MODES}, decoders: {DECODERS}")
        if not self.modes or not self.decoders or not (self.events or self.durations_s):
            raise ValueError("give at least one mode, one decoder, and event counts or durations")
        if min(self.batch_size, self.repeats, self.frame_repeats) < 1 or self.warmup < 0:
            raise ValueError("batch_size, repeats and frame_repeats must be >= 1, warmup >= 0")
        if any(n < 1 for n in self.events) or any(d <= 0 for d in self.durations_s):
            raise ValueError("event counts must be >= 1 and durations > 0")
        if self.backbone is not None and (self.frame_checkpoint or self.token_checkpoint):
            raise ValueError("give either a backbone (untrained model) or checkpoints, not both")
        if self.backbone not in (None, "tiny", "tiny-scratch") and self.backbone_path is None:
            raise ValueError(f"backbone {self.backbone!r} needs backbone_path (a hub name or a directory)")
        if self.long_align_s < 0:
            raise ValueError(f"long_align_s must be >= 0, got {self.long_align_s}")
        if self.threads is not None and self.threads < 1:
            raise ValueError(f"threads must be >= 1, got {self.threads}")


@dataclass
class BenchResult:
    """What a run measured (``data``, the JSON document) and the files written."""

    data: dict
    json_path: Path
    markdown_path: Path
    plot_path: Path | None


def run_bench(config: BenchConfig | None = None, log: Callable[[str], None] | None = None) -> BenchResult:
    """Time the frame method, its bare forward pass and the token baseline; write JSON, markdown, plot.

    Args:
        config: models, sweeps, repeats, threads, device and output directory (None: defaults).
        log: called with one line per finished batch (None: silent).

    Returns:
        The measurements and the paths of ``bench.json``, ``bench.md`` and ``speedup.png``.
    """
    from .report import write_outputs

    config = config or BenchConfig()
    log = log or (lambda line: None)
    started = time.perf_counter()
    device = torch.device(config.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"device {config.device!r} asked for, but CUDA is not available")
    threads_before = torch.get_num_threads()
    if config.threads is not None:
        torch.set_num_threads(config.threads)
    try:
        environment = collect_environment(device, config)
        pool = _pool(config)
        batches = _batches(config, pool)
        loader = ModelLoader(device, config.seed)
        pairs = {mode: loader.pair(mode, config.frame_checkpoint, config.token_checkpoint, config.backbone,
                                   config.backbone_path) for mode in config.modes}  # fmt: skip
        log(f"bench: {len(batches)} batches of {config.batch_size} on {device}, torch threads "
            f"{torch.get_num_threads()}, load average {environment['load_average_start']}")
        measurements = [_measure(pairs[b.mode], b, config, device, log) for b in batches]
        long_align = _long_align(pairs, pool, config, log)
        environment["load_average_end"] = _load_average()
    finally:
        torch.set_num_threads(threads_before)
    data = {
        "config": config.to_dict(),
        "environment": environment,
        "models": {mode: pair.describe() for mode, pair in pairs.items()},
        "measurements": measurements,
        "long_align": long_align,
        "total_wall_s": time.perf_counter() - started,
    }
    return write_outputs(data, Path(config.output_dir))


def _pool(config: BenchConfig) -> list:
    from ..data import load_subset

    pool = load_subset(config.corpus, "words", config.split)
    return [pool[i] for i in range(len(pool))]


def _long_align(pairs: dict[str, ModelPair], pool: list, config: BenchConfig, log) -> dict | None:
    """The long recording through ``framestamp align`` (``bench.long_align``), with the frame model
    of "all" questions (else the first mode's); None when skipped or that model answers in text."""
    from .long_align import time_long_align

    pair = pairs.get("all") or next(iter(pairs.values()))
    if config.long_align_s <= 0 or pair.frame.head_kind.generates_text or config.device != "cpu":
        return None
    record = time_long_align(pair.frame, pool, config.long_align_s, config.seed, config.threads)
    record["model"] = pair.frame_source
    peak = "n/a" if record["peak_memory_mib"] is None else f"{record['peak_memory_mib']:.0f} MiB"
    log(f"long align: {record['audio_s']:.0f} s of audio in {record['wall_s']:.1f} s, peak {peak}, "
        f"{record['accuracy_50ms']:.1%} of word starts within 50 ms")
    return record


def _batches(config: BenchConfig, pool: list) -> list[BenchBatch]:
    try:
        events = build_batches(pool, "events", config.events, config.modes, config.batch_size, config.seed)
        durations = build_batches(pool, "duration", config.durations_s, config.modes, config.batch_size, config.seed)
    except ValueError as error:
        raise ConfigError(f"bench inputs from {config.corpus} ({config.split}): {error}") from None
    return events + durations


def _measure(pair: ModelPair, batch: BenchBatch, config: BenchConfig, device, log) -> dict:
    """Time every method on one batch; per-batch and per-query summaries, and the ratios."""
    plan = token_plan(pair, batch, config.fixed_length)
    work = batch_methods(pair, batch, plan, list(config.decoders))
    fast = {"forward", *(f"{kind}_{d}" for kind in ("frame", "end_to_end") for d in config.decoders)}
    repeats = {name: config.frame_repeats if name in fast else config.repeats for name in work.methods}
    try:
        times = time_round_robin(work.methods, repeats, config.warmup, device, work.warmups)
        stages = {d: work.stages(d) for d in config.decoders} if work.stages else None
    finally:
        work.cleanup()
    check_fixed_steps(plan)
    record = {
        "sweep": batch.sweep, "target": batch.target, "mode": batch.mode,
        "bucket": bucket_by_event_count(int(np.median(batch.clip_events))),
        "batch_size": len(batch.clips), "clip_events": batch.clip_events, "answer_events": batch.answer_events,
        "durations_s": batch.durations_s, "token": plan.to_dict(),
        "methods": {name: {"batch_s": values, "batch": summary(values),
                           "query": summary(np.asarray(values) / len(batch.clips))}
                    for name, values in times.items()},
    }  # fmt: skip
    record["ratios"] = _ratios(times, config.decoders)
    if stages is not None:
        # mean seconds per stage of an end-to-end run; "other": its median time not in any stage
        record["end_to_end_stages"] = {
            d: stages[d] | {"other": max(record["methods"][f"end_to_end_{d}"]["batch"]["median"] - sum(stages[d].values()), 0.0)}
            for d in config.decoders
        }  # fmt: skip
    token_s, forward_s = (record["methods"][name]["batch"]["median"] for name in ("token", "forward"))
    speedups = " / ".join(f"{record['ratios'][f'speedup_{d}']['of_medians']:.1f}x" for d in config.decoders)
    log(f"{batch.sweep} {batch.target:g} {batch.mode}: token {token_s:.3f} s ({plan.regime}, {plan.steps[-1]} steps), "
        f"forward {forward_s:.4f} s, speed-up {speedups} ({' / '.join(config.decoders)})")
    return record


def _ratios(times: dict[str, list[float]], decoders) -> dict:
    """Speed-up (token / frame) and overhead (frame / forward - 1): of the medians, and per round."""
    ratios = {}
    median = {name: float(np.median(values)) for name, values in times.items()}
    for decoder in decoders:
        frame = f"frame_{decoder}"
        ratios[f"speedup_{decoder}"] = {"of_medians": median["token"] / median[frame],
                                        "paired": summary(paired_ratios(times["token"], times[frame]))}
        overhead = [r - 1 for r in paired_ratios(times[frame], times["forward"])]
        ratios[f"overhead_{decoder}"] = {"of_medians": median[frame] / median["forward"] - 1,
                                         "paired": summary(overhead)}  # fmt: skip
        whole = f"end_to_end_{decoder}"
        if whole in times:  # what a user waits for against the bare forward
            ratios[f"end_to_end_{decoder}"] = {"of_medians": median[whole] / median["forward"],
                                               "paired": summary(paired_ratios(times[whole], times["forward"]))}
    return ratios


def collect_environment(device: torch.device, config: BenchConfig) -> dict:
    """CPU model, threads, library versions, git commit and machine load, for the JSON report."""
    import transformers

    from .. import __version__

    return {
        "cpu_model": _cpu_model(), "cpu_count": os.cpu_count(), "cpu_affinity": len(os.sched_getaffinity(0)),
        "torch_threads": torch.get_num_threads(), "torch_interop_threads": torch.get_num_interop_threads(),
        "threads_fixed": config.threads is not None,
        "device": str(device), "device_name": torch.cuda.get_device_name(device) if device.type == "cuda" else None,
        "torch": torch.__version__, "transformers": transformers.__version__, "numpy": np.__version__,
        "python": platform.python_version(), "framestamp": __version__, "platform": platform.platform(),
        "git": _git_state(), "load_average_start": _load_average(),
        "date_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }  # fmt: skip


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _git_state() -> dict | None:
    """Commit and dirtiness of the repository holding this package, None outside one."""
    here = Path(__file__).resolve().parent
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=here, capture_output=True, text=True, timeout=10)
        if commit.returncode != 0:
            return None
        status = subprocess.run(["git", "status", "--porcelain"], cwd=here, capture_output=True, text=True, timeout=10)
        return {"commit": commit.stdout.strip(), "dirty": bool(status.stdout.strip())}
    except (OSError, subprocess.SubprocessError):
        return None


def _load_average() -> list[float] | None:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None
