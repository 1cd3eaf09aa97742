"""Spoken words: a question about a word carries the word as espeak-ng says it, heard by the tower."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from framestamp.backbones.spoken_words import PEAK, VOICE, word_audio
from framestamp.backbones.tiny_whisper import SPOKEN_FILE, WhisperTinyBackbone
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
