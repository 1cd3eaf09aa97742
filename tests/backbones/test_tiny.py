import json

import pytest

from framestamp.backbones.tiny_scratch import ScratchTinyBackbone
from framestamp.backbones.tiny_thinker import TinyConfig, build_tokenizer, default_vocabulary


def test_word_level_tokenizer_round_trips_json_answers():
    tokenizer = build_tokenizer(["apple", "don't"])
    answer = '[{"word": "apple", "start": 3.41}]'
    ids = tokenizer(answer, add_special_tokens=False)["input_ids"]
    assert json.loads(tokenizer.decode(ids)) == json.loads(answer)
    assert tokenizer.unk_token_id not in ids
    assert tokenizer.unk_token_id not in tokenizer("don't", add_special_tokens=False)["input_ids"]


def test_unknown_words_map_to_unk():
    tokenizer = build_tokenizer(["apple"])
    assert tokenizer("zebra", add_special_tokens=False)["input_ids"] == [tokenizer.unk_token_id]


def test_tiny_size_is_about_a_million_parameters():
    backbone = ScratchTinyBackbone.create([f"w{i}" for i in range(400)], TinyConfig())
    n_params = sum(p.numel() for p in backbone.model.parameters())
    assert 1.0e6 < n_params < 5.0e6
    assert backbone.model.lm_head.weight is backbone.model.model.language_model.embed_tokens.weight


def _templates(word: str, event: str) -> list[tuple[str, str | None]]:
    """Every question template, with the subject it asks about (None: no subject)."""
    from framestamp.tasks import BOUNDARIES, TASKS, task_named

    questions = []
    for boundary in BOUNDARIES:
        questions += [(task_named(task).all_question(boundary), None) for task in TASKS]
        for k in range(1, 13):
            questions += [
                (task_named("word").question(word, k, boundary), word),
                (task_named("speaker").question("", k, boundary), None),
                (task_named("event").question(event, k, boundary), event),
            ]
    return questions


def _unknown(tokenizer, text: str) -> int:
    return tokenizer(text, add_special_tokens=False)["input_ids"].count(tokenizer.unk_token_id)


@pytest.mark.parametrize(
    "words,word,event,known",
    [
        (None, "apple", "telephone ringing", True),  # the shipped word list, as ScratchTinyBackbone.create builds it
        (["apple", "click"], "apple", "click", True),  # a word list of one's own
        (["apple"], "zebra", "dog barking", False),  # subjects outside the vocabulary
    ],
)
def test_fresh_tokenizer_reads_every_template_word(words, word, event, known):
    tokenizer = build_tokenizer(default_vocabulary() if words is None else words)
    assert (_unknown(tokenizer, word) == 0) is known and (_unknown(tokenizer, event) == 0) is known
    templates = _templates(word, event)
    assert len(templates) == 2 * (3 + 12 * 3)
    for question, subject in templates:
        # the asked subject is the only thing that may be read as <|unk|>, and only when unknown
        expected = 0 if subject is None else _unknown(tokenizer, subject)
        assert _unknown(tokenizer, question) == expected, question
        if subject is not None:
            assert _unknown(tokenizer, question.replace(subject, "")) == 0, question
