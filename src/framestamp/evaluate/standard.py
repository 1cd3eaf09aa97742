"""The field's standard metrics beside the paper's, computed by the libraries that define them.

- Diarization error rate and Jaccard error rate of speaker turns: pyannote.metrics.
- Event-based F1 of sound events: sed_eval.
- Onset F-measure of word starts: mir_eval.

Each library is imported where used; a missing one raises MissingDependencyError naming the
pip package. Inputs are per-clip lists of plain tuples; every time is in seconds. Scores are
pooled over clips the way each library accumulates them.
"""

from __future__ import annotations

import importlib
import warnings
from collections.abc import Hashable, Sequence
from types import ModuleType

import numpy as np

from framestamp.errors import MissingDependencyError

Turn = tuple[float, float, Hashable]  # (start_s, end_s, speaker)
Event = tuple[float, float, str]  # (onset_s, offset_s, label)


def _require(module: str, package: str) -> ModuleType:
    """Import an optional metrics library, or say which pip package provides it."""
    try:
        return importlib.import_module(module)
    except ImportError as error:
        hint = f"pip install {package}"
        if error.name == "pkg_resources":
            # dcase_util (under sed_eval) still imports pkg_resources, gone from setuptools 81 on.
            hint = f"pip install {package} 'setuptools<81'"
        raise MissingDependencyError(f"{module} cannot be imported ({error}): {hint}") from error


def diarization_error_rate(
    references: Sequence[Sequence[Turn]],
    hypotheses: Sequence[Sequence[Turn]],
    collar_s: float = 0.0,
    skip_overlap: bool = False,
    clip_durations_s: Sequence[float] | None = None,
) -> dict:
    """Diarization error rate of speaker turns over clips, with pyannote.metrics.

    Speaker labels need not agree between reference and hypothesis: pyannote maps them
    one-to-one per clip (Hungarian) before scoring. Components are summed over clips, and
    DER = (confusion + missed + false alarm) / total reference speech.

    Args:
        references: per clip, reference turns (start_s, end_s, speaker).
        hypotheses: per clip, hypothesis turns (start_s, end_s, speaker).
        collar_s: pyannote's collar, the full width in seconds of the unscored region centred
            on each reference boundary (collar_s / 2 each side; NIST's 0.25 s is collar_s=0.5).
        skip_overlap: leave out regions where reference speakers overlap.
        clip_durations_s: per clip, score [0, duration) seconds; by default pyannote's
            approximation, the union of the reference and hypothesis extents.

    Returns:
        dict with ``der``, ``confusion_s``, ``missed_s``, ``false_alarm_s``, ``total_s``
        (scored reference speech, seconds) and ``confusion_rate``, ``missed_rate``,
        ``false_alarm_rate`` (each divided by ``total_s``).
    """
    diarization = _require("pyannote.metrics.diarization", "pyannote.metrics")
    metric = diarization.DiarizationErrorRate(collar=collar_s, skip_overlap=skip_overlap)
    _accumulate(metric, references, hypotheses, clip_durations_s)
    totals = metric[:]
    total_s = float(totals["total"])
    seconds = {
        "confusion": float(totals["confusion"]),
        "missed": float(totals["missed detection"]),
        "false_alarm": float(totals["false alarm"]),
    }
    return {
        "der": float(abs(metric)),
        **{f"{name}_s": value for name, value in seconds.items()},
        "total_s": total_s,
        **{f"{name}_rate": value / total_s if total_s else np.nan for name, value in seconds.items()},
    }


