"""One ticket's tracking state (`…/ticket/{sha256(token)}`), docs/protocol.md §3.9.

Keyed by the hash of the token, never the token; nothing about other tickets but the count `ahead`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from protocol.fields import LABEL_RE, SERVICE_RE, Fields

TICKET_STATES = ("waiting", "called", "done", "no_show", "closed", "voided", "cancelled")


@dataclass(frozen=True)
class TicketView:
    """Always day, label, service, state, issued_at; a waiting ticket adds `ahead` and its wait (the median,
    null when it will not be called before closing, and the 10 %–90 % range), a called one its counter,
    and a no-show the end of its grace period."""

    day: date
    label: str
    service: str
    state: str
    issued_at: datetime
    ahead: int | None = None
    expected_wait_min: int | None = None
    wait_range_min: tuple[int, int] | None = None
    counter: str | None = None
    counter_name: str | None = None
    called_at: datetime | None = None
    recall: int | None = None
    grace_until: datetime | None = None
    postponed: int | None = None  # how often its holder moved it back (§3.12), when at least once
    rated: bool | None = None  # done, and its holder has rated the visit (§3.12)

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"day": self.day.isoformat(), "label": self.label, "service": self.service,
                                "state": self.state, "issued_at": self.issued_at.isoformat()}
        if self.state == "waiting":  # the wait is always there while waiting: null says "unknown"
            data["expected_wait_min"] = self.expected_wait_min
        if self.wait_range_min is not None:
            data["wait_range_min"] = list(self.wait_range_min)
        for name in ("ahead", "counter", "counter_name", "called_at", "recall", "grace_until", "postponed",
                     "rated"):
            value = getattr(self, name)
            if value is not None:
                data[name] = value.isoformat() if isinstance(value, datetime) else value
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TicketView:
        f = Fields(data, "ticket")
        expected = f.opt_integer("expected_wait_min")
        return cls(
            day=f.day(), label=f.text("label", LABEL_RE), service=f.text("service", SERVICE_RE),
            state=f.choice("state", TICKET_STATES), issued_at=f.time("issued_at"), ahead=f.opt_integer("ahead"),
            expected_wait_min=expected, wait_range_min=f.opt_wait_range("wait_range_min", expected),
            counter=f.opt_slug("counter"), counter_name=f.opt_human("counter_name", 80),
            called_at=f.opt_time("called_at"), recall=f.opt_integer("recall"), grace_until=f.opt_time("grace_until"),
            postponed=f.opt_integer("postponed"), rated=f.opt_flag("rated"),
        )
