"""The open text side of the tiny preset: Whisper's pieces and frozen decoder embeddings."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from safetensors import safe_open

from framestamp.backbones.tiny_thinker import TinyConfig
from framestamp.backbones.tiny_whisper import TEXT_FILE, WhisperTinyBackbone
from framestamp.backbones.whisper_text import piece_embeddings
from framestamp.backbones.whisper_weights import decoder_token_embeddings
from framestamp.errors import CheckpointError, ConfigError
from framestamp.model import FrameStampModel, ModelConfig
from framestamp.train.objectives import sampled_classes

SIZES = TinyConfig(text_width=64, text_layers=1, text_heads=2, text_kv_heads=1, ffn_width=128)
PIECES = 4096


@pytest.fixture(scope="module")
def model():
    backbone = WhisperTinyBackbone.create(sizes=SIZES, seed=0, text_pieces=PIECES)
    return FrameStampModel(backbone, ModelConfig(backbone="tiny", text_pieces=PIECES))


def pieces(model, text: str) -> list[str]:
    tokenizer = model.backbone.tokenizer
    return tokenizer.convert_ids_to_tokens(tokenizer(text, add_special_tokens=False)["input_ids"])


def test_any_word_is_spelt_in_pieces_and_a_quoted_word_as_in_running_text(model):
    assert "".join(pieces(model, "Kubernetes")) == "kubernetes"  # no unknown token: bytes at worst
    question = pieces(model, "When does the 1st occurrence of the word 'table' occur?")
    assert "Ġtable" in question and "able" not in question  # not the contraction 't + able
    assert pieces(model, "the TABLE") == pieces(model, "the table")  # lowercased
    assert pieces(model, "don't")[-1] == "'t"  # a contraction stays one
    assert pieces(model, "'table' first")[:2] == ["'", "Ġtable"]  # a quote opening the text too
    assert getattr(model.backbone.tokenizer, "unk_token_id", None) is None
    weird = pieces(model, "zyxqé 3.5 km")
    assert weird and all(p is not None for p in weird)


def test_specials_follow_the_pieces_and_the_pieces_embed_through_whispers_rows(model):
    tokenizer = model.backbone.tokenizer
    assert len(tokenizer) == model.backbone.model.config.text_config.vocab_size
    assert min(tokenizer.convert_tokens_to_ids(["<|AUDIO|>", "<|im_start|>", "<|endoftext|>"])) >= PIECES
    embedding = model.backbone.model.model.language_model.embed_tokens
    whisper = decoder_token_embeddings().float()
    ids = torch.tensor([262, 1000, PIECES - 1])
    expected = embedding.projection(whisper[ids])
    torch.testing.assert_close(embedding(ids), expected)
    special = torch.tensor([PIECES, PIECES + 3])
    torch.testing.assert_close(embedding(special), embedding.special[[0, 3]])


def test_only_the_projection_and_special_rows_of_the_text_side_train(model):
    trainable = {n for n, p in model.named_parameters() if p.requires_grad and "embed_tokens" in n}
    assert trainable == {"backbone.model.model.language_model.embed_tokens.projection.weight",
                         "backbone.model.model.language_model.embed_tokens.special"}  # fmt: skip
    assert not any("embed_tokens.table" in n for n in model.state_dict())


def test_the_lm_head_is_tied_to_the_embedding_rows(model):
    backbone = model.backbone
    hidden = torch.randn(3, SIZES.text_width)
    weight = backbone.model.model.language_model.embed_tokens.weight
    torch.testing.assert_close(backbone.lm_head(hidden), hidden @ weight.T)
    ids = torch.tensor([5, 1000, PIECES + 2])
    torch.testing.assert_close(backbone.read_out(hidden, -1, 2, ids), (hidden @ weight.T)[:, ids])


def test_a_checkpoint_stores_no_whisper_rows_and_round_trips(model, tmp_path):
    model.save_pretrained(tmp_path)
    directory = tmp_path / "backbone"
    stored = set()
    for path in directory.glob("*.safetensors"):
        with safe_open(path, "pt") as f:
            stored |= {(path.name, n, tuple(f.get_slice(n).get_shape())) for n in f.keys()}
    embedding_like = [s for s in stored if s[2] and s[2][0] >= PIECES]
    assert embedding_like == [], "a table with a row per piece was stored"
    assert {name for file, name, _ in stored if file == "text_pieces.safetensors"} == {"projection.weight", "special"}
    loaded = FrameStampModel.from_pretrained(tmp_path)
    question = ["When does the 1st occurrence of the word 'zebra' occur?"]
    audio = [0.1 * np.random.default_rng(0).standard_normal(32_000).astype(np.float32)]
    with torch.no_grad():
        torch.testing.assert_close(loaded(loaded.prepare(question, audio)).logits, model(model.prepare(question, audio)).logits)


def test_other_piece_embeddings_are_refused(model, tmp_path):
    model.save_pretrained(tmp_path)
    record = tmp_path / "backbone" / TEXT_FILE
    spec = json.loads(record.read_text())
    record.write_text(json.dumps(spec | {"hash": "0" * 16}))
    with pytest.raises(CheckpointError, match="piece embeddings"):
        FrameStampModel.from_pretrained(tmp_path)


def test_piece_counts_outside_whispers_are_refused_and_the_scratch_preset_has_no_open_side():
    with pytest.raises(ValueError, match="text_pieces"):
        piece_embeddings(60_000)
    from framestamp.backbones.tiny_scratch import ScratchTinyBackbone

    with pytest.raises(ConfigError, match="tiny preset"):
        ScratchTinyBackbone.create_options(ModelConfig(backbone="tiny-scratch", text_pieces=PIECES))


def test_the_sampled_softmax_keeps_every_heard_class_and_draws_the_same_others_again():
    targets = torch.tensor([[7, 7, 300, -100], [42, 300, -100, -100]])
    ids, renumbered = sampled_classes(targets, 1000, 5)
    assert len(ids) == 3 + 5 and len(set(ids.tolist())) == 8
    assert ids[:3].tolist() == [7, 42, 300]
    assert (ids[renumbered[targets != -100]] == targets[targets != -100]).all()
    assert (renumbered[targets == -100] == -100).all()
    again, _ = sampled_classes(targets.clone(), 1000, 5)
    assert torch.equal(ids, again)
    everything, _ = sampled_classes(targets, 301, 1000)
    assert sorted(everything.tolist()) == list(range(301))


@pytest.mark.filterwarnings("ignore:only .* words of the vocabulary are one piece")
def test_a_word_level_model_moves_to_the_open_side_keeping_what_it_learnt(tmp_path):
    from framestamp.train.config import TrainConfig
    from framestamp.train.loop import starting_model

    closed = FrameStampModel(WhisperTinyBackbone.create(["apple", "dog"], sizes=SIZES, seed=0), ModelConfig(backbone="tiny"))
    closed.save_pretrained(tmp_path / "closed")
    old_rows = closed.backbone.model.model.language_model.embed_tokens.weight.detach()
    old_ids = closed.backbone.tokenizer.convert_tokens_to_ids(["<|AUDIO|>", "<|im_start|>"])
    run = {"init_from": str(tmp_path / "closed"), "objective": "ihp", "model": {"backbone": "tiny", "text_pieces": PIECES}}
    moved = starting_model(TrainConfig.from_dict(run), torch.float32)
    backbone = moved.backbone
    assert moved.config.text_pieces == PIECES and backbone.text.pieces == PIECES
    new_ids = backbone.tokenizer.convert_tokens_to_ids(["<|AUDIO|>", "<|im_start|>"])
    assert backbone.model.config.audio_token_index == new_ids[0] >= PIECES
    assert backbone.model.generation_config.pad_token_id == backbone.tokenizer.pad_token_id
    embedding = backbone.model.model.language_model.embed_tokens
    torch.testing.assert_close(embedding(torch.tensor(new_ids)), old_rows[old_ids])
    torch.testing.assert_close(backbone.model.model.audio_tower.proj.weight, closed.backbone.model.model.audio_tower.proj.weight)
    question = ["When does the 1st occurrence of the word 'zebra' occur?"]
    audio = [0.1 * np.random.default_rng(1).standard_normal(16_000).astype(np.float32)]
    scores = moved(moved.prepare(question, audio))
    assert scores.logits.shape[1] == 100 and torch.isfinite(scores.logits).all()
    moved.save_pretrained(tmp_path / "moved")
    with pytest.raises(ConfigError, match="only move a word-level model"):
        starting_model(TrainConfig.from_dict(run | {"init_from": str(tmp_path / "moved"),
                                                    "model": {"backbone": "tiny", "text_pieces": 1024}}), torch.float32)


def test_the_map_starts_where_the_words_the_thinker_knew_read_as_before(tmp_path):
    """With the shipped vocabulary (hundreds of words that are one piece) the map starts as the
    least-squares fit: each such word's piece reads close to the word's trained row."""
    from framestamp.backbones.tiny_thinker import default_vocabulary

    closed = WhisperTinyBackbone.create(sizes=SIZES, seed=0)
    old = {w: closed.model.model.language_model.embed_tokens.weight[i].detach().clone()
           for w, i in closed.tokenizer.get_vocab().items()}  # fmt: skip
    closed.read_text_in_pieces(8192)  # the recipes' count (fewer pieces: fewer words are one piece)
    one_piece = [w for w in default_vocabulary() if w.isalpha()
                 and len(closed.tokenizer(" " + w, add_special_tokens=False)["input_ids"]) == 1]  # fmt: skip
    assert len(one_piece) > 384
    ids = torch.tensor([closed.tokenizer(" " + w, add_special_tokens=False)["input_ids"][0] for w in one_piece])
    with torch.no_grad():
        new = closed.model.model.language_model.embed_tokens(ids)
    before = torch.stack([old[w] for w in one_piece])
    cosine = torch.nn.functional.cosine_similarity(new, before).mean()
    assert cosine > 0.5, cosine  # a map left at random gives about 0


def test_too_few_one_piece_words_leave_the_map_at_random_and_say_so():
    closed = WhisperTinyBackbone.create(["apple", "dog"], sizes=SIZES, seed=0)
    with pytest.warns(UserWarning, match="starts at random"):
        closed.read_text_in_pieces(PIECES)

