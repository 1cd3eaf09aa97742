"""The targets a reproduction is held to, measured from its stored metrics.

Each preset's plan has its own list (``TARGETS``): the from-scratch preset the ones it was built
against, the pre-trained preset issue 17's. A target reads one number out of the stored results
(an accuracy, a breakdown's group, a ratio of two splits, the points lost on copies of the test
clips, the speaker count of ``diarize``) and compares it with a goal; the report and the README
print the same rows (``measured_targets``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from .plan import PLANS
from .stored import STANDARD_EVALUATIONS, Anchors, aligned_record, evaluation, is_baseline, run_corpus

# The recorded voice's test clips: prompts of a voice heard in training that training never heard.
RECORDED_SOURCE = "asterisk-core-sounds-en-wav"


def _accuracy(
    summary: dict, split: str, mode: str, tolerance_s: float, copy: str | None = None, corpus: str | None = None
) -> float | None:  # fmt: skip
    record = evaluation(summary, split, mode, copy=copy, corpus=corpus)
    return None if record is None else record["metrics"]["accuracy"][str(tolerance_s)]


@dataclass(frozen=True)
class Measured:
    """One target's row: the measured value and whether it meets the goal."""

    what: str
    experiment: str
    value: float
    goal: float
    met: bool | None  # None: a baseline, shown for comparison and held to nothing
    unit: str  # "%" (a share) or "points" (percentage points lost)
    at_most: bool = False  # the goal is an upper bound

    def shown_value(self) -> str:
        return _show(self.value, self.unit)

    def shown_goal(self) -> str:
        goal = f"{self.goal * 100:g} points" if self.unit == "points" else f"{self.goal:.0%}"
        return f"<= {goal}" if self.at_most else goal

    def verdict(self) -> str:
        return "(baseline)" if self.met is None else ("yes" if self.met else "**no**")


def _show(value: float, unit: str) -> str:
    return f"{value * 100:.1f} points" if unit == "points" else f"{value:.1%}"


@dataclass(frozen=True)
class Target:
    """A goal for one number of one experiment's stored results.

    ``measure(summary)`` returns the number (None when the experiment was not evaluated that way);
    ``describe(summary)`` the row's text. ``goal`` None: the forced-alignment anchor's accuracy on
    the same questions. ``at_most``: the goal is an upper bound.
    """

    experiment: str
    goal: float | None
    measure: Callable[[dict], float | None]
    describe: Callable[[dict], str]
    unit: str = "%"
    at_most: bool = False
    baselines_exempt: bool = False  # a token baseline's row is shown but not judged
    anchor_split: str = "test"  # goal None: the anchor's accuracy on this split's clips
    anchor_corpus: str | None = None  # ... of this built-in corpus (None: the experiment's own)
    # another experiment whose stored results ``measure`` also reads: measure(summary, its summary)
    compared_with: str | None = None


def accuracy(
    what: str, experiment: str, goal: float, tolerance_s: float, split: str = "test", mode: str = "one",
    corpus: str | None = None,
) -> Target:  # fmt: skip
    """Accuracy within ``tolerance_s`` on ``split`` questions of ``mode`` (of ``corpus``'s clips)."""
    return Target(experiment, goal, lambda s: _accuracy(s, split, mode, tolerance_s, corpus=corpus),
                  lambda s: f"{what} within {tolerance_s * 1000:g} ms")  # fmt: skip


def group_accuracy(
    what: str, experiment: str, goal: float, tolerance_s: float, grouping: str, group: str, split: str = "test",
    copy: str | None = None,
) -> Target:  # fmt: skip
    """Accuracy within ``tolerance_s`` of the ``split`` questions (of the clips' ``copy``) of one
    group of a breakdown (``EvalSpec.by``)."""

    def measure(summary):
        record = evaluation(summary, split, "one", copy=copy)
        found = (record or {}).get(f"by_{grouping}", {}).get(group)
        return None if found is None else found["accuracy"][str(tolerance_s)]

    return Target(experiment, goal, measure, lambda s: f"{what} within {tolerance_s * 1000:g} ms")


def retention(experiment: str, goal: float) -> Target:
    """Long clips (test_long) against the test split, within 50 ms: the share of accuracy kept."""

    def measure(summary):
        inside, outside = (_accuracy(summary, split, "one", 0.05) for split in ("test", "test_long"))
        return None if not inside or outside is None else outside / inside

    def describe(summary):
        inside, outside = (_accuracy(summary, split, "one", 0.05) for split in ("test", "test_long"))
        return f"long clips: keeps {_show(outside or 0, '%')} of its {_show(inside or 0, '%')} within 50 ms"

    return Target(experiment, goal, measure, describe, baselines_exempt=True)


