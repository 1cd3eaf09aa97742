import numpy as np

from framestamp.frames import frames_to_seconds, seconds_to_frames


def test_frame_of_time_is_floor_of_rate_times_time():
    assert seconds_to_frames(0.0, 100.0) == 0
    assert seconds_to_frames(0.009, 100.0) == 0
    assert seconds_to_frames(0.01, 100.0) == 1
    assert seconds_to_frames(0.03, 100.0) == 3  # 0.03 * 100 = 2.9999999999999996 in floats
    assert seconds_to_frames(1.0, 25.0) == 25


def test_clamped_into_clip():
    np.testing.assert_array_equal(seconds_to_frames([-1.0, 0.5, 99.0], 100.0, n_frames=60), [0, 50, 59])


def test_round_trip_through_frame_centres():
    frames = np.arange(0, 1000)
    times = frames_to_seconds(frames, 100.0, offset=0.5)
    np.testing.assert_array_equal(seconds_to_frames(times, 100.0), frames)
    np.testing.assert_allclose(frames_to_seconds(3, 25.0), 0.12)
