"""Typed dataclass configs, round-tripped to JSON and YAML with unknown keys rejected."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any, TypeVar

import yaml

from .errors import ConfigError

T = TypeVar("T", bound="Config")


def option(default: Any, help: str, **kwargs) -> Any:
    """A dataclass field with a default and a help text (shown by the CLI and in docs)."""
    if isinstance(default, (list, dict)):
        return dataclasses.field(default_factory=lambda: type(default)(default), metadata={"help": help}, **kwargs)
    if isinstance(default, Config):
        return dataclasses.field(default_factory=lambda: dataclasses.replace(default), metadata={"help": help}, **kwargs)
    return dataclasses.field(default=default, metadata={"help": help}, **kwargs)


@dataclasses.dataclass
class Config:
    """Base of framestamp's configs: ``to_dict``/``from_dict`` and file round trips."""

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls: type[T], values: dict[str, Any]) -> T:
        """Build from a mapping; unknown keys and invalid values raise ``ConfigError``."""
        if not isinstance(values, dict):
            raise ConfigError(f"{cls.__name__}: expected a mapping, got {type(values).__name__}")
        names = {f.name: f for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - set(names))
        if unknown:
            raise ConfigError(f"{cls.__name__}: unknown key(s) {', '.join(unknown)}; known: {', '.join(names)}")
        kwargs = {}
        for key, value in values.items():
            field_type = names[key].type
            nested = _config_class(field_type)
            kwargs[key] = nested.from_dict(value) if nested and isinstance(value, dict) else value
        try:
            return cls(**kwargs)
        except (TypeError, ValueError) as error:
            raise ConfigError(f"{cls.__name__}: {error}") from None

    def save(self, path: str | Path) -> None:
        """Write as JSON (``.json``) or YAML (any other suffix)."""
        path = Path(path)
        text = json.dumps(self.to_dict(), indent=2) if path.suffix == ".json" else yaml.safe_dump(self.to_dict())
        path.write_text(text + ("\n" if not text.endswith("\n") else ""))

    @classmethod
    def load(cls: type[T], path: str | Path) -> T:
        """Read a JSON or YAML file; a missing or malformed file raises ``ConfigError``."""
        path = Path(path)
        try:
            text = path.read_text()
            values = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
        except FileNotFoundError:
            raise ConfigError(f"config file not found: {path}") from None
        except (json.JSONDecodeError, yaml.YAMLError, UnicodeDecodeError) as error:
            raise ConfigError(f"config file {path} is not valid {path.suffix.lstrip('.') or 'YAML'}: "
                              f"{str(error).splitlines()[0]}") from None
        return cls.from_dict(values or {})


def _config_class(field_type: Any) -> type[Config] | None:
    if isinstance(field_type, type) and issubclass(field_type, Config):
        return field_type
    if isinstance(field_type, str):
        return _CONFIG_CLASSES.get(field_type)
    return None


_CONFIG_CLASSES: dict[str, type[Config]] = {}


def register_config(cls: type[T]) -> type[T]:
    """Make a config class usable as a nested field type by its name (string annotations)."""
    _CONFIG_CLASSES[cls.__name__] = cls
    return cls