def copy_loss(
    experiment: str, copy: str, tolerance_s: float, goal_points: float, clips: str | None = None
) -> Target:  # fmt: skip
    """Percentage points lost within ``tolerance_s`` on the test clips' ``copy`` (``clips``: how
    the row names them; default "test clips as <copy> files")."""

    def measure(summary):
        clean, copied = _accuracy(summary, "test", "one", tolerance_s), _accuracy(summary, "test", "one", tolerance_s, copy)
        return None if clean is None or copied is None else clean - copied  # negative: the copies did better

    def describe(summary):
        copied = _accuracy(summary, "test", "one", tolerance_s, copy)
        named = clips or f"test clips as {copy} files"
        return f"{named}: {_show(copied or 0, '%')} within {tolerance_s * 1000:g} ms, points lost"

    return Target(experiment, goal_points / 100, measure, describe, unit="points", at_most=True, baselines_exempt=True)


def speaker_count(
    experiment: str, goal: float, counts: tuple[int, ...] = (2, 3, 4), copy: str | None = None, clips: str = "test clips"
) -> Target:  # fmt: skip
    """``diarize`` finds the right number of speakers, over test clips (or their ``copy``) of
    ``counts`` speakers."""

    def measure(summary):
        record = evaluation(summary, "test", "diarize", STANDARD_EVALUATIONS, copy=copy)
        by_count = (record or {}).get("metrics", {}).get("speaker_count", {}).get("by_speakers")
        if by_count is None:
            return None
        groups = [by_count[str(n)] for n in counts if str(n) in by_count]
        n = sum(g["n"] for g in groups)
        return sum(g["accuracy"] * g["n"] for g in groups) / n if n else None

    return Target(experiment, goal, measure,
                  lambda s: f"`diarize` counts the speakers of {counts[0]}-{counts[-1]}-speaker {clips}")  # fmt: skip


def robustness(experiment: str, mode: str, key: str, what: str, goal: float, unit: str) -> Target:
    """A number of a robustness check's record (``evaluate.robustness``: "nonspeech",
    "presence_long", "late_words"), held to at most ``goal``."""

    def measure(summary):
        record = evaluation(summary, "test", mode)
        return None if record is None else record["metrics"][key]

    return Target(experiment, goal, measure, lambda s: what, unit=unit, at_most=True)


def above_anchor(
    experiment: str, split: str = "test", corpus: str | None = None, what: str = "all word starts", mode: str = "all"
) -> Target:  # fmt: skip
    """All word starts within 50 ms (Hungarian; ``mode`` "all": the count inferred, "align": the
    transcript given) above pocketsphinx forced alignment given the transcript, on the same
    questions (``evaluate.anchor``); the goal is the anchor's accuracy."""

    return Target(experiment, None, lambda s: _accuracy(s, split, mode, 0.05, corpus=corpus),
                  lambda s: f"{what} within 50 ms, above pocketsphinx alignment given the transcript",
                  anchor_split=split, anchor_corpus=corpus)  # fmt: skip


def points_lost(what: str, experiment: str, closed: str, goal_points: float, corpus: str) -> Target:
    """Points lost within 50 ms on the single questions of ``corpus``'s test clips against
    ``closed``, whose own test clips they are (the same budget: the open-vocabulary cost)."""

    def measure(summary, closed_summary):
        opened = _accuracy(summary, "test", "one", 0.05, corpus=corpus)
        own = _accuracy(closed_summary, "test", "one", 0.05)
        return None if opened is None or own is None else own - opened

    return Target(experiment, goal_points / 100, measure, lambda s: what, unit="points", at_most=True,
                  compared_with=closed)  # fmt: skip


def _anchor_accuracy(anchor: dict | None) -> float | None:
    return None if anchor is None else aligned_record(anchor)["metrics"]["accuracy"]["0.05"]


def _ships(preset: str) -> dict[str, str]:
    return {e.ships_as: e.name for e in PLANS[preset] if e.ships_as}


