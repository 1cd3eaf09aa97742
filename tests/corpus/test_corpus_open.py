"""The open corpus: words of ordinary English in the grammar's slots, some held out of training."""

from __future__ import annotations

import numpy as np
import pytest

from framestamp.corpus import build_corpus
from framestamp.corpus.config import SIZES, CorpusConfig, SplitSpec, settings_hash
from framestamp.corpus.lexicon import (
    HELD_OUT_SHARE, is_held_out, lexicon, open_words, pronounceable, recorded_words,
)
from framestamp.corpus.sources import english_prompts, normalise_transcript
from framestamp.corpus.text import OpenFill, make_sentence, vocabulary
from framestamp.data import load_subset
from framestamp.tasks.families import STOP_WORDS

SPLITS = ("train", "dev", "test", "test_long", "test_unseen")


@pytest.fixture(scope="module")
def open_build(tmp_path_factory):
    words = {split: SplitSpec(n, 1.0, 6.0) for split, n in zip(SPLITS, (16, 4, 4, 1, 6))}
    config = CorpusConfig(subsets=("words",), words=words, open_word_share=0.5)
    return build_corpus("tiny-open", seed=0, out=tmp_path_factory.mktemp("open"), config=config, progress=False)


def said(root, split) -> list[str]:
    return [segment.label for clip in load_subset(root, "words", split) for segment in clip.segments]


def test_training_never_hears_a_held_out_word_and_test_unseen_is_made_of_them(open_build):
    held_out, heard = set(lexicon(held_out=True)), set(lexicon(held_out=False))
    for split in ("train", "dev"):
        words = said(open_build, split)
        assert not held_out & set(words), f"held-out words in {split}"
        assert heard & set(words), f"no open word in {split}"
    unseen = said(open_build, "test_unseen")
    assert not heard & set(unseen)  # content words are all held out, the rest the grammar's
    assert all(w in held_out or w in vocabulary() for w in unseen)
    assert sum(w in held_out for w in unseen) >= 0.4 * len(unseen)


def test_open_words_are_plain_pronounceable_and_never_stop_or_grammar_words():
    words = open_words()
    assert len(words) > 5000 and len(set(words)) == len(words)
    assert all(w.isalpha() and w.islower() and len(w) >= 4 and w in pronounceable() for w in words)
    assert not set(words) & (STOP_WORDS | set(vocabulary()))
    share = len(lexicon(held_out=True)) / len(words)
    assert HELD_OUT_SHARE - 0.03 < share <= HELD_OUT_SHARE + 0.02
    assert set(lexicon(True)) | set(lexicon(False)) == set(words) and not set(lexicon(True)) & set(lexicon(False))
    assert all(is_held_out(w) for w in lexicon(True))
    assert all(not is_held_out(w) or w in recorded_words() for w in lexicon(False))


def test_no_recorded_prompt_of_any_split_says_a_held_out_word():
    """Every corpus with real speech trains on recorded prompts (the closed one too, whose models
    the open ones continue): a word they say is heard in training, so it is never held out."""
    said = {w for prompt in english_prompts() for w in normalise_transcript(prompt.text) or ()}
    assert said == recorded_words() and len(said) > 500
    assert not said & set(lexicon(held_out=True))
    assert said & {w for w in open_words() if is_held_out(w)}  # the rule is not idle


def test_a_grammar_corpus_keeps_its_sentences_and_its_name():
    # what corpus version 4 drew from these generators, before open fills existed
    assert make_sentence(np.random.default_rng(0)) == "That small house found a dog, then you stopped."
    assert make_sentence(np.random.default_rng(5), ("apple",)) == "Every apple above the village listened quietly."
    assert "open_word_share" not in SIZES["default"].to_dict()
    assert settings_hash(SIZES["default"], 0, {})[:12] == "e8f66e8c8dca"  # the name of every build before it
    assert SIZES["open"].to_dict()["open_word_share"] == 0.5


def test_an_open_fill_replaces_content_words_only():
    fill = OpenFill(("zeppelin",), 1.0)
    words = make_sentence(np.random.default_rng(3), fill=fill).lower().rstrip(".?").replace(",", "").split()
    assert "zeppelin" in words
    assert all(w == "zeppelin" or w in vocabulary() for w in words)


def test_test_unseen_needs_an_open_corpus():
    with pytest.raises(ValueError, match="test_unseen"):
        CorpusConfig(words=SIZES["open"].words, open_word_share=0.0)


def test_an_open_build_is_named_by_its_words_so_other_words_never_reuse_it(monkeypatch):
    from framestamp.corpus import lexicon as words
    from framestamp.corpus.build import _versions

    before = _versions(SIZES["open"])
    assert before["wordfreq"] == words.version() and "wordfreq" not in _versions(SIZES["default"])
    monkeypatch.setattr(words, "lexicon", lambda held_out: ("zebra",) if held_out else ())
    assert _versions(SIZES["open"])["wordfreq"] != before["wordfreq"]
