"""Tasks: questions about clips, their exact answer times, and frame targets."""

from .answers import ParsedAnswer, parse_answer
from .base import BOUNDARIES, MODES, TASKS, Query, event_counts
from .families import Task, task_for_subset, task_named
from .prompts import ordinal

__all__ = [
    "BOUNDARIES", "MODES", "TASKS", "ParsedAnswer", "Query", "Task", "event_counts", "ordinal", "parse_answer",
    "task_for_subset", "task_named",
]  # fmt: skip
