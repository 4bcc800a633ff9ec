"""The `eta` benchmark: replay every committed office day (bench/eta/scenarios.py) through a real
`OfficeEngine` and compare, for every ticket, the wait predicted at issue with the actual wait —
for our estimator (hub/estimate.py) and, in the same run on the same tickets, for the estimator the
Munich/Berlin system (ZMS) uses: people ahead × mean handling time ÷ clerks logged in.

    .venv/bin/python -m bench.eta.evaluate [--markdown] [--scenario NAME ...]

The simulation is discrete-event; the engine only ever sees what a hub would see (tickets issued,
clerks' commands, each with its time):

- an arrival: the simulated kiosk first asks `availability()` (as the real kiosk honours `issuing`);
  when the service is not issuing, the person is turned away and counted. Otherwise the ticket is
  ingested (`TicketIssued`), and right after that the wait predicted for *this* ticket is recorded
  (`expected_wait_min(forecast(engine, now), ticket, now)`), as is the baseline's;
- a counter's open interval starts: the clerk logs in (`resume`) and calls (`next`);
- an interval ends: an idle clerk logs out (`pause`) at once; a busy one finishes the current ticket
  first and pauses then (a clerk does not walk away mid-service); a clerk who overruns into the next
  interval simply carries on;
- a called ticket frees its counter after its true handling minutes (`done`) or, for a person who
  left, after the scenario's no-show cost (`no_show`); a free counter in an open interval calls
  `next`; counters idle with nobody waiting try again when the next ticket arrives;
- closing time: `close_out` (tickets still waiting are closed out unserved — reported separately,
  not in the error statistics); counters finish the tickets they are serving.

Every 5 simulated minutes (the hub's tick, coarser) and at every arrival the benchmark records
`availability()` per service, so the report can say when a service stopped and resumed issuing.

Actual wait = called_at − issued_at. No-shows are called too, so they are compared like everyone
else (the prediction is when the number will be called).
"""

from __future__ import annotations

import argparse
import heapq
import math
import sys
import time as clock
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from bench.eta.scenarios import Arrival, Scenario, all_scenarios, base_name, is_overloaded
from bench.stats import Row, median, percentile
from hub.engine import OfficeEngine, TicketState
from hub.estimate import Forecast, availability, expected_wait_min, forecast
from hub.office import CounterDef, Interval, OfficeDef, ServiceDef
from protocol.messages import TicketIssued

ZONE = ZoneInfo("Europe/Berlin")
OPENING = time(8, 0)
#: Fixed business days (no DST change nearby): a Monday for the Monday scenario, a Thursday for the
#: long Thursday (open until 18:00 only then), a Tuesday for every other 8-hour day.
MONDAY, TUESDAY, THURSDAY = date(2025, 3, 10), date(2025, 3, 11), date(2025, 3, 13)
FAST_LANE_WEIGHT = 3.0  # counters serving A and P favour P like deploy/examples/hub.toml
TICK_MIN = 5.0
LATE_MIN = 10.0  # told a wait longer than the real one by more than this: comes back too late
WAITED_MIN = 10.0  # a sub-table without the many tickets called at once (both estimators say 0 for those)
GOAL_RATIO = 0.70  # at least 30 % lower median absolute error than the baseline
TOKEN = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"  # 26 characters of the token alphabet; the engine only hashes it
NAMES = {"A": ("Allgemeine Anliegen", "General concerns"), "P": ("Abholung Ausweis / Pass", "ID card pickup"),
         "K": ("Kfz-Angelegenheiten", "Vehicle matters")}


def business_day(s: Scenario) -> date:
    if s.open_minutes > 8 * 60:
        return THURSDAY
    return MONDAY if base_name(s.name).startswith("monday") else TUESDAY


def at(day: date, minute: float) -> datetime:
    """Minute since opening → aware local datetime (the one conversion every part of the replay uses)."""
    return datetime.combine(day, OPENING, ZONE) + timedelta(minutes=minute)


