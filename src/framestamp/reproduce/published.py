"""The numbers the README publishes, generated from the stored results.

Every results table of ``README.md`` (and every number its prose quotes from a result) sits between
``<!-- published:NAME -->`` and ``<!-- /published:NAME -->``; this module makes each block from
``results/metrics/*.json`` (``framestamp reproduce``), ``results/bench/bench.json`` and
``results/bench-h200/bench.json`` (``framestamp bench``), and writes them in place. A stored run
whose settings differ from its recipe of today (trained by an earlier version) is marked in every
table that shows it, with what differs, until it is retrained. The values the docs quote beside
their references (``reproduce.quoted``) are made the stored ones too.

    python -m framestamp.reproduce.published          # rewrite the README's blocks and the docs' values
    python -m framestamp.reproduce.published --check  # exit 1 when one differs from the results
"""

from __future__ import annotations

import json
import math
import re
import sys
from pathlib import Path
from typing import Callable

from ..bench.report import MIN_EVENTS_FOR_SPEEDUP, SPEEDUP_TARGET
from ..train.config import TrainConfig
from .plan import FULL, PLANS, TABLES, Experiment, experiment_config
from .quoted import fill_marked, stale_marked
from .stored import SHIPPED, SHIPPED_PRESET, Anchors, evaluation, load_results
from .targets import TARGETS, measured_targets

EXPERIMENTS = {experiment.name: experiment for experiment in FULL}
SHIPS = {experiment.name: experiment.ships_as for experiment in FULL if experiment.ships_as}
BENCHES = {"speed-cpu": "bench", "speed-gpu": "bench-h200"}  # block -> folder under results/
DRIFT_MARK = "†"


# ------------------------------------------------------------------ stored runs against their recipes


def twin_of(name: str, experiments: tuple[Experiment, ...] = FULL) -> str | None:
    """The token baseline of frame experiment ``name`` in the plan ``experiments`` (``words-ihp-long``
    -> ``words-token-long``, ``words-all`` -> ``words-all-token``, ``words-spoken-short`` ->
    ``words-token-spoken-short``), or None when it has none."""
    if name.endswith("-token") or "-token-" in name:
        return None
    names = {e.name for e in experiments}
    if "-ihp" in name:
        candidates = [name.replace("-ihp", "-token", 1)]
    else:
        candidates = [f"{name}-token", name.replace("-", "-token-", 1)]
    return next((twin for twin in candidates if twin in names), None)


def token_twins(experiments: tuple[Experiment, ...] = FULL) -> list[tuple[Experiment, Experiment]]:
    """(frame experiment, its token baseline) for every pair of the plan ``experiments``."""
    by_name = {e.name: e for e in experiments}
    return [(by_name[name], by_name[twin]) for name in by_name if (twin := twin_of(name, experiments))]


def minute_cap_binds(config: TrainConfig, summary: dict | None) -> bool:
    """Whether ``config``'s ``max_minutes`` may stop it before ``max_steps``: a cap is set, and no
    stored run (``summary``) of the same steps finished them under a cap as tight or tighter."""
    if config.max_minutes is None:
        return False
    if summary is None:
        return True
    ran, steps = summary["config"], summary.get("train", {}).get("step", 0)
    finished = ran["max_steps"] == config.max_steps and steps >= config.max_steps
    return not (finished and ran.get("max_minutes") is not None and ran["max_minutes"] <= config.max_minutes)


def _flat(values: dict, prefix: str = "") -> dict:
    flat = {}
    for key, value in values.items():
        flat.update(_flat(value, f"{prefix}{key}.") if isinstance(value, dict) else {f"{prefix}{key}": value})
    return flat


def _run_name(value):
    """``runs/<name>/final[/backbone]`` -> ``<name>`` (the runs folder differs between machines)."""
    if isinstance(value, str) and "/final" in value:
        return Path(value.split("/final")[0]).name
    return value


BOOKKEEPING = frozenset({"output_dir", "checkpoint_every", "log_every"})


