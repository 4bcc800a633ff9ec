"""What stays of a business day once its tickets are deleted: aggregates only (DESIGN §4 privacy).

Per service and local hour: tickets issued, called, no-shows, closed out, transferred; waits and
handling times as percentiles. A ticket counts under the service it was issued for (what the kiosks
printed), wherever a transfer took it; `transferred` counts those of them sent to another service.
Handling times are aggregated per counter and service, never per clerk.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from typing import Any

from hub.engine import OfficeEngine, TicketState


def _percentiles(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"p50": None, "p90": None}
    ordered = sorted(values)
    p90 = ordered[min(len(ordered) - 1, int(0.9 * len(ordered)))]
    return {"p50": round(statistics.median(ordered), 1), "p90": round(p90, 1)}


def day_summary(engine: OfficeEngine) -> dict[str, Any]:
    tz = engine.office.timezone
    hours: dict[tuple[str, int], dict[str, Any]] = defaultdict(
        lambda: {"issued": 0, "called": 0, "no_show": 0, "closed": 0, "transferred": 0, "waits": []})
    for ticket in engine.tickets.values():
        if ticket.state == TicketState.VOIDED:
            continue
        bucket = hours[(ticket.issued_service, ticket.issued_at.astimezone(tz).hour)]
        bucket["issued"] += 1
        bucket["transferred"] += ticket.transfers > 0
        if ticket.called_at is not None:
            bucket["called"] += 1
            bucket["waits"].append((ticket.called_at - ticket.issued_at).total_seconds() / 60)
        if ticket.state == TicketState.NO_SHOW:
            bucket["no_show"] += 1
        if ticket.state == TicketState.CLOSED:
            bucket["closed"] += 1
    handling: dict[tuple[str, str], list[float]] = defaultdict(list)
    for h in engine.handled:
        if not h.no_show:
            handling[(h.service, h.counter)].append(h.minutes)
    return {
        "day": engine.day.isoformat(),
        "weekday": engine.day.weekday(),
        "hours": [{"service": s, "hour": hour, "issued": b["issued"], "called": b["called"],
                   "no_show": b["no_show"], "closed": b["closed"], "transferred": b["transferred"],
                   "wait_min": _percentiles(b["waits"])}
                  for (s, hour), b in sorted(hours.items())],
        "handling": [{"service": s, "counter": c, "count": len(v), "minutes": _percentiles(v)}
                     for (s, c), v in sorted(handling.items())],
        "sold_out": {s: t.isoformat() for s, t in sorted(engine.sold_out_at.items())},
    }
