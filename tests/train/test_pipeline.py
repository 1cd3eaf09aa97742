"""The training input pipeline (``train.pipeline``): batches prepared by DataLoader workers are the
batches a plain loop draws, and training with workers gives the same weights."""

import pytest
import torch
from safetensors.torch import load_file

from framestamp.errors import ConfigError
from framestamp.model import FrameStampModel
from framestamp.train.batches import QuerySampler
from framestamp.train.config import TrainConfig
from framestamp.train.loop import build_model, train
from framestamp.train.pipeline import MicroBatches, micro_batches, prepare_batch

from test_train import config, toy_clips  # the toy run of the training tests (same folder)


def _weights(final):
    return load_file(final / "backbone" / "model.safetensors") | load_file(final / "head.safetensors")


def test_micro_batch_i_is_step_i_over_accumulation_whatever_the_workers_and_the_start(tmp_path):
    run = config(tmp_path, batch_size=2, model={"backbone": "tiny-scratch"})
    model = build_model(run.model)
    sampler = QuerySampler(toy_clips(), run.data, seed=0)
    dataset = MicroBatches(sampler, model.backbone, run, accumulation=2, max_steps=3)
    assert len(dataset) == 6
    plain = list(micro_batches(dataset, start_step=0, workers=0, pin_memory=False))
    forked = list(micro_batches(dataset, start_step=1, workers=2, pin_memory=False))
    assert len(plain) == 6 and len(forked) == 4  # a run resumed at step 1 starts at micro-batch 2
    for index, (ours, theirs) in enumerate(zip(plain[2:], forked)):
        step, micro = divmod(index + 2, 2)
        expected = sampler.batch(step, 2, micro, 2)
        assert [i.query.question for i in ours.items] == [i.query.question for i in expected]
        assert [i.query.question for i in theirs.items] == [i.query.question for i in expected]
        for name, tensor in ours.inputs.model_kwargs.items():
            torch.testing.assert_close(tensor, theirs.inputs.model_kwargs[name], rtol=0, atol=0, msg=name)
    direct = prepare_batch(model.backbone, plain[0].items, needs_text=False).inputs
    torch.testing.assert_close(direct.input_ids, plain[0].inputs.input_ids, rtol=0, atol=0)


def test_training_with_workers_gives_the_weights_of_training_without(tmp_path):
    scratch = {"backbone": "tiny-scratch"}
    plain = train(config(tmp_path / "a", max_steps=3, model=scratch), toy_clips(), resume=False)
    forked = train(config(tmp_path / "b", max_steps=3, model=scratch, loader_workers=2), toy_clips(), resume=False)
    a, b = _weights(plain), _weights(forked)
    assert a.keys() == b.keys()
    for name in a:
        torch.testing.assert_close(a[name], b[name], rtol=0, atol=0, msg=name)


def test_workers_read_the_frozen_towers_disk_cache_for_the_trainer(tmp_path, monkeypatch):
    monkeypatch.setenv("FRAMESTAMP_CACHE", str(tmp_path / "cache"))
    run = config(tmp_path, batch_size=2, model={"backbone": "tiny", "bidirectional_audio": True})
    items = QuerySampler(toy_clips(), run.data, seed=0).batch(0, 2)
    first = build_model(run.model)
    first.backbone.enable_tower_cache()
    batch = prepare_batch(first.backbone, items, needs_text=False)
    assert batch.tower_states == {}  # nothing on disk yet
    with torch.no_grad():
        first(batch.inputs)  # computes the two clips' tower outputs and writes them to disk
    trainer = build_model(run.model)  # another process: the same disk, nothing in memory
    cache = trainer.backbone.enable_tower_cache()
    batch = prepare_batch(trainer.backbone, items, needs_text=False)
    assert len(batch.tower_states) == 2 and cache.hits == cache.misses == 0  # read, not kept
    trainer.backbone.keep_tower_states(batch.tower_states)
    with torch.no_grad():
        trainer(batch.inputs)
    assert (cache.hits, cache.misses) == (2, 0)


def test_negative_workers_are_refused():
    with pytest.raises(ConfigError, match="loader_workers"):
        TrainConfig.from_dict({"loader_workers": -1})
    with pytest.raises(ConfigError, match="loader_workers"):
        micro_batches(MicroBatches(None, None, TrainConfig(), 1, 1), 0, -1, False)


def test_a_share_of_questions_is_named_by_its_spoken_block_alone_through_the_pipeline(tmp_path):
    from dataclasses import replace

    run = config(tmp_path, batch_size=4, model={"backbone": "tiny", "spoken_words": True},
                 data={"modes": ["one"], "unwritten_word_share": 0.5})  # fmt: skip
    model = build_model(run.model)
    sampler = QuerySampler(toy_clips(), run.data, seed=0)
    items = next(b for b in (sampler.batch(step, 4) for step in range(20)) if 0 < sum(i.word_written for i in b) < 4)
    mixed = prepare_batch(model.backbone, items, needs_text=False).inputs.input_ids
    read = prepare_batch(model.backbone, [replace(i, word_written=True) for i in items], needs_text=False).inputs.input_ids
    for row, item in enumerate(items):  # only the rows that leave their word unwritten change
        assert torch.equal(mixed[row], read[row]) == item.word_written
    trained = FrameStampModel.from_pretrained(train(run, toy_clips(), resume=False))
    assert trained.backbone.hears_asked_words and trained.backbone.spoken.with_text  # at inference, words are read