def recipe_drift(experiment: Experiment, summary: dict) -> list[str]:
    """How the stored run behind ``summary`` was set up differently from ``experiment`` today, as
    "setting: stored (now: today's)" strings; empty when its numbers are today's recipe's. A minute
    cap that did not stop the stored run does not count, nor do settings that change what is written
    along the way but not what is learned (``BOOKKEEPING``)."""
    ran = _flat(TrainConfig.from_dict(summary["config"]).to_dict())
    now = _flat(experiment_config(experiment).to_dict())
    finished = summary.get("train", {}).get("step", 0) >= ran["max_steps"]
    starts = {"model.backbone_path": "backbone of", "init_from": "continues"}  # listed first
    drift = []
    for key in [*starts, *sorted(set(ran) - set(starts))]:
        stored, today = (_run_name(config.get(key)) for config in (ran, now))
        if key in BOOKKEEPING or (key == "max_minutes" and finished) or stored == today:
            continue
        drift.append(f"{starts.get(key, key)} `{_text(stored)}` (today `{_text(today)}`)")
    return drift


def _text(value) -> str:
    return "none" if value is None else str(value)


def steps_trained(summary: dict, unit: str = "") -> str:
    """The steps a stored run trained (``unit`` after the number), with its step budget and minute
    cap when it stopped before the budget."""
    steps, config = int(summary.get("train", {}).get("step", 0)), summary["config"]
    if steps >= config["max_steps"]:
        return f"{steps:,}{unit}"
    cap = config.get("max_minutes")
    return f"{steps:,} of {config['max_steps']:,}{unit}" + (f" ({cap:g}-min cap)" if cap is not None else "")


def starts_from(summary: dict) -> str:
    """What a stored run started from: the run it continued, the backbone it took, or nothing."""
    config = summary["config"]
    if config.get("init_from"):
        return f"continues `{_run_name(config['init_from'])}`"
    if config["model"].get("backbone_path"):
        return f"backbone of `{_run_name(config['model']['backbone_path'])}`"
    return "from scratch"


def checkpoint_parameters(directory: Path) -> int:
    """Parameters stored in a checkpoint directory (``backbone/*.safetensors`` and the head; tied
    weights are stored once), read from the safetensors headers only."""
    total = 0
    for path in sorted(directory.glob("backbone/*.safetensors")) + sorted(directory.glob("*.safetensors")):
        with path.open("rb") as handle:
            header = json.loads(handle.read(int.from_bytes(handle.read(8), "little")))
        total += sum(math.prod(t["shape"]) for key, t in header.items() if key != "__metadata__")
    return total


# ------------------------------------------------------------------ cells and tables

HEADLINE = ("0.02", "0.05", "0.1")  # tolerances (s) of the accuracy columns


def _pct(value: float) -> str:
    return f"{value:.1%}"


def _record(results: dict, name: str, split: str, mode: str) -> dict:
    record = evaluation(results[name], split, mode) if name in results else None
    if record is None:
        raise KeyError(f"no stored {split}/{mode} evaluation of {name} under results/metrics")
    return record


def _who(name: str) -> str:
    """An experiment's name, with the name it ships as."""
    if name not in SHIPS:
        return f"`{name}`"
    return f"`{name}` (shipped)" if SHIPS[name] == name else f"`{name}` (ships as `{SHIPS[name]}`)"


def _marked(results: dict, name: str) -> str:
    """The experiment's name, with the drift mark when its stored run is not today's recipe."""
    return _who(name) + (f" {DRIFT_MARK}" if recipe_drift(EXPERIMENTS[name], results[name]) else "")


def _table(columns: tuple[str, ...], rows: list[list[str]], notes: list[str] = ()) -> str:
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    return "\n".join(lines + ["| " + " | ".join(row) + " |" for row in rows] + list(notes))


def _drift_notes(results: dict, names) -> list[str]:
    """The note under a table: what differed for each of its runs that today's recipe did not train."""
    drift = {name: recipe_drift(EXPERIMENTS[name], results[name]) for name in dict.fromkeys(names)}
    notes = [f"`{name}`: " + ", ".join(what) for name, what in drift.items() if what]
    if not notes:
        return []
    return ["", f"{DRIFT_MARK} Stored numbers of an earlier recipe, not yet retrained with today's: {'; '.join(notes)}."]


