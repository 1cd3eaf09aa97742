"""espeak-ng word times against the audio they describe.

Checked words: every word that follows a pause (the first word, and words after commas and
sentence ends). There the truth is unambiguous in the signal: silence, then the word's energy
rises (for a stop the burst, for a vowel, fricative or nasal its onset). Inside running speech
one word's end is the next one's start and the energy need not dip, so those are not checked.
"""

from __future__ import annotations

import numpy as np
import pytest

from framestamp.corpus.espeak import ESPEAK_RATE_HZ, Synthesizer, Voice
from framestamp.corpus.signal import frame_levels_db
from framestamp.audio import resample

TEXTS = (
    "Anna waited. Then she saw the old dog, and every farmer laughed.",
    "The cat slept. Peter found four apples, quickly. Sarah smiled.",
    "Oscar jumped! Maria sold six coats, then you left. Tom listened.",
)
VOICES = (
    Voice("en-us+m3", 170, 50), Voice("en-gb-x-rp+f2", 140, 70), Voice("en+m1", 220, 30),
    Voice("en-029+f4", 180, 45),
)
FRAME_S = 0.005


def _after_pause(words, min_gap_s=0.05):
    """Indices of words preceded by at least ``min_gap_s`` of pause (and the first word)."""
    return [i for i, w in enumerate(words) if i == 0 or (w[1] - words[i - 1][2]) / ESPEAK_RATE_HZ >= min_gap_s]


@pytest.mark.parametrize("voice", VOICES, ids=lambda v: v.name)
def test_energy_rises_within_30ms_of_word_starts_after_a_pause(voice):
    for text in TEXTS:
        utterance = Synthesizer.get().synthesize(text, voice)
        level = frame_levels_db(resample(utterance.audio / 32768.0, ESPEAK_RATE_HZ))
        loud = level > level.max() - 35.0
        checked = _after_pause(utterance.words)
        assert len(checked) >= 3
        for i in checked:
            word, start, _ = utterance.words[i]
            frame = int(start / ESPEAK_RATE_HZ / FRAME_S)
            rise = np.flatnonzero(loud[frame:])[0] * FRAME_S
            assert rise <= 0.030, f"{word!r} ({voice.name}): energy rises {rise * 1000:.0f} ms after its start"
            quiet_before = loud[max(frame - 8, 0) : max(frame - 1, 0)]
            assert not quiet_before.any(), f"{word!r} ({voice.name}): loud just before its start"


def test_word_ends_before_a_pause_match_the_energy_offset():
    errors = []
    for voice in VOICES:
        for text in TEXTS:
            utterance = Synthesizer.get().synthesize(text, voice)
            level = frame_levels_db(resample(utterance.audio / 32768.0, ESPEAK_RATE_HZ))
            loud = level > level.max() - 35.0
            words = utterance.words
            for i in _after_pause(words)[1:]:
                end_s = words[i - 1][2] / ESPEAK_RATE_HZ
                next_frame = int(words[i][1] / ESPEAK_RATE_HZ / FRAME_S)
                last_loud_s = (np.flatnonzero(loud[:next_frame])[-1] + 1) * FRAME_S
                errors.append(abs(last_loud_s - end_s))
    errors = np.array(errors)
    assert len(errors) > 20
    assert np.median(errors) < 0.010
    assert np.mean(errors < 0.040) >= 0.9


def test_words_are_in_text_order_and_cover_the_text():
    utterance = Synthesizer.get().synthesize("The old dog slept, then the dog barked.", Voice("en-us"))
    assert [w for w, _, _ in utterance.words] == ["The", "old", "dog", "slept", "then", "the", "dog", "barked"]
    starts = [s for _, s, _ in utterance.words]
    assert starts == sorted(starts)
    assert all(s < e for _, s, e in utterance.words)
    assert utterance.words[-1][2] <= len(utterance.audio)


def test_unknown_voice_is_an_error():
    with pytest.raises(ValueError, match="no voice"):
        Synthesizer.get().synthesize("hello", Voice("xx-nonexistent"))


def test_synthesis_does_not_depend_on_what_came_before():
    from framestamp.corpus.voices import ACCENTS, VARIANTS

    synth = Synthesizer.get()
    text = "The cat sat on the mat, and she saw it."
    voices = [Voice(f"en-us+{v}", 170, 50) for v in VARIANTS] + [Voice(f"{a}+m3") for a in ACCENTS]
    loud = Voice("en-gb-x-gbclan+antonio", 230, 75, 79)  # the loudest voice we use
    for voice in voices:
        first = synth.synthesize(text, voice)
        synth.synthesize("Something else, at another rate.", Voice("en+m1", 230, 20))
        synth.synthesize("The old farmer saw a red horse near the river, then they left.", loud)
        again = synth.synthesize(text, voice)
        assert first.words == again.words, voice.name
        assert np.array_equal(first.audio, again.audio), voice.name


def test_no_voice_reaches_clipping():
    """espeak's overflow gain control persists across utterances: no voice may trigger it."""
    from framestamp.corpus.voices import ACCENTS, VARIANTS

    synth = Synthesizer.get()
    text = "The old farmer saw a red horse near the river, then they left quickly. Did you see it?"
    for variant in VARIANTS:
        for accent in (ACCENTS[0], "en-gb-x-gbclan"):
            for pitch, pitch_range in ((75, 79), (25, 30)):
                audio = synth.synthesize(text, Voice(f"{accent}+{variant}", 230, pitch, pitch_range)).audio
                assert np.abs(audio).max() < 0.8 * 32767, (variant, accent, pitch)


def test_synthesis_does_not_depend_on_random_histories():
    from framestamp.corpus.voices import random_voice

    synth = Synthesizer.get()
    rng = np.random.default_rng(0)
    histories = ("Anna waited.", "Did you see it?", "Oscar jumped! Tom listened", "Sarah, David and Lucy.",
                 "The old farmer saw a red horse near the river, then they left quickly.")
    targets = ((Voice("en-gb-x-gbcwmd+edward", 139, 47, 61), "Maria and Jack left never."),
               (Voice("en-029+michel", 216, 37, 59), "Every kitchen touched the clever dog, then he arrived."))
    for voice, text in targets:
        reference = synth.synthesize(text, voice)
        for _ in range(30):
            synth.synthesize(histories[rng.integers(len(histories))], random_voice(rng))
            again = synth.synthesize(text, voice)
            assert again.words == reference.words and np.array_equal(again.audio, reference.audio), voice.name