def office_for(s: Scenario) -> tuple[OfficeDef, date]:
    """The office a hub config would describe for this scenario (priors, counters, their shifts)."""
    day = business_day(s)

    def clock_time(minute: float) -> time:
        return at(day, minute).time()

    def intervals(spans: Sequence[tuple[float, float]]) -> tuple[Interval, ...]:
        return tuple((clock_time(a), clock_time(b)) for a, b in spans)

    services = tuple(ServiceDef(sid, *NAMES.get(sid, (sid, sid)), prior_handling_min=prior)
                     for sid, prior in s.services.items())
    counters = tuple(
        CounterDef(c.id, c.id.replace("platz-", "Platz "), c.services,
                   weights={"P": FAST_LANE_WEIGHT} if {"A", "P"} <= set(c.services) else {},
                   hours={day.weekday(): intervals(c.open_intervals)})
        for c in s.counters)
    office = OfficeDef(id="sim-office", name=f"Simulated {s.name}", timezone=ZONE, day_reset=time(4, 0),
                       hours={day.weekday(): intervals([(0.0, s.open_minutes)])}, services=services,
                       counters=counters, no_show_cost_min=s.no_show_cost)
    return office, day


@dataclass
class Outcome:
    """One issued ticket: what both estimators predicted at issue and what happened."""

    scenario: str
    id: str
    service: str
    issued: float  # minute since opening
    ours: float  # predicted wait, minutes (a "not before closing" forecast counts as the time to closing)
    ours_none: bool
    baseline: float
    ahead: int  # tickets waiting in the office when it was issued (the baseline's people ahead)
    actual: float | None = None  # None: closed out unserved
    no_show: bool = False


@dataclass
class DayResult:
    scenario: Scenario
    outcomes: list[Outcome] = field(default_factory=list)
    turned_away: dict[str, int] = field(default_factory=dict)
    not_issuing: dict[str, list[tuple[float, float | None]]] = field(default_factory=dict)  # service → spans
    forecast_calls: int = 0
    forecast_s: float = 0.0
    max_waiting: int = 0

    @property
    def closed_unserved(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.actual is None]

    @property
    def served(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.actual is not None]


# Event kinds in the order they are applied at the same minute.
FINISH, SHIFT_END, SHIFT_START, CLOSE, TICK, ARRIVAL = range(6)


@dataclass
class _Desk:
    """The simulator's view of one counter: is a clerk scheduled now, and what are they doing."""

    id: str
    on_shift: bool = False
    busy: str | None = None  # ticket id being served
    logged_in: bool = False