# ------------------------------------------------------------------ the README's blocks

# The experiments each table shows: the shipped models (the plan's ``ships_as``), the stages beside them.
FRAME, TOKEN = ("words", "speakers", "events"), ("words-token", "speakers-token", "events-token")
SHOWN = TABLES[SHIPPED_PRESET]
ALL_WORDS = (SHIPPED["words-all"], SHIPPED["words-all-token"])
FIT = tuple(SHIPPED[n] for n in FRAME + TOKEN)


def single_table(results: dict, names: tuple[str, ...]) -> str:
    """Single-occurrence test questions: accuracy, median error, time, steps and start of each run."""
    rows = []
    for name in names:
        record = _record(results, name, "test", "one")
        m = record["metrics"]
        chance = m.get("chance_accuracy", {}).get("0.05")
        rows.append([_marked(results, name), str(record["n"]), *(_pct(m["accuracy"][t]) for t in HEADLINE),
                     "-" if chance is None else _pct(chance), f"{m['median_ae_s']:.3f} s", f"{record['median_seconds_per_query'] * 1000:.1f}",
                     steps_trained(results[name]), starts_from(results[name])])  # fmt: skip
    columns = ("experiment", "questions", "acc 20 ms", "acc 50 ms", "acc 100 ms", "chance 50 ms", "median abs. error",
               "ms / query",
               "steps trained", "starts from")  # fmt: skip
    return _table(columns, rows, _drift_notes(results, names))


def all_table(results: dict) -> str:
    """Every word start of a clip, count inferred, Hungarian matching; beside it, the same clips
    with their transcript given (``align --transcript``), where it was evaluated."""
    rows = []
    for name in ALL_WORDS:
        record = _record(results, name, "test", "all")
        m, onset = record["metrics"], record.get("onset_f_measure_50ms", {}).get("f1")
        aligned = evaluation(results[name], "test", "align")
        rows.append([_marked(results, name), str(record["n"]), *(_pct(m["accuracy"][t]) for t in HEADLINE),
                     _pct(m["count_accuracy"]), "n/a" if onset is None else _pct(onset),
                     "-" if aligned is None else _pct(aligned["metrics"]["accuracy"]["0.05"]),
                     f"{record['median_seconds_per_query'] * 1000:.1f}", steps_trained(results[name]),
                     starts_from(results[name])])  # fmt: skip
    columns = ("experiment", "clips", "acc 20 ms", "acc 50 ms", "acc 100 ms", "count exact", "onset F 50 ms",
               "transcript given, 50 ms", "ms / query", "steps trained", "starts from")  # fmt: skip
    return _table(columns, rows, _drift_notes(results, ALL_WORDS))


def targets_table(results: dict, anchors: Anchors = Anchors()) -> str:
    """The shipped plan's targets (``targets.TARGETS``): measured, target, verdict (``anchors``: the
    forced-alignment anchor's stored results)."""
    measured = measured_targets(results, SHIPPED_PRESET, anchors)
    rows = [[f"{row.what}: {_marked(results, row.experiment)}", row.shown_value(), row.shown_goal(), row.verdict()]
            for row in measured]  # fmt: skip
    names = [target.experiment for target in TARGETS[SHIPPED_PRESET] if target.experiment in results]
    return _table(("target", "measured", "target", "met"), rows, _drift_notes(results, names))


# The from-scratch preset's stored reproduction, beside the shipped one: results/<this>/metrics.
ABLATION_PRESET = "tiny-scratch"
# (shipped model, split, mode, tolerance s): the questions the ablation table compares
ABLATION_ROWS = (("words", "test", "one", 0.05), ("words", "test_long", "one", 0.05), ("words-token", "test", "one", 0.05),
                 ("words-all", "test", "all", 0.05), ("words-all-token", "test", "all", 0.05),
                 ("speakers", "test", "one", 0.1), ("speakers-token", "test", "one", 0.1),
                 ("events", "test", "one", 0.05), ("events-token", "test", "one", 0.05))  # fmt: skip


