"""Training on tiny synthetic clips: every objective runs, resume is exact, the loss drops."""

import json
import shutil

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from framestamp.data.examples import Clip, Segment, join_clips
from framestamp.model import FrameStampModel, ModelConfig
from framestamp.train.config import TrainConfig
from framestamp.train.loop import train


def toy_clips(n=4, seconds=2.0):
    rng = np.random.default_rng(0)
    clips = []
    for i in range(n):
        audio = (rng.standard_normal(int(16000 * seconds)) * 0.01).astype(np.float32)
        segments = []
        for word, start in (("apple", 0.3 + 0.1 * i), ("banana", 0.9), ("apple", 1.4)):
            first = int(round(start * 16000))
            audio[first : first + 3200] += np.sin(np.arange(3200) * 0.3) * 0.5
            segments.append(Segment(word, start, start + 0.2))
        clips.append(Clip(f"toy{i}", audio, "words", tuple(segments)))
    return clips


def config(tmp_path, **overrides):
    values = {
        "objective": "ihp", "max_steps": 2, "batch_size": 2, "warmup_steps": 1, "aux_identity_weight": 0.5,
        "output_dir": str(tmp_path / "run"), "checkpoint_every": 2, "log_every": 1, "data": {"modes": ["one", "all"]},
    } | overrides  # fmt: skip
    return TrainConfig.from_dict(values)


@pytest.mark.parametrize("objective", ["ihp", "binary", "token", "joint"])
def test_two_steps_of_every_objective(tmp_path, objective):
    final = train(config(tmp_path, objective=objective), toy_clips(), resume=False)
    model = FrameStampModel.from_pretrained(final)
    assert model.config.head_objective == {"token": "none", "binary": "binary"}.get(objective, "ihp")
    assert model.config.question_modes == ["one", "all"]  # what the head was trained to answer
    assert not model.config.answers_absent
    metrics = (tmp_path / "run" / "metrics.csv").read_text().splitlines()
    assert metrics[0].startswith("step,") and len(metrics) == 3
    assert (tmp_path / "run" / "checkpoint-2" / "optimizer.safetensors").exists()


@pytest.mark.parametrize("objective", ["ihp", "binary", "token"])
def test_training_on_absent_questions_runs(tmp_path, objective):
    data = {"modes": ["one"], "absent_share": 0.5}
    final = train(config(tmp_path, objective=objective, batch_size=4, data=data), toy_clips(), resume=False)
    losses = (tmp_path / "run" / "metrics.csv").read_text().splitlines()[-1].split(",")
    assert all(np.isfinite(float(value)) for value in losses)
    assert FrameStampModel.from_pretrained(final).config.answers_absent


@pytest.mark.parametrize("objective", ["ihp", "token"])
def test_training_with_position_gaps_runs_and_differs_from_training_without(tmp_path, objective):
    plain = train(config(tmp_path / "a", objective=objective), toy_clips(), resume=False)
    data = {"modes": ["one", "all"], "max_position_gap_s": 20.0}
    gapped = train(config(tmp_path / "b", objective=objective, data=data), toy_clips(), resume=False)
    a, b = (load_file(run / "backbone" / "model.safetensors") for run in (plain, gapped))
    assert any(not torch.equal(a[name], b[name]) for name in a)


def test_training_on_joined_clips_runs(tmp_path):
    data = {"modes": ["one"], "joined_share": 1.0}
    train(config(tmp_path, objective="ihp", data=data), toy_clips(), resume=False)
    losses = (tmp_path / "run" / "metrics.csv").read_text().splitlines()[-1].split(",")
    assert all(np.isfinite(float(value)) for value in losses)


@pytest.mark.slow
def test_resume_gives_the_same_weights_as_an_uninterrupted_run(tmp_path):
    straight = train(config(tmp_path / "a", max_steps=4, checkpoint_every=4), toy_clips(), resume=False)
    interrupted = config(tmp_path / "b", max_steps=4, checkpoint_every=2)
    train(interrupted, toy_clips(), resume=False)
    # As if killed between step 2 and step 4: only checkpoint-2 survives.
    shutil.rmtree(tmp_path / "b" / "run" / "checkpoint-4")
    shutil.rmtree(tmp_path / "b" / "run" / "final")
    resumed = train(interrupted, toy_clips(), resume=True)
    a = load_file(straight / "backbone" / "model.safetensors") | load_file(straight / "head.safetensors")
    b = load_file(resumed / "backbone" / "model.safetensors") | load_file(resumed / "head.safetensors")
    assert a.keys() == b.keys()
    for name in a:
        torch.testing.assert_close(a[name], b[name], rtol=0, atol=0, msg=name)


