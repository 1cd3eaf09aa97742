"""Training augmentations: audio and segment times stay together, levels are the drawn ones, and
the sampler's batches stay a pure function of (seed, step)."""

import io
from dataclasses import replace

import numpy as np
import pytest
import soundfile as sf

from framestamp.data.augment import (
    AugmentConfig,
    add_background,
    augment_clip,
    change_level,
    late_start,
    quantise,
    signal_rms,
    telephone,
)
from framestamp.data.examples import Clip, Segment
from framestamp.errors import ConfigError
from framestamp.train.batches import QuerySampler
from framestamp.train.config import DataConfig

SR = 16_000
STARTS = (0.4, 1.1, 2.2)
ALL_ON = AugmentConfig(late_start_prob=1.0, background_prob=1.0, level_prob=1.0, telephone_prob=1.0,
                       bit_depth_prob=1.0, ramp_prob=1.0, gain_db=[-6.0, 0.0], late_start_s=[0.5, 5.0])  # fmt: skip


def click_clip(subset="words", seconds=3.0, starts=STARTS, seed=0, clip_id="c"):
    """Faint noise with a one-sample click at each segment's start."""
    audio = (np.random.default_rng(seed).standard_normal(int(seconds * SR)) * 1e-3).astype(np.float32)
    segments = []
    for k, start in enumerate(starts):
        audio[int(round(start * SR))] = 0.5
        label = f"s{k % 2}" if subset == "speakers" else ("apple", "banana")[k % 2]
        segments.append(Segment(label, start, start + 0.3))
    return Clip(clip_id, audio, subset, tuple(segments))


def tone_clip(level=0.05):
    """Tone bursts (the "speech") inside the segments, silence between them."""
    audio = np.zeros(3 * SR, np.float32)
    for start in STARTS:
        first = int(start * SR)
        audio[first : first + int(0.3 * SR)] = level * np.sin(2 * np.pi * 440 * np.arange(int(0.3 * SR)) / SR)
    return Clip("tone", audio, "words", tuple(Segment("apple", s, s + 0.3) for s in STARTS))


