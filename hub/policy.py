"""Which waiting ticket a counter calls next — shared by the engine and the wait estimator, so the
estimate predicts exactly what `next` will do.

Longest weighted wait first: among the oldest waiting ticket of each service the counter serves, take
the one whose wait × the counter's weight for that service is largest. A pickup weight of 3 makes a
pickup that waited 10 min go before a general concern that waited 25 min (the fast lane), yet every
ticket's score grows while it waits, so nobody starves. Ties go to the counter's first-listed service.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from hub.office import CounterDef


def pick_service(counter: CounterDef, heads: Mapping[str, datetime], now: datetime) -> str | None:
    """The service whose head ticket (arrival time in `heads`) this counter calls next, if any."""
    return pick_by_wait(counter, {s: (now - arrived).total_seconds() for s, arrived in heads.items()})


def pick_by_wait(counter: CounterDef, waited_s: Mapping[str, float]) -> str | None:
    """The same choice from how many seconds each service's head ticket has waited (the wait
    estimate's replay counts time in minutes from now, not in datetimes)."""
    best: tuple[float, int] | None = None
    chosen: str | None = None
    for rank, service in enumerate(counter.services):
        waited = waited_s.get(service)
        if waited is None:
            continue
        score = ((max(waited, 0.0) + 1.0) * counter.weight(service), -rank)  # +1 s: a fresh ticket still counts
        if best is None or score > best:
            best, chosen = score, service
    return chosen
