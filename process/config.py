"""Validated TOML configuration, in the spirit of Klipper's config reader.

Every getter checks type and bounds and names the file and the dotted key in its error. A section
remembers which keys were read; `check_unknown()` turns every key nobody asked for into an error, so a
typo (`baudrat = 9600`) fails at start-up instead of being silently ignored.
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import time
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

T = TypeVar("T")
Check = Callable[[str], str | None]  # why a value is wrong (None: it is fine), e.g. protocol.text.human_text(120)


class ConfigError(Exception):
    """A configuration problem, worded for the technician who has to fix the file."""


class _Required:
    def __repr__(self) -> str:
        return "REQUIRED"


REQUIRED: Any = _Required()


@dataclass(frozen=True)
class AskedKey:
    """A key a reader asked for, present in the file or not (then it fell back to its default)."""

    path: Path
    key: str  # dotted, as errors name it: "printer.path", "services[1].light_pin"
    present: bool


_recorders: list[list[AskedKey]] = []


@contextmanager
def recording_keys() -> Iterator[list[AskedKey]]:
    """Every key any config reader asks for while inside, in order: how tests/test_example_configs.py
    finds the keys an example config does not show."""
    asked: list[AskedKey] = []
    _recorders.append(asked)
    try:
        yield asked
    finally:
        _recorders.remove(asked)


class ConfigSection:
    """One TOML table with typed, bounds-checked getters and unknown-key detection."""

    def __init__(self, data: dict[str, Any], path: Path, prefix: str = "") -> None:
        self._data = data
        self.path = path
        self.prefix = prefix
        self._read: set[str] = set()
        self._children: list[ConfigSection] = []

    def key_name(self, key: str) -> str:
        return f"{self.prefix}.{key}" if self.prefix else key

    def error(self, key: str, message: str) -> ConfigError:
        return ConfigError(f"{self.path}: key '{self.key_name(key)}': {message}")

    def has(self, key: str) -> bool:
        return key in self._data

    def own_keys(self) -> list[str]:
        """The table's keys, for tables whose keys are data (e.g. device ids), not settings."""
        return list(self._data)

    def _raw(self, key: str, default: Any) -> Any:
        self._read.add(key)
        for asked in _recorders:
            asked.append(AskedKey(self.path, self.key_name(key), key in self._data))
        if key not in self._data:
            if default is REQUIRED:
                raise self.error(key, "is required but missing")
            return default
        return self._data[key]

    def get_value(self, key: str, default: Any = REQUIRED) -> Any:
        """The raw value, for keys whose type the caller checks itself (e.g. int-or-string pins)."""
        return self._raw(key, default)

    def get_str(self, key: str, default: Any = REQUIRED, choices: Sequence[str] | None = None,
                check: Check | None = None) -> Any:
        """A string; `check` applies a rule of the contract (the text rule, the slug rule) to it."""
        value = self._raw(key, default)
        if value is default and key not in self._data:
            return value
        if not isinstance(value, str):
            raise self.error(key, f"expected a string, got {value!r}")
        if choices is not None and value not in choices:
            raise self.error(key, f"must be one of {', '.join(choices)}; got {value!r}")
        problem = check(value) if check is not None else None
        if problem is not None:
            raise self.error(key, problem)
        return value

    def get_int(self, key: str, default: Any = REQUIRED, minval: int | None = None,
                maxval: int | None = None) -> Any:
        value = self._raw(key, default)
        if value is default and key not in self._data:
            return value
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.error(key, f"expected an integer, got {value!r}")
        self._check_bounds(key, value, minval, maxval)
        return value

    def get_float(self, key: str, default: Any = REQUIRED, minval: float | None = None,
                  maxval: float | None = None) -> Any:
        value = self._raw(key, default)
        if value is default and key not in self._data:
            return value
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.error(key, f"expected a number, got {value!r}")
        self._check_bounds(key, value, minval, maxval)
        return float(value)

    def get_bool(self, key: str, default: Any = REQUIRED) -> Any:
        value = self._raw(key, default)
        if value is default and key not in self._data:
            return value
        if not isinstance(value, bool):
            raise self.error(key, f"expected true or false, got {value!r}")
        return value

    def get_str_list(self, key: str, default: Any = REQUIRED) -> Any:
        value = self._raw(key, default)
        if value is default and key not in self._data:
            return value
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise self.error(key, f"expected a list of strings, got {value!r}")
        return list(value)

    def get_zone(self, key: str, default: str = "Europe/Berlin") -> ZoneInfo:
        """An IANA time zone name."""
        name = self.get_str(key, default)
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            raise self.error(key, f"unknown time zone {name!r} (e.g. Europe/Berlin)") from None

    def get_time(self, key: str, default: str, check: Callable[[time], str | None] | None = None) -> time:
        """A time of day, "HH:MM"; `check` applies a rule to it (e.g. protocol.businessday.reset_time_problem)."""
        value = self.get_str(key, default)
        try:
            parsed = time.fromisoformat(value)
        except ValueError:
            raise self.error(key, f"must be a time HH:MM; got {value!r}") from None
        problem = check(parsed) if check is not None else None
        if problem is not None:
            raise self.error(key, problem)
        return parsed

    def get_path(self, key: str, default: Any = REQUIRED) -> Any:
        """A file or folder; a relative path is relative to the config file's folder, `~` is expanded."""
        value = self.get_str(key, default)
        if value is default and key not in self._data:
            return value
        candidate = Path(value).expanduser()
        return candidate if candidate.is_absolute() else (self.path.parent / candidate).resolve()

    def get_file_bytes(self, key: str) -> bytes | None:
        """The content, stripped, of the file an optional key names (a secret kept out of the config file)."""
        path = self.get_path(key, None)
        if path is None:
            return None
        try:
            content: bytes = path.read_bytes().strip()
        except OSError as exc:
            raise self.error(key, f"cannot be read: {exc}") from None
        return content

    def get_password_file(self, key: str) -> str | None:
        """The password in the file an optional key names (`password_file`): UTF-8 text, stripped."""
        content = self.get_file_bytes(key)
        try:
            return None if content is None else content.decode("utf-8")
        except UnicodeDecodeError:
            raise self.error(key, "must hold UTF-8 text") from None

    def get_section(self, key: str, required: bool = True) -> ConfigSection:
        """A sub-table; a missing optional one behaves as an empty table (all defaults)."""
        value = self._raw(key, REQUIRED if required else {})
        if not isinstance(value, dict):
            raise self.error(key, f"expected a table ([{self.key_name(key)}]), got {value!r}")
        child = ConfigSection(value, self.path, self.key_name(key))
        self._children.append(child)
        return child

    def get_section_list(self, key: str, required: bool = True) -> list[ConfigSection]:
        """An array of tables ([[key]])."""
        value = self._raw(key, REQUIRED if required else [])
        if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
            raise self.error(key, f"expected one or more [[{self.key_name(key)}]] tables")
        if required and not value:
            raise self.error(key, "needs at least one entry")
        children = [ConfigSection(v, self.path, f"{self.key_name(key)}[{i}]") for i, v in enumerate(value)]
        self._children.extend(children)
        return children

    def check_unknown(self) -> None:
        """Raise for the first key (here or in any sub-table read) that no getter asked for."""
        for key in self._data:
            if key not in self._read:
                raise self.error(key, "is not a known setting (a typo?)")
        for child in self._children:
            child.check_unknown()

    def _check_bounds(self, key: str, value: float, minval: float | None, maxval: float | None) -> None:
        if minval is not None and value < minval:
            raise self.error(key, f"must be at least {minval}; got {value}")
        if maxval is not None and value > maxval:
            raise self.error(key, f"must be at most {maxval}; got {value}")


def load_toml(path: Path) -> ConfigSection:
    """Read a TOML file into a root section; syntax errors name the file and the position."""
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    return ConfigSection(data, path)


def load_checked(path: Path, read: Callable[[ConfigSection, Path], T]) -> T:
    """A whole config file read by `read`; then every key `read` did not ask for is an error."""
    root = load_toml(path)
    config = read(root, path)
    root.check_unknown()
    return config