# The built-in corpus whose questions both sides answer: the from-scratch models were evaluated on the
# grammar-only corpus; the pre-trained word models trained on the open one, and answer both.
ABLATION_CORPUS = "default"


def ablation_table(results: dict, scratch: dict, scratch_preset: str = ABLATION_PRESET) -> str:
    """Each shipped model against the same-named model of the from-scratch plan (``scratch``: its
    stored results), on the same questions (``ABLATION_CORPUS``'s clips)."""
    scratch_ships = {e.ships_as: e.name for e in PLANS[scratch_preset] if e.ships_as}
    rows = []
    for shipped, split, mode, tolerance_s in ABLATION_ROWS:
        ours, theirs = SHIPPED.get(shipped), scratch_ships.get(shipped)
        cells = []
        for stored, name in ((results, ours), (scratch, theirs)):
            record = evaluation(stored[name], split, mode, corpus=ABLATION_CORPUS) if name in stored else None
            cells.append("-" if record is None else f"{_pct(record['metrics']['accuracy'][str(tolerance_s)])} (`{name}`)")
        rows.append([f"`{shipped}`", f"{split}, {'every word start' if mode == 'all' else 'one occurrence'}",
                     f"{tolerance_s * 1000:g} ms", *cells])  # fmt: skip
    return _table(("shipped model", "questions", "within", f"pre-trained tower (`{SHIPPED_PRESET}`)",
                   f"from scratch (`{scratch_preset}`)"), rows)  # fmt: skip


def presence_table(results: dict) -> str:
    """Present and absent questions on the test split: who calls them right, and the AUC."""
    rows = []
    for name in SHOWN.presence:
        m = _record(results, name, "test", "presence")["metrics"]
        rows.append([_marked(results, name), f"{m['n_present']} / {m['n_absent']}", f"{m['threshold']:.3g}",
                     *(_pct(m[key]) for key in ("present_recall", "absent_recall", "balanced_accuracy")),
                     f"{m['auc']:.3f}"])  # fmt: skip
    columns = ("experiment", "present / absent", "threshold", "present called present", "absent called absent",
               "balanced accuracy", "AUC")  # fmt: skip
    return _table(columns, rows, _drift_notes(results, SHOWN.presence))


def fit_table(results: dict) -> str:
    """The shipped models on clips they trained on against held-out clips."""
    rows = []
    for name in FIT:
        train, test = _record(results, name, "train", "one"), _record(results, name, "test", "one")
        cells = [_pct(r["metrics"]["accuracy"][t]) for t in ("0.05", "0.1") for r in (train, test)]
        rows.append([_marked(results, name), f"{train['n']} / {test['n']}", *cells])
    columns = ("experiment", "questions (train / test)", "train, 50 ms", "test, 50 ms", "train, 100 ms", "test, 100 ms")
    return _table(columns, rows, _drift_notes(results, FIT))


def voice_kind(source: str) -> str:
    """How the breakdown names a words-subset speech source: a package of recorded prompts
    (``corpus.sources.PROMPT_VOICES``), else a synthesiser."""
    from ..corpus.sources import PROMPT_VOICES

    recorded = {package for package, _, _ in PROMPT_VOICES.values()}
    return "recorded voice" if source in recorded else "synthetic voices"


def breakdown_table(results: dict) -> str:
    """Where the shipped frame models fail: speech source, overlap, recordings of the class in training."""
    from ..corpus.pools import held_out_families
    from ..corpus.sources import event_classes

    rows = []
    words, speakers, events = (SHIPPED[task] for task in FRAME)
    for source, group in _record(results, words, "test", "one")["by_source"].items():
        rows.append([_who(words), f"{voice_kind(source)} (`{source}`)", "50 ms", _pct(group["accuracy"]["0.05"]), str(group["n"])])
    for overlap, group in _record(results, speakers, "test", "one")["by_overlap"].items():
        rows.append([_who(speakers), f"onset over {overlap}", "100 ms", _pct(group["accuracy"]["0.1"]), str(group["n"])])
    by_class = _record(results, events, "test", "one")["by_subject"]
    recordings = {name: len(held_out_families(r)["train"]) for name, r in event_classes().items()}
    for single in (True, False):
        classes = [c for c in by_class if (recordings.get(c, 0) == 1) == single]
        counts = sorted({recordings.get(c, 0) for c in classes})
        n = sum(by_class[c]["n"] for c in classes)
        accuracy = sum(by_class[c]["accuracy"]["0.05"] * by_class[c]["n"] for c in classes) / max(n, 1)
        span = f"{counts[0]} recording" if single else f"{counts[0]}-{counts[-1]} recordings"
        rows.append([_who(events), f"{len(classes)} classes with {span} in training", "50 ms", _pct(accuracy), str(n)])
    return _table(("experiment", "questions about", "within", "accuracy", "questions"), rows)


