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
            try:
                value = _checked_scalar(field_type, value)
            except TypeError as error:
                raise ConfigError(f"{cls.__name__}: {key} must be {error}, got {value!r}") from None
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
        return cls.from_dict({} if values is None else values)  # an empty file: every default


def _config_class(field_type: Any) -> type[Config] | None:
    if isinstance(field_type, type) and issubclass(field_type, Config):
        return field_type
    if isinstance(field_type, str):
        return _CONFIG_CLASSES.get(field_type)
    return None


_CONFIG_CLASSES: dict[str, type[Config]] = {}

# Plain scalar field types: what a value must be, in words, and the Python types that are it.
_SCALARS = {"float": ("a number", (int, float)), "int": ("an integer", (int,)), "bool": ("true or false", (bool,)),
            "str": ("a string", (str,))}  # fmt: skip


def _checked_scalar(field_type: Any, value: Any) -> Any:
    """``value`` if the field is a plain scalar (``float``, ``int | None``, ...) and ``value`` is
    one, or any value of another field (checked by its class); a number written as YAML 1.1 reads
    it (``1e-3`` is a string there) becomes that number. Raises ``TypeError`` with what the value
    should have been."""
    name = field_type if isinstance(field_type, str) else getattr(field_type, "__name__", str(field_type))
    parts = [part.strip() for part in name.split("|")]
    optional = "None" in parts
    kinds = [part for part in parts if part != "None"]
    if len(kinds) != 1 or kinds[0] not in _SCALARS or (value is None and optional):
        return value
    words, types = _SCALARS[kinds[0]]
    if isinstance(value, types) and (kinds[0] == "bool" or not isinstance(value, bool)):
        return value
    if kinds[0] == "float" and isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            pass
    raise TypeError(words + (" or null" if optional else ""))


def register_config(cls: type[T]) -> type[T]:
    """Make a config class usable as a nested field type by its name (string annotations)."""
    _CONFIG_CLASSES[cls.__name__] = cls
    return cls