def jaccard_error_rate(
    references: Sequence[Sequence[Turn]],
    hypotheses: Sequence[Sequence[Turn]],
    collar_s: float = 0.0,
    skip_overlap: bool = False,
    clip_durations_s: Sequence[float] | None = None,
) -> dict:
    """Jaccard error rate of speaker turns over clips (DIHARD II), with pyannote.metrics.

    Per clip, reference and hypothesis speakers are paired one-to-one (Hungarian); each
    reference speaker scores (false alarm + missed) / duration of the union of its speech and
    its partner's, or 1 without a partner (hypothesis speakers left unpaired cost nothing).
    JER is the mean of these over every reference speaker of every clip (pyannote's
    accumulation: each speaker weighs the same, whatever its clip or amount of speech).
    Arguments as in :func:`diarization_error_rate` (the same collar convention).

    Returns:
        dict with ``jer`` (NaN without reference speakers) and ``n_speakers`` (reference
        speakers scored).
    """
    diarization = _require("pyannote.metrics.diarization", "pyannote.metrics")
    metric = diarization.JaccardErrorRate(collar=collar_s, skip_overlap=skip_overlap)
    _accumulate(metric, references, hypotheses, clip_durations_s)
    totals = metric[:]
    n_speakers = int(totals["speaker count"])
    return {"jer": float(abs(metric)) if n_speakers else np.nan, "n_speakers": n_speakers}


def _accumulate(
    metric, references: Sequence[Sequence[Turn]], hypotheses: Sequence[Sequence[Turn]],
    clip_durations_s: Sequence[float] | None,
) -> None:  # fmt: skip
    """Feed each clip's reference and hypothesis annotations (and scored region) to a pyannote metric."""
    _require("pyannote.core", "pyannote.core")
    from pyannote.core import Segment, Timeline

    _check_clips(references, hypotheses)
    if clip_durations_s is not None:
        _check_clips(references, clip_durations_s)
    for i, (reference, hypothesis) in enumerate(zip(references, hypotheses)):
        uri = f"clip{i}"
        uem = None
        if clip_durations_s is not None:
            uem = Timeline([Segment(0.0, float(clip_durations_s[i]))], uri=uri)
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="'uem' was approximated")
            metric(_annotation(reference, uri), _annotation(hypothesis, uri), uem=uem)


def _annotation(turns: Sequence[Turn], uri: str):
    """pyannote.core Annotation of (start_s, end_s, speaker) turns; one track per turn."""
    from pyannote.core import Annotation, Segment

    annotation = Annotation(uri=uri)
    for track, (start_s, end_s, speaker) in enumerate(turns):
        if end_s < start_s:
            raise ValueError(f"turn ends before it starts: {(start_s, end_s, speaker)}")
        annotation[Segment(float(start_s), float(end_s)), track] = speaker
    return annotation


def event_based_f1(
    references: Sequence[Sequence[Event]],
    estimates: Sequence[Sequence[Event]],
    t_collar_s: float = 0.2,
    evaluate_offset: bool = False,
    percentage_of_length: float = 0.5,
) -> dict:
    """Event-based F1 of sound events over clips, with sed_eval (DCASE's event-based metric).

    An estimated event is correct when its label equals a reference event's and its onset is
    within ``t_collar_s`` of it (sed_eval compares |difference| <= collar without slack);
    with ``evaluate_offset`` its offset must also be within max(t_collar_s,
    percentage_of_length x reference duration). sed_eval matches events one-to-one per clip
    ("optimal" matching) and sums the counts over clips.

    Args:
        references: per clip, reference events (onset_s, offset_s, label).
        estimates: per clip, estimated events (onset_s, offset_s, label).
        t_collar_s: onset (and offset) collar in seconds.
        evaluate_offset: also require the offset to match.
        percentage_of_length: offset tolerance as a fraction of the reference duration.

    Returns:
        dict with overall (micro) ``f1``, ``precision``, ``recall``, ``error_rate``; ``f1_class_average``
        (mean of per-label F1 over labels with references, sed_eval's class-wise average);
        counts ``n_reference``, ``n_estimated``, ``n_correct``.
    """
    sound_event = _require("sed_eval.sound_event", "sed_eval")
    _check_clips(references, estimates)
    labels = sorted({label for clip in (*references, *estimates) for *_, label in clip})
    metric = sound_event.EventBasedMetrics(
        event_label_list=labels,
        evaluate_onset=True,
        evaluate_offset=evaluate_offset,
        t_collar=float(t_collar_s),
        percentage_of_length=float(percentage_of_length),
    )
    for i, (reference, estimate) in enumerate(zip(references, estimates)):
        metric.evaluate(_event_dicts(reference, f"clip{i}"), _event_dicts(estimate, f"clip{i}"))
    overall = metric.results_overall_metrics()
    class_average = metric.results_class_wise_average_metrics()
    return {
        "f1": float(overall["f_measure"]["f_measure"]),
        "precision": float(overall["f_measure"]["precision"]),
        "recall": float(overall["f_measure"]["recall"]),
        "error_rate": float(overall["error_rate"]["error_rate"]),
        "f1_class_average": float(class_average["f_measure"]["f_measure"]),
        "n_reference": int(metric.overall["Nref"]),
        "n_estimated": int(metric.overall["Nsys"]),
        "n_correct": int(metric.overall["Ntp"]),
    }


