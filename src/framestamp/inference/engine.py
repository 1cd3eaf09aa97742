"""The one scoring engine: audio -> (windowed) forward -> frame scores -> decoder -> answer.

Evaluation, the Python API, the CLI, the demo and the bench all answer questions through
:class:`Engine`, so a reported number describes the path a user runs.

- Audio that fits one window (the model's own length, ``ModelConfig.window_s``, else 30 s) is
  encoded in one forward pass; questions about several such clips are batched. A frame model's
  "k-th occurrence" question (k > 1) of a family that counts (words, events) is asked as the
  1st..k-th, whatever the length: the k-th is present
  only when the occurrences before it are, each later than the one before.
- Longer audio is cut into overlapping windows whose frame scores are stitched on one timeline
  (:mod:`framestamp.inference.windows`). "Every occurrence" questions decode the stitched
  scores. A "k-th occurrence" question of a family that counts across windows (words, events)
  is asked as the 1st..(k+2)-th occurrence in every window (the 1st up front, the others of a
  window when the walk over the timeline reaches it); each window contributes the
  occurrences that are present (local evidence, :attr:`HeadKind.presence_probability` of the
  window's own frames) in the part of the timeline it owns, later than the one before, from the
  part likeliest to hold the 1st one on (:func:`likeliest_first`); the k-th of them over the
  whole recording is the answer. Speakers cannot be counted that way (the
  same voice heard in two windows is one speaker): their k-th is taken from one window, the
  present one likeliest to hold the first.
- Token baselines generate their answer per window; times are shifted to the recording and kept
  where the window owns the timeline.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, replace
from functools import cache
from typing import Callable, Sequence

import numpy as np

from ..config import Config, option, register_config
from ..decoders_transcript import decode_transcript_starts
from ..decoding import DecodeConfig, Prediction, head_kind, presence_threshold
from ..errors import ConfigError, FramestampWarning
from ..frames import frames_to_seconds
from ..tasks import Task, parse_answer
from .stages import stage
from .windows import LongScores, ScoresOnDemand, WindowConfig, check_length, plan_windows, score_long

DEFAULT_MAX_NEW_TOKENS = 64
ORDINAL_SLACK = 2  # occurrences asked beyond the k-th in each window (the first may lie in an overlap)
ORDINAL_WARNING = "on audio longer than one window, the k-th speaker is counted within one window where it is present"
FIRST_WINDOW_RULES = ("likeliest", "first-present")
TOKEN_ORDINAL_WARNING = ("on audio longer than one window, a token baseline's k-th occurrence is the k-th within the "
                         "first window whose answer falls in its part of the recording")


@register_config
@dataclass
class InferenceConfig(Config):
    """How audio is windowed, scores decoded and presence decided."""

    windows: WindowConfig = option(WindowConfig(), "windowing of long audio")
    decode: DecodeConfig = option(DecodeConfig(), "decoders of times from frame scores")
    presence_threshold: float | None = option(
        None, "report 'present' when P(N >= 1) = 1 - exp(-Lambda), Lambda the expected count in the busiest "
              "2 s, reaches this; None: the checkpoint's calibrated threshold, else 0.5"
    )  # fmt: skip
    first_window: str = option(
        "likeliest", "on audio of several windows, where a 1st occurrence is taken from: 'likeliest' (the present "
                     "window likeliest to hold the first one, the windows before it absent) or 'first-present'"
    )  # fmt: skip
    progress: bool | None = option(None, "progress bar over windows; None = only on a terminal")

    def __post_init__(self):
        if self.presence_threshold is not None and not 0.0 <= self.presence_threshold <= 1.0:
            raise ValueError(f"presence_threshold must be in [0, 1], got {self.presence_threshold}")
        if self.first_window not in FIRST_WINDOW_RULES:
            raise ValueError(f"first_window must be one of {FIRST_WINDOW_RULES}, got {self.first_window!r}")


@dataclass(frozen=True)
class Ask:
    """One question to ask of one recording.

    Attributes:
        question: the text placed before the audio.
        mode: "one" (a single occurrence) or "all" (every occurrence).
        n_events: the number of events when known ("all" questions), else None (inferred).
        task, subject, k, boundary: what a templated "k-th occurrence" question asks, so that it
            can be asked again as the j-th in each window of long audio (None: a free question).
        max_new_tokens: generation budget of a token baseline.
        transcript: the words said, in order, for an "every word" question: a frame model places
            exactly these, each by its length too (:mod:`framestamp.decoders_transcript`).
    """

    question: str
    mode: str = "one"
    n_events: int | None = None
    task: Task | None = None
    subject: str = ""
    k: int = 1
    boundary: str = "start"
    max_new_tokens: int = DEFAULT_MAX_NEW_TOKENS
    transcript: tuple[str, ...] | None = None

    def __post_init__(self):
        if self.transcript is not None:
            if isinstance(self.transcript, str):
                raise TypeError("a transcript is a sequence of words, not one string (split it first)")
            object.__setattr__(self, "transcript", tuple(self.transcript))
            if self.mode != "all" or self.boundary != "start" or not self.transcript:
                raise ValueError("a transcript goes with an 'all' question about starts, and holds at least one word")
            if self.n_events not in (None, len(self.transcript)):
                raise ValueError(f"{self.n_events} events asked for a transcript of {len(self.transcript)} words")
            object.__setattr__(self, "n_events", len(self.transcript))

    def asking(self, k: int) -> str:
        """The same question about the ``k``-th occurrence."""
        return self.task.question(self.subject, k, self.boundary)


@dataclass
class Occurrences:
    """Occurrences of one subject over a recording (:meth:`Engine.occurrences`).

    Attributes:
        times_s, ends_s, presence: per occurrence, in time order: its time, its end (None
            without ends) and the local P(present) it was accepted with.
        best_absent: the highest local P(present) among the candidates that were rejected.
        scores: the windowed scores of the questions asked, the 1st occurrence's (start) question
            first, then per rank its start (and end) question.
        per_rank: questions per rank (2 with ends, else 1).
    """

    times_s: list[float]
    ends_s: list[float | None]
    presence: list[float]
    best_absent: float
    scores: ScoresOnDemand
    per_rank: int = 1

    def start_row(self, k: int) -> np.ndarray:
        """The stitched row of the k-th occurrence's (start) question over the whole recording."""
        return self.scores.row((k - 1) * self.per_rank)

    def add(self, time_s: float, end_s: float | None, presence: float) -> None:
        self.times_s.append(time_s)
        self.ends_s.append(end_s)
        self.presence.append(presence)


