"""How well the hub's told waits held today: its own outcomes, checked continuously.

When a ticket is issued the hub records the wait it told (the median and the 10 %–90 % range,
`OfficeEngine.told`, durable like every input); when the ticket is called, the actual wait is known.
Per service and day this gives the figures the ETA benchmark reports (devtools/eta/report.py), from real
tickets instead of simulated ones:

- `median_abs_error_min`: the median of |told − actual|;
- `bias_min`: the mean of told − actual (negative: people are told too little);
- `called_before_share`: of the tickets told `TOLD_MIN` minutes or more, the share called before the
  time told — the told wait is a median, so about half; far above, people are told too much and come
  back late, far below, they wait longer than they planned;
- `late_share`: the share told more than `LATE_MIN` minutes too much (they come back too late);
- `below_range_share`: the share called before the low end of the range told (about 10 % if the range
  is honest: the "your turn is near" of issue 15 leans on that end).

The hub publishes today's figures with `queue` (docs/protocol.md), the web exports them on /metrics,
and the day's summary keeps them (`wartemarke-hub stats --calibration`). Pure.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable
from dataclasses import dataclass

from hub.engine import OfficeEngine, ToldWait
from protocol.messages import WaitCalibration

TOLD_MIN = 5.0
LATE_MIN = 10.0


@dataclass(frozen=True)
class Calibration:
    """One service's told waits against its actual waits."""

    called: int  # tickets called with a told wait on record
    median_abs_error_min: float | None
    bias_min: float | None
    called_before_share: float | None  # among those told at least TOLD_MIN
    late_share: float | None
    below_range_share: float | None

    def message(self) -> WaitCalibration:
        """As published with `queue` (rounded: minutes to 0.1, shares to 0.001)."""
        def r(x: float | None, digits: int) -> float | None:
            return None if x is None else round(x, digits)

        return WaitCalibration(self.called, r(self.median_abs_error_min, 1), r(self.bias_min, 1),
                               r(self.called_before_share, 3), r(self.late_share, 3), r(self.below_range_share, 3))


def calibration(outcomes: Iterable[tuple[ToldWait, float]]) -> Calibration:
    """The figures of (told, actual wait in minutes) pairs."""
    pairs = list(outcomes)
    if not pairs:
        return Calibration(0, None, None, None, None, None)
    errors = [told.wait_min - actual for told, actual in pairs]
    long = [(told, actual) for told, actual in pairs if told.wait_min >= TOLD_MIN]
    return Calibration(
        called=len(pairs),
        median_abs_error_min=statistics.median(abs(e) for e in errors),
        bias_min=statistics.fmean(errors),
        called_before_share=sum(actual < told.wait_min for told, actual in long) / len(long) if long else None,
        late_share=sum(e > LATE_MIN for e in errors) / len(errors),
        below_range_share=sum(actual < told.low_min for told, actual in long) / len(long) if long else None,
    )


def todays_calibration(engine: OfficeEngine) -> dict[str, Calibration]:
    """Per service of the office: today's called tickets against what they were told at issue."""
    outcomes: dict[str, list[tuple[ToldWait, float]]] = {s.id: [] for s in engine.office.services}
    for ticket_id, told in engine.told.items():
        ticket = engine.tickets.get(ticket_id)
        if ticket is None or ticket.called_at is None or ticket.postponed:  # moved back by choice: no check
            continue
        actual = (ticket.called_at - ticket.issued_at).total_seconds() / 60
        outcomes.setdefault(told.service, []).append((told, actual))
    return {service: calibration(pairs) for service, pairs in outcomes.items()}
