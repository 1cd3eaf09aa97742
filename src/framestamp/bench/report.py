"""The benchmark's outputs: ``bench.json`` (every measurement), ``bench.md`` (tables, targets) and
``speedup.png`` (speed-up versus number of events; time per batch versus audio length).

Targets are checked as ratios measured in the same run, never as absolute times.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from .methods import WARMUP_TOKENS

SPEEDUP_TARGET = 50.0  # frame over token, all-timestamp questions with 11+ events
OVERHEAD_TARGET = 0.10  # head + decoder over the bare forward pass, at 60 s of audio
RUNTIME_TARGET_S = 600.0  # default settings, 2-core CPU
OVERHEAD_AT_S = 60.0
END_TO_END_TARGET = 1.25  # files in, answers out, over the bare forward pass, at 60 s of audio (CPU)
HOUR_S = 3600.0  # one hour of speech through `framestamp align`, on the CPU:
HOUR_WALL_TARGET_S, HOUR_MEMORY_TARGET_MIB = 120.0, 2048.0  # under 2 minutes, under 2 GB
MIN_EVENTS_FOR_SPEEDUP = 11


def _points(data: dict, sweep: str, mode: str) -> list[dict]:
    found = [m for m in data["measurements"] if m["sweep"] == sweep and m["mode"] == mode]
    return sorted(found, key=lambda m: m["target"])


def _median_events(record: dict) -> float:
    return float(np.median(record["clip_events"]))


def check_targets(data: dict) -> dict:
    """The issue's three targets, each with what was measured and whether it was met (None: not measured)."""
    from scipy.stats import spearmanr

    decoders = data["config"]["decoders"]
    events = _points(data, "events", "all")
    result: dict = {"speedup": {}, "overhead": {}}
    for decoder in decoders:
        speedups = [(_median_events(m), m["ratios"][f"speedup_{decoder}"]["of_medians"]) for m in events]
        many = [s for n, s in speedups if n >= MIN_EVENTS_FOR_SPEEDUP]
        values = [s for _, s in speedups]
        rho = float(spearmanr([n for n, _ in speedups], values)[0]) if len(speedups) > 2 else None
        median = float(np.median(many)) if many else None
        result["speedup"][decoder] = {
            "median_11_plus": median, "met": None if median is None else median >= SPEEDUP_TARGET,
            "spearman_with_events": rho, "monotone": bool(np.all(np.diff(values) >= 0)) if values else None,
        }  # fmt: skip
    for mode in data["config"]["modes"]:
        at = [m for m in _points(data, "duration", mode) if abs(m["target"] - OVERHEAD_AT_S) < 1e-9]
        for decoder in decoders:
            value = at[0]["ratios"][f"overhead_{decoder}"]["of_medians"] if at else None
            result["overhead"][f"{mode}/{decoder}"] = {"at_60s": value,
                                                       "met": None if value is None else value <= OVERHEAD_TARGET}
    result["end_to_end"] = {}
    for mode in data["config"]["modes"]:
        at = [m for m in _points(data, "duration", mode) if abs(m["target"] - OVERHEAD_AT_S) < 1e-9]
        for decoder in decoders:
            found = at[0]["ratios"].get(f"end_to_end_{decoder}") if at else None
            value = None if found is None else found["of_medians"]
            result["end_to_end"][f"{mode}/{decoder}"] = {"at_60s": value,
                                                         "met": None if value is None else value <= END_TO_END_TARGET}
    long = data.get("long_align") or {}
    result["long_align"] = {key: long.get(key) for key in ("wall_s", "peak_memory_mib", "audio_s")}
    result["long_align"]["met"] = (
        long["wall_s"] < HOUR_WALL_TARGET_S and (long["peak_memory_mib"] or math.inf) < HOUR_MEMORY_TARGET_MIB
        if long.get("audio_s", 0.0) >= HOUR_S else None
    )  # fmt: skip
    wall = data["total_wall_s"]
    default = _is_default(data)
    result["runtime"] = {"total_wall_s": wall, "met": wall <= RUNTIME_TARGET_S if default else None,
                         "default_settings": default}
    return result


def _is_default(data: dict) -> bool:
    from .run import BenchConfig

    ignore = {"output_dir"}
    default = {k: v for k, v in BenchConfig().to_dict().items() if k not in ignore}
    return {k: v for k, v in data["config"].items() if k not in ignore} == default


def write_outputs(data: dict, output_dir: Path):
    """Add the target checks to ``data``, write the JSON, markdown and plot; return a ``BenchResult``."""
    from ..inference.outputs import write_atomic
    from .run import BenchResult

    output_dir.mkdir(parents=True, exist_ok=True)
    data["targets"] = check_targets(data)
    json_path, markdown_path = output_dir / "bench.json", output_dir / "bench.md"
    write_atomic(json_path, json.dumps(data, indent=1) + "\n")
    plot_path = plot_speedup(data, output_dir / "speedup.png")
    write_atomic(markdown_path, markdown(data, plot_path))
    return BenchResult(data, json_path, markdown_path, plot_path)


