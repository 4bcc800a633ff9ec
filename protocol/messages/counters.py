"""A counter's retained state (`…/counter/{counter}/state`), docs/protocol.md §3.8."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from protocol.fields import LABEL_RE, SERVICE_RE, Fields

COUNTER_STATES = ("idle", "serving", "paused")


@dataclass(frozen=True)
class CounterState:
    """What one counter is doing: idle, serving a ticket (its label and service) or paused."""

    day: date
    counter: str
    state: str
    label: str | None = None
    service: str | None = None
    postponed: int | None = None  # the ticket served was moved back by its holder this often (§3.12)

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"day": self.day.isoformat(), "counter": self.counter, "state": self.state}
        if self.label is not None:
            data["label"] = self.label
        if self.service is not None:
            data["service"] = self.service
        if self.postponed is not None:
            data["postponed"] = self.postponed
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CounterState:
        f = Fields(data, "counter state")
        return cls(day=f.day(), counter=f.slug("counter"), state=f.choice("state", COUNTER_STATES),
                   label=f.opt_text("label", LABEL_RE), service=f.opt_text("service", SERVICE_RE),
                   postponed=f.opt_integer("postponed"))
