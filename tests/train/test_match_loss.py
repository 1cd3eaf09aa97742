"""The auxiliary match loss: per-audio-token "is the asked subject heard here?" targets and probe."""

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from framestamp.data.examples import Clip, Segment
from framestamp.errors import ConfigError
from framestamp.model import PROBE_NAME, FrameStampModel
from framestamp.tasks import Query
from framestamp.train.batches import Item, QuerySampler, match_targets
from framestamp.train.config import TrainConfig
from framestamp.train.loop import build_model, train
from framestamp.train.objectives import batch_loss

RATE = 25.0  # audio tokens per second (40 ms each), as the tiny thinker's
SHIPPED = Path(__file__).parents[2] / "src" / "framestamp" / "checkpoints" / "words"


def toy_clip(seconds=2.0):
    """apple [0.30, 0.50), banana [0.60, 0.80), apple [1.00, 1.20): the 2nd apple sits on token edges."""
    audio = (np.random.default_rng(0).standard_normal(int(16000 * seconds)) * 0.01).astype(np.float32)
    spans = (("apple", 0.30, 0.50), ("banana", 0.60, 0.80), ("apple", 1.00, 1.20))
    for _, start, _end in spans:
        first = int(round(start * 16000))
        audio[first : first + 3200] += np.sin(np.arange(3200) * 0.3) * 0.5
    return Clip("toy", audio, "words", tuple(Segment(w, s, e) for w, s, e in spans))


def one(subject, k=1, targets=(), task="word"):
    labels = (subject,) * len(targets)
    return Query("toy", task, "one", "start", f"when {subject} {k}?", tuple(targets), labels, subject, k)


def heard_tokens(query, clip=None, n=50):
    targets = match_targets([Item(clip or toy_clip(), query)], torch.tensor([n]), RATE)
    assert targets.shape == (1, n) and set(targets.unique().tolist()) <= {0.0, 1.0}
    return set(np.flatnonzero(targets[0].numpy()).tolist())


# Token i covers [i * 0.04, (i + 1) * 0.04). apple [0.30, 0.50): tokens 7 ([0.28, 0.32)) .. 12
# ([0.48, 0.52)); apple [1.00, 1.20): tokens 25 .. 29 (token 24 ends at 1.00 and token 30 starts at
# 1.20: touching is not overlapping); banana [0.60, 0.80): tokens 15 .. 19.
APPLE = set(range(7, 13)) | set(range(25, 30))
BANANA = set(range(15, 20))


def test_a_word_said_twice_marks_the_tokens_of_both_its_spans():
    assert heard_tokens(one("apple", 1, (0.30,))) == APPLE
    assert heard_tokens(one("apple", 2, (1.00,))) == APPLE  # every occurrence, whatever k
    assert heard_tokens(one("banana", 1, (0.60,))) == BANANA


def test_an_absent_subject_has_an_all_zero_target():
    assert heard_tokens(one("cherry", 1)) == set()
    # the occurrence after the last of a word the clip holds: the word is still heard where it is
    assert heard_tokens(one("apple", 3)) == APPLE


def test_an_all_question_marks_every_segment():
    query = Query("toy", "word", "all", "start", "every word?", (0.3, 0.6, 1.0), ("apple", "banana", "apple"))
    assert heard_tokens(query) == APPLE | BANANA


def test_speakers_are_asked_by_onset_order_and_every_turn_counts():
    audio = np.zeros(32000, dtype=np.float32)
    turns = (Segment("bob", 0.0, 0.40), Segment("ann", 0.40, 1.00), Segment("bob", 1.20, 1.60))
    clip = Clip("spk", audio, "speakers", turns)
    assert heard_tokens(one("1", 1, task="speaker"), clip) == set(range(0, 10)) | set(range(30, 40))  # bob
    assert heard_tokens(one("2", 2, task="speaker"), clip) == set(range(10, 25))  # ann
    assert heard_tokens(one("", 3, task="speaker"), clip) == set()  # no 3rd speaker


def test_padding_rows_and_short_rows():
    clip = toy_clip()
    items = [Item(clip, one("apple", 1, (0.3,))), Item(clip, one("banana", 1, (0.6,)))]
    targets = match_targets(items, torch.tensor([50, 16]), RATE)
    assert targets.shape == (2, 50)
    assert set(np.flatnonzero(targets[1].numpy()).tolist()) == set(range(15, 16))  # cut at 16 tokens
    assert float(targets[1, 16:].sum()) == 0.0


def test_the_weight_gives_the_model_its_probe_and_is_checked():
    assert not TrainConfig().model.match_probe
    assert TrainConfig.from_dict({"aux_match_weight": 0.3}).model.match_probe
    with pytest.raises(ConfigError, match="aux_match_weight"):
        TrainConfig.from_dict({"aux_match_weight": -1.0})


def config(tmp_path, **overrides):
    values = {
        "objective": "ihp", "max_steps": 2, "batch_size": 2, "warmup_steps": 1, "aux_identity_weight": 0.5,
        "output_dir": str(tmp_path / "run"), "checkpoint_every": 2, "log_every": 1, "data": {"modes": ["one", "all"]},
    } | overrides  # fmt: skip
    return TrainConfig.from_dict(values)


def toy_clips(n=4):
    clip = toy_clip()
    return [Clip(f"toy{i}", clip.audio, "words", clip.segments) for i in range(n)]