def _event_dicts(events: Sequence[Event], filename: str) -> list[dict]:
    return [
        {"filename": filename, "onset": float(onset), "offset": float(offset), "event_label": label}
        for onset, offset, label in events
    ]


def onset_f_measure(
    references: Sequence[Sequence[float]],
    estimates: Sequence[Sequence[float]],
    window_s: float = 0.05,
) -> dict:
    """Onset F-measure of event start times (e.g. word starts) over clips, with mir_eval.

    An estimate is correct when matched one-to-one to a reference with |difference| <= window_s
    (mir_eval's maximum matching, ``mir_eval.util.match_events``, no slack for float ties).
    The pooled scores sum the matches over clips; ``f1_clip_mean`` averages the per-clip F-measure
    of ``mir_eval.onset.f_measure`` (0 for a clip with no references or no estimates). The matching
    is called directly rather than through ``mir_eval.onset.f_measure``, whose input check refuses
    times above 30,000 s: a generated answer can be any number, and one far past the clip is an
    estimate that matches nothing, not an error.

    Args:
        references: per clip, reference onset times in seconds.
        estimates: per clip, estimated onset times in seconds.
        window_s: tolerance window in seconds.

    Returns:
        dict with pooled ``f1``, ``precision``, ``recall``, ``f1_clip_mean``, and counts
        ``n_reference``, ``n_estimated``, ``n_matched``.
    """
    mir_eval = _require("mir_eval", "mir_eval")
    _check_clips(references, estimates)
    n_ref = n_est = n_matched = 0
    clip_f1 = []
    for reference, estimate in zip(references, estimates):
        reference = np.sort(np.asarray(reference, dtype=np.float64).reshape(-1))
        estimate = np.sort(np.asarray(estimate, dtype=np.float64).reshape(-1))
        matched = len(mir_eval.util.match_events(reference, estimate, window_s))
        both = len(reference) and len(estimate)
        clip_f1.append(mir_eval.util.f_measure(matched / len(estimate), matched / len(reference)) if both else 0.0)
        n_ref, n_est, n_matched = n_ref + len(reference), n_est + len(estimate), n_matched + matched
    precision = n_matched / n_est if n_est else 0.0
    recall = n_matched / n_ref if n_ref else 0.0
    return {
        "f1": float(mir_eval.util.f_measure(precision, recall)),
        "precision": precision,
        "recall": recall,
        "f1_clip_mean": float(np.mean(clip_f1)) if clip_f1 else np.nan,
        "n_reference": n_ref,
        "n_estimated": n_est,
        "n_matched": n_matched,
    }


def _check_clips(references: Sequence, estimates: Sequence) -> None:
    if len(references) != len(estimates):
        raise ValueError(f"{len(estimates)} estimated clips for {len(references)} reference clips")
