"""The paper's recipes and the accelerate configs: they parse and validate, and a real-backbone
recipe runs two steps (and reloads) with the backbone swapped for a tiny one of the same class."""

import runpy
from dataclasses import replace
from importlib import resources
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from framestamp.backbones.tiny_scratch import ScratchTinyBackbone
from framestamp.model import FrameStampModel
from framestamp.train.config import TrainConfig
from framestamp.train.loop import train

RECIPES = Path(str(resources.files("framestamp") / "recipes"))
PAPER = sorted((RECIPES / "paper").rglob("*.yaml"))
REPO = Path(__file__).resolve().parents[2]


def test_every_recipe_parses_and_validates():
    for path in sorted(RECIPES.rglob("*.yaml")):
        if path.parent.name != "accelerate":
            TrainConfig.load(path)


@pytest.mark.parametrize("path", PAPER, ids=lambda p: str(p.relative_to(RECIPES / "paper")))
def test_paper_recipes_restate_the_paper_settings(path):
    config = TrainConfig.load(path)
    size = path.relative_to(RECIPES / "paper").parts[0]
    assert config.model.backbone == "qwen2.5-omni"
    assert config.model.backbone_path == {"qwen2.5-omni-3b": "Qwen/Qwen2.5-Omni-3B",
                                          "qwen2.5-omni-7b": "Qwen/Qwen2.5-Omni-7B"}[size]  # fmt: skip
    assert config.epochs == {"qwen2.5-omni-3b": 3, "qwen2.5-omni-7b": 6}[size]
    assert (config.lr, config.effective_batch_size, config.lora.rank) == (1e-6, 8, 0)
    assert (config.model.frames_per_token, config.model.bidirectional_audio, config.model.layer) == (4, True, -1)
    assert config.model.head_bias_init == (-6.9 if config.data.subset == "speakers" else -6.0)
    assert config.mixed_precision == "auto" and config.weights_dtype == "float32"
    if config.objective == "joint":
        assert config.joint_weight in (0.01, 0.05)
    if "lengthgen" in path.parts:
        assert config.data.max_target_s in (4, 8, 12, 16, 20) and config.objective in ("ihp", "token")


def test_the_paper_recipe_files_match_their_generator():
    generator = runpy.run_path(str(REPO / "scripts" / "paper_recipes.py"))
    files = generator["render_all"]()
    assert len(files) == len(PAPER) == 60
    for name, text in files.items():
        assert (RECIPES / "paper" / name).read_text() == text, name


def test_the_accelerate_configs_load():
    from accelerate.commands.config.config_args import load_config_from_file

    kinds = {path.stem: load_config_from_file(str(path)) for path in (RECIPES / "accelerate").glob("*.yaml")}
    assert {name: c.distributed_type.value for name, c in kinds.items()} == {
        "single-gpu": "NO", "ddp": "MULTI_GPU", "deepspeed-zero2": "DEEPSPEED", "deepspeed-zero3": "DEEPSPEED",
        "fsdp": "FSDP",
    }  # fmt: skip
    assert kinds["deepspeed-zero2"].deepspeed_config["zero_stage"] == 2
    assert kinds["deepspeed-zero3"].deepspeed_config["zero3_save_16bit_model"] is True
    assert "Qwen2_5OmniDecoderLayer" in kinds["fsdp"].fsdp_config["fsdp_transformer_layer_cls_to_wrap"]


@pytest.fixture(scope="module")
def tiny_omni(tmp_path_factory) -> Path:
    """A random Qwen2.5-Omni thinker of the tiny preset's size, saved like a hub checkpoint."""
    path = tmp_path_factory.mktemp("tiny-omni")
    ScratchTinyBackbone.create(seed=1).save_pretrained(path)
    return path


def shrunk(recipe: Path, backbone_path: Path, output_dir: Path) -> TrainConfig:
    """``recipe`` on the tiny corpus and a tiny backbone of the same class, for two steps."""
    config = TrainConfig.load(recipe)
    return replace(
        config, model=replace(config.model, backbone_path=str(backbone_path)),
        data=replace(config.data, corpus="tiny"), epochs=None, max_steps=2, checkpoint_every=1, log_every=1,
        output_dir=str(output_dir),
    )  # fmt: skip


def test_a_7b_paper_recipe_runs_two_steps_on_a_tiny_backbone_of_the_same_class(tiny_omni, tmp_path, tiny_words):
    # joint objective (token + IHP), gradient checkpointing, effective batch 8 = 1 clip x 8 micro-batches
    config = shrunk(RECIPES / "paper/qwen2.5-omni-7b/words-one-joint-w0.05.yaml", tiny_omni, tmp_path / "run")
    final = train(config, resume=False)
    model = FrameStampModel.from_pretrained(final)
    assert type(model.backbone).__name__ == "Qwen25OmniBackbone"
    assert model.head.frames_per_token == 4 and model.frame_rate_hz == 100.0
    assert (final / "backbone" / "model.safetensors").is_file()


@pytest.mark.slow
def test_lora_recipe_trains_two_steps_saves_only_the_adapter_and_reloads(tiny_omni, tmp_path, tiny_words):
    pytest.importorskip("peft", reason="LoRA needs the train extra (peft)")
    config = shrunk(RECIPES / "lora/qwen2.5-omni-7b-words-one-ihp.yaml", tiny_omni, tmp_path / "run")
    assert config.lora.rank == 16 and config.weights_dtype == "bfloat16"
    final = train(config, resume=False)
    assert sorted(p.name for p in final.iterdir()) == ["adapter", "framestamp_config.json", "head.safetensors"]
    assert sorted(p.name for p in (final / "adapter").iterdir()) == ["adapter_config.json", "adapter_model.safetensors"]
    model = FrameStampModel.from_pretrained(final, dtype=torch.bfloat16)
    live = model.backbone.model.state_dict()
    adapter = load_file(final / "adapter" / "adapter_model.safetensors")
    key = "model.language_model.layers.0.self_attn.q_proj.lora_B.default.weight"
    saved = adapter["base_model.model." + key.replace(".default", "")]
    assert saved.dtype == torch.float32 and saved.abs().max() > 0  # lora_B starts at zero: it was trained
    torch.testing.assert_close(live[key], saved, rtol=0, atol=0)
    base = ScratchTinyBackbone.from_pretrained(tiny_omni, dtype=torch.bfloat16).model.state_dict()
    frozen = "model.language_model.layers.0.self_attn.q_proj"
    torch.testing.assert_close(live[frozen + ".base_layer.weight"], base[frozen + ".weight"], rtol=0, atol=0)
    torch.testing.assert_close(model.head.proj.weight, load_file(final / "head.safetensors")["proj.weight"])
