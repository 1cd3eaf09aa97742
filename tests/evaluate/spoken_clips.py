"""Tiny clips of spoken words for the evaluation tests: a tone per word, every start known."""

import numpy as np

from framestamp.data.examples import Clip, Segment

SR = 16_000


def spoken(clip_id, words, seconds=3.0):
    """A clip of ``seconds`` whose words start every 0.5 s from 0.25 s (audio: a tone per word)."""
    audio = np.zeros(int(seconds * SR), dtype=np.float32)
    segments = []
    for i, word in enumerate(words):
        start = 0.25 + 0.5 * i
        audio[int(start * SR) : int((start + 0.3) * SR)] = 0.3
        segments.append(Segment(word, start, start + 0.3))
    return Clip(clip_id, audio, "words", tuple(segments), " ".join(words))


CLIPS = [spoken("a", ["apple", "dog"]), spoken("b", ["cherry", "the", "bark"]), spoken("c", ["banana"])]
