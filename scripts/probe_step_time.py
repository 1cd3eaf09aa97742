"""Probe: seconds per training step of a recipe, from a fresh model, under other training settings.

    python scripts/probe_step_time.py RECIPE STEPS OUT_DIR [key=value ...]

``key=value`` overrides the recipe's training config (``batch_size=2``, ``grad_accumulation=4``)
or, prefixed ``data.``, its data config (``data.group_by_length=true``). Prints one JSON line: the
seconds per step between the first and the last logged step (start-up left out), and the minutes
at each logged step (the losses stay in OUT_DIR/metrics.csv). Every run draws the same clips at
every step (the sampler is a function of seed and step), so runs that differ only in
micro-batching see the same data.
"""

from __future__ import annotations

import csv
import json
import shutil
import sys
from dataclasses import replace
from pathlib import Path

import yaml

from framestamp.reproduce.plan import recipe
from framestamp.train.loop import train


def _value(text: str):
    """A ``key=value`` override's value, read as the recipes' YAML reads it (``true``, ``2``, ``5.0e-4``, ``[2, 4]``)."""
    return yaml.safe_load(text)


def main(name: str, steps: int, out: str, overrides: list[str]) -> dict:
    settings = {key: _value(value) for key, value in (item.split("=", 1) for item in overrides)}
    data = {key.removeprefix("data."): v for key, v in settings.items() if key.startswith("data.")}
    top = {key: v for key, v in settings.items() if not key.startswith("data.")}
    config = recipe(name, preset="tiny")
    config = replace(config, init_from=None, max_steps=steps, warmup_steps=1, output_dir=out,
                     checkpoint_every=10**6, log_every=4, data=replace(config.data, **data), **top)  # fmt: skip
    shutil.rmtree(out, ignore_errors=True)
    train(config, resume=False)
    rows = list(csv.DictReader(Path(out, "metrics.csv").read_text().splitlines()))
    minutes = [(int(float(row["step"])), float(row["minutes"])) for row in rows]
    (first_step, first), (last_step, last) = minutes[0], minutes[-1]
    return {"recipe": name, "extra": settings, "seconds_per_step": round((last - first) * 60 / (last_step - first_step), 3),
            "log": minutes}  # fmt: skip


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4:])))
