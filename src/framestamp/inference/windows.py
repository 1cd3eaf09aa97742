"""Audio of any length: encode overlapping windows, stitch their frame scores on one timeline.

A question about a long recording is asked of every window: windows of the model's own length
(``ModelConfig.window_s``, chosen on held-out long recordings; 30 s for a model without one),
overlapping by a fifth of it, at most 5 s. Each global frame is taken from exactly one window:
the one whose centre is nearer, i.e. consecutive windows are cut at the midpoint of their
overlap, without crossfading. Since
IHP intensities are additive per frame, the integrated intensity of the stitched timeline is
still an expected count, and times decoded from it are global times.

Memory: only one batch of windows (``windows_per_batch`` windows x the questions) goes through
the backbone at a time; besides the waveform itself (64 kB per second at 16 kHz float32), what
grows with the length is the stitched scores, 4 bytes per frame and question (400 B/s at
10 ms frames).
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass
from typing import Protocol, Sequence

import numpy as np

from ..audio import SAMPLE_RATE_HZ
from ..config import Config, option, register_config
from ..errors import AudioError
from ..frames import seconds_to_frames
from .progress import windows_done


DEFAULT_WINDOW_S = 30.0  # a model that chose no window of its own: the tower's one attention window
MAX_OVERLAP_S = 5.0


@register_config
@dataclass
class WindowConfig(Config):
    """How long audio is cut into windows for the backbone."""

    window_s: float | None = option(None, "length of one encoded window, in seconds; None: the model's own "
                                          "(ModelConfig.window_s, chosen on held-out long recordings), else 30")
    overlap_s: float | None = option(None, "overlap of consecutive windows, in seconds (cut at its midpoint); "
                                           "None: a fifth of the window, at most 5 s")
    windows_per_batch: int = option(1, "windows per forward pass; activation memory grows with it")

    def __post_init__(self):
        if self.window_s is not None and not 0 < self.window_s < math.inf:
            raise ValueError(f"window_s must be positive and finite, got {self.window_s}")
        if self.overlap_s is not None and not 0 <= self.overlap_s < math.inf:
            raise ValueError(f"overlap_s must be >= 0, got {self.overlap_s}")
        if self.window_s is not None and self.overlap_s is not None and self.overlap_s > self.window_s / 2:
            raise ValueError(f"overlap_s must be in [0, window_s / 2] (windows of {self.window_s:g} s), "
                             f"got {self.overlap_s}")
        if self.windows_per_batch < 1:
            raise ValueError(f"windows_per_batch must be >= 1, got {self.windows_per_batch}")

    def resolved(self, model_window_s: float | None = None) -> WindowConfig:
        """Concrete lengths: the window given, else ``model_window_s`` (a model's own), else 30 s;
        the overlap given, else a fifth of the window up to 5 s."""
        window_s = self.window_s or model_window_s or DEFAULT_WINDOW_S
        overlap_s = min(MAX_OVERLAP_S, window_s / 5) if self.overlap_s is None else self.overlap_s
        return WindowConfig(window_s, overlap_s, self.windows_per_batch)


@dataclass(frozen=True)
class WindowPlan:
    """Where the windows of one recording lie, in samples and in global frames.

    Attributes:
        starts: first sample of each window (16 kHz).
        ends: one past the last sample of each window.
        frame_offsets: global frame index of each window's first frame.
        cuts: global frame where window i hands over to window i + 1 (length ``n - 1``).
    """

    starts: tuple[int, ...]
    ends: tuple[int, ...]
    frame_offsets: tuple[int, ...]
    cuts: tuple[int, ...]

    def __len__(self) -> int:
        return len(self.starts)

    def owned(self, index: int, n_window_frames: int) -> slice:
        """The frames of window ``index`` (local indices) that go on the global timeline."""
        offset = self.frame_offsets[index]
        low = self.cuts[index - 1] - offset if index > 0 else 0
        high = self.cuts[index] - offset if index < len(self) - 1 else n_window_frames
        if high > n_window_frames:
            raise ValueError(f"window {index} gave {n_window_frames} frames, fewer than the {high} it must cover")
        return slice(low, high)

    def regions(self, n_frames: int) -> list[tuple[int, int]]:
        """Global ``[first, last)`` frame range taken from each window."""
        bounds = [0, *self.cuts, n_frames]
        return list(zip(bounds[:-1], bounds[1:]))


def plan_windows(
    n_samples: int, frame_rate_hz: float, token_rate_hz: float, config: WindowConfig = WindowConfig()
) -> WindowPlan:  # fmt: skip
    """Cut ``n_samples`` (16 kHz) into full-length overlapping windows (``config``'s lengths; unset:
    30 s windows overlapping by 5 s).

    Window starts lie on the audio-token grid (40 ms for 25 tokens/s), so every window's frames
    fall on the global frame grid. The last window is moved back to end at the audio's end,
    keeping its full length (more context; a larger overlap with its neighbour).
    """
    config = config.resolved()
    grid = max(1, round(SAMPLE_RATE_HZ / token_rate_hz))
    length = max(grid, int(config.window_s * SAMPLE_RATE_HZ) // grid * grid)
    hop = max(grid, int((config.window_s - config.overlap_s) * SAMPLE_RATE_HZ) // grid * grid)
    if n_samples <= length:
        starts = [0]
    else:
        starts = list(range(0, n_samples - length, hop))
        starts.append(math.ceil((n_samples - length) / grid) * grid)
    ends = [min(start + length, n_samples) for start in starts]
    to_frame = lambda sample: int(seconds_to_frames(sample / SAMPLE_RATE_HZ, frame_rate_hz))  # noqa: E731
    cuts = [to_frame((starts[i + 1] + ends[i]) / 2) for i in range(len(starts) - 1)]
    return WindowPlan(tuple(starts), tuple(ends), tuple(to_frame(s) for s in starts), tuple(cuts))


def stitch(pieces: Sequence[np.ndarray], plan: WindowPlan) -> np.ndarray:
    """Global scores ``[..., T]`` from per-window scores ``[..., T_i]`` (one per window of ``plan``)."""
    return np.concatenate([piece[..., plan.owned(i, piece.shape[-1])] for i, piece in enumerate(pieces)], axis=-1)


class Scorer(Protocol):
    """What :func:`score_long` needs of a model (``FrameStampModel`` is one)."""

    frame_rate_hz: float

    def score(self, questions: Sequence[str], waveforms: Sequence[np.ndarray]) -> list[np.ndarray]: ...


@dataclass
class LongScores:
    """Frame scores of questions about one recording, on the global timeline.

    Attributes:
        scores: ``[Q, T]`` float32 head outputs (log-intensity or logit) per question.
        frame_rate_hz: frames per second.
        regions: global ``[first, last)`` frames that came from each window.
        duration_s: length of the audio in seconds.
    """

    scores: np.ndarray
    frame_rate_hz: float
    regions: list[tuple[int, int]]
    duration_s: float


def score_long(
    model: Scorer, questions: Sequence[str], waveform: np.ndarray, token_rate_hz: float,
    config: WindowConfig = WindowConfig(), progress: bool | None = None,
) -> LongScores:  # fmt: skip
    """Ask ``questions`` about audio of any length; scores of every frame on the global timeline.

    Args:
        model: gives per-clip frame scores for (question, waveform) pairs.
        questions: the questions, each asked of every window.
        waveform: float32 mono audio at 16 kHz, any length of at least one audio token.
        token_rate_hz: audio tokens per second of the backbone (window starts lie on its grid).
        config: window length, overlap (unset: 30 s and 5 s) and windows per forward pass.
        progress: draw a progress bar on stderr; None = only when stderr is a terminal. A
            listener set with :func:`framestamp.inference.progress.reporting_windows` hears
            ``(done, total)`` windows either way.
    """
    check_length(waveform, token_rate_hz)
    plan = plan_windows(waveform.size, model.frame_rate_hz, token_rate_hz, config)
    return _score_planned(model, questions, waveform, plan, config.windows_per_batch, progress)


def _score_planned(
    model: Scorer, questions: Sequence[str], waveform: np.ndarray, plan: WindowPlan, windows_per_batch: int,
    progress: bool | None,
) -> LongScores:  # fmt: skip
    """:func:`score_long` over the windows of ``plan``."""
    owned: list[np.ndarray] = []
    windows_done(0, len(plan))
    with _progress_bar(len(plan), progress) as bar:
        for first in range(0, len(plan), windows_per_batch):
            indices = range(first, min(first + windows_per_batch, len(plan)))
            owned += _owned_scores(model, questions, waveform, plan, indices)
            bar.update(len(indices))
            windows_done(indices.stop, len(plan))
    scores = np.concatenate(owned, axis=-1).astype(np.float32, copy=False)
    return LongScores(scores, model.frame_rate_hz, plan.regions(scores.shape[-1]), waveform.size / SAMPLE_RATE_HZ)


def _owned_scores(
    model: Scorer, questions: Sequence[str], waveform: np.ndarray, plan: WindowPlan, indices: Sequence[int]
) -> list[np.ndarray]:  # fmt: skip
    """``[Q, frames]`` scores of ``questions`` in the part of the timeline each window of ``indices`` owns,
    from one forward pass over those windows."""
    windows = [waveform[plan.starts[i] : plan.ends[i]] for i in indices]
    rows = model.score([q for _ in windows for q in questions], [w for w in windows for _ in questions])
    pieces = [np.stack(rows[j * len(questions) : (j + 1) * len(questions)]) for j in range(len(windows))]
    return [piece[:, plan.owned(i, piece.shape[-1])] for i, piece in zip(indices, pieces)]


class ScoresOnDemand:
    """Frame scores of questions about one recording on the global timeline, where the first
    ``eager`` questions are asked of every window at once (:func:`score_long`) and each other one
    of a window only when the part of the timeline that window owns is read.

    What a walk over the 1st, 2nd, ... occurrence questions needs: the 1st of every window, the
    later ones only where the walk goes, which stops once it has found what it counts. A
    question's scores do not depend on which others are asked beside it (up to float rounding of
    batches of another size).

    Attributes:
        frame_rate_hz, regions, duration_s: as in :class:`LongScores`.
    """

    def __init__(
        self, model: Scorer, questions: Sequence[str], waveform: np.ndarray, token_rate_hz: float,
        config: WindowConfig = WindowConfig(), progress: bool | None = None, eager: int = 1,
    ) -> None:  # fmt: skip
        check_length(waveform, token_rate_hz)
        self._model, self._questions, self._waveform = model, list(questions), waveform
        self._plan = plan_windows(waveform.size, model.frame_rate_hz, token_rate_hz, config)
        self._windows_per_batch = config.windows_per_batch
        first = _score_planned(model, self._questions[:eager], waveform, self._plan, self._windows_per_batch, progress)
        self.frame_rate_hz, self.regions, self.duration_s = first.frame_rate_hz, first.regions, first.duration_s
        self._rows: dict[int, np.ndarray] = dict(enumerate(first.scores))
        self._pieces: dict[tuple[int, int], np.ndarray] = {}

    def region(self, question: int, part: int) -> np.ndarray:
        """Scores of question ``question`` (an index) in the part of the timeline window ``part`` owns."""
        if question in self._rows:
            first, last = self.regions[part]
            return self._rows[question][first:last]
        if (question, part) not in self._pieces:
            self._score(question, [part])
        return self._pieces[question, part]

    def row(self, question: int) -> np.ndarray:
        """The whole stitched row ``[T]`` of question ``question`` (the windows not scored yet, now)."""
        if question not in self._rows:
            missing = [part for part in range(len(self._plan)) if (question, part) not in self._pieces]
            for first in range(0, len(missing), self._windows_per_batch):
                self._score(question, missing[first : first + self._windows_per_batch])
            pieces = [self._pieces.pop((question, part)) for part in range(len(self._plan))]
            self._rows[question] = np.concatenate(pieces).astype(np.float32, copy=False)
        return self._rows[question]

    def _score(self, question: int, parts: Sequence[int]) -> None:
        pieces = _owned_scores(self._model, [self._questions[question]], self._waveform, self._plan, parts)
        for part, piece in zip(parts, pieces):
            self._pieces[question, part] = piece[0].astype(np.float32, copy=False)


def check_length(waveform: np.ndarray, token_rate_hz: float) -> None:
    """Raise ``AudioError`` when the audio is shorter than one audio token."""
    grid = max(1, round(SAMPLE_RATE_HZ / token_rate_hz))
    if waveform.size < grid:
        raise AudioError(f"the audio is too short ({waveform.size / SAMPLE_RATE_HZ:.3f} s); "
                         f"at least {grid / SAMPLE_RATE_HZ:.3f} s is needed")


def _progress_bar(total: int, enabled: bool | None):
    """A tqdm bar over windows on stderr (a silent stand-in when tqdm is missing or disabled)."""
    if enabled is None:
        enabled = sys.stderr.isatty() and total > 1
    try:
        from tqdm import tqdm
    except ImportError:  # progress is a nicety, not a reason to fail
        enabled = False
    if not enabled:
        return _NoBar()
    return tqdm(total=total, unit="window", desc="encoding", leave=False, file=sys.stderr)


class _NoBar:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def update(self, n: int = 1) -> None:
        pass
