"""Typed reading of JSON message fields: every wrong field becomes an `InvalidMessage` naming it.

Consumers drop (log, count) invalid messages and go on; nothing here ever raises anything else for
bad input.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

from protocol.text import text_problem

PROTOCOL_VERSION = 1
LABEL_RE = re.compile(r"^[A-Z]{1,3}[0-9]{1,6}\Z")
SERVICE_RE = re.compile(r"^[A-Z]{1,3}\Z")
SLUG_RE = re.compile(r"^[a-z0-9-]{1,40}\Z")  # office, device and counter ids (topic segments)
TOKEN_RE = re.compile(r"^[A-Z2-7]{26,64}\Z")  # a tracking token (docs/protocol.md §5)
TICKET_ID_RE = re.compile(r"^[A-Za-z0-9-]{8,64}\Z")  # ticket event and request ids


def slug_problem(value: str) -> str | None:
    """Why `value` is no office, device or counter id (None: it is one); a config check."""
    if SLUG_RE.match(value):
        return None
    return f"must be a slug of a-z, 0-9 and '-' (1–40 characters); got {value!r}"


def service_problem(value: str) -> str | None:
    """Why `value` is no service id (None: it is one); a config check."""
    if SERVICE_RE.match(value):
        return None
    return f"must be 1–3 capital letters (the service's label prefix, e.g. 'A'); got {value!r}"


ACCOUNT_NAME_RE = re.compile(r"^[A-Za-z0-9._-]{1,64}\Z")  # staff account names (hub/accounts.py, web/login.py)


def account_name_problem(name: str) -> str | None:
    """Why `name` cannot be a staff account's name (None: it can): it is typed into the login form and
    written to log lines, so plain letters, digits, '.', '_' and '-' only."""
    if ACCOUNT_NAME_RE.match(name):
        return None
    return f"a user name is 1–64 characters of A-Z, a-z, 0-9, '.', '_' and '-'; got {name!r}"


class InvalidMessage(ValueError):
    """A payload that breaks the contract; the message says which field and why."""


def decode_object(payload: bytes) -> dict[str, Any]:
    """Parse a UTF-8 JSON object with `"v": 1`."""
    try:
        data = json.loads(payload.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidMessage(f"not UTF-8 JSON: {exc}") from None
    except RecursionError:
        raise InvalidMessage("JSON nested too deeply") from None
    if not isinstance(data, dict):
        raise InvalidMessage("payload is not a JSON object")
    if type(data.get("v")) is not int or data["v"] != PROTOCOL_VERSION:
        raise InvalidMessage(f"unsupported protocol version v={data.get('v')!r} (expected 1)")
    return data


def encode_object(data: Mapping[str, Any]) -> bytes:
    return json.dumps({"v": PROTOCOL_VERSION, **data}, ensure_ascii=False, separators=(",", ":")).encode()


class Fields:
    """Reads fields of one message; `kind` names the message in errors."""

    def __init__(self, data: Mapping[str, Any], kind: str) -> None:
        self.data = data
        self.kind = kind

    def fail(self, name: str, why: str) -> InvalidMessage:
        return InvalidMessage(f"{self.kind}: field '{name}' {why}")

    def _get(self, name: str) -> Any:
        if name not in self.data:
            raise self.fail(name, "is missing")
        return self.data[name]

    def text(self, name: str, pattern: re.Pattern[str] | None = None, max_len: int = 2000) -> str:
        value = self._get(name)
        if not isinstance(value, str) or len(value) > max_len:
            raise self.fail(name, f"must be a string of at most {max_len} characters")
        if pattern is not None and not pattern.match(value):
            raise self.fail(name, f"has an invalid value {value!r}")
        return value

    def token(self, name: str) -> str:
        """A tracking token (TOKEN_RE). A bad one is never repeated in the error: a misspelled token (lower
        case, padded) still names a real ticket, and errors go to logs and to answers others read."""
        value = self._get(name)
        if not isinstance(value, str) or not TOKEN_RE.match(value):
            raise self.fail(name, "is not a tracking token (26-64 characters A-Z, 2-7; its value is not repeated)")
        return value

    def human(self, name: str, max_len: int) -> str:
        """Text a person reads (a name, a reason, the announcement): protocol/text.py's rule."""
        value = self._get(name)
        problem = text_problem(value, max_len)
        if problem is not None:
            raise self.fail(name, problem)
        return str(value)

    def opt_human(self, name: str, max_len: int) -> str | None:
        if self.data.get(name) is None:
            return None
        return self.human(name, max_len)

    def slug(self, name: str) -> str:
        return self.text(name, SLUG_RE)

    def integer(self, name: str, minval: int = 0, maxval: int = 2**53) -> int:
        value = self._get(name)
        if isinstance(value, bool) or not isinstance(value, int) or not minval <= value <= maxval:
            raise self.fail(name, f"must be an integer in {minval}..{maxval}")
        return value

    def opt_integer(self, name: str, minval: int = 0, maxval: int = 2**53) -> int | None:
        if self.data.get(name) is None:
            return None
        return self.integer(name, minval, maxval)

    def number(self, name: str, minval: float, maxval: float) -> float:
        value = self._get(name)
        if isinstance(value, bool) or not isinstance(value, int | float) or not minval <= value <= maxval:
            raise self.fail(name, f"must be a number in {minval:g}..{maxval:g}")
        return float(value)

    def opt_number(self, name: str, minval: float, maxval: float) -> float | None:
        return None if self.data.get(name) is None else self.number(name, minval, maxval)

    def opt_wait_range(self, name: str, expected: int | None) -> tuple[int, int] | None:
        """An optional `[low, high]` of whole minutes, low ≤ `expected` ≤ high (the 10 % and 90 % quantiles
        around the median wait, docs/protocol.md §3.4)."""
        value = self.data.get(name)
        if value is None:
            return None
        if not (isinstance(value, list) and len(value) == 2
                and all(isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= 2**31 for v in value)
                and value[0] <= value[1]):
            raise self.fail(name, "must be [low, high], whole minutes with 0 ≤ low ≤ high")
        if expected is not None and not value[0] <= expected <= value[1]:
            raise self.fail(name, "must contain expected_wait_min")
        return value[0], value[1]

    def opt_time(self, name: str) -> datetime | None:
        return None if self.data.get(name) is None else self.time(name)

    def opt_flag(self, name: str) -> bool | None:
        return None if self.data.get(name) is None else self.flag(name)

    def opt_slug(self, name: str) -> str | None:
        return None if self.data.get(name) is None else self.slug(name)

    def opt_text(self, name: str, pattern: re.Pattern[str]) -> str | None:
        return None if self.data.get(name) is None else self.text(name, pattern)

    def choice(self, name: str, choices: tuple[str, ...]) -> str:
        value = self.text(name, max_len=40)
        if value not in choices:
            raise self.fail(name, f"must be one of {', '.join(choices)}")
        return value

    def objects(self, name: str, limit: int | None = None) -> list[Mapping[str, Any]]:
        """A list of objects (at most `limit` read: a hostile list of thousands costs nothing)."""
        items = self.array(name)[:limit]
        if not all(isinstance(item, dict) for item in items):
            raise self.fail(name, "must be a list of objects")
        return items

    def flag(self, name: str) -> bool:
        value = self._get(name)
        if not isinstance(value, bool):
            raise self.fail(name, "must be true or false")
        return value

    def day(self, name: str = "day") -> date:
        value = self._get(name)
        try:
            if not isinstance(value, str) or not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
                raise ValueError
            return date.fromisoformat(value)
        except ValueError:
            raise self.fail(name, "must be a date YYYY-MM-DD") from None

    def time(self, name: str) -> datetime:
        value = self._get(name)
        try:
            if not isinstance(value, str):
                raise ValueError
            parsed = datetime.fromisoformat(value)
        except ValueError:
            raise self.fail(name, "must be an ISO 8601 time") from None
        if parsed.utcoffset() is None:
            raise self.fail(name, "must carry a UTC offset")
        return parsed

    def mapping(self, name: str) -> Mapping[str, Any]:
        value = self._get(name)
        if not isinstance(value, dict):
            raise self.fail(name, "must be an object")
        return value

    def array(self, name: str) -> list[Any]:
        value = self._get(name)
        if not isinstance(value, list):
            raise self.fail(name, "must be a list")
        return value
