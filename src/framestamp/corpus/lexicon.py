"""Open words: frequent English words beyond the grammar's, some held out of training by hash.

The grammar (:mod:`framestamp.corpus.text`) has about 200 words; a model trained on them alone
learns those words, not how to find a word it is asked about. An open corpus
(``CorpusConfig.open_word_share`` > 0) also fills the grammar's content slots with words of
ordinary English: the most frequent English words of ``wordfreq`` (pinned), kept when they are
at least four plain lowercase letters (shorter ones are mostly abbreviations a voice spells out,
or fragments such as "ing"), not the grammar's, not stop words (never asked about), not words of
the question templates (read in every question), not profane, and in pocketsphinx's US-English
dictionary (every engine can say them and forced alignment can time them).

A fixed share of those words is held out by a hash of the word (``is_held_out``), except words
of the recorded English prompts, which every corpus with real speech trains on (the closed
corpus too, whose models the open ones continue): held-out words never occur in a train or dev
clip of any corpus, and the words subset's ``test_unseen`` split is made of them, so a model is
asked about words it never heard nor read in training.
"""

from __future__ import annotations

import hashlib
import re
from functools import lru_cache

from framestamp.corpus.text import vocabulary
from framestamp.errors import MissingDependencyError

WORDFREQ = ("wordfreq", "3.1.1")
TOP_WORDS = 10_000  # wordfreq's English list is cut here before filtering: ordinary words
HELD_OUT_SHARE = 0.15
_PLAIN = re.compile(r"[a-z]{4,}")
# Frequent on the web, not words for a corpus people listen to.
_PROFANE = frozenset(
    "fuck fucking fucked shit shitty bitch bitches dick pussy cock porn sexy whore cunt bastard asshole tits "
    "boobs penis vagina anal horny nude rape raped".split()
)


def is_held_out(word: str) -> bool:
    """Whether an open word is one training never hears (a hash of the word, independent of seed)."""
    digest = hashlib.sha256(f"held-out word:{word}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < HELD_OUT_SHARE


@lru_cache(maxsize=1)
def open_words() -> tuple[str, ...]:
    """The open word list, most frequent first (see the module doc)."""
    from framestamp.tasks.families import STOP_WORDS
    from framestamp.tasks.prompts import PROMPT_WORDS

    try:
        from wordfreq import top_n_list
    except ImportError as error:
        raise MissingDependencyError(f"an open-vocabulary corpus needs {WORDFREQ[0]}: "
                                     f"pip install {WORDFREQ[0]}=={WORDFREQ[1]}") from error  # fmt: skip
    spelled = pronounceable()
    excluded = set(vocabulary()) | STOP_WORDS | set(PROMPT_WORDS) | _PROFANE
    return tuple(w for w in top_n_list("en", TOP_WORDS) if _PLAIN.fullmatch(w) and w in spelled and w not in excluded)


@lru_cache(maxsize=2)
def lexicon(held_out: bool) -> tuple[str, ...]:
    """The open words training hears (``held_out`` False) or never hears (True)."""
    recorded = recorded_words()
    return tuple(w for w in open_words() if (is_held_out(w) and w not in recorded) == held_out)


@lru_cache(maxsize=1)
def held_out_words() -> frozenset[str]:
    """``lexicon(held_out=True)`` as a set."""
    return frozenset(lexicon(held_out=True))


@lru_cache(maxsize=1)
def recorded_words() -> frozenset[str]:
    """Every word of every recorded English prompt (of any split), as the corpus normalises them."""
    from framestamp.corpus.sources import english_prompts, normalise_transcript

    return frozenset(w for prompt in english_prompts() for w in normalise_transcript(prompt.text) or ())


@lru_cache(maxsize=1)
def pronounceable() -> frozenset[str]:
    """Words of pocketsphinx's US-English dictionary (alternative pronunciations folded)."""
    try:
        from pocketsphinx import get_model_path
    except ImportError as error:
        raise MissingDependencyError("an open-vocabulary corpus needs the 'corpus' extra: "
                                     "pip install 'framestamp[corpus]'") from error  # fmt: skip
    path = get_model_path("en-us/cmudict-en-us.dict")
    with open(path, encoding="utf-8") as lines:
        return frozenset(line.split(" ", 1)[0].split("(", 1)[0] for line in lines if line.strip())


def version() -> str:
    """The installed ``wordfreq`` and a digest of the open and held-out words: part of an open
    corpus's cache key, so that a build made with other words is never reused."""
    from importlib.metadata import version as installed

    digest = hashlib.sha256(" ".join(open_words()).encode() + b"|" + " ".join(lexicon(True)).encode()).hexdigest()
    return f"{installed(WORDFREQ[0])} words {digest[:12]}"
