"""Spoken words: a question about a word carries the word as espeak-ng says it, heard by the tower."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from framestamp.backbones.spoken_words import PEAK, VOICE, word_audio
from framestamp.backbones.tiny_whisper import SPOKEN_FILE, WhisperTinyBackbone
from framestamp.backbones.tower import attach_cached_forward
from framestamp.errors import ConfigError
from framestamp.model import FrameStampModel, ModelConfig
from framestamp.tasks.prompts import asked_word, event_question, speaker_question, word_question

WORD_QUESTION = word_question("kubernetes", 2, "start")
SPEAKER_QUESTION = speaker_question(1, "start")


@pytest.fixture(scope="module")
def models():
    """The same weights without and with spoken words."""
    plain = FrameStampModel(WhisperTinyBackbone.create(["apple"], seed=0), ModelConfig(backbone="tiny"))
    spoken = FrameStampModel(WhisperTinyBackbone.create(["apple"], seed=0, spoken_words=True),
                             ModelConfig(backbone="tiny", spoken_words=True))  # fmt: skip
    spoken.load_state_dict(plain.state_dict())
    return plain.eval(), spoken.eval()


def clips() -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    return [0.1 * rng.standard_normal(16_000 * n).astype(np.float32) for n in (2, 3)]


def test_the_asked_word_is_read_back_from_the_question_and_only_from_a_word_question():
    assert asked_word(word_question("don't", 3, "end")) == "don't"
    assert asked_word(word_question("new york", 1, "start")) == "new york"
    assert asked_word(speaker_question(2, "start")) is None
    assert asked_word(event_question("dog bark", 1, "start")) is None


def test_a_word_is_spoken_at_16_khz_trimmed_and_at_a_fixed_peak():
    audio = word_audio("kubernetes")
    assert audio.dtype == np.float32 and 0.3 < len(audio) / 16_000 < 1.5  # the word, not a padded second
    assert np.abs(audio).max() == pytest.approx(PEAK, rel=1e-6)
    word_audio.__wrapped__("hello there", "en-gb-x-rp+f3")
    np.testing.assert_array_equal(audio, word_audio.__wrapped__("kubernetes"))  # the same whatever came before
    assert not audio.flags.writeable  # shared by every caller
    assert len(word_audio("forty two")) > len(word_audio("two"))
    with pytest.raises(ConfigError):
        word_audio("  ")


def test_a_word_question_gets_a_spoken_block_before_the_clip_and_the_clip_keeps_its_tokens(models):
    plain, spoken = models
    word = word_audio("kubernetes")
    n_word = spoken.backbone.count_audio_tokens(len(word))
    without = plain.prepare([WORD_QUESTION, SPEAKER_QUESTION], clips())
    heard = spoken.prepare([WORD_QUESTION, SPEAKER_QUESTION], clips())
    assert heard.n_audio_tokens.tolist() == without.n_audio_tokens.tolist() == [50, 75]
    audio_id = spoken.backbone.tokenizer.convert_tokens_to_ids("<|AUDIO|>")
    ids = heard.input_ids
    assert int((ids[0] == audio_id).sum()) == 50 + n_word  # the word's block, then the clip's
    assert int((ids[1] == audio_id).sum()) == 75  # no word asked: no block
    start = int(heard.audio_start[0])
    assert bool((ids[0, start : start + 50] == audio_id).all()) and int(ids[0, start - 1]) != audio_id
    assert heard.model_kwargs["input_features"].shape[0] == 3  # word, clip; clip


def test_the_spoken_block_changes_word_answers_only(models):
    plain, spoken = models
    with torch.no_grad():
        a = plain(plain.prepare([WORD_QUESTION, SPEAKER_QUESTION], clips()))
        b = spoken(spoken.prepare([WORD_QUESTION, SPEAKER_QUESTION], clips()))
    torch.testing.assert_close(a.logits[1], b.logits[1])  # same weights, same prompt
    assert not torch.allclose(a.logits[0], b.logits[0])  # the clip's tokens hear the word before them


def test_the_spoken_words_record_round_trips_and_a_bad_one_is_a_clear_error(models, tmp_path):
    _, spoken = models
    spoken.save_pretrained(tmp_path)
    record = tmp_path / "backbone" / SPOKEN_FILE
    assert json.loads(record.read_text())["voice"] == VOICE
    loaded = FrameStampModel.from_pretrained(tmp_path)
    assert loaded.backbone.spoken == spoken.backbone.spoken
    with torch.no_grad():
        torch.testing.assert_close(loaded(loaded.prepare([WORD_QUESTION], clips()[:1])).logits,
                                   spoken(spoken.prepare([WORD_QUESTION], clips()[:1])).logits)  # fmt: skip
    record.write_text('{"speaker": 1}')
    from framestamp.errors import CheckpointError

    with pytest.raises(CheckpointError, match="spoken-words record"):
        FrameStampModel.from_pretrained(tmp_path)


def test_a_model_can_start_hearing_asked_words_once(models):
    backbone = WhisperTinyBackbone.create(["apple"], seed=0)
    assert backbone.question_audio(WORD_QUESTION) is None
    backbone.hear_asked_words()
    np.testing.assert_array_equal(backbone.question_audio(WORD_QUESTION), word_audio("kubernetes"))
    with pytest.raises(ConfigError):
        backbone.hear_asked_words()
    record = backbone.spoken
    backbone.hear_asked_words(with_text=False)  # only whether the text names the word changes
    assert backbone.spoken.with_text is False and (backbone.spoken.version, backbone.spoken.package) == (
        record.version, record.package)  # fmt: skip
    assert backbone.question_text(WORD_QUESTION) == word_question("<|unk|>", 2, "start")


def test_answers_do_not_depend_on_batch_order_the_tower_cache_or_a_position_gap_on_other_rows(models):
    _, spoken = models
    backbone = spoken.backbone
    with torch.no_grad():
        word_first = spoken(spoken.prepare([WORD_QUESTION, SPEAKER_QUESTION], clips())).logits
        swapped = spoken(spoken.prepare([SPEAKER_QUESTION, WORD_QUESTION], clips()[::-1])).logits
        torch.testing.assert_close(word_first[0, :50], swapped[1, :50])
        torch.testing.assert_close(word_first[1, :75], swapped[0, :75])
        cache = backbone.enable_tower_cache(memory_only=True)
        try:
            cached = [spoken(spoken.prepare([WORD_QUESTION, SPEAKER_QUESTION], clips())).logits for _ in range(2)]
        finally:
            attach_cached_forward(backbone.audio_tower, None)
            backbone.tower_cache = None
        assert cache.hits == 3  # the second time: the word and both clips
        torch.testing.assert_close(cached[0], word_first)
        torch.testing.assert_close(cached[1], word_first)
        inputs = spoken.prepare([WORD_QUESTION], clips()[:1])
        out = backbone(inputs, bidirectional_audio=True)
        inputs.position_gaps = torch.tensor([100])
        gapped = backbone(inputs, bidirectional_audio=True)
    assert torch.isfinite(gapped.audio_hidden).all() and not torch.allclose(gapped.audio_hidden, out.audio_hidden)


def test_a_config_that_disagrees_with_its_backbone_or_a_preset_that_cannot_hear_is_a_clear_error(models, tmp_path):
    from framestamp.errors import CheckpointError
    from framestamp.train.loop import build_model

    _, spoken = models
    spoken.save_pretrained(tmp_path)
    config = json.loads((tmp_path / "framestamp_config.json").read_text())
    (tmp_path / "framestamp_config.json").write_text(json.dumps(config | {"spoken_words": False}))
    with pytest.raises(CheckpointError, match="hears the asked words"):
        FrameStampModel.from_pretrained(tmp_path)
    (tmp_path / "framestamp_config.json").write_text(json.dumps(config | {"spoken_word_text": False}))
    with pytest.raises(CheckpointError, match="spoken_word_text False, its backbone's spoken_words.json with_text True"):
        FrameStampModel.from_pretrained(tmp_path)
    (tmp_path / "framestamp_config.json").write_text(json.dumps(config))
    assert FrameStampModel.from_pretrained(tmp_path).backbone.writes_asked_words
    with pytest.raises(ConfigError, match="spoken_words needs the tiny preset"):
        build_model(ModelConfig(backbone="tiny-scratch", spoken_words=True))


def test_a_training_row_may_leave_its_word_to_the_spoken_block(models):
    plain, spoken = models
    unwritten = WhisperTinyBackbone.create(["apple"], seed=0, spoken_words=True, spoken_word_text=False)
    asked = [word_question("apple", 1, "start"), SPEAKER_QUESTION]
    mixed = spoken.backbone.prepare(asked, clips(), written=[False, False])
    torch.testing.assert_close(mixed.input_ids, unwritten.prepare(asked, clips()).input_ids, rtol=0, atol=0)
    kept = spoken.backbone.prepare(asked, clips(), written=[True, False])
    torch.testing.assert_close(kept.input_ids, spoken.backbone.prepare(asked, clips()).input_ids, rtol=0, atol=0)
    assert not torch.equal(kept.input_ids, mixed.input_ids)  # the word's text is the difference
    assert spoken.backbone.question_text(asked[0], written=False) == word_question("<|unk|>", 1, "start")
    # at inference, a word the text side cannot read whole reads as one <|unk|>, as in training
    odd = word_question("kubernetes-cluster's", 1, "start")
    assert spoken.backbone.question_text(odd) == word_question("<|unk|>", 1, "start")
    assert plain.backbone.question_text(odd) == odd  # a model that does not hear words reads it as asked
    with pytest.raises(ConfigError, match="hears asked words"):
        plain.backbone.prepare(asked, clips(), written=[False, True])


def test_a_continued_run_may_start_hearing_asked_words_but_not_stop(models, tmp_path):
    from framestamp.train.config import TrainConfig
    from framestamp.train.loop import starting_model

    plain, spoken = models
    plain.save_pretrained(tmp_path / "plain")
    spoken.save_pretrained(tmp_path / "spoken")

    def run(start, hears):
        return TrainConfig.from_dict({"init_from": str(tmp_path / start), "output_dir": str(tmp_path / "run"),
                                      "model": {"backbone": "tiny", "spoken_words": hears}})  # fmt: skip

    model = starting_model(run("plain", True), torch.float32)
    assert model.config.spoken_words and model.backbone.spoken is not None
    with pytest.raises(ConfigError, match="cannot stop it"):
        starting_model(run("spoken", False), torch.float32)
    unwritten = TrainConfig.from_dict({"init_from": str(tmp_path / "spoken"), "output_dir": str(tmp_path / "run"),
                                       "model": {"backbone": "tiny", "spoken_words": True, "spoken_word_text": False}})
    model = starting_model(unwritten, torch.float32)  # a second stage may stop reading the word (or start again)
    assert model.config.spoken_word_text is False and model.backbone.spoken.with_text is False
    model.save_pretrained(tmp_path / "unwritten")
    assert FrameStampModel.from_pretrained(tmp_path / "unwritten").backbone.spoken.with_text is False


def test_without_its_text_the_asked_word_is_named_by_the_spoken_block_alone():
    backbone = WhisperTinyBackbone.create(["apple"], seed=0, spoken_words=True, spoken_word_text=False)
    asked = word_question("apple", 1, "start")
    assert backbone.question_text(asked) == word_question("<|unk|>", 1, "start")
    assert backbone.question_text(SPEAKER_QUESTION) == SPEAKER_QUESTION
    np.testing.assert_array_equal(backbone.question_audio(asked), word_audio("apple"))  # said as asked
    apple, zebra = (backbone.prepare([word_question(w, 1, "start")], clips()[:1]) for w in ("apple", "zebra"))
    audio_id = backbone.tokenizer.convert_tokens_to_ids("<|AUDIO|>")
    text = lambda inputs: inputs.input_ids[inputs.input_ids != audio_id]  # noqa: E731
    torch.testing.assert_close(text(apple), text(zebra))  # the same text ...
    assert not torch.equal(apple.model_kwargs["input_features"][0], zebra.model_kwargs["input_features"][0])  # ... not the same sound
