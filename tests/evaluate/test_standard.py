import importlib

import numpy as np

import pytest

from framestamp.errors import MissingDependencyError
from framestamp.evaluate import standard
from framestamp.evaluate.standard import diarization_error_rate, event_based_f1, jaccard_error_rate, onset_f_measure


def needs(module: str, package: str):
    """Skip, with the install hint as reason, when an optional metrics library cannot be imported."""
    try:
        standard._require(module, package)
    except MissingDependencyError as error:
        pytest.skip(str(error))


def test_missing_library_names_the_pip_package():
    with pytest.raises(MissingDependencyError, match="pip install no-such-package"):
        standard._require("framestamp_no_such_module", "no-such-package")


def test_missing_pkg_resources_suggests_old_setuptools(monkeypatch):
    def import_module(name):
        raise ModuleNotFoundError("No module named 'pkg_resources'", name="pkg_resources")

    monkeypatch.setattr(importlib, "import_module", import_module)
    with pytest.raises(MissingDependencyError, match="setuptools<81"):
        standard._require("sed_eval.sound_event", "sed_eval")


# ---------------------------------------------------------------- DER (pyannote.metrics)

# Reference: A speaks [0, 10), B [10, 20). Hypothesis labels differ and are mapped s1 -> A, s2 -> B.
REFERENCE_TURNS = [[(0.0, 10.0, "A"), (10.0, 20.0, "B")]]
HYPOTHESIS_TURNS = [[(0.0, 12.0, "s1"), (12.0, 18.0, "s2"), (21.0, 22.0, "s2")]]


def test_der_two_speakers():
    needs("pyannote.metrics.diarization", "pyannote.metrics")
    # scored [0, 25): confusion [10, 12) = 2 s, missed [18, 20) = 2 s, false alarm [21, 22) = 1 s
    # DER = (2 + 2 + 1) / 20 = 0.25
    result = diarization_error_rate(REFERENCE_TURNS, HYPOTHESIS_TURNS, clip_durations_s=[25.0])
    assert result["der"] == pytest.approx(0.25)
    assert result["confusion_s"] == pytest.approx(2.0)
    assert result["missed_s"] == pytest.approx(2.0)
    assert result["false_alarm_s"] == pytest.approx(1.0)
    assert result["total_s"] == pytest.approx(20.0)
    assert result["confusion_rate"] == pytest.approx(0.1)


def test_der_collar_is_its_full_width():
    needs("pyannote.metrics.diarization", "pyannote.metrics")
    # collar 1 s removes 0.5 s each side of the reference boundaries 0, 10, 20:
    # scored speech A [0.5, 9.5) + B [10.5, 19.5) = 18 s; confusion [10.5, 12) = 1.5,
    # missed [18, 19.5) = 1.5, false alarm [21, 22) = 1 -> DER = 4 / 18
    result = diarization_error_rate(REFERENCE_TURNS, HYPOTHESIS_TURNS, collar_s=1.0, clip_durations_s=[25.0])
    assert result["total_s"] == pytest.approx(18.0)
    assert result["der"] == pytest.approx(4 / 18)


def test_der_skip_overlap():
    needs("pyannote.metrics.diarization", "pyannote.metrics")
    # Reference A [0, 10), B [5, 12) overlap on [5, 10); one hypothesis speaker on [0, 15), mapped to A.
    # kept:    total 10 + 7 = 17; missed [5, 10) = 5, confusion [10, 12) = 2, false alarm [12, 15) = 3
    # skipped: total 5 + 2 = 7;   confusion 2, false alarm 3
    reference = [[(0.0, 10.0, "A"), (5.0, 12.0, "B")]]
    hypothesis = [[(0.0, 15.0, "x")]]
    kept = diarization_error_rate(reference, hypothesis, clip_durations_s=[15.0])
    skipped = diarization_error_rate(reference, hypothesis, skip_overlap=True, clip_durations_s=[15.0])
    assert kept["der"] == pytest.approx(10 / 17)
    assert kept["missed_s"] == pytest.approx(5.0)
    assert skipped["der"] == pytest.approx(5 / 7)


