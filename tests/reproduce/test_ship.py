"""Shipped checkpoints store their backbone in half precision and load it back as float32."""

import torch

from framestamp.backbones.tiny_scratch import ScratchTinyBackbone
from framestamp.model import FrameStampModel, ModelConfig
from framestamp.reproduce.ship import store_half_precision


def test_a_shipped_backbone_takes_half_the_room_and_loads_as_float32_rounded_to_half(tmp_path):
    model = FrameStampModel(ScratchTinyBackbone.create(["apple", "dog"], seed=0), ModelConfig(backbone="tiny-scratch"))
    model.save_pretrained(tmp_path / "ckpt")
    weights = tmp_path / "ckpt" / "backbone" / "model.safetensors"
    before = weights.stat().st_size
    store_half_precision(tmp_path / "ckpt" / "backbone")
    assert weights.stat().st_size < 0.55 * before
    loaded = FrameStampModel.from_pretrained(tmp_path / "ckpt")
    original = model.backbone.model.state_dict()
    for name, value in loaded.backbone.model.state_dict().items():
        assert value.dtype == torch.float32, name
        torch.testing.assert_close(value, original[name].half().float(), rtol=0, atol=0, msg=name)
    assert torch.equal(loaded.head.proj.weight, model.head.proj.weight)  # the head stays float32


def test_a_cards_earlier_stages_are_read_from_the_shipped_presets_own_runs():
    from pathlib import Path

    from framestamp.reproduce.plan import FULL
    from framestamp.reproduce.ship import earlier_stages

    words = next(e for e in FULL if e.ships_as == "words")
    stages = earlier_stages(words, Path("no-runs-here"), Path(__file__).parents[2] / "results")
    assert [line.split("`")[1] for line in stages] == ["words-ihp-short", "words-spoken-short"]
    assert "10,000 steps" in stages[0] and "continues `words-ihp-short`" in stages[1]
