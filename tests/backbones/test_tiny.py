import json

from framestamp.backbones.tiny import TinyBackbone, TinyConfig, build_tokenizer


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
    backbone = TinyBackbone.create([f"w{i}" for i in range(400)], TinyConfig())
    n_params = sum(p.numel() for p in backbone.model.parameters())
    assert 1.0e6 < n_params < 5.0e6
    assert backbone.model.lm_head.weight is backbone.model.model.language_model.embed_tokens.weight