def test_der_sums_components_over_clips():
    needs("pyannote.metrics.diarization", "pyannote.metrics")
    # clip 2 is perfect (10 s of speech): DER = 5 / (20 + 10)
    result = diarization_error_rate(
        REFERENCE_TURNS + [[(0.0, 10.0, "C")]],
        HYPOTHESIS_TURNS + [[(0.0, 10.0, "z")]],
        clip_durations_s=[25.0, 10.0],
    )
    assert result["der"] == pytest.approx(5 / 30)


# ---------------------------------------------------------------- JER (pyannote.metrics)


def test_jer_two_speakers():
    needs("pyannote.metrics.diarization", "pyannote.metrics")
    # mapping s1 -> A, s2 -> B. A [0, 10) vs s1 [0, 12): union 12, false alarm 2 -> 1/6.
    # B [10, 20) vs s2 [12, 18) + [21, 22): union 11, false alarm 1, missed 4 -> 5/11.
    # JER = (1/6 + 5/11) / 2 = 41/132
    result = jaccard_error_rate(REFERENCE_TURNS, HYPOTHESIS_TURNS, clip_durations_s=[25.0])
    assert result["jer"] == pytest.approx(41 / 132)
    assert result["n_speakers"] == 2


def test_jer_collar_is_the_der_one():
    needs("pyannote.metrics.diarization", "pyannote.metrics")
    # collar 1 s: 0.5 s unscored each side of 0, 10, 20.
    # A [0.5, 9.5) vs s1 [0.5, 9.5) + [10.5, 12): union 10.5, false alarm 1.5 -> 1/7
    # B [10.5, 19.5) vs s2 [12, 18) + [21, 22): union 10, false alarm 1, missed 3 -> 2/5
    result = jaccard_error_rate(REFERENCE_TURNS, HYPOTHESIS_TURNS, collar_s=1.0, clip_durations_s=[25.0])
    assert result["jer"] == pytest.approx((1 / 7 + 2 / 5) / 2)


def test_jer_unpaired_speakers():
    needs("pyannote.metrics.diarization", "pyannote.metrics")
    # two reference speakers, one hypothesis speaker: A pairs with x (JER 0), B is unpaired (JER 1)
    result = jaccard_error_rate([[(0.0, 10.0, "A"), (0.0, 5.0, "B")]], [[(0.0, 10.0, "x")]], clip_durations_s=[10.0])
    assert result["jer"] == pytest.approx(0.5)
    # an unpaired hypothesis speaker costs nothing; no reference speaker at all: nothing to score
    assert jaccard_error_rate([[(0.0, 2.0, "A")]], [[(0.0, 2.0, "x"), (5.0, 6.0, "y")]])["jer"] == 0.0
    empty = jaccard_error_rate([[]], [[(0.0, 1.0, "x")]], clip_durations_s=[10.0])
    assert empty["n_speakers"] == 0 and empty["jer"] != empty["jer"]  # NaN


def test_der_checks_clip_durations():
    needs("pyannote.metrics.diarization", "pyannote.metrics")
    with pytest.raises(ValueError):
        diarization_error_rate(REFERENCE_TURNS, HYPOTHESIS_TURNS, clip_durations_s=[25.0, 3.0])


# ---------------------------------------------------------------- event-based F1 (sed_eval)

SED_REFERENCES = [
    [(1.0, 2.0, "dog"), (3.0, 4.0, "cat")],
    [(0.5, 1.0, "dog")],
]
SED_ESTIMATES = [
    [(1.15, 2.6, "dog"), (3.5, 4.0, "cat")],  # dog onset 0.15 s late: hit; cat 0.5 s late: miss
    [(0.6, 0.9, "dog"), (5.0, 6.0, "bird")],  # dog 0.1 s late: hit; bird: false alarm
]


