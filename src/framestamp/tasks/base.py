"""A query: one question about one clip, with its exact answer times."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import numpy as np

from ..frames import seconds_to_frames
from .families import Task, task_named, task_names
from .prompts import ordinal

TASKS = task_names()
MODES = ("one", "all")
BOUNDARIES = ("start", "end")


@dataclass(frozen=True)
class Query:
    """A question about a clip and the times that answer it.

    Attributes:
        clip_id: the clip asked about.
        task: the task family (a name given here is looked up: "word", "speaker", "event").
        mode: "one" (a single occurrence) or "all" (every occurrence).
        boundary: "start" or "end" of the segments asked about.
        question: the prompt text, placed before the audio.
        targets_s: sorted answer times in seconds (empty: the thing is absent).
        labels: the label of each target (word, speaker ordinal, event class).
        subject: what was asked about ("apple", "2", "bell"), empty for "all" questions.
        k: which occurrence a single-occurrence question asks about (1 = the first).
    """

    clip_id: str
    task: Task
    mode: str
    boundary: str
    question: str
    targets_s: tuple[float, ...]
    labels: tuple[str, ...] = field(default=())
    subject: str = ""
    k: int = 1

    def __post_init__(self):
        object.__setattr__(self, "task", task_named(self.task))

    @property
    def n_events(self) -> int:
        return len(self.targets_s)

    def answer_text(self) -> str:
        """The token baseline's answer: a JSON list in a ```json block (paper format)."""
        key = self.task.answer_key
        items = [{key: label, self.boundary: round(t, 2)} for label, t in zip(self.labels, self.targets_s)]
        return "```json\n" + json.dumps(items) + "\n```"


def event_counts(times_s, n_frames: int, frame_rate_hz: float) -> np.ndarray:
    """Number of events in each frame: the frame targets of the IHP and binary losses.

    Args:
        times_s: event times in seconds (times past the clip end fall in the last frame).
        n_frames: frames of the clip.
        frame_rate_hz: frames per second.

    Returns:
        float32 array ``[n_frames]`` of event counts.
    """
    if n_frames <= 0:
        return np.zeros(0, dtype=np.float32)
    index = seconds_to_frames(np.asarray(times_s, dtype=np.float64), frame_rate_hz, n_frames)
    return np.bincount(index, minlength=n_frames).astype(np.float32)
