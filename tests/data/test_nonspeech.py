"""Non-speech training items: clips with nothing in them (silence, tones, noise, music, mixes) asked
about a word, speaker or event, with no target. Their share, their audio, and that the sampler's
batches stay a pure function of (seed, step)."""

from dataclasses import replace

import numpy as np
import pytest

from framestamp.data.augment import (
    NONSPEECH_FLOOR_DB,
    NONSPEECH_KINDS,
    AugmentConfig,
    nonspeech_clip,
)
from framestamp.data.examples import Clip, Segment
from framestamp.errors import ConfigError
from framestamp.tasks.families import task_for_subset
from framestamp.tasks.make import subjects_of
from framestamp.train.batches import QuerySampler
from framestamp.train.config import DataConfig

SR = 16_000
WORDS = ("apple", "banana", "cherry", "grape")


def has_music():
    try:
        from framestamp.corpus.sources import music_tracks

        music_tracks()
    except Exception:  # MissingSourceError: asterisk-moh-opsound-wav is not installed
        return False
    return True


MUSIC = has_music()
KINDS = list(NONSPEECH_KINDS) if MUSIC else ["silence", "tone", "noise", "mix"]


def toy_clips(subset="words", n=4):
    """Faint noise with a click at each segment's start; words, speaker turns or events."""
    clips = []
    for i in range(n):
        rng = np.random.default_rng(i)
        audio = (rng.standard_normal(2 * SR) * 1e-3).astype(np.float32)
        segments = []
        for k, start in enumerate((0.3 + 0.1 * i, 0.9, 1.4)):
            audio[int(start * SR)] = 0.5
            label = f"s{k % 2}" if subset == "speakers" else WORDS[(i + k) % len(WORDS)]
            segments.append(Segment(label, start, start + 0.3))
        clips.append(Clip(f"toy{i}", audio, subset, tuple(segments)))
    return clips


def snapshot(items):
    return [(item.clip.id, item.clip.subset, item.query.question, item.query.targets_s, item.query.subject,
             item.query.k, item.clip.segments, item.clip.audio.tobytes(), item.position_gap_s)
            for item in items]  # fmt: skip


def is_nonspeech(item):
    return "nonspeech" in item.clip.provenance


def spectrum(audio):
    power = np.abs(np.fft.rfft(audio.astype(np.float64))) ** 2
    return np.fft.rfftfreq(len(audio), 1 / SR), power


def rms_db(audio):
    return 20 * np.log10(np.sqrt(np.mean(np.square(audio, dtype=np.float64))))


# --- the sampler --------------------------------------------------------------------------------

BASE = dict(corpus="tiny", modes=["one", "all"], boundaries=["start", "end"], absent_share=0.2)


def test_share_zero_gives_the_batches_of_a_sampler_without_the_option():
    clips = toy_clips()
    busy = dict(BASE, joined_share=0.3, max_position_gap_s=5.0, augment_share=0.5,
                augment=AugmentConfig(background_kinds=["white", "pink", "brown"]))  # fmt: skip
    plain = QuerySampler(clips, DataConfig(**busy), seed=3)
    off = QuerySampler(clips, DataConfig(**busy, nonspeech_share=0.0, nonspeech_s=[2.0, 5.0],
                                         nonspeech_kinds=["tone"], nonspeech_event_kinds=[]), seed=3)  # fmt: skip
    for step in range(8):
        items = off.batch(step, 8)
        assert snapshot(items) == snapshot(plain.batch(step, 8))
        assert not any(is_nonspeech(item) for item in items)
    assert DataConfig().nonspeech_share == 0.0


