"""The `eta` benchmark's figures: errors of our estimator and of the two formulas, per set of days,
service and scenario, and the goal lines of issues 3 and 14.

Errors are predicted − actual wait in minutes. *late >10* is the share of tickets told a wait more
than 10 min longer than the real one (people who come back too late). The estimators:

- **ours**: the hub's median wait (hub/estimate.py) for the ticket, right after it was issued;
- **ZMS**: the Munich/Berlin formula, people ahead (every ticket waiting in the office) × the day's
  true mean handling time (all services) ÷ clerks logged in;
- **ZMS/svc**: the same formula per service queue, the fairer one: people ahead in the same service ×
  that service's true mean ÷ clerks logged in that serve it (when none: the counters that serve it).

The goal of issue 14, per set of days: for every service with real waiting — its tickets that were
told (by any of the three) or actually waited at least 10 min, when there are at least `MIN_GOAL_N` of
them — our median absolute error at most 0.70× each formula's and no more late-returners than each
formula; and over all tickets told 5 min or more, between 45 % and 55 % called before the time told.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from devtools.eta.scenarios import Scenario
from devtools.stats import Row, median, percentile

LATE_MIN = 10.0  # told a wait longer than the real one by more than this: comes back too late
WAITED_MIN = 10.0  # a sub-table without the many tickets called at once (all estimators say 0 for those)
REAL_WAIT_MIN = 10.0  # "real waiting": told or waited at least this long
MIN_GOAL_N = 20  # a service's real-waiting tickets needed for its goal line
GOAL_RATIO = 0.70  # at least 30 % lower median absolute error than the baseline
EARLY_GOAL = (0.45, 0.55)  # share called before the time told (a median forecast: about half)
TOLD_MIN = 5.0  # the called-before-told share counts tickets told at least this long


@dataclass
class Outcome:
    """One issued ticket: what the estimators predicted at issue and what happened."""

    scenario: str
    id: str
    service: str
    issued: float  # minute since opening
    ours: float  # predicted wait, minutes (a "not before closing" forecast counts as the time to closing)
    ours_none: bool
    baseline: float  # ZMS, one queue per office
    ahead: int  # tickets waiting in the office when it was issued (the baseline's people ahead)
    service_baseline: float = 0.0  # ZMS per service queue
    low: float | None = None  # our 10 % quantile of the wait (None: the estimator gives none)
    high: float | None = None  # our 90 % quantile
    actual: float | None = None  # None: closed out unserved
    no_show: bool = False

    def told(self, who: str) -> float:
        return {"ours": self.ours, "zms": self.baseline, "svc": self.service_baseline}[who]

    @property
    def real_waiting(self) -> bool:
        values = (self.ours, self.baseline, self.service_baseline, self.actual or 0.0)
        return max(values) >= REAL_WAIT_MIN


@dataclass
class DayResult:
    scenario: Scenario
    outcomes: list[Outcome] = field(default_factory=list)
    turned_away: dict[str, int] = field(default_factory=dict)
    not_issuing: dict[str, list[tuple[float, float | None]]] = field(default_factory=dict)  # service → spans
    forecast_calls: int = 0
    forecast_s: float = 0.0
    max_waiting: int = 0
    summary: dict[str, Any] = field(default_factory=dict)  # the day's statistics, as a hub keeps them

    @property
    def closed_unserved(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.actual is None]

    @property
    def served(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.actual is not None]


@dataclass(frozen=True)
class Errors:
    n: int
    median_abs: float
    p90_abs: float
    bias: float  # mean of predicted − actual
    late_share: float  # predicted − actual > LATE_MIN

    @classmethod
    def of(cls, pairs: Sequence[tuple[float, float]]) -> Errors:
        errors = [p - a for p, a in pairs]
        absolute = [abs(e) for e in errors]
        return cls(len(errors), median(absolute), percentile(absolute, 90),
                   math.fsum(errors) / len(errors) if errors else math.nan,
                   sum(e > LATE_MIN for e in errors) / len(errors) if errors else math.nan)


@dataclass(frozen=True)
class Comparison:
    ours: Errors
    baseline: Errors  # ZMS
    service_baseline: Errors  # ZMS per service queue

    @classmethod
    def of(cls, outcomes: Sequence[Outcome]) -> Comparison:
        served = [o for o in outcomes if o.actual is not None]

        def errors(who: str) -> Errors:
            return Errors.of([(o.told(who), o.actual) for o in served if o.actual is not None])

        return cls(errors("ours"), errors("zms"), errors("svc"))

    @property
    def ratio(self) -> float:
        return _divide(self.ours.median_abs, self.baseline.median_abs)

    @property
    def service_ratio(self) -> float:
        return _divide(self.ours.median_abs, self.service_baseline.median_abs)

    @property
    def goal_met(self) -> bool:
        """Issue 3's goal against ZMS."""
        return self.ratio <= GOAL_RATIO and self.ours.late_share <= self.baseline.late_share

    @property
    def goal_met_both(self) -> bool:
        """Issue 14's goal for a service: against both formulas."""
        return (self.goal_met and self.service_ratio <= GOAL_RATIO
                and self.ours.late_share <= self.service_baseline.late_share)