@pytest.mark.slow
def test_a_few_steps_reduce_the_ihp_loss(tmp_path):
    from framestamp.train.loop import build_model
    from framestamp.train.batches import QuerySampler
    from framestamp.train.objectives import batch_loss

    cfg = config(tmp_path, lr=3e-3, aux_identity_weight=0.0, data={"modes": ["all"]})
    model = build_model(cfg.model).train()
    batch = QuerySampler(toy_clips(), cfg.data, seed=0).batch(0, 4)
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(25):
        loss = batch_loss(model, batch, cfg)["ihp"]
        losses.append(float(loss))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert losses[-1] < 0.5 * losses[0]


def test_bad_config_values_are_rejected():
    from framestamp.errors import ConfigError

    with pytest.raises(ConfigError, match="objective"):
        TrainConfig.from_dict({"objective": "magic"})
    with pytest.raises(ConfigError, match="unknown key"):
        TrainConfig.from_dict({"learning_rate": 1.0})
    with pytest.raises(ConfigError, match="frames_per_token"):
        TrainConfig.from_dict({"model": {"frames_per_token": 0}})
    assert isinstance(TrainConfig.from_dict({"model": {"layer": -2}}).model, ModelConfig)
    with pytest.raises(ConfigError, match="max_steps must be an integer, got 2.5"):
        TrainConfig.from_dict({"max_steps": 2.5})
    with pytest.raises(ConfigError, match="max_target_s must be a number or null, got 'soon'"):
        TrainConfig.from_dict({"data": {"max_target_s": "soon"}})
    with pytest.raises(ConfigError, match="bidirectional_audio must be true or false, got 1"):
        TrainConfig.from_dict({"model": {"bidirectional_audio": 1}})
    assert TrainConfig.from_dict({"lr": 1, "data": {"max_target_s": None}}).lr == 1  # an int is a number
    assert TrainConfig.from_dict({"lr": "1e-3"}).lr == 0.001  # what YAML 1.1 makes of `lr: 1e-3`


def test_metrics_log_keeps_its_columns_when_losses_come_in_another_order(tmp_path):
    from framestamp.train.loop import MetricsLog

    log = MetricsLog(tmp_path, enabled=True)
    log.write(1, {"ihp": 5.0, "aux": 2.0, "loss": 7.0}, 1e-3, 0.1)
    log.write(2, {"aux": 1.0, "ihp": 4.0, "loss": 5.0}, 1e-3, 0.2)
    log.close()
    lines = (tmp_path / "metrics.csv").read_text().splitlines()
    assert lines[0] == "step,minutes,lr,ihp,aux,loss"
    assert lines[2] == "2,0.2,0.001,4.0,1.0,5.0"


@pytest.mark.parametrize("schedule", ["constant", "cosine"])
def test_learning_rate_schedule_after_warm_up(tmp_path, schedule):
    train(config(tmp_path, max_steps=4, checkpoint_every=4, lr=1e-3, lr_schedule=schedule), toy_clips(), resume=False)
    rows = (tmp_path / "run" / "metrics.csv").read_text().splitlines()[1:]
    rates = [float(row.split(",")[2]) for row in rows]
    if schedule == "constant":
        assert rates == [1e-3] * 4
    else:
        assert rates[0] == 1e-3 and rates == sorted(rates, reverse=True) and rates[-1] < 1e-4


def test_unknown_learning_rate_schedule_is_rejected():
    from framestamp.errors import ConfigError

    with pytest.raises(ConfigError, match="lr_schedule"):
        TrainConfig.from_dict({"lr_schedule": "linear"})