# ------------------------------------------------------------------ markdown


def _ms(record: dict, method: str) -> str:
    stats = record["methods"][method]["batch"]
    return f"{stats['median'] * 1e3:.1f} ({stats['iqr'] * 1e3:.1f})"


def _row(record: dict, decoders: list[str]) -> list[str]:
    ratios = record["ratios"]
    frame_q = record["methods"][f"frame_{decoders[-1]}"]["query"]["median"] * 1e3
    token_q = record["methods"]["token"]["query"]["median"] * 1e3
    steps = "/".join(str(s) for s in sorted(set(record["token"]["steps"])))
    reference = max(record["token"]["reference_tokens"])
    return [
        f"{record['target']:g}", record["mode"], f"{_median_events(record):g}", record["bucket"],
        f"{np.median(record['durations_s']):.1f}", _ms(record, "prepare"), _ms(record, "forward"),
        *(_ms(record, f"frame_{d}") for d in decoders),
        " / ".join(f"{ratios[f'overhead_{d}']['of_medians']:+.1%}" for d in decoders),
        _ms(record, "token"), f"{steps} / {reference} ({record['token']['regime']})",
        " / ".join(f"{ratios[f'speedup_{d}']['of_medians']:.1f}x" for d in decoders),
        f"{frame_q:.2f} / {token_q:.1f}",
    ]  # fmt: skip


def _table(records: list[dict], decoders: list[str], first: str) -> list[str]:
    names = [d.replace("_", " ") for d in decoders]
    header = [first, "mode", "events", "bucket", "audio s", "prepare ms", "forward ms",
              *(f"frame {n} ms" for n in names), "head+decoder overhead", "token ms", "token steps / reference",
              "speed-up (" + " / ".join(names) + ")", f"ms/query: frame ({names[-1]}) / token"]  # fmt: skip
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return lines + ["| " + " | ".join(_row(r, decoders)) + " |" for r in records]


def _regime_line(data: dict) -> str:
    regimes = sorted({m["token"]["regime"] for m in data["measurements"]})
    lines = []
    if "fixed" in regimes:
        lines.append("**fixed length**: an untrained text answer is forced to exactly the token length of the "
                     "reference answer (its tokens + the end-of-turn token; longest row of the batch), "
                     "min_new_tokens = max_new_tokens; every run was checked to take exactly that many steps")
    if "trained" in regimes:
        lines.append("**trained**: greedy decoding with KV cache until the end-of-turn token, capped at the "
                     "reference length + 16 tokens; the steps taken are reported")  # fmt: skip
    return "; ".join(lines)


def _target_lines(targets: dict) -> list[str]:
    def met(flag):
        return "not measured" if flag is None else ("yes" if flag else "**no**")

    lines = ["| target | measured | met |", "|---|---|---|"]
    for decoder, t in targets["speedup"].items():
        value = "n/a" if t["median_11_plus"] is None else f"{t['median_11_plus']:.1f}x"
        rho = "n/a" if t["spearman_with_events"] is None else f"{t['spearman_with_events']:+.2f}"
        lines.append(f"| speed-up ({decoder}), all words, 11+ events, median >= {SPEEDUP_TARGET:g}x | {value} | "
                     f"{met(t['met'])} |")
        lines.append(f"| ... growing with events ({decoder}) | Spearman {rho}, monotone: {t['monotone']} | "
                     f"{met(None if t['spearman_with_events'] is None else t['spearman_with_events'] > 0)} |")
    for key, t in targets["overhead"].items():
        value = "n/a" if t["at_60s"] is None else f"{t['at_60s']:+.1%}"
        lines.append(f"| head+decoder overhead over bare forward at 60 s ({key}) <= {OVERHEAD_TARGET:.0%} | "
                     f"{value} | {met(t['met'])} |")
    for key, t in targets.get("end_to_end", {}).items():
        value = "n/a" if t["at_60s"] is None else f"{t['at_60s']:.2f}x"
        lines.append(f"| end to end (WAV files in, JSON out) over bare forward at 60 s ({key}) <= "
                     f"{END_TO_END_TARGET:g}x | {value} | {met(t['met'])} |")
    long = targets.get("long_align") or {}
    if long.get("wall_s") is not None:
        lines.append(f"| one hour of speech through `framestamp align`: wall < {HOUR_WALL_TARGET_S / 60:g} min, peak memory "
                     f"< {HOUR_MEMORY_TARGET_MIB / 1024:g} GB | {long['audio_s'] / 60:.1f} min of audio: {long['wall_s']:.1f} s, "
                     f"{_mib(long['peak_memory_mib'])} | {met(long['met'])} |")  # fmt: skip
    runtime = targets["runtime"]
    note = "" if runtime["default_settings"] else " (not the default settings)"
    lines.append(f"| whole benchmark <= {RUNTIME_TARGET_S / 60:g} min at default settings | "
                 f"{runtime['total_wall_s']:.0f} s{note} | {met(runtime['met'])} |")
    return lines


