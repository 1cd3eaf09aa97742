"""Test clips saved as users' files often are (8 kHz, 8-bit) and read back."""

import numpy as np
import pytest

from framestamp.data.examples import Clip, Segment
from framestamp.evaluate.copies import as_copy


def clip_of(audio):
    return Clip("c", audio.astype(np.float32), "words", (Segment("apple", 0.25, 0.5),))


def tone(hz, seconds=1.0, level=0.5):
    return level * np.sin(2 * np.pi * hz * np.arange(int(16000 * seconds)) / 16000)


def test_an_8khz_copy_keeps_the_length_and_times_and_loses_what_is_above_4khz():
    low, high = as_copy(clip_of(tone(440)), "8khz"), as_copy(clip_of(tone(6000)), "8khz")
    assert low.audio.shape == (16000,) and low.segments == clip_of(tone(440)).segments
    middle = slice(2000, 14000)  # away from the filters' edges
    np.testing.assert_allclose(low.audio[middle], tone(440)[middle], atol=0.02)
    assert np.sqrt(np.mean(high.audio[middle] ** 2)) < 0.01  # the 6 kHz tone is gone


def test_an_8bit_copy_is_quantised_to_256_levels():
    original = tone(440, level=0.9)
    copy = as_copy(clip_of(original), "8bit").audio
    assert copy.shape == original.shape
    assert np.abs(copy - original).max() <= 1 / 128 + 1e-6
    assert len(np.unique(copy)) <= 256 and not np.array_equal(copy, original.astype(np.float32))


def test_an_unknown_copy_is_refused():
    with pytest.raises(ValueError, match="unknown copy 'mp3'"):
        as_copy(clip_of(tone(440)), "mp3")


def test_the_late_copy_starts_after_a_lead_in_drawn_from_the_clip_and_moves_every_segment():
    from framestamp.data.examples import Clip, Segment
    from framestamp.evaluate.copies import LATE_SECONDS, as_copy

    audio = np.full(16_000, 0.25, dtype=np.float32)
    clip = Clip("c1", audio, "words", (Segment("apple", 0.1, 0.4), Segment("pie", 0.5, 0.9)))
    late = as_copy(clip, "late")
    shift = late.segments[0].start_s - 0.1
    assert LATE_SECONDS[0] <= shift <= LATE_SECONDS[1]
    assert [s.start_s - shift for s in late.segments] == pytest.approx([0.1, 0.5])
    assert late.duration_s == pytest.approx(clip.duration_s + shift, abs=1 / 16_000)
    assert np.abs(late.audio[: int(shift * 16_000) - 1]).max() < 0.01  # silence or low noise before it
    assert as_copy(clip, "late").segments == late.segments  # the same clip, the same lead-in
    other = as_copy(Clip("c2", audio, "words", clip.segments), "late")
    assert other.segments[0].start_s != late.segments[0].start_s