class Replay:
    """One scenario day driven through a real engine."""

    def __init__(self, s: Scenario) -> None:
        self.s = s
        self.office, self.day = office_for(s)
        self.engine = OfficeEngine(self.office, self.day)
        self.result = DayResult(s)
        self.arrivals = {f"sim-{a.id}": a for a in s.arrivals}
        self.outcomes: dict[str, Outcome] = {}
        self.desks = {c.id: _Desk(c.id) for c in s.counters}
        self.events: list[tuple[float, int, int, str]] = []
        self.seq = 0
        self.requests = 0
        served = [a.handling for a in s.arrivals if not a.no_show]
        self.true_mean = math.fsum(served) / len(served)  # all services: ZMS has one queue per office
        self.issuing = {sid: True for sid in s.services}
        for c in s.counters:
            for begin, end in c.open_intervals:
                self._push(begin, SHIFT_START, c.id)
                self._push(end, SHIFT_END, c.id)
        for arrival in s.arrivals:
            self._push(arrival.t, ARRIVAL, f"sim-{arrival.id}")
        minute = 0.0
        while minute < s.open_minutes:
            self._push(minute, TICK, "")
            minute += TICK_MIN
        self._push(s.open_minutes, CLOSE, "")

    def _push(self, minute: float, kind: int, ref: str) -> None:
        self.seq += 1
        heapq.heappush(self.events, (minute, kind, self.seq, ref))

    def _command(self, counter: str, op: str, now: datetime) -> bool:
        self.requests += 1
        return self.engine.counter_command(counter, op, {}, f"req-{self.requests}", now).ok

    def _forecast(self, now: datetime) -> Forecast:
        started = clock.perf_counter()
        fc = forecast(self.engine, now)
        self.result.forecast_s += clock.perf_counter() - started
        self.result.forecast_calls += 1
        return fc

    def _check_availability(self, minute: float, now: datetime) -> dict[str, bool]:
        fc = self._forecast(now)
        verdict = {sid: ok for sid, (ok, _) in availability(self.engine, fc, now).items()}
        if minute < self.s.issue_until:  # record only while the scenario's kiosks would issue
            for sid, ok in verdict.items():
                spans = self.result.not_issuing.setdefault(sid, [])
                if not ok and self.issuing[sid]:
                    spans.append((minute, None))
                elif ok and not self.issuing[sid] and spans:
                    spans[-1] = (spans[-1][0], minute)
                self.issuing[sid] = ok
        return verdict

    def _call(self, desk: _Desk, minute: float, now: datetime) -> None:
        if not self._command(desk.id, "next", now):
            return
        ticket_id = self.engine.counters[desk.id].current
        assert ticket_id is not None
        desk.busy = ticket_id
        ticket = self.engine.tickets[ticket_id]
        arrival: Arrival = self.arrivals[ticket_id]
        outcome = self.outcomes[ticket_id]
        assert ticket.called_at is not None
        outcome.actual = (ticket.called_at - ticket.issued_at).total_seconds() / 60
        outcome.no_show = arrival.no_show
        self._push(minute + (self.s.no_show_cost if arrival.no_show else arrival.handling), FINISH, desk.id)

    def run(self, until: float = math.inf) -> DayResult:
        """Replay the day (or its events up to minute `until`, to look at the state then)."""
        while self.events and self.events[0][0] <= until:
            minute, kind, _, ref = heapq.heappop(self.events)
            self.step(minute, kind, ref)
        if not self.events:
            assert all(t.state != TicketState.WAITING for t in self.engine.tickets.values())
        self.result.outcomes = list(self.outcomes.values())
        return self.result

    def step(self, minute: float, kind: int, ref: str) -> None:
        now = at(self.day, minute)
        if kind == ARRIVAL:
            self._arrive(self.arrivals[ref], ref, minute, now)
        elif kind == TICK:
            self._check_availability(minute, now)
        elif kind == CLOSE:
            for ticket in self.engine.close_out(now):
                self.outcomes[ticket.id].actual = None
        else:
            desk = self.desks[ref]
            if kind == SHIFT_START:
                desk.on_shift = True
                if desk.busy is None:
                    self._command(desk.id, "resume", now)
                    desk.logged_in = True
                    self._call(desk, minute, now)
            elif kind == SHIFT_END:
                desk.on_shift = False
                if desk.busy is None:
                    self._command(desk.id, "pause", now)
                    desk.logged_in = False
            else:  # FINISH
                ticket_id = desk.busy
                assert ticket_id is not None
                self._command(desk.id, "no_show" if self.arrivals[ticket_id].no_show else "done", now)
                desk.busy = None
                if desk.on_shift and not self.engine.closed_out:
                    self._call(desk, minute, now)
                else:
                    self._command(desk.id, "pause", now)
                    desk.logged_in = False

    def _arrive(self, arrival: Arrival, ticket_id: str, minute: float, now: datetime) -> None:
        if not self._check_availability(minute, now)[arrival.service]:
            self.result.turned_away[arrival.service] = self.result.turned_away.get(arrival.service, 0) + 1
            return
        ahead = len(self.engine.waiting())
        clerks = len(self.engine.present_counters()) or len(self.s.counters)
        number = int(arrival.id[1:])
        event = TicketIssued(id=ticket_id, token=TOKEN, service=arrival.service, number=number,
                             label=arrival.id, issued_at=now, day=self.day, device="sim-kiosk", seq=number)
        assert self.engine.ingest(event, now)
        ticket = self.engine.tickets[ticket_id]
        predicted = expected_wait_min(self._forecast(now), ticket, now)
        to_close = max(self.s.open_minutes - minute, 0.0)
        self.outcomes[ticket_id] = Outcome(
            self.s.name, arrival.id, arrival.service, minute,
            ours=float(predicted) if predicted is not None else to_close, ours_none=predicted is None,
            baseline=ahead * self.true_mean / clerks, ahead=ahead)
        self.result.max_waiting = max(self.result.max_waiting, ahead + 1)
        for desk in self.desks.values():
            if desk.on_shift and desk.busy is None and self.engine.waiting():
                self._call(desk, minute, now)