def _busy_warning(env: dict) -> list[str]:
    """A warning when other work ran beside the benchmark (judged from the 1-minute load average)."""
    start, end = (env["load_average_start"] or [0])[0], (env["load_average_end"] or [0])[0]
    cores = env["cpu_affinity"] or env["cpu_count"] or 1
    # before the run a quiet machine idles; during it the benchmark itself keeps its threads busy
    if env["device"] != "cpu" or (start <= 0.5 * cores and end <= env["torch_threads"] + 0.75):
        return []
    return [f"**Warning: other work ran beside the benchmark (1-min load average {start:g} at start, {end:g} at "
            f"end, on {cores} cores); these timings are noisy. Rerun on a quiet machine.**", ""]


def _window(model: dict, role: str) -> str:
    """" (windows of N s)" for a model that answers long audio with its own window (runs stored
    before windows were recorded: nothing)."""
    window_s = model.get(f"{role}_window_s")
    return "" if window_s is None else f" (windows of {window_s:g} s)"


def markdown(data: dict, plot_path: Path | None) -> str:
    """The report: setting, regime, targets, and one table per sweep."""
    env, config, decoders = data["environment"], data["config"], data["config"]["decoders"]
    pairs = {mode: f"frame = {m['frame_source']}{_window(m, 'frame')}, token = {m['token_source']}{_window(m, 'token')}"
             for mode, m in data["models"].items()}  # fmt: skip
    models = next(iter(pairs.values())) if len(set(pairs.values())) == 1 else "; ".join(
        f"{mode}: {pair}" for mode, pair in pairs.items())  # fmt: skip
    first = next(iter(data["models"].values()))
    lines = [
        "# framestamp bench: frame method vs token timestamps", "",
        f"- Backbone: {first['backbone']} ({first['parameters'] / 1e6:.2f} M parameters) on {env['device']}"
        f"{' (' + env['device_name'] + ')' if env['device_name'] else ''}; CPU: {env['cpu_model']}, "
        f"{env['cpu_count']} cores; torch threads {env['torch_threads']}"
        f"{' (fixed)' if env['threads_fixed'] else ' (torch default)'}; torch {env['torch']}, "
        f"transformers {env['transformers']}; git {(env['git'] or {}).get('commit', 'n/a')}"
        f"{' (dirty)' if (env['git'] or {}).get('dirty') else ''}.",
        f"- Models: {models}.",
        f"- Token baseline length: {_regime_line(data)}.",
        f"- Batch {config['batch_size']}; warm-up {config['warmup']} run(s) of every method (token: full prompt, "
        f"{WARMUP_TOKENS} steps), then "
        f"{config['frame_repeats']} timed runs of forward/frame and {config['repeats']} of prepare/token, "
        "round-robin. Cells: median (IQR) wall time per batch in ms; ratios are of the medians.",
        "- prepare = tokenizing and log-mel features (needed by both methods, not part of either time); "
        "forward = bare backbone pass (the floor of the frame method); frame = forward + head + decoder "
        "(known count); token = greedy generation with KV cache + detokenizing + parsing.",
        f"- Load average (1/5/15 min) at start {env['load_average_start']}, at end {env['load_average_end']}; "
        f"total wall time {data['total_wall_s']:.0f} s.", "",
        *_busy_warning(env),
        "## Targets", "", *_target_lines(data["targets"]), "",
        "## By number of events (clips with exactly n words)", "",
        *_table([m for mode in config["modes"] for m in _points(data, "events", mode)], decoders, "n words"), "",
        "## By audio length", "",
        *_table([m for mode in config["modes"] for m in _points(data, "duration", mode)], decoders, "seconds"), "",
    ]  # fmt: skip
    lines += _stage_lines(data) + _long_align_lines(data)
    if plot_path is not None:
        lines += [f"![speed-up]({plot_path.name})", ""]
    return "\n".join(lines)


def _mib(value: float | None) -> str:
    return "not measured (no /proc)" if value is None else f"{value:.0f} MiB"


