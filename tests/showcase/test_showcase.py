"""The main job's table on tiny random models standing in for the shipped checkpoints."""

from rich.console import Console

from framestamp import showcase
from framestamp.backbones.tiny_scratch import ScratchTinyBackbone
from framestamp.model import FrameStampModel, ModelConfig
from framestamp.inference import api


def test_showcase_prints_frame_and_token_rows_and_names_what_is_not_shipped(tmp_path, monkeypatch):
    monkeypatch.setattr(api, "shipped_checkpoints_dir", lambda: tmp_path)
    FrameStampModel(ScratchTinyBackbone.create(), ModelConfig()).save_pretrained(tmp_path / "words")
    FrameStampModel(ScratchTinyBackbone.create(), ModelConfig(head_objective="none")).save_pretrained(tmp_path / "words-token")
    console = Console(record=True, width=160)
    showcase.run_showcase(console, n_queries=4, batch_size=4)
    text = console.export_text()
    assert "word, k-th occurrence" in text and "frame (IHP)" in text and "token" in text
    assert "not shipped yet" in text and "speaker k onset" in text