def test_that_share_of_single_occurrence_items_is_non_speech_and_the_rest_is_unchanged():
    clips = toy_clips()
    plain = QuerySampler(clips, DataConfig(**BASE), seed=3)
    data = DataConfig(**BASE, nonspeech_share=0.3, nonspeech_s=[1.0, 6.0], nonspeech_kinds=KINDS)
    sampler = QuerySampler(clips, data, seed=3)
    vocabulary = set(subjects_of(clips))
    nonspeech, ones, ks = 0, 0, []
    for step in range(100):
        for item, before in zip(sampler.batch(step, 8), plain.batch(step, 8)):
            ones += before.query.mode == "one"
            if not is_nonspeech(item):
                assert snapshot([item]) == snapshot([before])  # the other items are those of a run without
                continue
            nonspeech += 1
            assert before.query.mode == "one" and item.query.mode == "one"
            assert item.query.targets_s == () and item.query.labels == () and item.clip.segments == ()
            assert item.query.subject in vocabulary and item.query.boundary == before.query.boundary
            task = task_for_subset("words")
            assert item.query.question == task.question(item.query.subject, item.query.k, item.query.boundary)
            assert item.clip.subset == "words" and item.clip.id == item.query.clip_id
            assert 1.0 <= item.clip.duration_s < 6.0
            assert item.clip.duration_s == pytest.approx(item.clip.provenance["nonspeech"]["seconds"])
            assert item.clip.provenance["nonspeech"]["kind"] in KINDS
            assert item.clip.audio.dtype == np.float32 and np.abs(item.clip.audio).max() <= 1.0
            ks.append(item.query.k)
    assert 0.23 < nonspeech / ones < 0.37  # 0.3 of about 400 single-occurrence items: +-2.3 sigma
    assert 0.65 < ks.count(1) / len(ks) < 0.95 and set(ks) <= {1, 2, 3} and max(ks) > 1  # 1st mostly


def test_non_speech_batches_are_a_pure_function_of_seed_and_step():
    clips = toy_clips()
    augment = AugmentConfig(background_kinds=["white", "pink", "brown"])
    data = DataConfig(**BASE, nonspeech_share=0.5, nonspeech_s=[1.0, 4.0], nonspeech_kinds=KINDS,
                      augment_share=0.5, augment=augment, max_position_gap_s=5.0)  # fmt: skip
    sampler = QuerySampler(clips, data, seed=3)
    seen = 0
    for step in range(6):
        items = sampler.batch(step, 8)
        assert snapshot(QuerySampler(clips, data, seed=3).batch(step, 8)) == snapshot(items)  # resumable
        for item in items:
            if is_nonspeech(item):
                seen += 1
                assert "augmentations" not in item.clip.provenance  # non-speech items are not augmented
    assert seen > 0
    assert snapshot(sampler.batch(0, 8)) != snapshot(sampler.batch(1, 8))
    assert snapshot(QuerySampler(clips, data, seed=4).batch(0, 8)) != snapshot(sampler.batch(0, 8))
    whole = snapshot(sampler.batch(5, 8))
    sharded = [QuerySampler(clips, data, seed=3, process_index=p, num_processes=2) for p in range(2)]
    split = sum((snapshot(sharded[p].batch(5, 2, micro, 2)) for micro in range(2) for p in range(2)), [])
    assert split == whole  # the same items however the step is shared out
    assert sum((snapshot(sampler.batch(5, 4, micro, 2)) for micro in range(2)), []) == whole


def test_speakers_ask_about_the_first_speaker_and_events_only_hear_silence_or_steady_noise():
    speakers = QuerySampler(toy_clips("speakers"), DataConfig(**BASE, nonspeech_share=0.5, nonspeech_kinds=KINDS,
                                                              nonspeech_s=[1.0, 3.0]), seed=0)  # fmt: skip
    items = [item for step in range(10) for item in speakers.batch(step, 8) if is_nonspeech(item)]
    assert items and all(item.query.k == 1 and item.query.subject == "1" for item in items)
    task = task_for_subset("speakers")
    assert all(item.query.question == task.question("1", 1, item.query.boundary) for item in items)
    assert all(item.clip.subset == "speakers" and item.query.targets_s == () for item in items)

    data = DataConfig(**BASE, subset="events", nonspeech_share=0.5, nonspeech_s=[1.0, 3.0])
    events = QuerySampler(toy_clips("events"), data, seed=0)
    items = [item for step in range(20) for item in events.batch(step, 8) if is_nonspeech(item)]
    kinds = {item.clip.provenance["nonspeech"]["kind"] for item in items}
    assert kinds == {"silence", "noise"}
    assert not any("level_change" in item.clip.provenance["nonspeech"] for item in items)
    assert all(item.query.subject in WORDS and item.query.targets_s == () for item in items)
    never = QuerySampler(toy_clips("events"), replace(data, nonspeech_event_kinds=[]), seed=0)
    plain = QuerySampler(toy_clips("events"), DataConfig(**BASE, subset="events"), seed=0)
    for step in range(5):
        assert snapshot(never.batch(step, 8)) == snapshot(plain.batch(step, 8))