def _long_align_lines(data: dict) -> list[str]:
    long = data.get("long_align")
    if long is None:
        return []
    return ["## One long recording through `framestamp align` (`bench.long_align`)", "",
            f"Test clips joined into {long['audio_s'] / 60:.1f} min of audio ({long['words']} words), aligned with its "
            f"transcript by `framestamp align` in a child process with `{long['model']}`: {long['wall_s']:.1f} s of wall "
            f"time ({long['seconds_per_audio_hour']:.0f} s per hour of audio), peak memory {_mib(long['peak_memory_mib'])}, "
            f"{long['accuracy_50ms']:.1%} of word starts within 50 ms (Hungarian matching).", ""]  # fmt: skip


def _stage_lines(data: dict) -> list[str]:
    """End to end against the bare forward, and the share of each stage, for the duration sweep."""
    records = [m for m in data["measurements"] if m["sweep"] == "duration" and "end_to_end_stages" in m]
    if not records:
        return []
    stages = list(next(iter(records[0]["end_to_end_stages"].values())))
    lines = ["## End to end: WAV files in, JSON answers out (`bench.end_to_end`)", "",
             "Median time per batch of the whole path a user runs (read the files, the engine's answer with its "
             "windowed path and presence decision, the answers as JSON) against the bare forward pass of the same "
             "batch, and the share of each stage in a mean end-to-end run (`inference.stages`; *other*: what falls "
             "between the stages).", "",
             "| seconds | mode | decoder | forward ms | end to end ms | end to end / forward | "
             + " | ".join(stages) + " |", "|---|---|---|---|---|---|" + "---|" * len(stages)]  # fmt: skip
    for m in sorted(records, key=lambda r: (r["mode"], r["target"])):
        for decoder, seconds in m["end_to_end_stages"].items():
            whole = m["methods"][f"end_to_end_{decoder}"]["batch"]["median"]
            total = sum(seconds.values()) or 1.0
            shares = " | ".join(f"{seconds[name] / total:.0%}" for name in stages)
            lines.append(f"| {m['target']:g} | {m['mode']} | {decoder.replace('_', ' ')} | "
                         f"{_ms(m, 'forward').split(' ')[0]} | {whole * 1e3:.1f} | "
                         f"{m['ratios'][f'end_to_end_{decoder}']['of_medians']:.2f}x | {shares} |")  # fmt: skip
    return lines + [""]


# ------------------------------------------------------------------ plot


def plot_speedup(data: dict, path: Path) -> Path | None:
    """Speed-up vs number of events (left) and time per batch vs audio length (right); None without matplotlib."""
    try:
        import matplotlib
    except ImportError:
        return None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    figure, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    for mode, style in (("all", "-"), ("one", ":")):
        for decoder, marker in zip(data["config"]["decoders"], "os"):
            points = _points(data, "events", mode)
            if not points:
                continue
            paired = [m["ratios"][f"speedup_{decoder}"]["paired"] for m in points]
            median = np.array([m["ratios"][f"speedup_{decoder}"]["of_medians"] for m in points])
            errors = np.array([[max(v - p["q1"], 0) for v, p in zip(median, paired)],
                               [max(p["q3"] - v, 0) for v, p in zip(median, paired)]])  # fmt: skip
            left.errorbar([_median_events(m) for m in points], median, yerr=errors, linestyle=style, marker=marker,
                          capsize=3, label=f"{mode}: frame ({decoder.replace('_', ' ')})")  # fmt: skip
    left.axhline(SPEEDUP_TARGET, color="grey", linestyle="--", linewidth=1, label=f"{SPEEDUP_TARGET:g}x")
    left.set(xlabel="number of words in the clip", ylabel="speed-up (token time / frame time)", yscale="log",
             title="Speed-up vs number of events (IQR of per-round ratios)")  # fmt: skip
    left.legend(fontsize=7)
    times_x = matplotlib.ticker.FuncFormatter(lambda value, _: f"{value:g}x")
    left.yaxis.set_major_formatter(times_x)
    left.yaxis.set_minor_formatter(times_x)
    left.tick_params(axis="y", which="minor", labelsize=7)
    _plot_durations(right, data)
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)
    return path


def _plot_durations(axis, data: dict) -> None:
    points = _points(data, "duration", "all") or _points(data, "duration", "one")
    if not points:
        return
    seconds = [m["target"] for m in points]
    names = ["forward", *(f"frame_{d}" for d in data["config"]["decoders"]), "token"]
    for name in names:
        axis.plot(seconds, [m["methods"][name]["batch"]["median"] for m in points], marker="o",
                  label=name.replace("_", " "))  # fmt: skip
    axis.set(xlabel="audio length (s)", ylabel="seconds per batch (median)", yscale="log",
             title=f"Time per batch of {points[0]['batch_size']}, '{points[0]['mode']}' questions")  # fmt: skip
    axis.legend(fontsize=7)
