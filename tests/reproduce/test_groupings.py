"""Breakdowns of single-question evaluations: seen and new voices."""

from __future__ import annotations

import numpy as np

from framestamp.data.examples import Clip, Segment
from framestamp.evaluate.run import EvalItem
from framestamp.reproduce.run import voice_heard
from framestamp.tasks.make import one_query

AUDIO = np.zeros(16_000 * 4, dtype=np.float32)


def item(clip: Clip, k: int = 1) -> EvalItem:
    query = one_query(clip, "start", np.random.default_rng(0))
    if clip.subset == "speakers":
        from dataclasses import replace

        from framestamp.tasks import task_named

        query = replace(query, k=k, question=task_named("speaker").question("", k, "start"))
    return EvalItem(clip, query)


def test_a_word_is_new_when_its_clip_has_a_held_out_voice():
    words = (Segment("apple", 0.5, 0.9, speaker="x"),)
    new = Clip("a", AUDIO, "words", words, provenance={"new_voice": True})
    seen = Clip("b", AUDIO, "words", words, provenance={"new_voice": False})
    before = Clip("c", AUDIO, "words", words, provenance={})  # built before voices were held out: all seen
    assert [voice_heard(item(c)) for c in (new, seen, before)] == ["new voice", "seen voice", "seen voice"]


def test_a_speaker_onset_is_new_when_the_asked_speaker_is():
    turns = (Segment("carlo", 0.2, 1.0), Segment("ed", 1.5, 3.0))
    speakers = [{"speaker_id": "carlo", "new_voice": True}, {"speaker_id": "ed", "new_voice": False}]
    clip = Clip("s", AUDIO, "speakers", turns, provenance={"speakers": speakers})
    assert voice_heard(item(clip, k=1)) == "new voice"  # the 1st to start is carlo
    assert voice_heard(item(clip, k=2)) == "seen voice"
