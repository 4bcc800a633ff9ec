"""The office's recent calls (`…/calls`), docs/protocol.md §3.7."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from protocol.fields import LABEL_RE, SERVICE_RE, Fields


@dataclass(frozen=True)
class Call:
    label: str
    service: str
    counter: str
    counter_name: str
    called_at: datetime
    recall: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {"label": self.label, "service": self.service, "counter": self.counter,
                "counter_name": self.counter_name, "called_at": self.called_at.isoformat(), "recall": self.recall}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Call:
        f = Fields(data, "calls.calls[]")
        return cls(label=f.text("label", LABEL_RE), service=f.text("service", SERVICE_RE), counter=f.slug("counter"),
                   counter_name=f.human("counter_name", 80), called_at=f.time("called_at"),
                   recall=f.integer("recall"))


MAX_CALLS = 20


@dataclass(frozen=True)
class CallsState:
    """The office's recent calls, newest first; `seq` grows by one with every change."""

    day: date
    seq: int
    calls: tuple[Call, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"day": self.day.isoformat(), "seq": self.seq, "calls": [c.to_dict() for c in self.calls]}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CallsState:
        f = Fields(data, "calls")
        calls = []
        for item in f.array("calls")[:MAX_CALLS]:  # a hostile list of thousands costs nothing
            if not isinstance(item, dict):
                raise f.fail("calls", "must be a list of objects")
            calls.append(Call.from_dict(item))
        return cls(day=f.day(), seq=f.integer("seq"), calls=tuple(calls))
