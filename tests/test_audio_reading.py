"""A user's audio file is read faithfully, or refused, or read by a stated rule with a warning."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from framestamp.audio import load_audio, prepare_waveform, read_audio
from framestamp.errors import AudioError, FramestampWarning

RATE_HZ = 16_000
STREAMED = b"\xff\xff\xff\xff"  # the data size a streaming writer leaves in the header


def tone(n_samples: int = 1_600, peak: float = 0.5) -> np.ndarray:
    """A 440 Hz sine of ``n_samples`` at 16 kHz whose largest sample is exactly ``peak``."""
    samples = np.sin(2 * np.pi * 440 * np.arange(n_samples) / RATE_HZ)
    return (peak * samples / np.abs(samples).max()).astype(np.float32)


def test_a_wav_cut_in_half_names_both_lengths(tmp_path):
    full, cut = tmp_path / "full.wav", tmp_path / "cut.wav"
    sf.write(full, tone(RATE_HZ), RATE_HZ, subtype="PCM_16")  # 1 s: a 44-byte header and 32,000 bytes
    cut.write_bytes(full.read_bytes()[: 44 + 16_000])
    with pytest.raises(AudioError) as error:
        read_audio(cut)
    assert str(error.value) == f"{cut}: truncated: its header promises 1.00 s of audio, the file holds 0.50 s"


def test_a_wav_header_without_its_data_is_truncated_not_empty(tmp_path):
    full, header = tmp_path / "full.wav", tmp_path / "header.wav"
    sf.write(full, tone(RATE_HZ), RATE_HZ, subtype="PCM_16")
    header.write_bytes(full.read_bytes()[:44])
    with pytest.raises(AudioError, match="promises 1.00 s of audio, the file holds 0.00 s"):
        read_audio(header)


def test_bytes_after_the_data_are_not_truncation(tmp_path):
    path = tmp_path / "tail.wav"
    sf.write(path, tone(), RATE_HZ, subtype="FLOAT")
    path.write_bytes(path.read_bytes() + b"JUNK" + (4).to_bytes(4, "little") + b"abcd")
    assert read_audio(path).waveform == pytest.approx(tone())


def test_a_streamed_wav_of_unknown_length_is_read(tmp_path):
    path = tmp_path / "streamed.wav"
    sf.write(path, tone(), RATE_HZ, subtype="FLOAT")
    written = path.read_bytes()
    size_at = written.index(b"data") + 4
    path.write_bytes(written[:size_at] + STREAMED + written[size_at + 4 :])
    read = read_audio(path)
    assert read.waveform == pytest.approx(tone()) and read.warnings == ()


def test_channels_that_cancel_give_the_loudest_channel_and_say_so(tmp_path):
    path = tmp_path / "anti-phase.wav"
    sf.write(path, np.stack([-0.9 * tone(), tone()], axis=1), RATE_HZ, subtype="FLOAT")  # the mix is 0.05 x
    read = read_audio(path)
    assert read.waveform == pytest.approx(tone())
    assert read.warnings == (f"{path}: its 2 channels cancel when averaged (the mix is over 20 dB quieter than "
                             "channel 2); channel 2, the loudest, is used alone",)  # fmt: skip


def test_channels_that_do_not_cancel_are_averaged_silently(tmp_path):
    path = tmp_path / "stereo.wav"
    left, right = tone(), np.roll(tone(), 7)
    sf.write(path, np.stack([left, right], axis=1), RATE_HZ, subtype="FLOAT")
    read = read_audio(path)
    assert read.waveform == pytest.approx((left + right) / 2) and read.warnings == ()


def test_floats_far_outside_full_scale_are_scaled_to_peak_1_and_say_so(tmp_path):
    path = tmp_path / "loud.wav"
    sf.write(path, tone(peak=40.0), RATE_HZ, subtype="FLOAT")
    read = read_audio(path)
    assert np.abs(read.waveform).max() == pytest.approx(1.0)
    assert read.waveform == pytest.approx(tone(peak=1.0))
    assert read.warnings == (f"{path}: samples reach 40, far outside [-1, 1]; scaled to peak 1",)


def test_a_small_overshoot_is_kept_as_it_is(tmp_path):
    path = tmp_path / "hot.wav"
    sf.write(path, tone(peak=1.5), RATE_HZ, subtype="FLOAT")
    read = read_audio(path)
    assert read.waveform == pytest.approx(tone(peak=1.5)) and read.warnings == ()


def test_a_normal_file_reads_the_same_samples_without_warnings(tmp_path):
    path = tmp_path / "normal.wav"
    sf.write(path, tone(), RATE_HZ, subtype="PCM_16")
    read = read_audio(path)
    assert read.warnings == ()
    np.testing.assert_array_equal(read.waveform, sf.read(path, dtype="float32")[0])


def test_load_audio_returns_the_samples_and_issues_the_warnings(tmp_path):
    path = tmp_path / "loud.wav"
    sf.write(path, tone(peak=40.0), RATE_HZ, subtype="FLOAT")
    with pytest.warns(FramestampWarning, match="scaled to peak 1"):
        waveform = load_audio(path)
    assert isinstance(waveform, np.ndarray) and waveform == pytest.approx(tone(peak=1.0))


def test_samples_given_as_16_bit_integers_are_scaled_too():
    with pytest.warns(FramestampWarning, match="samples reach 3.28e\\+04"):
        waveform = prepare_waveform(np.round(tone(peak=1.0) * 32_767), RATE_HZ, name="array")
    assert waveform == pytest.approx(tone(peak=1.0), abs=1e-4)


def test_a_folder_is_not_an_audio_file(tmp_path):
    with pytest.raises(AudioError, match="is a folder, not an audio file"):
        read_audio(tmp_path)