def assert_clicks_at_starts(clip):
    """The loudest sample within 50 ms of each segment's start is the click (give or take a sample)."""
    for segment in clip.segments:
        at = int(round(segment.start_s * SR))
        lo = max(at - SR // 20, 0)
        window = np.abs(clip.audio[lo : at + SR // 20])
        assert abs(lo + int(np.argmax(window)) - at) <= 1, (segment, clip.provenance.get("augmentations"))


def band_energy(audio, lo_hz, hi_hz):
    spectrum = np.abs(np.fft.rfft(audio.astype(np.float64))) ** 2
    freqs = np.fft.rfftfreq(len(audio), 1 / SR)
    return float(spectrum[(freqs >= lo_hz) & (freqs < hi_hz)].sum())


def has_music():
    try:
        from framestamp.corpus.sources import music_tracks

        music_tracks()
    except Exception:  # MissingSourceError: asterisk-moh-opsound-wav is not installed
        return False
    return True


AUGMENTATIONS = {
    "late_start_silence": lambda clip, rng: late_start(clip, rng, fills=("silence",)),
    "late_start_noise": lambda clip, rng: late_start(clip, rng, fills=("noise",), noise_db=(-50.0, -45.0)),
    "background_noise": lambda clip, rng: add_background(clip, rng, kinds=("white", "pink", "brown")),
    "background_music": lambda clip, rng: add_background(clip, rng, kinds=("music",)),
    "telephone": lambda clip, rng: telephone(clip, rng, band_pass_prob=0.0),
    "telephone_band_pass": lambda clip, rng: telephone(clip, rng, band_pass_prob=1.0),
    "linear8": lambda clip, rng: quantise(clip, rng, codecs=("linear8",)),
    "mulaw8": lambda clip, rng: quantise(clip, rng, codecs=("mulaw8",)),
    "level": lambda clip, rng: change_level(clip, rng, gain_db=(-30.0, 10.0), ramp_prob=1.0),
    "chain": lambda clip, rng: augment_clip(clip, rng, ALL_ON)[0],
}


@pytest.mark.parametrize("name", sorted(AUGMENTATIONS))
@pytest.mark.parametrize("subset", ["words", "speakers"])
def test_segment_times_stay_with_the_audio(name, subset):
    if name in ("background_music", "chain") and not has_music():
        pytest.skip("asterisk-moh-opsound-wav is not installed")
    augment = AUGMENTATIONS[name]
    clip = click_clip(subset)
    for seed in range(3):
        out = augment(clip, np.random.default_rng(seed))
        assert out is not clip and out.audio.dtype == np.float32 and np.abs(out.audio).max() <= 1.0
        assert [s.label for s in out.segments] == [s.label for s in clip.segments]
        assert out.duration_s >= clip.duration_s and out.provenance["augmentations"]
        assert_clicks_at_starts(out)
        again = augment(clip, np.random.default_rng(seed))  # deterministic given its generator
        np.testing.assert_array_equal(again.audio, out.audio)
        assert again.segments == out.segments


def test_late_start_shifts_by_exactly_the_prepended_length():
    clip = click_clip()
    for seed in range(5):
        out = late_start(clip, np.random.default_rng(seed), seconds=(0.5, 25.0), fills=("silence",))
        n_pad = len(out.audio) - len(clip.audio)
        shift = out.provenance["augmentations"][-1]["seconds"]
        assert 0.5 * SR - 1 <= n_pad < 25 * SR and shift == n_pad / SR
        assert not out.audio[:n_pad].any()
        np.testing.assert_array_equal(out.audio[n_pad:], clip.audio)
        for before, after in zip(clip.segments, out.segments):
            assert after.start_s == before.start_s + shift and after.end_s == before.end_s + shift
    noisy = late_start(clip, np.random.default_rng(0), fills=("noise",), noise_db=(-60.0, -60.0))
    n_pad = len(noisy.audio) - len(clip.audio)
    assert 20 * np.log10(np.sqrt(np.mean(noisy.audio[:n_pad].astype(np.float64) ** 2))) == pytest.approx(-60, abs=1)


def test_late_start_keeps_within_max_duration_and_max_shift():
    clip = click_clip()  # 3 s
    for seed in range(10):
        out = late_start(clip, np.random.default_rng(seed), seconds=(0.5, 25.0), max_duration_s=5.0)
        assert 3.5 - 1 / SR <= out.duration_s <= 5.0
        out = late_start(clip, np.random.default_rng(seed), seconds=(0.5, 25.0), max_shift_s=1.0)
        assert out.segments[0].start_s < STARTS[0] + 1.0
    assert late_start(clip, np.random.default_rng(0), seconds=(0.5, 25.0), max_duration_s=3.2) is clip  # no room
    joined = replace(clip, provenance={"joined_at_s": 1.5})
    out = late_start(joined, np.random.default_rng(0))
    assert out.provenance["joined_at_s"] == 1.5 + out.provenance["augmentations"][-1]["seconds"]


@pytest.mark.parametrize("kind", ["white", "pink", "brown", "music"])
def test_background_is_mixed_at_the_drawn_snr(kind):
    if kind == "music" and not has_music():
        pytest.skip("asterisk-moh-opsound-wav is not installed")
    clip = tone_clip()
    for seed in range(3):
        out = add_background(clip, np.random.default_rng(seed), snr_db=(5.0, 25.0), kinds=(kind,))
        record = out.provenance["augmentations"][-1]
        assert record["kind"] == kind and 5.0 <= record["snr_db"] <= 25.0 and "scaled_by" not in record
        background = out.audio.astype(np.float64) - clip.audio
        measured = 20 * np.log10(signal_rms(clip) / np.sqrt(np.mean(background**2)))
        assert measured == pytest.approx(record["snr_db"], abs=0.5)
        assert out.segments == clip.segments


def test_a_loud_mix_is_scaled_down_not_clipped():
    clip = tone_clip(level=0.95)
    out = add_background(clip, np.random.default_rng(0), snr_db=(5.0, 5.0), kinds=("white",))
    assert np.abs(out.audio).max() <= 1.0 and out.provenance["augmentations"][-1]["scaled_by"] < 1.0


@pytest.mark.parametrize("band_pass", [False, True])
def test_telephone_band_removes_energy_above_4_khz(band_pass):
    noise = (np.random.default_rng(0).standard_normal(2 * SR) * 0.1).astype(np.float32)
    clip = Clip("noise", noise, "words", (Segment("apple", 0.5, 0.8),))
    out = telephone(clip, np.random.default_rng(0), band_pass_prob=float(band_pass))
    assert out.provenance["augmentations"][-1]["band_pass"] is band_pass and len(out.audio) == len(noise)
    assert band_energy(out.audio, 4000, 8001) < 1e-3 * band_energy(noise, 4000, 8001)  # 30 dB down or more
    assert band_energy(out.audio, 500, 3000) == pytest.approx(band_energy(noise, 500, 3000), rel=0.1)
    low = band_energy(out.audio, 20, 150) / band_energy(noise, 20, 150)
    assert (low < 0.05) if band_pass else (low > 0.8)


@pytest.mark.parametrize("codec, subtype", [("linear8", "PCM_U8"), ("mulaw8", "ULAW")])
def test_8_bit_samples_have_at_most_256_levels_as_a_wav_file_holds_them(codec, subtype):
    sweep = np.linspace(-1.3, 1.3, 20_000).astype(np.float32)  # beyond full scale too
    clip = Clip("sweep", sweep, "words", (Segment("apple", 0.1, 0.2),))
    out = quantise(clip, np.random.default_rng(0), codecs=(codec,))
    assert out.provenance["augmentations"][-1]["codec"] == codec
    assert 200 <= len(np.unique(out.audio)) <= 256 and np.abs(out.audio).max() <= 1.0
    if codec == "linear8":
        assert np.all(out.audio * 128 == np.round(out.audio * 128))  # steps of 1/128
    buffer = io.BytesIO()  # written to an 8-bit WAV file and read back, nothing changes
    sf.write(buffer, out.audio, SR, format="WAV", subtype=subtype)
    buffer.seek(0)
    np.testing.assert_array_equal(sf.read(buffer, dtype="float32")[0], out.audio)
    quiet = quantise(replace(clip, audio=sweep * 0.003), np.random.default_rng(0), codecs=(codec,))
    assert len(np.unique(quiet.audio)) < (len(np.unique(out.audio)) if codec == "mulaw8" else 3)


def test_gain_clips_at_full_scale_and_ramps_in_db():
    tone = (0.5 * np.sin(2 * np.pi * 440 * np.arange(SR) / SR)).astype(np.float32)
    clip = Clip("tone", tone, "words", (Segment("apple", 0.1, 0.2),))
    loud = change_level(clip, np.random.default_rng(0), gain_db=(10.0, 10.0))
    assert np.abs(loud.audio).max() == 1.0 and np.mean(np.abs(loud.audio) == 1.0) > 0.3  # clipped flat tops
    quiet = change_level(clip, np.random.default_rng(0), gain_db=(-30.0, -30.0))
    np.testing.assert_allclose(quiet.audio, tone * 10 ** (-30 / 20), rtol=1e-6)
    ramped = change_level(clip, np.random.default_rng(3), gain_db=(-20.0, -20.0), ramp_prob=1.0, ramp_db=12.0)
    ramp = ramped.provenance["augmentations"][-1]["ramp_db"]
    assert ramp != 0.0 and abs(ramp) <= 12.0
    first, last = (np.abs(ramped.audio[sl]).max() for sl in (slice(0, 400), slice(-400, None)))
    assert 20 * np.log10(last / first) == pytest.approx(ramp, abs=0.3)


def test_augment_clip_applies_something_and_reports_the_shift():
    clip = click_clip()
    only_level = AugmentConfig(late_start_prob=0.0, background_prob=0.0, level_prob=0.0, telephone_prob=0.0,
                               bit_depth_prob=0.0, ramp_prob=0.0)  # fmt: skip
    assert augment_clip(clip, np.random.default_rng(0), only_level) == (clip, 0.0)  # nothing to draw from
    quiet = replace(only_level, telephone_prob=0.01)  # drawn once in 100, but an augmented item gets one
    out, shift = augment_clip(clip, np.random.default_rng(0), quiet)
    assert [r["name"] for r in out.provenance["augmentations"]] == ["telephone"] and shift == 0.0
    late = replace(only_level, late_start_prob=1.0)
    out, shift = augment_clip(clip, np.random.default_rng(0), late, max_shift_s=2.0)
    assert 0.5 <= shift < 2.0 and out.segments[0].start_s == STARTS[0] + shift
    with pytest.raises(ValueError, match="background_kinds"):
        AugmentConfig(background_kinds=["rain"])
    with pytest.raises(ConfigError, match="augment_share"):
        DataConfig.from_dict({"augment_share": 1.5})
    assert DataConfig.from_dict({"augment": {"gain_db": [-3, 0]}}).augment.gain_db == [-3, 0]


# --- the training sampler ---------------------------------------------------------------------


def toy_clips():
    return [click_clip(subset="words", starts=(0.3 + 0.1 * i, 0.9, 1.4), seed=i, clip_id=f"toy{i}", seconds=2.0)
            for i in range(4)]  # fmt: skip


def snapshot(items):
    return [(item.clip.id, item.query.question, item.query.targets_s, item.clip.segments, item.clip.audio.tobytes(),
             item.position_gap_s) for item in items]  # fmt: skip


def test_augment_share_zero_gives_the_batches_of_a_sampler_without_augmentation():
    clips = toy_clips()
    base = dict(corpus="tiny", modes=["one", "all"], absent_share=0.2, joined_share=0.3, max_position_gap_s=5.0)
    plain = QuerySampler(clips, DataConfig(**base), seed=3)
    off = QuerySampler(clips, DataConfig(**base, augment_share=0.0, augment=ALL_ON), seed=3)
    for step in range(6):
        assert snapshot(off.batch(step, 8)) == snapshot(plain.batch(step, 8))


def test_augmented_batches_are_a_pure_function_of_seed_and_step():
    if not has_music():
        pytest.skip("asterisk-moh-opsound-wav is not installed")
    clips = toy_clips()
    base = dict(corpus="tiny", modes=["one", "all"], boundaries=["start", "end"], absent_share=0.2)
    data = DataConfig(**base, augment_share=0.5, augment=replace(ALL_ON, gain_db=[-30.0, 10.0]))
    plain, sampler = QuerySampler(clips, DataConfig(**base), seed=3), QuerySampler(clips, data, seed=3)
    augmented = 0
    for step in range(8):
        items = sampler.batch(step, 8)
        assert snapshot(QuerySampler(clips, data, seed=3).batch(step, 8)) == snapshot(items)  # resumable
        for item, before in zip(items, plain.batch(step, 8)):
            assert (item.clip.id, item.query.question) == (before.clip.id, before.query.question)
            shift = item.clip.duration_s - before.clip.duration_s
            assert item.query.targets_s == pytest.approx(tuple(t + shift for t in before.query.targets_s))
            if "augmentations" in item.clip.provenance:
                augmented += 1
                times = {getattr(s, f"{b}_s") for s in item.clip.segments for b in ("start", "end")}
                assert all(min(abs(t - u) for u in times) < 1e-9 for t in item.query.targets_s)
            else:
                assert item.clip is before.clip
    assert 0.3 < augmented / 64 < 0.7
    assert snapshot(sampler.batch(0, 8)) != snapshot(sampler.batch(1, 8))
    sharded = [QuerySampler(clips, data, seed=3, process_index=p, num_processes=2) for p in range(2)]
    split = sum((snapshot(sharded[p].batch(5, 2, micro, 2)) for micro in range(2) for p in range(2)), [])
    assert split == snapshot(sampler.batch(5, 8))  # the same items however the step is shared out


def test_a_late_start_keeps_targets_before_max_target_s():
    late_only = AugmentConfig(late_start_prob=1.0, background_prob=0.0, level_prob=0.0, telephone_prob=0.0,
                              bit_depth_prob=0.0)  # fmt: skip
    data = DataConfig(corpus="tiny", modes=["one", "all"], max_target_s=1.6, augment_share=1.0, augment=late_only)
    items = [item for step in range(5) for item in QuerySampler(toy_clips(), data, seed=0).batch(step, 8)]
    assert all(t < 1.6 for item in items for t in item.query.targets_s)
    assert any(item.clip.duration_s > 2.0 for item in items)