class Engine:
    """Answers questions about recordings with one model (frame head or token baseline)."""

    def __init__(self, model, config: InferenceConfig | None = None):
        self.model = model
        self.config = config or InferenceConfig()
        self.head = head_kind(model.config.head_objective)
        try:
            self.windows = self.config.windows.resolved(model.config.window_s)
        except ValueError as error:  # an overlap given for the model's own window, longer than half of it
            raise ConfigError(str(error)) from None
        model.backbone.reuse_frozen_outputs()  # questions about one recording share its frozen tower output

    @property
    def presence_threshold(self) -> float:
        """P(present) from which a thing is called present: the configured one, else the
        checkpoint's (calibrated on held-out data), else 0.5."""
        return presence_threshold(self.model.config, self.config.presence_threshold)

    @property
    def token_rate_hz(self) -> float:
        return self.model.backbone.token_rate_hz

    def n_windows(self, waveform: np.ndarray) -> int:
        """How many windows the recording is encoded in."""
        return len(plan_windows(waveform.size, self.model.frame_rate_hz, self.token_rate_hz, self.windows))

    def scores(self, waveform: np.ndarray, questions: Sequence[str]) -> LongScores:
        """Frame scores ``[Q, T]`` of ``questions`` over the whole recording (windowed, stitched)."""
        return score_long(self.model, questions, waveform, self.token_rate_hz, self.windows, self.config.progress)

    def answer(self, waveforms: Sequence[np.ndarray], asks: Sequence[Ask]) -> list[Prediction]:
        """Answer ``asks[i]`` about ``waveforms[i]`` (float32 mono 16 kHz), batching the
        recordings that fit one window into one forward pass."""
        for waveform in waveforms:
            check_length(waveform, self.token_rate_hz)
        answers: list[Prediction | None] = [None] * len(asks)
        counted = [self._counted(ask) for ask in asks]
        short = [i for i, w in enumerate(waveforms) if self.n_windows(w) == 1 and not counted[i]]
        if short:
            batch = self._answer_whole([waveforms[i] for i in short], [asks[i] for i in short])
            for i, prediction in zip(short, batch):
                answers[i] = prediction
        for i, (waveform, ask) in enumerate(zip(waveforms, asks)):
            if answers[i] is None:
                answers[i] = self._kth_across_windows(waveform, ask) if counted[i] else self._answer_long(waveform, ask)
        return answers

    def _counted(self, ask: Ask) -> bool:
        """A frame model's "k-th occurrence" question (k > 1) of a family that counts: the k-th is
        present only when the 1st..(k-1)-th are too, so it is answered by :meth:`occurrences`."""
        return (not self.head.generates_text and ask.mode == "one" and ask.k > 1 and ask.task is not None
                and ask.task.counts_across_windows)  # fmt: skip

    # ----- recordings of one window ---------------------------------------------------------
    def _answer_whole(self, waveforms, asks) -> list[Prediction]:
        questions = [ask.question for ask in asks]
        if self.head.generates_text:
            budget = max(ask.max_new_tokens for ask in asks)
            texts = self._generate(questions, waveforms, budget)
            return [self._parsed(text, ask) for text, ask in zip(texts, asks)]
        rows = self.model.score(questions, waveforms)
        return [self.decode(row, ask) for row, ask in zip(rows, asks)]

    def decode(self, row: np.ndarray, ask: Ask) -> Prediction:
        """A frame model's answer to ``ask`` from its frame scores ``row`` (one clip's, or a
        recording's stitched ones)."""
        rate = self.model.frame_rate_hz
        with stage("decoder"):
            prediction = self.head.decode(row, rate, ask.mode, ask.n_events, self.config.decode)
            if ask.transcript is None:
                return prediction
            letters = [len(word) for word in ask.transcript]
            tolerance_s = self.config.decode.tolerance_s
            return replace(prediction, times_s=decode_transcript_starts(self.head.curve(row), letters, rate,
                                                                        tolerance_s=tolerance_s))  # fmt: skip

    def _generate(self, questions, waveforms, budget: int) -> list[str]:
        model = self.model
        inputs = model.prepare(questions, waveforms)
        return model.backbone.generate(inputs, budget, bidirectional_audio=model.config.bidirectional_audio)

    def _parsed(self, text: str, ask: Ask) -> Prediction:
        parsed = parse_answer(text, ask.boundary, ask.mode)
        times = np.asarray(parsed.times_s, dtype=np.float64)
        return Prediction(times, float(len(times)), None, self.model.frame_rate_hz, text, parsed.parse_error,
                          1.0 if len(times) else 0.0)  # fmt: skip

    # ----- recordings of several windows ----------------------------------------------------
    def _answer_long(self, waveform: np.ndarray, ask: Ask) -> Prediction:
        if self.head.generates_text:
            return self._generate_long(waveform, ask)
        if ask.mode == "all":
            return self.decode(self.scores(waveform, [ask.question]).scores[0], ask)
        if ask.task is not None and ask.task.counts_across_windows:
            return self._kth_across_windows(waveform, ask)
        if ask.task is not None and ask.k > 1:
            warnings.warn(ORDINAL_WARNING, FramestampWarning, stacklevel=3)
        return self._answer_in_one_window(waveform, ask)

    def occurrences(
        self, waveform: np.ndarray, task: Task, subject: str, max_k: int, boundary: str = "start", ends: bool = False
    ) -> Occurrences:  # fmt: skip
        """The 1st..``max_k``-th occurrence of ``subject`` over the whole recording, in time order.

        Every window is asked for its 1st..K-th occurrence (K = ``max_k``, plus ``ORDINAL_SLACK``
        when there are several windows and ``max_k`` > 1: a window's first occurrences may lie in
        the part of the timeline its neighbour owns, and were counted there. For the 1st occurrence
        no slack is needed: the windows before the one it is taken from are decided absent).
        The 1st occurrence is taken from the part likeliest to hold it (``InferenceConfig.first_window``,
        :func:`likeliest_first`). In the part it owns, a window's occurrences are the present
        ones (local P(present)) from the first present one on, each later than the one before by
        more than the decoding tolerance; the first absent one after them ends the window's list
        (in the first window, a missing 1st occurrence means no later one either).
        With ``ends``, each occurrence's end comes from the "end" question of the same rank, decoded
        in the same part of the timeline.
        """
        long, asked = self._occurrence_scores(waveform, task, subject, max_k, boundary, ends)
        return self._walk(long, self._candidates(long, ends), asked, max_k, ends, self.presence_threshold)

    def _occurrence_scores(
        self, waveform: np.ndarray, task: Task, subject: str, max_k: int, boundary: str = "start", ends: bool = False
    ) -> tuple[ScoresOnDemand, int]:  # fmt: skip
        """Scores of the 1st..K-th occurrence questions (and their "end" twins with ``ends``) over
        the recording, and K (see :meth:`occurrences`). On audio of one window every question is
        asked in one pass; on longer audio the 1st occurrence's question is asked of every window
        at once, the others of a window when a walk reads the part of the timeline it owns."""
        several = self.n_windows(waveform) > 1
        asked = max_k + (ORDINAL_SLACK if max_k > 1 and several else 0)
        questions = [task.question(subject, j, b) for j in range(1, asked + 1)
                     for b in ((boundary, "end") if ends else (boundary,))]  # fmt: skip
        scores = ScoresOnDemand(self.model, questions, waveform, self.token_rate_hz, self.windows,
                                self.config.progress, eager=1 if several else len(questions))  # fmt: skip
        return scores, asked

    def _candidates(self, long: ScoresOnDemand, ends: bool) -> Callable[[int, int], tuple[float, float]]:
        """``candidate(part, j)``: the (j+1)-th occurrence question's local P(present) and time in
        part ``part`` of the timeline; computed when first asked for (a walk stops early) and kept
        (they do not depend on the presence threshold)."""
        per_rank = 2 if ends else 1

        @cache
        def candidate(part: int, j: int) -> tuple[float, float]:
            first = long.regions[part][0]
            region = long.region(j * per_rank, part)
            return (self.head.presence_probability(region, long.frame_rate_hz),
                    self._time_in(region, first, long.frame_rate_hz))  # fmt: skip

        return candidate

    def _walk(self, long: ScoresOnDemand, candidate, asked: int, max_k: int, ends: bool, threshold: float) -> Occurrences:
        """The occurrences found at ``threshold`` among the 1st..``asked``-th occurrence questions'
        ``candidate`` of each part (:meth:`_candidates`; see :meth:`occurrences`)."""
        result = Occurrences([], [], [], 0.0, long, 2 if ends else 1)
        start = self._first_part(long, lambda part: candidate(part, 0)[0], threshold)
        for part, (first, last) in enumerate(long.regions):
            if part < start:  # decided absent: a later part is likelier to hold the 1st occurrence
                continue
            started = part == 0  # the first part's occurrences start at rank 1; later parts may skip ranks
            for j in range(asked):
                if last <= first or len(result.times_s) == max_k:
                    break
                p, t = candidate(part, j)
                later = not result.times_s or t > result.times_s[-1] + self.config.decode.tolerance_s
                if p < threshold:
                    result.best_absent = max(result.best_absent, p)
                if p < threshold or not later:
                    if started:
                        break
                    continue
                started = True
                end = self._time_in(long.region(2 * j + 1, part), first, long.frame_rate_hz) if ends else None
                result.add(t, end, p)
        return result

    def presence_at(
        self, waveforms: Sequence[np.ndarray], asks: Sequence[Ask], thresholds: Sequence[float]
    ) -> np.ndarray:  # fmt: skip
        """``[len(asks), len(thresholds)]``: whether single question ``asks[i]`` about ``waveforms[i]``
        would be answered "present" at each threshold, the engine's own decision at each, from one
        pass over the audio. What a presence threshold is fitted on: the P(present) an answer
        reports is only comparable with the threshold it was answered at once the audio spans several
        windows or the question asks for the k-th occurrence (the part that answers depends on
        the threshold; the k-th needs the ones before it)."""
        thresholds = np.asarray(thresholds, dtype=np.float64)
        if any(ask.mode != "one" for ask in asks):
            raise ValueError("presence is decided for single questions (mode 'one')")
        decided = np.zeros((len(asks), thresholds.size), dtype=bool)
        free = [i for i, (w, ask) in enumerate(zip(waveforms, asks))
                if self.head.generates_text or (self.n_windows(w) == 1 and not self._counted(ask))]  # fmt: skip
        if free:  # one number decides: the P(present) of one window's answer, or a token answer's
            answers = self.answer([waveforms[i] for i in free], [asks[i] for i in free])
            decided[free] = np.array([a.presence_probability for a in answers])[:, None] >= thresholds
        for i in sorted(set(range(len(asks))) - set(free)):
            waveform, ask = waveforms[i], asks[i]
            if ask.task is not None and ask.task.counts_across_windows:
                long, asked = self._occurrence_scores(waveform, ask.task, ask.subject, ask.k, ask.boundary)
                candidate = self._candidates(long, False)
                decided[i] = [len(self._walk(long, candidate, asked, ask.k, False, t).times_s) >= ask.k
                              for t in thresholds]  # fmt: skip
            else:  # a present part answers: present when any part is
                decided[i] = max(self.part_presence(self.scores(waveform, [ask.question]))) >= thresholds
        return decided

    def part_presence(self, long: LongScores, row: int = 0) -> list[float]:
        """The local P(present) of question ``row`` in each non-empty part of the timeline, in order."""
        return [self.head.presence_probability(long.scores[row, first:last], long.frame_rate_hz)
                for first, last in long.regions if last > first]  # fmt: skip

    def _time_in(self, region: np.ndarray, first_frame: int, rate: float) -> float:
        """The single-event time of a part of the timeline, in seconds of the recording."""
        with stage("decoder"):
            local = self.head.decode(region, rate, "one", config=self.config.decode).times_s[0]
        return float(local + frames_to_seconds(first_frame, rate))

    def _kth_across_windows(self, waveform: np.ndarray, ask: Ask) -> Prediction:
        """The k-th occurrence over the whole recording (:meth:`occurrences`); when there are fewer
        than k, the k-th question's best guess, with the highest local P(present) of the rejected
        candidates. The count estimate is the number of occurrences found (at most k)."""
        found = self.occurrences(waveform, ask.task, ask.subject, ask.k, ask.boundary)
        rate, row = found.scores.frame_rate_hz, found.start_row(ask.k)
        if len(found.times_s) >= ask.k:
            times, presence = np.array([found.times_s[ask.k - 1]]), found.presence[ask.k - 1]
        else:
            times, presence = self.decode(row, ask).times_s, found.best_absent
        return Prediction(times, float(len(found.times_s)), row, rate, presence_probability=presence)

    def _answer_in_one_window(self, waveform: np.ndarray, ask: Ask) -> Prediction:
        """One event: in the window region likeliest to hold the first one among those where it is
        present (:meth:`_first_part`), else the global best guess."""
        long = self.scores(waveform, [ask.question])
        row, rate = long.scores[0], long.frame_rate_hz
        best = self.decode(row, ask)
        presence = cache(lambda part: self.head.presence_probability(row[slice(*long.regions[part])], rate))
        start = self._first_part(long, presence, self.presence_threshold)
        for part, (first, last) in enumerate(long.regions):
            if part < start or last <= first:
                continue
            if (p := presence(part)) >= self.presence_threshold:
                local = self.decode(row[first:last], ask)
                times = local.times_s + frames_to_seconds(first, rate)
                return Prediction(times, best.count_estimate, row, rate, presence_probability=p)
        return best

    def _first_part(self, long: LongScores | ScoresOnDemand, presence: Callable[[int], float], threshold: float) -> int:
        """The part of the timeline a 1st occurrence is looked for from: the first (rule
        "first-present"), or the part likeliest to hold the first one (:func:`likeliest_first`)."""
        parts = [part for part, (first, last) in enumerate(long.regions) if last > first]
        if self.config.first_window == "first-present" or len(parts) < 2:
            return 0
        chosen = likeliest_first([presence(part) for part in parts], threshold)
        return 0 if chosen is None else parts[chosen]

    def _generate_long(self, waveform: np.ndarray, ask: Ask) -> Prediction:
        """A token baseline on long audio: the question is asked of every window; the times of
        each answer are shifted to the recording and kept where that window owns the timeline
        ("one": the first kept time; "all": every kept time)."""
        if ask.mode == "one" and ask.k > 1:
            warnings.warn(TOKEN_ORDINAL_WARNING, FramestampWarning, stacklevel=4)
        rate = self.model.frame_rate_hz
        plan = plan_windows(waveform.size, rate, self.token_rate_hz, self.windows)
        bounds = [0.0, *(frames_to_seconds(cut, rate) for cut in plan.cuts), math.inf]
        texts, kept, parsed_any = [], [], False
        for i in range(len(plan)):
            text = self._generate([ask.question], [waveform[plan.starts[i] : plan.ends[i]]], ask.max_new_tokens)[0]
            answer = parse_answer(text, ask.boundary, "all")
            parsed_any |= not answer.parse_error
            offset = frames_to_seconds(plan.frame_offsets[i], rate)
            kept += [t + offset for t in answer.times_s if bounds[i] <= t + offset < bounds[i + 1]]
            texts.append(text)
        times = np.sort(np.asarray(kept, dtype=np.float64))
        times = times[:1] if ask.mode == "one" else times
        return Prediction(times, float(len(kept)), None, rate, "\n".join(texts), not parsed_any,
                          1.0 if len(times) else 0.0)  # fmt: skip


def likeliest_first(presence: Sequence[float], threshold: float) -> int | None:
    """Of parts of a recording in time order, each with the local P(present) of a thing, the one
    likeliest to hold its first occurrence: the part ``j`` that maximises
    ``presence[j] * prod(1 - presence[i] for i < j)`` (present there, absent everywhere before,
    the parts taken as independent; for the IHP head ``1 - P(present)`` is the Poisson
    probability of no event), among the parts at or above ``threshold``; None when none is.

    The first part at or above the threshold would let one spurious early part (each part of a
    long recording is another chance of a false "present") take the answer from a later part
    that holds the thing with far more confidence."""
    p = np.clip(np.asarray(presence, dtype=np.float64), 0.0, 1.0)
    present = p >= threshold
    if not present.any():
        return None
    before_absent = np.concatenate([[1.0], np.cumprod(1.0 - p)[:-1]])
    return int(np.argmax(np.where(present, before_absent * p, -1.0)))
