"""What stays of a business day once its tickets are deleted: aggregates only, no personal data (the
day's tickets go with it, docs/protocol.md §3.9; the history is built from these, §3.11).

Per service and local hour: tickets issued, called, no-shows, closed out, transferred; waits and
handling times as percentiles. A ticket counts under the service it was issued for (what the kiosks
printed), wherever a transfer took it; `transferred` counts those of them sent to another service.
Handling times are aggregated per counter and service, never per clerk.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from datetime import timedelta
from typing import Any

from hub.calibration import todays_calibration
from hub.citizen import rating_counts
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
    by_hour: dict[tuple[str, int], list[float]] = defaultdict(list)  # the wait estimate's prior (hub/priors.py)
    for h in engine.handled:
        if not h.no_show:
            handling[(h.service, h.counter)].append(h.minutes)
            started = (h.finished_at - timedelta(minutes=h.minutes)).astimezone(tz)
            by_hour[(h.service, started.hour)].append(h.minutes)
    return {
        "day": engine.day.isoformat(),
        "weekday": engine.day.weekday(),
        "hours": [{"service": s, "hour": hour, "issued": b["issued"], "called": b["called"],
                   "no_show": b["no_show"], "closed": b["closed"], "transferred": b["transferred"],
                   "wait_min": _percentiles(b["waits"])}
                  for (s, hour), b in sorted(hours.items())],
        "handling": [{"service": s, "counter": c, "count": len(v), "minutes": _percentiles(v)}
                     for (s, c), v in sorted(handling.items())],
        "handling_hours": [{"service": s, "hour": hour, "count": len(v), "mean": round(statistics.fmean(v), 2),
                            **_percentiles(v)} for (s, hour), v in sorted(by_hour.items())],
        "sold_out": {s: t.isoformat() for s, t in sorted(engine.sold_out_at.items())},
        # the told waits against the actual ones (hub/calibration.py)
        "calibration": {s: c.message().to_dict() for s, c in sorted(todays_calibration(engine).items())},
        # the ratings after the visit, per service (never per counter: hub/citizen.py)
        "ratings": {s: r.to_dict() for s, r in sorted(rating_counts(engine).items())},
    }