def test_init_from_starts_from_a_trained_model_head_included(tmp_path):
    from framestamp.errors import ConfigError

    first = train(config(tmp_path / "a"), toy_clips(), resume=False)
    calibrated = json.loads((first / "framestamp_config.json").read_text()) | {"presence_threshold": 0.3}
    (first / "framestamp_config.json").write_text(json.dumps(calibrated))
    follow = config(tmp_path / "b", init_from=str(first), max_steps=1, lr=1e-12, weight_decay=0.0, warmup_steps=0)
    second = train(follow, toy_clips(), resume=False)
    assert FrameStampModel.from_pretrained(second).config.presence_threshold is None  # calibrated for the first only
    a = load_file(first / "backbone" / "model.safetensors") | load_file(first / "head.safetensors")
    b = load_file(second / "backbone" / "model.safetensors") | load_file(second / "head.safetensors")
    for name in a:
        torch.testing.assert_close(a[name], b[name], rtol=0, atol=1e-6, msg=name)
    with pytest.raises(ConfigError, match="'ihp' head"):
        train(config(tmp_path / "c", init_from=str(first), objective="binary"), toy_clips(), resume=False)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("objective", ["ihp", "binary", "token", "joint"])
def test_training_runs_on_the_gpu_in_bf16(tmp_path, objective):
    torch.cuda.reset_peak_memory_stats()
    final = train(config(tmp_path, objective=objective, max_steps=3), toy_clips(), resume=False)
    assert torch.cuda.max_memory_allocated() > 0
    rows = (tmp_path / "run" / "metrics.csv").read_text().splitlines()
    losses = [float(row.split(",")[-1]) for row in rows[1:]]
    assert len(losses) == 3 and np.isfinite(losses).all()
    saved = load_file(final / "backbone" / "model.safetensors")
    assert all(torch.isfinite(t).all() for t in saved.values() if t.is_floating_point())
    FrameStampModel.from_pretrained(final)  # a checkpoint trained on the GPU loads on the CPU


def test_augmented_training_of_the_pretrained_preset_puts_only_the_plain_clips_on_disk(tmp_path, monkeypatch):
    monkeypatch.setenv("FRAMESTAMP_CACHE", str(tmp_path / "cache"))
    data = {"modes": ["one"], "augment_share": 0.5}
    run = config(tmp_path, data=data, batch_size=4, model={"backbone": "tiny", "bidirectional_audio": True})
    train(run, toy_clips(), resume=False)
    stored = list((tmp_path / "cache" / "tower").rglob("*.npy"))
    assert len(stored) == len(toy_clips())  # the warm-up pass: one entry per plain clip, none of augmented audio


def test_cropped_clips_hold_a_run_of_two_or_three_words_and_the_question_is_about_it():
    from framestamp.train.batches import QuerySampler
    from framestamp.train.config import DataConfig

    long_clips = [join_clips(toy_clips()[i], toy_clips()[i + 1]) for i in range(3)]  # 6 words each
    sampler = QuerySampler(long_clips, DataConfig(modes=["one"], crop_words=[2, 3]), seed=0)
    items = [item for step in range(20) for item in sampler.batch(step, 4)]
    assert {len(item.clip.segments) for item in items} == {2, 3}
    for item in items:
        assert item.clip.duration_s < 4.0 and item.query.subject in {s.label for s in item.clip.segments}
        assert all(0 <= t < item.clip.duration_s for t in item.query.targets_s)
    assert sampler.batch(7, 4) == QuerySampler(long_clips, sampler.data, seed=0).batch(7, 4)  # a function of the step


def test_a_share_of_training_questions_leaves_its_word_unwritten():
    from framestamp.errors import ConfigError
    from framestamp.train.batches import QuerySampler
    from framestamp.train.config import DataConfig, TrainConfig

    clips = toy_clips()
    plain = QuerySampler(clips, DataConfig(modes=["one"]), seed=0)
    mixed = QuerySampler(clips, DataConfig(modes=["one"], unwritten_word_share=0.5), seed=0)
    pairs = [(a, b) for step in range(50) for a, b in zip(plain.batch(step, 4), mixed.batch(step, 4))]
    assert all(a.query == b.query and a.clip is b.clip for a, b in pairs)  # the same questions ...
    assert all(a.word_written for a, _ in pairs)
    share = np.mean([not b.word_written for _, b in pairs])
    assert 0.35 < share < 0.65  # ... about half of them named by the spoken block alone
    with pytest.raises(ValueError, match="unwritten_word_share"):
        DataConfig(unwritten_word_share=1.5)
    with pytest.raises(ConfigError, match="needs model.spoken_words"):
        TrainConfig.from_dict({"model": {"backbone": "tiny"}, "data": {"unwritten_word_share": 0.5}})

