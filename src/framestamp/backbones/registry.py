"""Backbone families by name."""

from __future__ import annotations

from typing import Callable

_FAMILIES: dict[str, type] = {}


def register(*names: str) -> Callable[[type], type]:
    """Class decorator: make a backbone family loadable by each of ``names`` (its name, then any
    older names its checkpoints may carry)."""

    def decorate(cls: type) -> type:
        for name in names:
            _FAMILIES[name] = cls
        return cls

    return decorate


def backbone_class(name: str) -> type:
    """The class registered under ``name``; a clear error lists the known names."""
    if name not in _FAMILIES:
        raise KeyError(f"unknown backbone family {name!r}; known: {', '.join(sorted(_FAMILIES))}")
    return _FAMILIES[name]


def known_families() -> list[str]:
    return sorted(_FAMILIES)
