"""How a step's global batch is split over processes and micro-batches, in one process."""

import re
from dataclasses import replace

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from framestamp.errors import ConfigError
from framestamp.train.batches import QuerySampler
from framestamp.train.config import DataConfig, TrainConfig
from framestamp.train.loop import train


def keys(items):
    return [(item.clip.id, item.query.question, item.query.targets_s) for item in items]


def test_processes_and_micro_batches_share_out_one_global_batch(tiny_words):
    data = DataConfig(corpus="tiny", modes=["one", "all"], boundaries=["start", "end"])
    one = QuerySampler(tiny_words, data, seed=3)
    shards = [QuerySampler(tiny_words, data, seed=3, process_index=p, num_processes=2) for p in range(2)]
    for step in range(3):
        whole = keys(one.batch(step, 8))
        # 2 processes x 2 clips x 2 micro-batches: micro-batch m of process p is slice 2m + p
        split = [keys(shards[p].batch(step, 2, micro, 2)) for micro in range(2) for p in range(2)]
        assert sum(split, []) == whole
        assert sum((keys(one.batch(step, 4, micro, 2)) for micro in range(2)), []) == whole
    assert keys(one.batch(0, 8)) != keys(one.batch(1, 8))


def test_absent_share_replaces_that_share_of_single_occurrence_questions(tiny_words):
    plain = QuerySampler(tiny_words, DataConfig(corpus="tiny", modes=["one", "all"]), seed=3)
    assert all(item.query.targets_s for step in range(10) for item in plain.batch(step, 8))
    data = DataConfig(corpus="tiny", modes=["one", "all"], absent_share=0.5)
    sampler = QuerySampler(tiny_words, data, seed=3)
    items = [item for step in range(40) for item in sampler.batch(step, 8)]
    absent = [item for item in items if not item.query.targets_s]
    assert all(item.query.mode == "one" for item in absent)
    ones = sum(item.query.mode == "one" for item in items)
    assert 0.35 < len(absent) / ones < 0.65
    assert keys(QuerySampler(tiny_words, data, seed=3).batch(7, 8)) == keys(sampler.batch(7, 8))  # resumable
    with pytest.raises(ValueError, match="absent_share"):
        DataConfig(absent_share=1.0)


def test_position_gaps_leave_the_questions_as_they_were(tiny_words):
    plain = QuerySampler(tiny_words, DataConfig(corpus="tiny", modes=["one", "all"]), seed=3)
    data = DataConfig(corpus="tiny", modes=["one", "all"], max_position_gap_s=30.0)
    gapped = QuerySampler(tiny_words, data, seed=3)
    for step in range(5):
        assert keys(gapped.batch(step, 8)) == keys(plain.batch(step, 8))
    gaps = [item.position_gap_s for step in range(20) for item in gapped.batch(step, 8)]
    assert all(0.0 <= gap <= 30.0 for gap in gaps) and max(gaps) > 20.0 and min(gaps) < 10.0
    assert all(item.position_gap_s == 0.0 for item in plain.batch(0, 8))
    again = QuerySampler(tiny_words, data, seed=3).batch(7, 8)
    assert [i.position_gap_s for i in again] == [i.position_gap_s for i in gapped.batch(7, 8)]  # resumable
    with pytest.raises(ValueError, match="max_position_gap_s"):
        DataConfig(max_position_gap_s=-1.0)


def test_grouping_by_length_sorts_a_steps_items_and_keeps_them(tiny_words):
    plain = QuerySampler(tiny_words, DataConfig(corpus="tiny", modes=["one", "all"]), seed=3)
    data = DataConfig(corpus="tiny", modes=["one", "all"], group_by_length=True)
    grouped = QuerySampler(tiny_words, data, seed=3)
    for step in range(5):
        items = grouped.batch(step, 8)
        assert sorted(keys(items)) == sorted(keys(plain.batch(step, 8)))  # the same items
        lengths = [len(item.clip.audio) for item in items]
        assert lengths == sorted(lengths)
        # two micro-batches of 4: the shorter half, then the longer
        assert keys(grouped.batch(step, 4, 0, 2)) + keys(grouped.batch(step, 4, 1, 2)) == keys(items)
    assert keys(QuerySampler(tiny_words, data, seed=3).batch(4, 8)) == keys(grouped.batch(4, 8))  # resumable
    drawn = [[len(item.clip.audio) for item in plain.batch(step, 8)] for step in range(5)]
    assert any(lengths != sorted(lengths) for lengths in drawn)  # the drawn order was not sorted already