def _divide(a: float, b: float) -> float:
    return a / b if b and not math.isnan(b) else math.nan


def told_early_share(outcomes: Sequence[Outcome], who: str = "ours") -> float:
    """Share of called tickets told a wait of 5+ min that were called before the told time (a median
    forecast should say about half)."""
    told = [(o.told(who), o.actual) for o in outcomes if o.actual is not None]
    told = [(p, a) for p, a in told if a is not None and p >= TOLD_MIN]
    return sum(a < p for p, a in told) / len(told) if told else math.nan


def quantile_shares(outcomes: Sequence[Outcome]) -> tuple[float, float, float]:
    """Of the called tickets with a range told (and a wait of 5+ min told): the shares called before its
    10 % quantile, before the median and after its 90 % quantile (ideal: 10 %, 50 %, 10 %)."""
    told = [o for o in outcomes if o.actual is not None and o.low is not None and o.high is not None
            and o.ours >= TOLD_MIN]
    if not told:
        return math.nan, math.nan, math.nan
    n = len(told)
    return (sum(o.actual < o.low for o in told if o.actual is not None and o.low is not None) / n,
            sum(o.actual < o.ours for o in told if o.actual is not None) / n,
            sum(o.actual > o.high for o in told if o.actual is not None and o.high is not None) / n)


def _pct(x: float) -> str:
    return "-" if math.isnan(x) else f"{100 * x:.1f} %"


def _num(x: float, fmt: str = ".1f") -> str:
    return "-" if math.isnan(x) else format(x, fmt)


COLUMNS = ["", "n", "ours median abs", "p90 abs", "bias", "late >10", "ZMS median abs", "bias", "late >10",
           "ZMS/svc median abs", "bias", "late >10", "ours/ZMS", "ours/ZMS-svc"]


def _row(what: str, c: Comparison) -> list[str]:
    o, z, s = c.ours, c.baseline, c.service_baseline
    return [what, str(o.n), _num(o.median_abs), _num(o.p90_abs), _num(o.bias, "+.1f"), _pct(o.late_share),
            _num(z.median_abs), _num(z.bias, "+.1f"), _pct(z.late_share),
            _num(s.median_abs), _num(s.bias, "+.1f"), _pct(s.late_share), _num(c.ratio, ".2f"),
            _num(c.service_ratio, ".2f")]


GOAL_COLUMNS = ["service (real waiting)", "n", "ours median abs", "ZMS", "ZMS/svc", "ours/ZMS", "ours/ZMS-svc",
                "late ours", "late ZMS", "late ZMS/svc", "bias ours", "called before told", "goal"]