def test_lengths_stay_below_max_duration_s_and_options_are_checked():
    data = DataConfig(**BASE, max_duration_s=2.5, nonspeech_share=1.0, nonspeech_kinds=["silence", "noise"])
    items = [item for step in range(10) for item in QuerySampler(toy_clips(), data, seed=0).batch(step, 8)]
    lengths = [item.clip.duration_s for item in items if is_nonspeech(item)]
    assert lengths and all(1.0 <= length < 2.5 for length in lengths)
    for bad in ({"nonspeech_share": 1.5}, {"nonspeech_s": [0.0, 5.0]}, {"nonspeech_s": [5.0, 60.0]},
                {"nonspeech_kinds": ["speech"]}, {"nonspeech_kinds": ["tone", "mix"]},
                {"nonspeech_event_kinds": ["tone"]}, {"nonspeech_level_db": [-10.0, 3.0]}):  # fmt: skip
        with pytest.raises(ValueError, match=next(iter(bad))):
            QuerySampler(toy_clips(), DataConfig(**BASE, **bad), seed=0)
    with pytest.raises(ConfigError, match="nonspeech_share"):
        DataConfig.from_dict({"nonspeech_share": "lots"})


# --- the clips ----------------------------------------------------------------------------------


def clips_of(kind, count=12, **kwargs):
    return [nonspeech_clip(f"n{i}", "words", np.random.default_rng([7, i]), kinds=(kind,), **kwargs)
            for i in range(count)]  # fmt: skip


def test_clips_are_reproducible_and_have_the_drawn_length():
    one, again = (nonspeech_clip("n", "words", np.random.default_rng(5), kinds=tuple(KINDS)) for _ in range(2))
    assert one.audio.tobytes() == again.audio.tobytes() and one.provenance == again.provenance
    lengths = []
    for i in range(200):
        clip = nonspeech_clip("n", "words", np.random.default_rng([1, i]), seconds=(1.0, 30.0), kinds=("silence",))
        record = clip.provenance["nonspeech"]
        assert clip.segments == () and len(clip.audio) == round(record["seconds"] * SR)
        lengths.append(clip.duration_s)
    assert 1.0 <= min(lengths) < 1.5 and 20.0 < max(lengths) < 30.0
    assert 0.3 < np.mean(np.array(lengths) < np.sqrt(30.0)) < 0.7  # log-uniform: median sqrt(1 x 30)


def test_a_tone_clip_peaks_at_its_frequency():
    for clip in clips_of("tone", count=20, level_changes=False):
        part = clip.provenance["nonspeech"]["parts"][0]
        assert all(100.0 <= hz <= 4000.0 for hz in part["hz"]) and 1 <= len(part["hz"]) <= 3
        freqs, power = spectrum(clip.audio)
        assert min(abs(freqs[np.argmax(power)] - hz) for hz in part["hz"]) < 3.0, part  # a pure tone: its own
        near = np.zeros(len(freqs), bool)
        for hz in part["hz"]:
            near |= np.abs(freqs - hz) < 20.0
        assert power[near].sum() > 0.9 * power.sum()  # nothing else in it
        sounding = np.abs(clip.audio) > 0
        if part["pattern"] == "continuous":
            assert sounding.mean() > 0.99 and rms_db(clip.audio) == pytest.approx(part["level_db"], abs=0.1)
        else:  # on and off: silence between
            assert 0.0 < sounding.mean() < 1.0 or clip.duration_s < 3.0
    patterns = {clip.provenance["nonspeech"]["parts"][0]["pattern"] for clip in clips_of("tone", count=30)}
    assert patterns == {"continuous", "beeps", "random"}


