"""The `eta` benchmark: replay every simulated office day of both sets — the 24 committed days
(devtools/eta/scenarios.py) and the hard days (devtools/eta/hard_days.py) — through a real `OfficeEngine`
and compare, for every ticket, the wait predicted at issue with the actual wait — for our estimator
(hub/estimate.py) and, in the same run on the same tickets, for the estimator the Munich/Berlin system
(ZMS) uses: people ahead × mean handling time ÷ clerks logged in, once as ZMS does it (one queue per
office) and once per service queue (people ahead in the same service × that service's mean ÷ clerks
serving it: the fairer formula). The report is devtools/eta/report.py.

    .venv/bin/python -m devtools.eta.evaluate [--markdown] [--set committed|hard] [--scenario NAME ...]

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
  left (a no-show of the day, or on the hard days someone called later than their patience), after
  the scenario's no-show cost (`no_show`); a free counter in an open interval calls
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
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from devtools.eta.hard_days import hard_scenarios
from devtools.eta.report import DayResult, Outcome, Report
from devtools.eta.scenarios import Arrival, Scenario, all_scenarios, base_name
from hub.engine import OfficeEngine, TicketState, ToldWait
from hub.estimate import Forecast, availability, expected_wait_min, forecast, wait_range_min
from hub.office import CounterDef, Interval, OfficeDef, ServiceDef
from hub.priors import OfficePriors, priors_from_history
from hub.statistics import day_summary
from protocol.messages import TicketIssued

ZONE = ZoneInfo("Europe/Berlin")
OPENING = time(8, 0)
#: Fixed business days (no DST change nearby): a Monday for the Monday scenario, a Thursday for the
#: long Thursday (open until 18:00 only then), a Tuesday for every other 8-hour day.
MONDAY, TUESDAY, THURSDAY = date(2025, 3, 10), date(2025, 3, 11), date(2025, 3, 13)
FAST_LANE_WEIGHT = 3.0  # counters serving A and P favour P like deploy/examples/hub.toml
TICK_MIN = 5.0
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

    services = tuple(ServiceDef(sid, *NAMES.get(sid, (sid, sid)), prior_handling_min=prior,
                                daily_quota=s.quotas.get(sid)) for sid, prior in s.services.items())
    counters = tuple(
        CounterDef(c.id, c.id.replace("platz-", "Platz "), c.services,
                   weights={"P": FAST_LANE_WEIGHT} if {"A", "P"} <= set(c.services) else {},
                   hours={day.weekday(): intervals(c.planned)})
        for c in s.counters)
    office = OfficeDef(id="sim-office", name=f"Simulated {s.name}", timezone=ZONE, day_reset=time(4, 0),
                       hours={day.weekday(): intervals([(0.0, s.open_minutes)])}, services=services,
                       counters=counters, no_show_cost_min=s.no_show_cost)
    return office, day


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

    def __init__(self, s: Scenario, priors: OfficePriors | None = None) -> None:
        self.s = s
        self.priors = priors  # the office's history, as a hub passes it in (None: a hub's first day)
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
        self.left: set[str] = set()  # tickets whose holder had gone when called
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
        fc = forecast(self.engine, now, self.priors)
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
        outcome.no_show = arrival.no_show or (arrival.patience is not None and outcome.actual > arrival.patience)
        if outcome.no_show:
            self.left.add(ticket_id)
        self._push(minute + (self.s.no_show_cost if outcome.no_show else arrival.handling), FINISH, desk.id)

    def run(self, until: float = math.inf) -> DayResult:
        """Replay the day (or its events up to minute `until`, to look at the state then)."""
        while self.events and self.events[0][0] <= until:
            minute, kind, _, ref = heapq.heappop(self.events)
            self.step(minute, kind, ref)
        if not self.events:
            assert all(t.state != TicketState.WAITING for t in self.engine.tickets.values())
        self.result.outcomes = list(self.outcomes.values())
        if not self.events:
            self.result.summary = day_summary(self.engine)
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
                self._command(desk.id, "no_show" if ticket_id in self.left else "done", now)
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
        same = len(self.engine.waiting(arrival.service))
        serving = [c.id for c in self.s.counters if arrival.service in c.services]
        present = set(self.engine.present_counters())
        service_clerks = sum(c in present for c in serving) or len(serving)
        number = int(arrival.id[1:])
        event = TicketIssued(id=ticket_id, token=TOKEN, service=arrival.service, number=number,
                             label=arrival.id, issued_at=now, day=self.day, device="sim-kiosk", seq=number)
        assert self.engine.ingest(event, now)
        ticket = self.engine.tickets[ticket_id]
        fc = self._forecast(now)
        predicted = expected_wait_min(fc, ticket, now)
        told_range = wait_range_min(fc, ticket, now)
        if predicted is not None and told_range is not None:  # as the hub records it (hub/publisher.py)
            self.engine.record_told(ticket_id, ToldWait(arrival.service, predicted, *told_range))
        to_close = max(self.s.open_minutes - minute, 0.0)
        self.outcomes[ticket_id] = Outcome(
            self.s.name, arrival.id, arrival.service, minute,
            ours=float(predicted) if predicted is not None else to_close, ours_none=predicted is None,
            baseline=ahead * self.true_mean / clerks, ahead=ahead,
            service_baseline=same * self.s.true_means[arrival.service] / service_clerks,
            low=None if told_range is None else float(told_range[0]),
            high=None if told_range is None else float(told_range[1]))
        self.result.max_waiting = max(self.result.max_waiting, ahead + 1)
        for desk in self.desks.values():
            if desk.on_shift and desk.busy is None and self.engine.waiting():
                self._call(desk, minute, now)


def replay(s: Scenario, priors: OfficePriors | None = None) -> DayResult:
    return Replay(s, priors).run()


# --- the sets of days and the runtime -------------------------------------------------------------


SETS = (("committed days", all_scenarios), ("hard days", hard_scenarios))


def evaluate(scenarios: Sequence[Scenario] | None = None, title: str = "committed days") -> Report:
    started = clock.perf_counter()
    days = [replay(s) for s in (scenarios if scenarios is not None else all_scenarios())]
    return Report(title, days, clock.perf_counter() - started)


def evaluate_with_history(report: Report) -> Report:
    """The same days again, each with the office's history a hub would have kept: the day summaries
    (hub/statistics.py) of the other days of the same kind (the "#2", "#3" seeds), as if they were the
    same weekday one and two weeks before. Shows what the prior from the office's own weekday-and-hour
    history (hub/priors.py) is worth against the configured one."""
    started = clock.perf_counter()
    summaries = {d.scenario.name: d.summary for d in report.days}
    days = []
    for d in report.days:
        today = business_day(d.scenario)
        others = [n for n in summaries if base_name(n) == base_name(d.scenario.name) and n != d.scenario.name]
        history = {today - timedelta(weeks=k + 1): summaries[n] for k, n in enumerate(others)}
        days.append(replay(d.scenario, priors_from_history(history, today)))
    return Report(f"{report.title}, with history", days, clock.perf_counter() - started)


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
    parser = argparse.ArgumentParser(prog="python -m devtools.eta.evaluate", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--markdown", action="store_true", help="print the tables in Markdown")
    parser.add_argument("--set", choices=("committed", "hard"), action="append", help="only this set of days")
    parser.add_argument("--scenario", action="append", help="only these scenarios (repeatable)")
    args = parser.parse_args(argv)
    met = True
    for title, make in SETS:
        if args.set and title.split()[0] not in args.set:
            continue
        scenarios = make()
        if args.scenario:
            scenarios = [s for s in scenarios if s.name in args.scenario]
        if not scenarios:
            continue
        report = evaluate(scenarios, title)
        print(report.text(args.markdown))
        print()
        print(evaluate_with_history(report).goal_text(args.markdown))
        print()
        met = met and report.goal_met
    per_call, waiting = forecast_runtime()
    print(f"forecast() with {waiting} tickets waiting: {per_call * 1000:.2f} ms per call")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