def table(columns: list[str], rows: list[list[str]], markdown: bool) -> str:
    cells = [columns, *rows]
    if markdown:
        out = ["| " + " | ".join(cells[0]) + " |", "|" + "|".join("---" for _ in columns) + "|"]
        out += ["| " + " | ".join([("↳ " + r[0].strip()) if r[0].startswith("  ") else r[0], *r[1:]]) + " |"
                for r in rows]
        return "\n".join(out)
    widths = [max(len(r[i]) for r in cells) for i in range(len(columns))]
    lines = ["  ".join(v.rjust(w) if i else v.ljust(w) for i, (v, w) in enumerate(zip(r, widths, strict=True)))
             for r in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


@dataclass
class Report:
    title: str
    days: list[DayResult]
    seconds: float

    @property
    def outcomes(self) -> list[Outcome]:
        return [o for d in self.days for o in d.outcomes]

    @property
    def overall(self) -> Comparison:
        return Comparison.of(self.outcomes)

    def service_ids(self) -> list[str]:
        seen: dict[str, None] = {}
        for d in self.days:
            seen.update(dict.fromkeys(d.scenario.services))
        return list(seen)

    def real_waiting(self, service: str) -> list[Outcome]:
        return [o for o in self.outcomes if o.service == service and o.actual is not None and o.real_waiting]

    def goal_services(self) -> list[str]:
        return [s for s in self.service_ids() if len(self.real_waiting(s)) >= MIN_GOAL_N]

    @property
    def early_share(self) -> float:
        return told_early_share(self.outcomes)

    @property
    def goal_met(self) -> bool:
        """Issue 14's goal lines, all of them."""
        early = self.early_share
        return (all(Comparison.of(self.real_waiting(s)).goal_met_both for s in self.goal_services())
                and EARLY_GOAL[0] <= early <= EARLY_GOAL[1])

    def summary_rows(self) -> list[list[str]]:
        rows = [_row("all tickets", self.overall)]
        for sid in self.service_ids():
            rows.append(_row(f"  service {sid}", Comparison.of([o for o in self.outcomes if o.service == sid])))
        waited = [o for o in self.outcomes if o.actual is not None and o.actual >= WAITED_MIN]
        rows.append(_row(f"  actually waited ≥ {WAITED_MIN:.0f} min", Comparison.of(waited)))
        over = [o for d in self.days if d.scenario.overloaded for o in d.outcomes]
        if over:
            normal = [o for d in self.days if not d.scenario.overloaded for o in d.outcomes]
            rows.append(_row("  not overloaded days", Comparison.of(normal)))
            rows.append(_row("  overloaded days", Comparison.of(over)))
        return rows

    def goal_rows(self) -> list[list[str]]:
        rows = []
        for sid in self.service_ids():
            outcomes = self.real_waiting(sid)
            c = Comparison.of(outcomes)
            verdict = "-" if sid not in self.goal_services() else ("ok" if c.goal_met_both else "MISSED")
            rows.append([sid, str(c.ours.n), _num(c.ours.median_abs), _num(c.baseline.median_abs),
                         _num(c.service_baseline.median_abs), _num(c.ratio, ".2f"), _num(c.service_ratio, ".2f"),
                         _pct(c.ours.late_share), _pct(c.baseline.late_share), _pct(c.service_baseline.late_share),
                         _num(c.ours.bias, "+.1f"), _pct(told_early_share(outcomes)), verdict])
        return rows

    def scenario_rows(self) -> list[list[str]]:
        return [_row(d.scenario.name, Comparison.of(d.outcomes)) for d in self.days]

    def availability_lines(self) -> list[str]:
        lines = []
        for d in self.days:
            away = sum(d.turned_away.values())
            spans = []
            for sid, found in d.not_issuing.items():
                for a, b in found:
                    spans.append(f"{sid} {_clock(a)}–{'close' if b is None else _clock(b)}")
            no_shows = sum(o.no_show for o in d.outcomes)
            flag = " [overloaded]" if d.scenario.overloaded else ""
            lines.append(f"{d.scenario.name}{flag}: issued {len(d.outcomes)}, turned away {away}"
                         + (f" ({', '.join(f'{k} {v}' for k, v in sorted(d.turned_away.items()))})" if away else "")
                         + f", no-shows {no_shows}, closed out unserved {len(d.closed_unserved)}, most waiting "
                         f"{d.max_waiting}" + (f"; not issuing {'; '.join(spans)}" if spans else ""))
        return lines

    def goal_lines(self) -> list[str]:
        early = self.early_share
        lines = []
        for sid in self.goal_services():
            c = Comparison.of(self.real_waiting(sid))
            lines.append(f"goal, service {sid} (real waiting, n {c.ours.n}): median |error| {c.ratio:.2f}× ZMS, "
                         f"{c.service_ratio:.2f}× ZMS/svc (≤ {GOAL_RATIO:.2f}); late-returners "
                         f"{_pct(c.ours.late_share)} vs {_pct(c.baseline.late_share)} / "
                         f"{_pct(c.service_baseline.late_share)} → " + ("ok" if c.goal_met_both else "MISSED"))
        verdict = "ok" if EARLY_GOAL[0] <= early <= EARLY_GOAL[1] else "MISSED"
        lines.append(f"goal, called before the told time (told ≥ {TOLD_MIN:.0f} min): ours {_pct(early)} "
                     f"(goal {100 * EARLY_GOAL[0]:.0f}–{100 * EARLY_GOAL[1]:.0f} %) → {verdict}; ZMS "
                     f"{_pct(told_early_share(self.outcomes, 'zms'))}, ZMS/svc "
                     f"{_pct(told_early_share(self.outcomes, 'svc'))}")
        low, mid, high = quantile_shares(self.outcomes)
        if not math.isnan(low):
            lines.append(f"range told (10 %–90 % quantiles): called before its low end {_pct(low)}, before the "
                         f"median {_pct(mid)}, after its high end {_pct(high)} (ideal 10 %, 50 %, 10 %)")
        return lines

    def goal_text(self, markdown: bool = False) -> str:
        """Only the per-service table of real waiting and the goal lines."""
        return "\n".join([f"ETA, {self.title}: {len(self.days)} days, {len(self.outcomes)} tickets",
                          table(GOAL_COLUMNS, self.goal_rows(), markdown), "", *self.goal_lines()])

    def text(self, markdown: bool = False) -> str:
        calls = sum(d.forecast_calls for d in self.days)
        per_call = sum(d.forecast_s for d in self.days) / calls if calls else math.nan
        outcomes = self.outcomes
        out = [
            f"ETA, {self.title}: {len(self.days)} simulated office days, {len(outcomes)} tickets issued, "
            f"{sum(o.actual is not None for o in outcomes)} called ({sum(o.no_show for o in outcomes)} of them "
            f"no-shows), {sum(len(d.closed_unserved) for d in self.days)} closed out unserved, "
            f"{sum(sum(d.turned_away.values()) for d in self.days)} turned away (not issuing)",
            "errors in minutes, predicted at issue − actual wait (abs: absolute error; late >10: share told a "
            "wait more than 10 min longer than the real one); ZMS = people ahead × the day's true mean handling "
            "÷ clerks logged in; ZMS/svc = the same per service queue",
            "",
            table(COLUMNS, self.summary_rows(), markdown),
            "",
            f"per service, tickets with real waiting (told by any estimator or waited ≥ {REAL_WAIT_MIN:.0f} min; "
            f"goal for services with ≥ {MIN_GOAL_N}):",
            table(GOAL_COLUMNS, self.goal_rows(), markdown),
            "",
            *self.goal_lines(),
            "",
            "per scenario:",
            table(COLUMNS, self.scenario_rows(), markdown),
            "",
            "availability (issuing) per day:",
            *(("* " if markdown else "  ") + line for line in self.availability_lines()),
            "",
            f"forecast(): {calls} calls, {per_call * 1000:.2f} ms per call on average; "
            f"{sum(o.ours_none for o in outcomes)} tickets were forecast 'not before closing'; replay took "
            f"{self.seconds:.1f} s",
        ]
        return "\n".join(out)


def _clock(minute: float) -> str:
    m = round(8 * 60 + minute)
    return f"{m // 60:02d}:{m % 60:02d}"


def bench_rows(report: Report) -> list[Row]:
    """The `eta` lines of `make bench`'s summary table for one set of days."""
    c = report.overall
    tag = f"ETA {report.title}"
    rows = [
        Row(f"{tag}: median |error|, all {c.ours.n} called tickets", f"{c.ours.median_abs:.1f} min",
            f"ZMS {c.baseline.median_abs:.1f} min", f"{c.ratio:.2f}×", f"≤ {GOAL_RATIO:.2f}×",
            c.ratio <= GOAL_RATIO),
        Row("  told > 10 min too long (late-returners)", f"{100 * c.ours.late_share:.1f} %",
            f"ZMS {100 * c.baseline.late_share:.1f} %", "", "≤ ZMS", c.ours.late_share <= c.baseline.late_share),
        Row("  p90 |error| / bias (predicted − actual)", f"{c.ours.p90_abs:.1f} / {c.ours.bias:+.1f} min",
            f"ZMS {c.baseline.p90_abs:.1f} / {c.baseline.bias:+.1f} min"),
    ]
    for sid in report.service_ids():
        s = Comparison.of(report.real_waiting(sid))
        goal = sid in report.goal_services()
        rows.append(Row(f"  service {sid}, real waiting (n {s.ours.n}): median |error| / late",
                        f"{_num(s.ours.median_abs)} min / {_pct(s.ours.late_share)}",
                        f"ZMS {_num(s.baseline.median_abs)} / {_pct(s.baseline.late_share)}; ZMS/svc "
                        f"{_num(s.service_baseline.median_abs)} / {_pct(s.service_baseline.late_share)}",
                        f"{_num(s.ratio, '.2f')}× / {_num(s.service_ratio, '.2f')}×",
                        "≤ 0.70×, late ≤ both" if goal else "", s.goal_met_both if goal else None))
    early = report.early_share
    rows += [
        Row("  called before the told time (told ≥ 5 min)", _pct(early),
            f"ZMS {_pct(told_early_share(report.outcomes, 'zms'))}", "", "45–55 %",
            EARLY_GOAL[0] <= early <= EARLY_GOAL[1]),
        Row("  issued / turned away / closed out unserved",
            f"{len(report.outcomes)} / {sum(sum(d.turned_away.values()) for d in report.days)} / "
            f"{sum(len(d.closed_unserved) for d in report.days)}"),
    ]
    return rows