def test_event_based_f1_onset_only():
    needs("sed_eval.sound_event", "sed_eval")
    # 3 references, 4 estimates, 2 correct: P = 1/2, R = 2/3, F = 2 * 2 / (3 + 4) = 4/7
    # error rate = (substitutions 0 + deletions 1 + insertions 2) / 3 = 1
    result = event_based_f1(SED_REFERENCES, SED_ESTIMATES)
    assert (result["n_reference"], result["n_estimated"], result["n_correct"]) == (3, 4, 2)
    assert result["f1"] == pytest.approx(4 / 7)
    assert result["precision"] == pytest.approx(0.5)
    assert result["recall"] == pytest.approx(2 / 3)
    assert result["error_rate"] == pytest.approx(1.0)
    # per label: dog F 1, cat F 0, bird has no references (NaN, left out) -> 0.5
    assert result["f1_class_average"] == pytest.approx(0.5)


def test_event_based_f1_collar_and_offset():
    needs("sed_eval.sound_event", "sed_eval")
    # collar 0.12 s: the dog 0.15 s late no longer counts -> 1 correct, F = 2 / 7
    assert event_based_f1(SED_REFERENCES, SED_ESTIMATES, t_collar_s=0.12)["f1"] == pytest.approx(2 / 7)
    # offsets: dog [1, 2] ends 0.6 s late, over max(0.2, 0.5 * 1 s) -> 1 correct, F = 2 / 7
    assert event_based_f1(SED_REFERENCES, SED_ESTIMATES, evaluate_offset=True)["f1"] == pytest.approx(2 / 7)


# ---------------------------------------------------------------- onset F-measure (mir_eval)


def test_onset_f_measure():
    needs("mir_eval", "mir_eval")
    references = [[1.0, 2.0, 3.0], [0.5]]
    estimates = [[4.0, 1.03, 2.96, 2.2], []]  # unsorted on purpose
    # clip 1, window 50 ms: 1.03 (30 ms) and 2.96 (40 ms) hit, 2.2 and 4.0 miss
    #   P = 2/4, R = 2/3, F = 4/7; clip 2: no estimate, F = 0
    # pooled: 2 matches, 4 references, 4 estimates -> P = R = F = 0.5
    result = onset_f_measure(references, estimates)
    assert (result["n_reference"], result["n_estimated"], result["n_matched"]) == (4, 4, 2)
    assert result["f1"] == pytest.approx(0.5)
    assert result["precision"] == pytest.approx(0.5)
    assert result["recall"] == pytest.approx(0.5)
    assert result["f1_clip_mean"] == pytest.approx((4 / 7 + 0) / 2)
    # window 250 ms: 2.2 (200 ms) hits too -> 3 matches
    wide = onset_f_measure(references, estimates, window_s=0.25)
    assert wide["n_matched"] == 3
    assert wide["f1"] == pytest.approx(0.75)


def test_onset_f_measure_counts_a_time_far_past_the_clip_as_a_miss():
    needs("mir_eval", "mir_eval")
    import mir_eval

    # a generated answer can be any number; mir_eval.onset.f_measure refuses times above 30,000 s
    far = onset_f_measure([[1.0, 2.0]], [[1.01, 1.2e8]])
    assert (far["n_estimated"], far["n_matched"]) == (2, 1)
    assert far["f1_clip_mean"] == pytest.approx(0.5)
    near = onset_f_measure([[1.0, 2.0]], [[1.01, 9.0]])
    assert near["f1_clip_mean"] == pytest.approx(mir_eval.onset.f_measure(np.array([1.0, 2.0]), np.array([1.01, 9.0]))[0])


def test_standard_metrics_check_clip_counts():
    with pytest.raises(ValueError):
        onset_f_measure([[1.0]], [[1.0], [2.0]])