def length_tables(results: dict) -> str:
    """Accuracy within 50 ms by target time: long clips (test_long), and the short-clip stage on test."""
    long_clips = ", ".join(dict.fromkeys(_long_clips(results[name]["config"]["data"]) for name in SHOWN.long))
    short = results[SHOWN.short_stage[0]]["config"]["data"]["max_duration_s"]
    parts = []
    for split, names, text in (
        ("test_long", SHOWN.long, f"Long clips (`test_long`: {long_clips})"),
        ("test", SHOWN.short_stage, f"The short-clip stage (trained on clips of at most {short:g} s) on the test split"),
    ):  # fmt: skip
        records = {name: _record(results, name, split, "one") for name in names}
        buckets = list(dict.fromkeys(b for r in records.values() for b in r["by_time"]))
        rows = [[_marked(results, name), _pct(r["metrics"]["accuracy"]["0.05"]),
                 *(f"{r['by_time'][b]['accuracy']['0.05']:.0%} ({r['by_time'][b]['n']})" if b in r["by_time"] else ""
                   for b in buckets)] for name, r in records.items()]  # fmt: skip
        parts.append(f"{text}, by target time, within 50 ms (questions in bucket):\n\n"
                     + _table(("experiment", "all", *buckets), rows, _drift_notes(results, names)))  # fmt: skip
    return "\n\n".join(parts)


def long_clip_range(data: dict) -> str | None:
    """"<min>-<max> s": clip lengths of the test_long split of the built-in corpus a run trained on
    (``data``: its data config), or None for another corpus."""
    from ..corpus.config import SIZES

    if data["corpus"] not in SIZES:
        return None
    spec = getattr(SIZES[data["corpus"]], data["subset"])["test_long"]
    return f"{spec.min_duration_s:g}-{spec.max_duration_s:g} s"


def _long_clips(data: dict) -> str:
    return " ".join(filter(None, (data["subset"], long_clip_range(data))))


# (sweep, mode, target): the bench rows the README quotes
SPEED_ROWS = (("events", "all", 3), ("events", "all", 13), ("events", "all", 30), ("duration", "all", 60),
              ("events", "one", 13), ("duration", "one", 60))  # fmt: skip


