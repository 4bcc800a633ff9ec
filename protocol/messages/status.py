"""A device's retained availability and health (`…/device/{device}/status`), docs/protocol.md §3.5."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from protocol.fields import SLUG_RE, Fields

COUNTERS = ("acked_seq", "outbox_pending")  # a kiosk's health counters (kiosk/delivery.py)


@dataclass(frozen=True)
class DeviceStatus:
    """A device's retained availability and health (ESPHome style: last will says offline)."""

    online: bool
    role: str
    version: str | None = None
    at: datetime | None = None
    clock_synced: bool | None = None
    health: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = dict(self.health)
        out.update({"online": self.online, "role": self.role})
        if self.version is not None:
            out["version"] = self.version
        if self.at is not None:
            out["at"] = self.at.isoformat()
        if self.clock_synced is not None:
            out["clock_synced"] = self.clock_synced
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DeviceStatus:
        f = Fields(data, "device status")
        known = {"v", "online", "role", "version", "at", "clock_synced"}
        for counter in COUNTERS:  # what /metrics exports as numbers: integers in range, or the status is invalid
            f.opt_integer(counter)
        return cls(
            online=f.flag("online"), role=f.text("role", SLUG_RE), version=f.opt_human("version", 80),
            at=f.time("at") if data.get("at") is not None else None,
            clock_synced=f.flag("clock_synced") if data.get("clock_synced") is not None else None,
            health={k: v for k, v in data.items() if k not in known},
        )
