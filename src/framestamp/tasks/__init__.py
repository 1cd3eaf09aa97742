"""Tasks: questions about clips, their exact answer times, and frame targets."""

from .answers import ParsedAnswer, parse_answer
from .base import BOUNDARIES, MODES, TASKS, Query, event_counts, ordinal

__all__ = ["BOUNDARIES", "MODES", "TASKS", "ParsedAnswer", "Query", "event_counts", "ordinal", "parse_answer"]