def speed_table(bench: dict, folder: str) -> str:
    """The bench's own cells for the rows the README quotes, its setting and its speed targets."""
    env, config, decoders = bench["environment"], bench["config"], bench["config"]["decoders"]
    names = " / ".join(d.replace("_", " ") for d in decoders)
    rows = []
    for sweep, mode, target in SPEED_ROWS:
        found = [m for m in bench["measurements"] if (m["sweep"], m["mode"], m["target"]) == (sweep, mode, target)]
        if not found:
            continue
        m, ratios = found[0], found[0]["ratios"]
        clip = f"{target:g} words ({m['bucket']})" if sweep == "events" else f"{target:g} s"
        rows.append([
            "all word starts" if mode == "all" else "one word", clip,
            " / ".join(f"{m['methods'][f'frame_{d}']['batch']['median'] * 1e3:.1f}" for d in decoders),
            f"{m['methods']['token']['batch']['median'] * 1e3:.1f}", str(max(m["token"]["steps"])),
            " / ".join(f"{ratios[f'speedup_{d}']['of_medians']:.1f}x" for d in decoders),
            " / ".join(f"{ratios[f'overhead_{d}']['of_medians']:+.1%}" for d in decoders),
        ])  # fmt: skip
    lines_after = _end_to_end_lines(bench, decoders)
    models = "; ".join(_bench_models(bench, mode) for mode in bench["models"])
    device = env["device_name"] or f"{env['cpu_model']}, {env['cpu_count']} cores"
    first = next(iter(bench["models"].values()))
    columns = ("question", "clip", f"frame ms ({names})", "token ms", "token steps", f"speed-up ({names})",
               f"head + decoder over bare forward ({names})")  # fmt: skip
    lines = [
        f"[`results/{folder}/bench.md`](results/{folder}/bench.md): {first['backbone']} backbone "
        f"({first['parameters'] / 1e6:.2f} M parameters) on {env['device']} ({device}), batch {config['batch_size']}, "
        f"median time per batch; {models}.", "", _table(columns, rows), "",
    ]  # fmt: skip
    for decoder, t in bench["targets"]["speedup"].items():
        lines.append(f"- {decoder.replace('_', ' ')}: median speed-up over the all-word buckets of "
                     f"{MIN_EVENTS_FOR_SPEEDUP}+ words {t['median_11_plus']:.1f}x (the bench's target: "
                     f"{SPEEDUP_TARGET:g}x), Spearman with the number of words {t['spearman_with_events']:+.2f}.")  # fmt: skip
    return "\n".join(lines + lines_after)


def _end_to_end_lines(bench: dict, decoders) -> list[str]:
    """What a user waits for at the longest duration (files in, answers out, against the bare
    forward), and the long recording through ``framestamp align``, when the bench measured them."""
    lines = []
    longest = max((m["target"] for m in bench["measurements"] if m["sweep"] == "duration"), default=None)
    for m in bench["measurements"]:
        if m["sweep"] == "duration" and m["target"] == longest and f"end_to_end_{decoders[0]}" in m["ratios"]:
            ratios = " / ".join(f"{m['ratios'][f'end_to_end_{d}']['of_medians']:.2f}x" for d in decoders)
            lines.append(f"- end to end (WAV files in, JSON answers out) over the bare forward, {longest:g} s, "
                         f"`{m['mode']}` questions: {ratios}.")  # fmt: skip
    long = bench.get("long_align")
    if long is not None:
        peak = "not measured" if long["peak_memory_mib"] is None else f"{long['peak_memory_mib']:.0f} MiB"
        lines.append(f"- {long['audio_s'] / 60:.1f} min of speech through `framestamp align`: {long['wall_s']:.1f} s, "
                     f"peak memory {peak}, {long['accuracy_50ms']:.1%} of word starts within 50 ms.")  # fmt: skip
    return lines


def _bench_models(bench: dict, mode: str) -> str:
    """Which models the bench timed for ``mode`` questions, and how their token answers ended."""
    models = bench["models"][mode]
    trained = "trained" if models["frame_trained"] and models["token_trained"] else "untrained"
    regimes = {m["token"]["regime"] for m in bench["measurements"] if m["mode"] == mode}
    answers = {frozenset({"fixed"}): "token answers forced to the reference answer's token length",
               frozenset({"trained"}): "token answers generated until their end"}.get(
        frozenset(regimes), "token answers in regimes " + "/".join(sorted(regimes)))  # fmt: skip
    return f"`{mode}` questions: {trained} models, {answers}"


def parameters() -> str:
    """The tiny backbone's size, counted in the shipped ``words`` checkpoint."""
    from ..inference.api import shipped_checkpoints_dir

    return f"{checkpoint_parameters(shipped_checkpoints_dir() / 'words') / 1e6:.2f} M"


# The ablation preset's parameter count, stored from its last shipped `words` when its checkpoints
# stopped shipping (``checkpoint_parameters``).
ABLATION_PARAMETERS = "parameters.json"


def ablation_parameters(results_dir: Path) -> str:
    return f"{json.loads((results_dir / ABLATION_PRESET / ABLATION_PARAMETERS).read_text())['parameters'] / 1e6:.2f} M"