def batch_of(cfg, size=4):
    return QuerySampler(toy_clips(), cfg.data, seed=0).batch(0, size)


def test_weight_zero_is_the_loss_without_the_option_and_the_probe_changes_no_output(tmp_path):
    off, on = config(tmp_path), config(tmp_path, aux_match_weight=0.5)
    plain, probed = build_model(off.model), build_model(on.model)
    assert plain.match_probe is None and isinstance(probed.match_probe, torch.nn.Linear)
    assert not any(name.startswith("match_probe") for name in plain.state_dict())
    # the probe is made after everything else: the shared weights are initialised the same
    shared = probed.state_dict()
    for name, value in plain.state_dict().items():
        assert torch.equal(value, shared[name]), name
    items = batch_of(off)
    torch.manual_seed(0)
    a = batch_loss(plain.train(), items, off)
    torch.manual_seed(0)
    b = batch_loss(probed.train(), items, on)
    assert set(a) == {"ihp", "aux", "loss"} and set(b) == {"ihp", "aux", "match", "loss"}
    assert torch.equal(a["loss"], a["ihp"] + 0.5 * a["aux"])  # the loss as it was before the option
    assert torch.equal(a["ihp"], b["ihp"]) and torch.equal(a["aux"], b["aux"])
    assert torch.equal(b["loss"], b["ihp"] + 0.5 * b["aux"] + 0.5 * b["match"])
    # inference reads the head only
    waveforms = [item.clip.audio for item in items]
    questions = [item.query.question for item in items]
    for x, y in zip(plain.eval().score(questions, waveforms), probed.eval().score(questions, waveforms)):
        np.testing.assert_array_equal(x, y)


def test_the_match_loss_is_finite_and_trains_the_thinker(tmp_path):
    cfg = config(tmp_path, aux_match_weight=1.0)
    model = build_model(cfg.model).train()
    match = batch_loss(model, batch_of(cfg), cfg)["match"]
    assert torch.isfinite(match) and float(match.detach()) > 0
    match.backward()
    assert model.match_probe.weight.grad.abs().sum() > 0
    thinker = [p.grad for name, p in model.backbone.named_parameters() if "layers" in name and p.grad is not None]
    assert thinker and sum(float(g.abs().sum()) for g in thinker) > 0
    assert model.head.proj.weight.grad is None  # the match loss does not reach the frame head


def test_a_few_steps_reduce_the_match_loss(tmp_path):
    cfg = config(tmp_path, aux_match_weight=1.0, aux_identity_weight=0.0)
    torch.manual_seed(0)
    model = build_model(cfg.model).train()
    items = batch_of(cfg)
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(8):
        loss = batch_loss(model, items, cfg)["match"]
        losses.append(float(loss.detach()))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert losses[-1] < 0.8 * losses[0], losses


def test_a_model_without_a_probe_is_refused(tmp_path):
    cfg = config(tmp_path, aux_match_weight=1.0)
    model = build_model(config(tmp_path).model)  # as init_from a checkpoint trained without the loss
    with pytest.raises(ConfigError, match="match probe"):
        batch_loss(model, batch_of(cfg, 2), cfg)


def test_without_the_loss_the_checkpoint_has_no_probe(tmp_path):
    final = train(config(tmp_path), toy_clips(), resume=False)
    assert not (final / PROBE_NAME).exists()
    assert "match_probe" not in json.loads((final / "framestamp_config.json").read_text())
    assert set(load_file(final / "head.safetensors")) == {"proj.weight", "proj.bias"}
    assert FrameStampModel.from_pretrained(final).match_probe is None
    assert "match" not in (tmp_path / "run" / "metrics.csv").read_text().splitlines()[0].split(",")


def test_with_the_loss_the_probe_is_saved_loaded_and_resumed(tmp_path):
    cfg = config(tmp_path, aux_match_weight=0.5)
    final = train(cfg, toy_clips(), resume=False)
    header, *rows = (tmp_path / "run" / "metrics.csv").read_text().splitlines()
    match = header.split(",").index("match")
    assert all(np.isfinite(float(row.split(",")[match])) for row in rows)
    assert "match_probe" not in json.loads((final / "framestamp_config.json").read_text())
    saved = load_file(final / PROBE_NAME)
    assert set(saved) == {"weight", "bias"} and saved["weight"].shape[0] == 1
    model = FrameStampModel.from_pretrained(final)
    assert model.config.match_probe and torch.equal(model.match_probe.weight.detach(), saved["weight"])
    # resuming (optimiser state included) finds the probe in the checkpoint
    shutil.rmtree(final)
    resumed = train(cfg, toy_clips(), resume=True)
    assert torch.equal(load_file(resumed / PROBE_NAME)["weight"], saved["weight"])


@pytest.mark.parametrize("shipped", ["words", "words-all"])
def test_a_shipped_checkpoint_has_its_probe_when_its_recipe_trained_the_match_loss(shipped):
    from framestamp.reproduce.plan import FULL, recipe

    if not (SHIPPED.parent / shipped / "framestamp_config.json").is_file():
        pytest.skip("no shipped checkpoint")
    experiment = next(e for e in FULL if e.ships_as == shipped)
    trained_with_it = recipe(experiment.recipe, preset=experiment.preset).aux_match_weight > 0
    assert (FrameStampModel.from_pretrained(SHIPPED.parent / shipped).match_probe is not None) == trained_with_it