def test_silence_is_digital_zero_or_a_low_floor():
    floors = set()
    for clip in clips_of("silence", count=20, level_changes=False):
        part = clip.provenance["nonspeech"]["parts"][0]
        floors.add(part["floor"])
        if part["floor"] == "zero":
            assert not clip.audio.any()
        else:
            assert NONSPEECH_FLOOR_DB[0] <= rms_db(clip.audio) <= NONSPEECH_FLOOR_DB[1]
            assert rms_db(clip.audio) == pytest.approx(part["level_db"], abs=0.1)
    assert "zero" in floors and len(floors) > 2


def test_noise_has_its_level_and_its_colour():
    colours = set()
    for clip in clips_of("noise", count=20, level_changes=False, level_db=(-40.0, -20.0), seconds=(2.0, 4.0)):
        part = clip.provenance["nonspeech"]["parts"][0]
        colours.add(part["colour"])
        assert rms_db(clip.audio) == pytest.approx(part["level_db"], abs=0.1)
        freqs, power = spectrum(clip.audio)
        low = power[(freqs >= 50) & (freqs < 500)].mean()
        high = power[(freqs >= 4000) & (freqs < 7000)].mean()
        expected = {"white": (0.5, 2.0), "pink": (5.0, 50.0), "brown": (300.0, np.inf)}[part["colour"]]
        assert expected[0] < low / high < expected[1], part
    assert colours == {"white", "pink", "brown"}


@pytest.mark.skipif(not MUSIC, reason="asterisk-moh-opsound-wav is not installed")
def test_music_comes_from_the_train_pool_at_its_level():
    from framestamp.corpus.sources import music_tracks

    lengths = {name: len(audio) / SR for name, audio in music_tracks()}
    for clip in clips_of("music", count=4, level_changes=False, level_db=(-40.0, -20.0), seconds=(2.0, 4.0)):
        part = clip.provenance["nonspeech"]["parts"][0]
        assert rms_db(clip.audio) == pytest.approx(part["level_db"], abs=0.1)
        assert part["pieces"]
        for piece in part["pieces"]:  # from the first 80 % of a track: its train part
            assert piece["offset_s"] + piece["length_s"] <= 0.8 * lengths[piece["file"].rsplit("/", 1)[-1]] + 1e-6


def test_mixes_and_level_changes():
    kinds = ("tone", "noise", "silence", "mix")
    mixes = [nonspeech_clip("n", "words", np.random.default_rng([3, i]), kinds=kinds) for i in range(40)]
    mixes = [clip for clip in mixes if clip.provenance["nonspeech"]["kind"] == "mix"]
    assert mixes
    for clip in mixes:
        parts = [part["kind"] for part in clip.provenance["nonspeech"]["parts"]]
        assert 2 <= len(parts) <= 3 and len(set(parts)) == len(parts) and set(parts) <= {"tone", "noise", "silence"}
        assert all(part.get("floor") != "zero" for part in clip.provenance["nonspeech"]["parts"])
    # the level change is drawn after the parts: the same generator without it gives the same parts
    quiet = dict(count=40, level_db=(-60.0, -50.0), seconds=(4.0, 8.0))  # never scaled down
    changed = [(clip, plain) for clip, plain in zip(clips_of("noise", **quiet), clips_of("noise", level_changes=False,
               **quiet)) if "level_change" in clip.provenance["nonspeech"]]  # fmt: skip
    assert {clip.provenance["nonspeech"]["level_change"]["kind"] for clip, _ in changed} == {"ramp", "steps"}
    for clip, plain in changed:
        change = clip.provenance["nonspeech"]["level_change"]
        gain_db = 20 * np.log10(np.abs(clip.audio.astype(np.float64)) / np.abs(plain.audio))
        if change["kind"] == "ramp":
            assert abs(change["db"]) <= 30.0
            assert (gain_db[0], gain_db[-1]) == pytest.approx((0.0, change["db"]), abs=1e-3)
        else:
            assert 1 <= len(change["db"]) <= 3
            assert gain_db[0] == pytest.approx(0.0, abs=1e-3)
            for at_s, db in zip(change["at_s"], change["db"]):
                assert gain_db[int(round(at_s * SR))] == pytest.approx(db, abs=1e-3)
            assert gain_db[-1] == pytest.approx(change["db"][-1], abs=1e-3)
    assert not any("level_change" in c.provenance["nonspeech"] for c in clips_of("noise", level_changes=False))