BLOCKS: dict[str, Callable[[dict], str]] = {
    "results-one": lambda r: single_table(r, SHOWN.single),
    "results-objectives": lambda r: single_table(r, SHOWN.objectives),
    "results-all": all_table,
    "presence": presence_table,
    "fit": fit_table,
    "breakdowns": breakdown_table,
    "length": length_tables,
}


def generate(results_dir: Path | str = "results") -> dict[str, str]:
    """{block name: its generated markdown} from the stored results under ``results_dir`` (and the
    shipped checkpoints, for the parameter count)."""
    results_dir, results = Path(results_dir), load_results(Path(results_dir))
    blocks = {name: make(results) for name, make in BLOCKS.items() if name != "results-objectives" or SHOWN.objectives}
    blocks["targets"] = targets_table(results, Anchors.load(results_dir))
    scratch_dir = results_dir / ABLATION_PRESET
    if ABLATION_PRESET != SHIPPED_PRESET and (scratch_dir / "metrics").is_dir():
        blocks["ablation"] = ablation_table(results, load_results(scratch_dir))
    for name, folder in BENCHES.items():
        path = results_dir / folder / "bench.json"
        if path.is_file():
            blocks[name] = speed_table(json.loads(path.read_text()), folder)
    blocks["parameters"] = parameters()
    if (results_dir / ABLATION_PRESET / ABLATION_PARAMETERS).is_file():
        blocks["parameters-scratch"] = ablation_parameters(results_dir)
    return blocks


def _pattern(name: str) -> re.Pattern:
    name = re.escape(name)
    return re.compile(rf"(<!-- published:{name} -->)(.*?)(<!-- /published:{name} -->)", re.DOTALL)


def render(text: str, blocks: dict[str, str]) -> str:
    """``text`` with every marked block replaced by its generated content (a block on lines of its
    own when the content has several lines, inline otherwise); a marker without content is an error."""
    for name, content in blocks.items():
        body = f"\n{content}\n" if "\n" in content else content
        text, found = _pattern(name).subn(lambda match: match.group(1) + body + match.group(3), text)
        if not found:
            raise ValueError(f"README has no <!-- published:{name} --> block")
    unknown = set(re.findall(r"<!-- published:([\w-]+) -->", text)) - set(blocks)
    if unknown:
        raise ValueError(f"README blocks with nothing to generate them: {sorted(unknown)}")
    return text


def stale_blocks(readme: Path | str = "README.md", results_dir: Path | str = "results") -> list[str]:
    """Names of the README's blocks whose text differs from what the stored results give."""
    readme = Path(readme)
    text, blocks = readme.read_text(), generate(results_dir)
    rendered = render(text, blocks)
    return [name for name in blocks if _pattern(name).findall(text) != _pattern(name).findall(rendered)]


def publish(readme: Path | str = "README.md", results_dir: Path | str = "results") -> list[str]:
    """Rewrite the README's generated blocks from the stored results; return the names that changed."""
    readme = Path(readme)
    changed = stale_blocks(readme, results_dir)
    if changed:
        readme.write_text(render(readme.read_text(), generate(results_dir)))
    return changed


def publish_docs(docs_dir: Path | str = "docs", results_dir: Path | str = "results", check: bool = False) -> list[str]:
    """Make the values quoted beside their references in ``docs_dir/*.md`` the stored ones
    (``reproduce.quoted``); return "file: reference" of each that was (``check``: is) stale."""
    changed = []
    for path in sorted(Path(docs_dir).glob("*.md")):
        text = path.read_text()
        stale = stale_marked(text, Path(results_dir))
        changed += [f"{path.name}: {reference}" for reference in stale]
        if stale and not check:
            path.write_text(fill_marked(text, Path(results_dir)))
    return changed


def main(argv: list[str]) -> int:
    check = "--check" in argv
    paths = [a for a in argv if not a.startswith("--")]
    readme, results_dir = (paths + ["README.md", "results"][len(paths):])[:2]
    changed = stale_blocks(readme, results_dir) if check else publish(readme, results_dir)
    changed += publish_docs(Path(readme).parent / "docs", results_dir, check)
    for name in changed:
        print(f"{'stale' if check else 'rewrote'}: {name}")
    return 1 if check and changed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
