"""The office's own history as the wait estimate's prior: handling times by weekday, hour and service.

Before today's cases say anything, the estimate (hub/handling.py) leans on a prior. The configured
`prior_handling_min` is one number for all days and hours; once the hub has kept a few days'
aggregates (hub/statistics.py, `handling_hours`: count, mean, median and 90th percentile per service
and hour the case started), the office's own recent weeks are the better guess — Monday mornings are
not Thursday evenings. Only aggregates are used, never per-ticket data.

For a weekday, hour and service the prior is that weekday's whole day over the last `WEEKS` weeks (with
fewer than `MIN_CASES` cases: every weekday's), times the hour's own factor — its mean against the
whole day's — shrunk towards 1 by its number of cases n: n / (n + `HOUR_SHRINK`) of it counts. An
hour's cases vary by some 70 % among themselves, hours differ from the day by some 10 %, so an hour's
own mean says more than the day's only from about (0.7 / 0.1)² ≈ 50 cases on. Unshrunk, the few cases
of one hour on two past days moved the prior by more than the hours really differ: on the benchmark's
days with history the median error of general concerns was 6.4 / 7.0 min instead of 6.1 / 6.5
(docs/benchmarks.md). With no cases at all there is none and the configured prior stands. The spread of
the prior's pseudo-observations follows the days' median and 90th percentile (a lognormal's
σ = ln(p90/p50) / 1.28), within bounds.

Pure: the hub reads the summaries from its store and passes the result into `forecast()`.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from typing import Any

from hub.handling import HISTORY_WEIGHT, PRIOR_SIGMA, HandlingPrior

WEEKS = 8
MIN_CASES = 20
HOUR_SHRINK = 50.0  # an hour's own factor counts half at 50 cases (module docstring)
SIGMA_BOUNDS = (0.2, 1.2)
Z90 = 1.2815515655446004


@dataclass
class _Cell:
    count: int = 0
    total: float = 0.0  # Σ count × mean
    log_spread: float = 0.0  # Σ count × ln(p90 / p50)
    spread_count: int = 0

    def add(self, row: dict[str, Any]) -> None:
        count, mean = row.get("count"), row.get("mean")
        if not isinstance(count, int) or count <= 0 or not isinstance(mean, int | float) or mean <= 0:
            return
        self.count += count
        self.total += count * float(mean)
        p50, p90 = row.get("p50"), row.get("p90")
        if isinstance(p50, int | float) and isinstance(p90, int | float) and p90 >= p50 > 0:
            self.log_spread += count * math.log(p90 / p50)
            self.spread_count += count

    def prior(self) -> HandlingPrior:
        sigma = self.log_spread / self.spread_count / Z90 if self.spread_count else PRIOR_SIGMA
        return HandlingPrior(self.total / self.count, min(max(sigma, SIGMA_BOUNDS[0]), SIGMA_BOUNDS[1]),
                             HISTORY_WEIGHT)


@dataclass(frozen=True)
class OfficePriors:
    """Handling-time priors from the office's history (see the module docstring)."""

    cells: dict[tuple[int, int, str], _Cell]  # (weekday, hour, service)
    hours: dict[tuple[int, str], _Cell]  # (hour, service), every weekday
    days: dict[tuple[int, str], _Cell]  # (weekday, service), the whole day
    services: dict[str, _Cell]  # every weekday, the whole day

    def handling(self, weekday: int, hour: int, service: str) -> HandlingPrior | None:
        """The whole day's prior of that weekday (else of every weekday), times the hour's own factor
        shrunk towards 1 (module docstring); None with fewer than `MIN_CASES` cases."""
        day, hour_cell = self.days.get((weekday, service)), self.cells.get((weekday, hour, service))
        if day is None or day.count < MIN_CASES:
            day, hour_cell = self.services.get(service), self.hours.get((hour, service))
            if day is None or day.count < MIN_CASES:
                return None
        base = day.prior()
        if hour_cell is None or hour_cell.count == 0:
            return base
        own = hour_cell.count / (hour_cell.count + HOUR_SHRINK)
        factor = 1.0 + own * (hour_cell.total / hour_cell.count / base.mean - 1.0)
        return HandlingPrior(base.mean * factor, base.sigma, base.weight)


def priors_from_history(summaries: dict[date, dict[str, Any]], today: date) -> OfficePriors:
    """The priors from the daily summaries of the last `WEEKS` weeks before `today`."""
    cells: dict[tuple[int, int, str], _Cell] = defaultdict(_Cell)
    hours: dict[tuple[int, str], _Cell] = defaultdict(_Cell)
    days: dict[tuple[int, str], _Cell] = defaultdict(_Cell)
    services: dict[str, _Cell] = defaultdict(_Cell)
    for day, summary in summaries.items():
        if day >= today or (today - day).days > WEEKS * 7:
            continue
        for row in summary.get("handling_hours", []):
            service, hour = row.get("service"), row.get("hour")
            if not isinstance(service, str) or not isinstance(hour, int):
                continue
            for cell in (cells[(day.weekday(), hour, service)], hours[(hour, service)],
                         days[(day.weekday(), service)], services[service]):
                cell.add(row)
    return OfficePriors(dict(cells), dict(hours), dict(days), dict(services))