def test_joined_clips_ask_only_about_the_first_clip(tiny_words):
    data = DataConfig(corpus="tiny", modes=["one", "all"], joined_share=0.5, absent_share=0.3)
    sampler = QuerySampler(tiny_words, data, seed=3)
    items = [item for step in range(30) for item in sampler.batch(step, 8)]
    joined = [item for item in items if "joined_at_s" in item.clip.provenance]
    assert all(item.query.mode == "one" for item in joined)
    assert 0.25 < len(joined) / sum(item.query.mode == "one" for item in items) < 0.75
    for item in joined:
        first_ends = item.clip.provenance["joined_at_s"]
        assert item.clip.duration_s > first_ends and all(t < first_ends for t in item.query.targets_s)
        if not item.query.targets_s:  # absent from the whole joined clip, not just from the first
            k = int(re.search(r"the (\d+)\w\w occurrence", item.query.question).group(1))
            assert len(item.clip.occurrences(item.query.subject)) < k
    assert keys(QuerySampler(tiny_words, data, seed=3).batch(7, 8)) == keys(sampler.batch(7, 8))  # resumable
    with pytest.raises(ValueError, match="joined_share"):
        DataConfig(joined_share=1.5)


def test_epoch_order_visits_every_clip_once_per_pass(tiny_words):
    sampler = QuerySampler(tiny_words, DataConfig(corpus="tiny", modes=["all"], order="epochs"), seed=0)
    n = len(tiny_words)
    seen = [item.clip.id for step in range(n // 4) for item in sampler.batch(step, 4)]
    assert sorted(seen) == sorted(clip.id for clip in tiny_words)


def test_effective_batch_sets_accumulation_and_epochs_set_steps():
    config = TrainConfig.from_dict({"batch_size": 2, "effective_batch_size": 8, "epochs": 3})
    assert [config.accumulation_steps(n) for n in (1, 2, 4)] == [4, 2, 1]
    with pytest.raises(ConfigError, match="not a multiple"):
        config.accumulation_steps(3)
    assert config.total_steps(n_clips=100, global_batch=8) == 38  # ceil(3 x 100 / 8)
    assert replace(config, epochs=None, max_steps=7).total_steps(100, 8) == 7
    with pytest.raises(ConfigError, match="multiple of batch_size"):
        TrainConfig.from_dict({"batch_size": 3, "effective_batch_size": 8})
    with pytest.raises(ConfigError, match="backbone_path"):
        TrainConfig.from_dict({"lora": {"rank": 8}})


def test_accumulating_micro_batches_trains_like_one_big_batch(tmp_path, tiny_words):
    values = {"objective": "ihp", "data": {"corpus": "tiny", "modes": ["one", "all"]}, "lr": 1e-3,
              "warmup_steps": 1, "max_steps": 2, "log_every": 1, "checkpoint_every": 10,
              "model": {"backbone": "tiny-scratch"}}  # fmt: skip
    big = train(TrainConfig.from_dict(values | {"batch_size": 4, "output_dir": str(tmp_path / "big")}), tiny_words)
    small = values | {"batch_size": 2, "effective_batch_size": 4, "output_dir": str(tmp_path / "small")}
    accumulated = train(TrainConfig.from_dict(small), tiny_words)
    a, b = (load_file(d / "backbone/model.safetensors") | load_file(d / "head.safetensors") for d in (big, accumulated))
    for name in a:
        torch.testing.assert_close(a[name], b[name], rtol=1e-4, atol=1e-5, msg=name)
    losses = [np.loadtxt(d.parent / "metrics.csv", delimiter=",", skiprows=1, usecols=-1) for d in (big, accumulated)]
    np.testing.assert_allclose(losses[0], losses[1], rtol=1e-5)


def test_gathered_weights_are_the_ones_saved(tmp_path):
    # Under FSDP / ZeRO-3 the main process saves weights gathered from every process, handed to
    # save_pretrained as a state dict; here another model's weights stand in for them.
    from framestamp.model import FrameStampModel, ModelConfig
    from framestamp.train.loop import build_model

    live, gathered = build_model(ModelConfig(), seed=0), build_model(ModelConfig(), seed=1)
    live.save_pretrained(tmp_path / "saved", state_dict=gathered.state_dict())
    loaded = FrameStampModel.from_pretrained(tmp_path / "saved").state_dict()
    expected = gathered.state_dict()
    assert loaded.keys() == expected.keys()
    for name in expected:
        torch.testing.assert_close(loaded[name], expected[name], rtol=0, atol=0, msg=name)
    assert "save_pretrained" not in vars(live.backbone.model)  # the temporary override is gone