def replay(s: Scenario) -> DayResult:
    return Replay(s).run()


# --- statistics and report ------------------------------------------------------------------------------


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
    baseline: Errors

    @classmethod
    def of(cls, outcomes: Sequence[Outcome]) -> Comparison:
        served = [o for o in outcomes if o.actual is not None]
        return cls(Errors.of([(o.ours, o.actual) for o in served if o.actual is not None]),
                   Errors.of([(o.baseline, o.actual) for o in served if o.actual is not None]))

    @property
    def ratio(self) -> float:
        return self.ours.median_abs / self.baseline.median_abs if self.baseline.median_abs else math.nan

    @property
    def goal_met(self) -> bool:
        return self.ratio <= GOAL_RATIO and self.ours.late_share <= self.baseline.late_share


def _fmt(e: Errors) -> list[str]:
    return [f"{e.median_abs:.1f}", f"{e.p90_abs:.1f}", f"{e.bias:+.1f}", f"{100 * e.late_share:.1f} %"]


def _ratio(c: Comparison) -> str:
    return f"{c.ratio:.2f}" if not math.isnan(c.ratio) else "-"


COLUMNS = ["", "n", "ours median abs", "p90 abs", "bias", "late >10", "ZMS median abs", "p90 abs", "bias",
           "late >10", "ours/ZMS median"]


def _row(what: str, c: Comparison) -> list[str]:
    return [what, str(c.ours.n), *_fmt(c.ours), *_fmt(c.baseline), _ratio(c)]