def _scratch_targets() -> tuple[Target, ...]:
    ships = _ships("tiny-scratch")
    return (
        accuracy("word, one occurrence", ships["words"], 0.90, 0.05),
        accuracy("speaker onset, one speaker", ships["speakers"], 0.80, 0.1),
        accuracy("event, one occurrence", ships["events"], 0.85, 0.05),
        accuracy("all word starts, count inferred (Hungarian)", ships["words-all"], 0.85, 0.05, mode="all"),
        *(retention(name, 0.8) for name in (ships["words"], "words-ihp-gap", "words-ihp-absent", ships["words-token"])),
    )  # fmt: skip


def _pretrained_targets() -> tuple[Target, ...]:
    ships = _ships("tiny")
    words, speakers = ships["words"], ships["speakers"]
    return (
        accuracy("word, one occurrence", words, 0.95, 0.05),
        accuracy("all word starts, count inferred (Hungarian)", ships["words-all"], 0.95, 0.05, mode="all"),
        above_anchor(ships["words-all"]),
        accuracy("speaker onset, one speaker", speakers, 0.85, 0.1),
        accuracy("event onset (recordings training never heard)", ships["events"], 0.85, 0.05),
        retention(words, 0.9),
        retention(ships["words-token"], 0.9),
        group_accuracy("the recorded voice's held-out prompts", words, 0.90, 0.05, "source", RECORDED_SOURCE),
        group_accuracy("speaker onsets of voices training never heard", speakers, 0.80, 0.1, "voice", "new voice"),
        group_accuracy("speaker onsets of voices training never heard, the first starting after a 1-30 s lead-in",
                       speakers, 0.80, 0.1, "voice", "new voice", copy="late"),
        speaker_count(speakers, 0.80),
        speaker_count(speakers, 0.80, copy="late", clips="test clips after a 1-30 s lead-in"),
        *(copy_loss(words, copy, 0.05, 5) for copy in ("8khz", "8bit")),
        copy_loss(words, "late", 0.05, 5, "test clips after a 1-30 s lead-in"),
        *(copy_loss(speakers, copy, 0.1, 5) for copy in ("8khz", "8bit")),
        # issue 21: presence that holds at any length and on non-speech, single questions on long audio
        robustness(words, "nonspeech", "false_present", "a word called present in non-speech of 10 s to 60 min",
                   0.02, "%"),
        robustness(words, "presence_long", "balanced_accuracy_drop",
                   "present / absent balanced accuracy on 20-120 s recordings, points lost against the test clips",
                   0.05, "points"),
        robustness(words, "late_words", "accuracy_drop_late",
                   "2-minute recordings: words first said after 30 s, points lost against the first 30 s (50 ms)",
                   0.10, "points"),
        # issue 18: any word (words never said in training, and the words every model knows)
        group_accuracy("questions about words never said in training (test_unseen)", words, 0.80, 0.05,
                       "word", "new word", split="test_unseen"),
        points_lost("the closed models' test questions: points lost against `words-ihp` (same budget, 50 ms)",
                    words, "words-ihp", 2, "default"),
        accuracy("`align --transcript` on clips of words never said in training (test_unseen)", ships["words-all"],
                 0.90, 0.05, split="test_unseen", mode="align", corpus="open"),
        above_anchor(ships["words-all"], "test_unseen", "open", "`align --transcript` on clips of new words", "align"),
    )  # fmt: skip


TARGETS: dict[str, tuple[Target, ...]] = {"tiny-scratch": _scratch_targets(), "tiny": _pretrained_targets()}


def measured_targets(results: dict[str, dict], preset: str, anchors: Anchors = Anchors()) -> list[Measured]:
    """Every target of ``preset`` whose experiment has stored results, measured (``results``:
    {experiment: summary}; ``anchors``: the forced-alignment anchor's stored results, the goal of
    targets set by it on the clips it answered)."""
    rows = []
    for target in TARGETS[preset]:
        summary = results.get(target.experiment)
        if summary is None or (target.compared_with is not None and target.compared_with not in results):
            continue
        if target.compared_with is None:
            value = target.measure(summary)
        else:
            value = target.measure(summary, results[target.compared_with])
        goal = target.goal
        if goal is None:  # the anchor's accuracy, when it answered the same clips
            goal = _anchor_accuracy(anchors.on(target.anchor_split, target.anchor_corpus or run_corpus(summary)))
        if value is None or goal is None:
            continue
        if target.baselines_exempt and is_baseline(summary):
            met = None
        else:
            met = value <= goal if target.at_most else value >= goal
        rows.append(Measured(target.describe(summary), target.experiment, value, goal, met, target.unit, target.at_most))
    return rows
