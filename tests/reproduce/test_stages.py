"""The checkpoints the pre-trained plan carries between sessions (results/stages/): each is a plan
experiment that something not yet shipped still needs, kept as a shipped checkpoint is, and loads."""

import json
from pathlib import Path

import pytest
from safetensors import safe_open

from framestamp.inference.api import shipped_checkpoints_dir
from framestamp.model import FrameStampModel
from framestamp.reproduce.plan import PLANS, with_prerequisites

STAGES = Path(__file__).resolve().parents[2] / "results" / "stages"
PLAN = {experiment.name: experiment for experiment in PLANS["tiny"]}
KEPT = sorted(path for path in STAGES.iterdir() if path.is_dir()) if STAGES.is_dir() else []


def _shipped(name: str) -> bool:
    """Whether the plan's experiment ``name`` ships, and the package holds it on this preset."""
    ships_as = PLAN[name].ships_as
    config = shipped_checkpoints_dir() / str(ships_as) / "framestamp_config.json"
    return ships_as is not None and config.exists() and json.loads(config.read_text())["backbone"] == "tiny"


def _shipping_from(name: str) -> list[str]:
    """The plan's experiments that ship and are ``name`` or start from it, directly or through others."""
    return [e.name for e in PLAN.values() if e.ships_as and name in with_prerequisites((e.name,), PLANS["tiny"])]


@pytest.mark.parametrize("kept", KEPT, ids=[path.name for path in KEPT])
def test_a_kept_checkpoint_is_a_plan_experiment_still_needed(kept):
    assert kept.name in PLAN, f"{kept.name} is not an experiment of the pre-trained plan"
    needed = [name for name in _shipping_from(kept.name) if not _shipped(name)]
    assert needed, f"every model that starts from {kept.name} has shipped: remove results/stages/{kept.name}"


@pytest.mark.parametrize("kept", KEPT, ids=[path.name for path in KEPT])
def test_a_kept_checkpoint_is_stored_as_shipped_ones_are_and_loads(kept):
    with safe_open(kept / "backbone" / "model.safetensors", "pt") as weights:
        dtypes = {str(weights.get_slice(name).get_dtype()) for name in weights.keys()}
    assert dtypes == {"F16"}
    model = FrameStampModel.from_pretrained(kept)
    assert model.config.backbone == "tiny"
