"""A voice an external synthesizer knows by name (Festival, Flite), at a tempo."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar


@dataclass(frozen=True)
class NamedVoice:
    """A voice of the synthesizer ``engine``, by name, at a tempo (``speed`` 1: the voice's own)."""

    name: str
    speed: float = 1.0

    engine: ClassVar[str]

    @property
    def id(self) -> str:
        return f"{self.engine}:{self.name}"

    def as_dict(self) -> dict:
        """Synthesis parameters for provenance records."""
        return {"engine": self.engine, "voice": self.name, "speed": self.speed}