def _table(rows: list[list[str]], markdown: bool) -> str:
    cells = [COLUMNS, *rows]
    if markdown:
        out = ["| " + " | ".join(cells[0]) + " |", "|" + "|".join("---" for _ in COLUMNS) + "|"]
        out += ["| " + " | ".join([("↳ " + r[0].strip()) if r[0].startswith("  ") else r[0], *r[1:]]) + " |"
                for r in rows]
        return "\n".join(out)
    widths = [max(len(r[i]) for r in cells) for i in range(len(COLUMNS))]
    lines = ["  ".join(v.rjust(w) if i else v.ljust(w) for i, (v, w) in enumerate(zip(r, widths, strict=True)))
             for r in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


@dataclass
class Report:
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

    def summary_rows(self) -> list[list[str]]:
        rows = [_row("all tickets", self.overall)]
        for sid in self.service_ids():
            rows.append(_row(f"  service {sid}", Comparison.of([o for o in self.outcomes if o.service == sid])))
        waited = [o for o in self.outcomes if o.actual is not None and o.actual >= WAITED_MIN]
        rows.append(_row(f"  actually waited ≥ {WAITED_MIN:.0f} min", Comparison.of(waited)))
        normal = [o for d in self.days if not is_overloaded(d.scenario.name) for o in d.outcomes]
        rows.append(_row("  not overloaded days", Comparison.of(normal)))
        over = [o for d in self.days if is_overloaded(d.scenario.name) for o in d.outcomes]
        rows.append(_row("  overloaded days", Comparison.of(over)))
        return rows

    def scenario_rows(self) -> list[list[str]]:
        return [_row(d.scenario.name, Comparison.of(d.outcomes)) for d in self.days]

    def availability_lines(self) -> list[str]:
        lines = []
        for d in self.days:
            issued = len(d.outcomes)
            away = sum(d.turned_away.values())
            closed = len(d.closed_unserved)
            spans = []
            for sid, found in d.not_issuing.items():
                for a, b in found:
                    end = "close" if b is None else _clock(b)
                    spans.append(f"{sid} {_clock(a)}–{end}")
            flag = " [overloaded]" if is_overloaded(d.scenario.name) else ""
            lines.append(f"{d.scenario.name}{flag}: issued {issued}, turned away {away}"
                         + (f" ({', '.join(f'{k} {v}' for k, v in sorted(d.turned_away.items()))})" if away else "")
                         + f", closed out unserved {closed}, most waiting {d.max_waiting}"
                         + (f"; not issuing {'; '.join(spans)}" if spans else ""))
        return lines

    def text(self, markdown: bool = False) -> str:
        overall = self.overall
        total_away = sum(sum(d.turned_away.values()) for d in self.days)
        total_closed = sum(len(d.closed_unserved) for d in self.days)
        calls = sum(d.forecast_calls for d in self.days)
        per_call = sum(d.forecast_s for d in self.days) / calls if calls else math.nan
        none = sum(o.ours_none for o in self.outcomes)
        out = [
            f"ETA: {len(self.days)} simulated office days, {len(self.outcomes)} tickets issued, "
            f"{sum(o.actual is not None for o in self.outcomes)} called "
            f"({sum(o.no_show for o in self.outcomes)} of them no-shows), {total_closed} closed out unserved, "
            f"{total_away} turned away (not issuing)",
            "errors in minutes, predicted at issue − actual wait (abs: absolute error; late >10: share told "
            "a wait more than 10 min longer than the real one); ZMS = people ahead × the day's true mean handling "
            "÷ clerks logged in",
            "",
            _table(self.summary_rows(), markdown),
            "",
            f"median |error| ours/ZMS: {overall.ratio:.2f} (goal ≤ {GOAL_RATIO:.2f}); late-returners ours "
            f"{100 * overall.ours.late_share:.1f} % vs ZMS {100 * overall.baseline.late_share:.1f} % → "
            + ("goal met" if overall.goal_met else "GOAL MISSED"),
            "",
            "per scenario:",
            _table(self.scenario_rows(), markdown),
            "",
            "availability (issuing) per day:",
            *(("* " if markdown else "  ") + line for line in self.availability_lines()),
            "",
            f"called before the told time (told ≥ 5 min): ours {100 * told_early_share(self.outcomes):.0f} %, "
            f"ZMS {100 * told_early_share(self.outcomes, baseline=True):.0f} % (a median forecast: about half)",
            f"forecast(): {calls} calls, {per_call * 1000:.2f} ms per call on average; "
            f"{none} tickets were forecast 'not before closing'; replay took {self.seconds:.1f} s",
        ]
        return "\n".join(out)


def _clock(minute: float) -> str:
    m = round(8 * 60 + minute)
    return f"{m // 60:02d}:{m % 60:02d}"


def evaluate(scenarios: Sequence[Scenario] | None = None) -> Report:
    started = clock.perf_counter()
    days = [replay(s) for s in (scenarios if scenarios is not None else all_scenarios())]
    return Report(days, clock.perf_counter() - started)


def told_early_share(outcomes: Sequence[Outcome], baseline: bool = False) -> float:
    """Share of called tickets told a wait of 5+ min that were called before the told time (a median
    forecast should say about half)."""
    told = [(o.baseline if baseline else o.ours, o.actual) for o in outcomes if o.actual is not None]
    told = [(p, a) for p, a in told if a is not None and p >= 5.0]
    return sum(a < p for p, a in told) / len(told) if told else math.nan


def bench_rows(report: Report, per_call_s: float, waiting: int) -> list[Row]:
    """The `eta` lines of `make bench`'s summary table."""
    c = report.overall
    rows = [
        Row(f"ETA median |error|, all {c.ours.n} called tickets", f"{c.ours.median_abs:.1f} min",
            f"ZMS {c.baseline.median_abs:.1f} min", f"{c.ratio:.2f}×", f"≤ {GOAL_RATIO:.2f}×",
            c.ratio <= GOAL_RATIO),
        Row("  ETA told > 10 min too long (late-returners)", f"{100 * c.ours.late_share:.1f} %",
            f"ZMS {100 * c.baseline.late_share:.1f} %", "", "≤ ZMS", c.ours.late_share <= c.baseline.late_share),
        Row("  ETA p90 |error| / bias (predicted − actual)", f"{c.ours.p90_abs:.1f} / {c.ours.bias:+.1f} min",
            f"ZMS {c.baseline.p90_abs:.1f} / {c.baseline.bias:+.1f} min"),
    ]
    for sid in report.service_ids():
        s = Comparison.of([o for o in report.outcomes if o.service == sid])
        rows.append(Row(f"  ETA service {sid}: median |error| / late-returners",
                        f"{s.ours.median_abs:.1f} min / {100 * s.ours.late_share:.1f} %",
                        f"ZMS {s.baseline.median_abs:.1f} min / {100 * s.baseline.late_share:.1f} %",
                        f"{s.ratio:.2f}×" if not math.isnan(s.ratio) else "-"))
    rows += [
        Row("  ETA issued / turned away / closed out unserved",
            f"{len(report.outcomes)} / {sum(sum(d.turned_away.values()) for d in report.days)} / "
            f"{sum(len(d.closed_unserved) for d in report.days)}"),
        Row(f"forecast() per call, {waiting} tickets waiting", f"{per_call_s * 1000:.2f} ms"),
    ]
    return rows


def forecast_runtime(waiting: int = 100, repeats: int = 50) -> tuple[float, int]:
    """Seconds per forecast() call with about `waiting` tickets waiting mid-morning on a busy office
    (the first Monday scenario's counters, its arrivals issued all at once, the counters mid-service)."""
    s = next(x for x in all_scenarios() if x.name == "monday-rush")
    replayer = Replay(s)
    engine, day = replayer.engine, replayer.day
    now = at(day, 90.0)
    for n, c in enumerate(s.counters):
        engine.counter_command(c.id, "resume", {}, f"r{n}", at(day, 0.0))
    for a in s.arrivals[:waiting]:
        number = int(a.id[1:])
        engine.ingest(TicketIssued(id=f"sim-{a.id}", token=TOKEN, service=a.service, number=number,
                                   label=a.id, issued_at=at(day, min(a.t, 89.0)), day=day, device="k", seq=number),
                      now)
    for n, c in enumerate(s.counters):
        engine.counter_command(c.id, "next", {}, f"n{n}", at(day, 85.0))
    count = len(engine.waiting())
    started = clock.perf_counter()
    for _ in range(repeats):
        forecast(engine, now)
    return (clock.perf_counter() - started) / repeats, count


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.eta.evaluate", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--markdown", action="store_true", help="print the tables in Markdown")
    parser.add_argument("--scenario", action="append", help="only these scenarios (repeatable)")
    args = parser.parse_args(argv)
    scenarios = all_scenarios()
    if args.scenario:
        scenarios = [s for s in scenarios if s.name in args.scenario]
    report = evaluate(scenarios)
    print(report.text(args.markdown))
    per_call, waiting = forecast_runtime()
    print(f"forecast() with {waiting} tickets waiting: {per_call * 1000:.2f} ms per call")
    return 0 if report.overall.goal_met else 1


if __name__ == "__main__":
    sys.exit(main())
