"""Sentences for synthetic speech: a small English grammar over a fixed vocabulary.

A small vocabulary (about 200 words) makes words recur across clips, so a small model can learn
word identities, and makes repeats within a clip common, so "the 2nd occurrence of X" questions
have answers. Sentences are assigned to splits by a hash of their text (``split_of``), so the
same sentence never lands in two splits, whatever the seed.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np

DETERMINERS = ("the", "a", "this", "that", "every", "one")
ADJECTIVES = (
    "red", "green", "blue", "yellow", "black", "white", "old", "young", "small", "big", "tall",
    "short", "quiet", "loud", "happy", "sad", "quick", "slow", "warm", "cold", "bright", "dark",
    "clever", "gentle", "brave", "lazy", "strange", "heavy", "empty", "golden",
)
NOUNS = (
    "dog", "cat", "bird", "horse", "fish", "rabbit", "mouse", "tiger", "farmer", "doctor",
    "teacher", "child", "baker", "sailor", "king", "queen", "river", "mountain", "garden",
    "forest", "window", "table", "chair", "apple", "bread", "letter", "book", "boat", "train",
    "bridge", "house", "street", "market", "village", "lamp", "door", "clock", "phone", "basket",
    "bottle", "kitchen", "island", "castle", "road", "coat", "piano", "camera", "ladder",
)
PLACES = (
    "the river", "the garden", "the market", "the bridge", "the forest", "the station",
    "the village", "the kitchen", "the castle", "the harbor", "the school", "the island",
)
VERBS = (
    "saw", "found", "painted", "carried", "opened", "lost", "moved", "cleaned", "watched",
    "followed", "pushed", "pulled", "bought", "sold", "fixed", "dropped", "held", "wanted",
    "liked", "visited", "counted", "touched", "took", "built",
)
INTRANSITIVE = (
    "slept", "waited", "laughed", "danced", "smiled", "arrived", "left", "stopped", "listened",
    "jumped", "walked", "rested", "shouted", "worked",
)
PREPOSITIONS = ("near", "behind", "under", "above", "beside", "inside", "across", "past")
ADVERBS = ("quickly", "slowly", "quietly", "again", "today", "yesterday", "carefully", "often", "never", "later")
NAMES = ("Anna", "Peter", "Maria", "David", "Sarah", "Tom", "Lucy", "Oscar", "Emma", "Jack")
PRONOUNS = ("she", "he", "they", "we", "you", "I")
NUMBERS = ("two", "three", "four", "five", "six", "seven", "eight", "nine", "ten")
PLURALS = (
    "dogs", "cats", "birds", "apples", "books", "boats", "letters", "chairs", "lamps",
    "bottles", "coats", "horses", "windows", "baskets",
)

# Each template is a sequence of slots; lowercase words are literal.
TEMPLATES = (
    ("NP", "VERB", "NP"),
    ("NP", "VERB", "NP", "PREP", "PLACE"),
    ("NAME", "VERB", "NP", "ADV"),
    ("NP", "INTRANS", "PREP", "PLACE"),
    ("PRON", "VERB", "NUM", "PLURAL", "PREP", "PLACE"),
    ("NP", "was", "ADJ", "and", "ADJ"),
    ("NAME", "and", "NAME", "INTRANS", "ADV"),
    ("PRON", "VERB", "NP", "and", "NP"),
    ("NP", "PREP", "PLACE", "INTRANS", "ADV"),
    ("did", "PRON", "see", "NP", "PREP", "PLACE"),
    ("NP", "VERB", "NP", ",", "then", "PRON", "INTRANS"),
    ("NAME", "VERB", "NUM", "ADJ", "PLURAL"),
)
_SLOTS = {
    "VERB": VERBS, "INTRANS": INTRANSITIVE, "PREP": PREPOSITIONS, "PLACE": PLACES,
    "ADV": ADVERBS, "NAME": NAMES, "PRON": PRONOUNS, "NUM": NUMBERS, "PLURAL": PLURALS,
    "ADJ": ADJECTIVES,
}


def vocabulary() -> tuple[str, ...]:
    """Every word the grammar can produce, lowercased and sorted."""
    words = set(DETERMINERS + ADJECTIVES + NOUNS + VERBS + INTRANSITIVE + PREPOSITIONS + ADVERBS)
    words |= {w.lower() for w in NAMES + PRONOUNS} | set(NUMBERS + PLURALS)
    words |= {w for place in PLACES for w in place.split()}
    words |= {w for t in TEMPLATES for w in t if w.islower() and w.isalpha()}
    return tuple(sorted(words))


# Slots an open fill may give a word of ordinary English (the last word of a place: "the <noun>").
CONTENT_SLOTS = frozenset({"VERB", "INTRANS", "PLACE", "ADV", "NAME", "PLURAL", "ADJ"})


@dataclass(frozen=True)
class OpenFill:
    """Content words drawn from ``words`` instead of the grammar's, each with probability ``share``
    (:mod:`framestamp.corpus.lexicon`)."""

    words: tuple[str, ...]
    share: float

    def __call__(self, rng: np.random.Generator, word: str) -> str:
        return str(rng.choice(self.words)) if rng.random() < self.share else word


def _noun_phrase(rng: np.random.Generator, reuse: list[str], fill: OpenFill | None) -> list[str]:
    noun = reuse.pop() if reuse else None
    if noun is None:
        noun = str(rng.choice(NOUNS))
        noun = fill(rng, noun) if fill else noun
    words = [str(rng.choice(DETERMINERS))]
    if rng.random() < 0.5:
        adjective = str(rng.choice(ADJECTIVES))
        words.append(fill(rng, adjective) if fill else adjective)
    return words + [noun]


def make_sentence(rng: np.random.Generator, reuse: tuple[str, ...] = (), fill: OpenFill | None = None) -> str:
    """One sentence, capitalised and punctuated, e.g. "The old dog slept near the river."

    Args:
        rng: random generator.
        reuse: nouns to use first (to repeat words of earlier sentences in a clip).
        fill: content words of ordinary English in place of some of the grammar's ("The old
            harbour contacted near the tunnel."); None: the grammar's words alone, and the same
            random draws as before open fills existed.
    """
    pending = list(reuse)
    templates = [t for t in TEMPLATES if "NP" in t] if reuse else TEMPLATES
    template = templates[rng.integers(len(templates))]
    words: list[str] = []
    for slot in template:
        if slot == "NP":
            words += _noun_phrase(rng, pending, fill)
        elif slot in _SLOTS:
            drawn = str(rng.choice(_SLOTS[slot])).split()
            if fill and slot in CONTENT_SLOTS:
                drawn[-1] = fill(rng, drawn[-1])
            words += drawn
        else:
            words.append(slot)
    text = " ".join(words).replace(" ,", ",")
    end = "?" if template[0] == "did" else "."
    return text[0].upper() + text[1:] + end


def split_of(text: str, fractions: dict[str, float]) -> str:
    """The split a sentence belongs to: a stable hash of its normalised text, cut by fractions.

    Args:
        text: the sentence (case and punctuation are ignored).
        fractions: split name -> share, e.g. {"train": 0.8, "dev": 0.1, "test": 0.1}.
    """
    key = " ".join(tokens(text))
    u = int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big") / 2**64
    total = 0.0
    for name, share in fractions.items():
        total += share
        if u < total:
            return name
    return name


def tokens(text: str) -> list[str]:
    """Lowercased words of a text without punctuation (apostrophes and hyphens inside words kept)."""
    cleaned = "".join(c.lower() if c.isalnum() or c in "'-" else " " for c in text)
    return [t.strip("'-") for t in cleaned.split() if t.strip("'-")]
