"""What the API, the command line and manifests ask when not told otherwise, and how event classes
are written (no heavy imports: the command line reads these when it starts)."""

from __future__ import annotations

from typing import Sequence

MAX_SPEAKERS = 10  # speakers asked about by default (the built-in corpus has up to 10 a clip)
MAX_OCCURRENCES = 3  # occurrences asked per event class by default


def class_names(classes: str | Sequence[str]) -> list[str]:
    """Event class names from one string or several, each possibly comma-separated ("dog, siren")."""
    return [name.strip() for text in ([classes] if isinstance(classes, str) else classes)
            for name in text.split(",") if name.strip()]  # fmt: skip
