"""The pure queue engine (hub/engine.py): exact unit tests of every input, and property-based tests
(hypothesis) over random sequences of tickets and clerks' commands."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hub.engine import OfficeEngine, TicketState
from hub.office import CounterDef, OfficeDef, ServiceDef
from hub.views import counter_state
from protocol.messages import CounterState, TicketIssued, TicketVoided
from protocol.operations import COUNTER, COUNTER_OPS, OPERATIONS, Operation
from protocol.topics import token_hash

BERLIN = ZoneInfo("Europe/Berlin")
DAY = date(2025, 3, 11)  # a Tuesday
TOKEN = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"


def office(*, keeps_place: bool = True, pickup_counter: bool = True, grace: float = 15.0) -> OfficeDef:
    counters = [
        CounterDef("platz-1", "Platz 1", ("A", "P"), weights={"P": 3.0}),
        CounterDef("platz-2", "Platz 2", ("A", "P"), weights={"P": 3.0}),
    ]
    if pickup_counter:
        counters.append(CounterDef("abholung", "Abholung", ("P",)))
    return OfficeDef(
        id="mitte", name="Bürgerbüro Mitte", timezone=BERLIN, day_reset=time(4, 0),
        hours={1: ((time(8, 0), time(16, 0)),)},
        services=(ServiceDef("A", "Allgemeines", "General", 10.0), ServiceDef("P", "Abholung", "Pickup", 3.0)),
        counters=tuple(counters), no_show_grace_min=grace, transfer_keeps_place=keeps_place)


def at(minute: float) -> datetime:
    """Minutes after 8:00 on DAY."""
    return datetime.combine(DAY, time(8, 0), BERLIN) + timedelta(minutes=minute)


def issued(service: str, number: int, minute: float, *, device: str = "kiosk-1", day: date = DAY,
           token: str = TOKEN) -> TicketIssued:
    return TicketIssued(id=f"{device}-{service}{number:03d}", token=token, service=service, number=number,
                        label=f"{service}{number:03d}", issued_at=at(minute), day=day, device=device, seq=number)


def voided(service: str, number: int, *, device: str = "kiosk-1") -> TicketVoided:
    return TicketVoided(id=f"{device}-{service}{number:03d}", reason="printer failed", service=service,
                        number=number, label=f"{service}{number:03d}", day=DAY, device=device, seq=number)


class Clerk:
    """Sends a counter's commands with fresh request ids."""

    def __init__(self, engine: OfficeEngine) -> None:
        self.engine = engine
        self.n = 0

    def __call__(self, counter: str, op: str, minute: float, **args: Any) -> Any:
        self.n += 1
        return self.engine.counter_command(counter, op, args, f"req-{self.n}", at(minute))


@pytest.fixture
def engine() -> OfficeEngine:
    return OfficeEngine(office(), DAY)


# ---------------------------------------------------------------------------------------------
# tickets


def test_ingest_is_idempotent_by_id(engine: OfficeEngine) -> None:
    event = issued("A", 1, 0.0)
    assert engine.ingest(event, at(0.1)) is True
    assert engine.ingest(event, at(0.2)) is False  # re-sent by the kiosk
    assert engine.ingest(issued("A", 1, 5.0), at(5.0)) is False  # same id, other content: still the first
    assert list(engine.tickets) == ["kiosk-1-A001"]
    ticket = engine.tickets["kiosk-1-A001"]
    assert (ticket.state, ticket.issued_at, ticket.queued_at) == (TicketState.WAITING, at(0.0), at(0.0))
    assert ticket.token_hash == token_hash(TOKEN)
    assert engine.issued_count == {"A": 1}
    assert [t.label for t in engine.waiting()] == ["A001"]


def test_voided_tickets_never_wait(engine: OfficeEngine) -> None:
    assert engine.ingest(voided("A", 1), at(0.0)) is True
    assert engine.tickets["kiosk-1-A001"].state == TicketState.VOIDED
    assert engine.ingest(voided("A", 1), at(0.1)) is False  # duplicate
    assert engine.ingest(issued("A", 1, 0.0), at(0.2)) is False  # voided first: the issue event is stale
    assert engine.waiting() == []
    assert engine.by_label("A001") is None
    # A waiting ticket can be voided; a called one cannot.
    engine.ingest(issued("A", 2, 1.0), at(1.0))
    engine.ingest(issued("A", 3, 2.0), at(2.0))
    assert engine.ingest(voided("A", 2), at(3.0)) is True
    assert [t.label for t in engine.waiting()] == ["A003"]
    clerk = Clerk(engine)
    assert clerk("platz-1", "next", 4.0).label == "A003"
    assert engine.ingest(voided("A", 3), at(5.0)) is False
    assert engine.tickets["kiosk-1-A003"].state == TicketState.CALLED


def test_unknown_service_and_other_day_are_ignored(engine: OfficeEngine) -> None:
    assert engine.ingest(issued("K", 1, 0.0), at(0.0)) is False
    assert engine.ingest(issued("A", 1, 0.0, day=DAY - timedelta(days=1)), at(0.0)) is False
    assert engine.ingest(issued("A", 2, 0.0, day=DAY + timedelta(days=1)), at(0.0)) is False
    assert engine.tickets == {}
    assert engine.issued_count == {}


def test_last_numbers_per_kiosk(engine: OfficeEngine) -> None:
    engine.ingest(issued("A", 1, 0.0), at(0.0))
    engine.ingest(issued("A", 7, 1.0), at(1.0))
    engine.ingest(issued("P", 3, 1.0), at(1.0))
    engine.ingest(voided("P", 4), at(2.0))
    engine.ingest(issued("A", 9, 2.0, device="kiosk-2"), at(2.0))
    assert engine.last_numbers("kiosk-1") == {"A": 7, "P": 4}
    assert engine.last_numbers("kiosk-2") == {"A": 9}
    assert engine.last_numbers("kiosk-3") == {}


# ---------------------------------------------------------------------------------------------
# next: who is called


def test_next_takes_the_longest_weighted_wait(engine: OfficeEngine) -> None:
    clerk = Clerk(engine)
    engine.ingest(issued("A", 1, 0.0), at(0.0))
    engine.ingest(issued("P", 1, 10.0), at(10.0))
    # At 8:20 the pickup waited 10 min × 3 = 30 > the general ticket's 20 min: the fast lane.
    assert clerk("platz-1", "next", 20.0).label == "P001"
    assert clerk("platz-2", "next", 20.0).label == "A001"
    engine.ingest(issued("A", 2, 21.0), at(21.0))
    engine.ingest(issued("P", 2, 45.0), at(45.0))
    # At 8:50 the general ticket waited 29 min > the pickup's 5 min × 3: nobody starves.
    result = clerk("platz-1", "next", 50.0)
    assert (result.ok, result.label, result.service, result.counter) == (True, "A002", "A", "platz-1")
    assert engine.tickets["kiosk-1-A001"].state == TicketState.CALLED  # platz-2 still serves it
    assert engine.tickets["kiosk-1-P001"].state == TicketState.DONE  # "next" completed platz-1's ticket


def test_ties_go_to_the_first_listed_service(engine: OfficeEngine) -> None:
    # Scores are (waited + 1 s) × weight: A from 8:00:00 and P from 8:20:02, called at 8:30:02, score
    # 1803 s × 1 and 601 s × 3 — a tie, which the counter's first-listed service (A) wins.
    engine.ingest(issued("A", 1, 0.0), at(0.0))
    engine.ingest(issued("P", 1, 1202 / 60), at(1202 / 60))
    assert Clerk(engine)("platz-1", "next", 1802 / 60).label == "A001"
    # One second later the pickup's score grows three times as fast: it goes first.
    engine2 = OfficeEngine(office(), DAY)
    engine2.ingest(issued("A", 1, 0.0), at(0.0))
    engine2.ingest(issued("P", 1, 1202 / 60), at(1202 / 60))
    assert Clerk(engine2)("platz-1", "next", 1803 / 60).label == "P001"


def test_pickup_counter_takes_only_pickups(engine: OfficeEngine) -> None:
    clerk = Clerk(engine)
    engine.ingest(issued("A", 1, 0.0), at(0.0))
    refused = clerk("abholung", "next", 30.0)
    assert (refused.ok, refused.error) == (False, "nobody is waiting")
    engine.ingest(issued("P", 1, 31.0), at(31.0))
    assert clerk("abholung", "next", 32.0).label == "P001"
    assert engine.tickets["kiosk-1-A001"].state == TicketState.WAITING


def test_next_with_nobody_waiting_completes_the_current_ticket(engine: OfficeEngine) -> None:
    clerk = Clerk(engine)
    engine.ingest(issued("A", 1, 0.0), at(0.0))
    clerk("platz-1", "next", 1.0)
    result = clerk("platz-1", "next", 9.0)
    assert (result.ok, result.error) == (False, "nobody is waiting")
    assert engine.tickets["kiosk-1-A001"].state == TicketState.DONE
    assert engine.counters["platz-1"].current is None
    assert [(h.service, h.counter, h.minutes, h.no_show) for h in engine.handled] == [("A", "platz-1", 8.0, False)]


def test_unknown_counter_and_operation_are_refused(engine: OfficeEngine) -> None:
    clerk = Clerk(engine)
    assert clerk("platz-9", "next", 0.0).ok is False
    result = clerk("platz-1", "dance", 0.0)
    assert (result.ok, result.error) == (False, "unknown operation 'dance'")


# ---------------------------------------------------------------------------------------------
# recall, no-show, reactivate, done, transfer, pause, resume


def test_recall_announces_the_same_ticket_again(engine: OfficeEngine) -> None:
    clerk = Clerk(engine)
    assert clerk("platz-1", "recall", 0.0).ok is False  # nothing being served
    engine.ingest(issued("A", 1, 0.0), at(0.0))
    clerk("platz-1", "next", 1.0)
    seq = engine.calls_seq
    result = clerk("platz-1", "recall", 2.0)
    assert (result.ok, result.label) == (True, "A001")
    assert engine.calls_seq == seq + 1
    assert (engine.calls[0].label, engine.calls[0].recall, engine.calls[0].called_at) == ("A001", 1, at(2.0))
    assert engine.tickets["kiosk-1-A001"].called_at == at(1.0)  # the wait ended with the first call
    clerk("platz-1", "recall", 3.0)
    assert engine.calls[0].recall == 2
    assert engine.tickets["kiosk-1-A001"].state == TicketState.CALLED


def test_no_show_and_reactivate_within_grace(engine: OfficeEngine) -> None:
    clerk = Clerk(engine)
    engine.ingest(issued("A", 1, 0.0), at(0.0))
    engine.ingest(issued("A", 2, 1.0), at(1.0))
    clerk("platz-1", "next", 2.0)
    result = clerk("platz-1", "no_show", 4.0)
    assert (result.ok, result.label) == (True, "A001")
    ticket = engine.tickets["kiosk-1-A001"]
    assert (ticket.state, ticket.finished_at) == (TicketState.NO_SHOW, at(4.0))
    assert engine.handled[-1].no_show is True
    assert engine.counters["platz-1"].current is None
    clerk("platz-1", "next", 4.0)  # A002
    # The person turns up 10 min later at the other counter: called there straight away.
    result = clerk("platz-2", "reactivate", 14.0, label="A001")
    assert (result.ok, result.label, result.counter) == (True, "A001", "platz-2")
    assert (ticket.state, ticket.counter, ticket.called_at, ticket.finished_at) == (
        TicketState.CALLED, "platz-2", at(14.0), None)
    assert engine.calls[0].label == "A001"
    assert clerk("platz-1", "reactivate", 15.0, label="A002").ok is False  # A002 is no no-show


def test_reactivate_after_grace_or_at_a_paused_counter_is_refused(engine: OfficeEngine) -> None:
    clerk = Clerk(engine)
    engine.ingest(issued("A", 1, 0.0), at(0.0))
    clerk("platz-1", "next", 1.0)
    clerk("platz-1", "no_show", 2.0)
    clerk("platz-2", "pause", 3.0)
    paused = clerk("platz-2", "reactivate", 5.0, label="A001")
    assert (paused.ok, paused.error) == (False, "counter is paused")
    late = clerk("platz-1", "reactivate", 17.5, label="A001")  # 15.5 min after the no-show
    assert late.ok is False and "grace period" in (late.error or "")
    assert engine.tickets["kiosk-1-A001"].state == TicketState.NO_SHOW
    assert clerk("platz-1", "reactivate", 5.0, label="X999").ok is False  # unknown label


def test_done_finishes_the_ticket(engine: OfficeEngine) -> None:
    clerk = Clerk(engine)
    assert clerk("platz-1", "done", 0.0).ok is False
    engine.ingest(issued("P", 1, 0.0), at(0.0))
    clerk("platz-1", "next", 0.5)
    result = clerk("platz-1", "done", 3.5)
    assert (result.ok, result.label) == (True, "P001")
    ticket = engine.tickets["kiosk-1-P001"]
    assert (ticket.state, ticket.finished_at) == (TicketState.DONE, at(3.5))
    assert engine.handled[-1].minutes == pytest.approx(3.0)
    assert counter_state(engine, "platz-1") == CounterState(DAY, "platz-1", "idle")


def test_transfer_keeps_the_place_by_arrival() -> None:
    engine = OfficeEngine(office(), DAY)
    clerk = Clerk(engine)
    engine.ingest(issued("A", 1, 0.0), at(0.0))
    engine.ingest(issued("P", 1, 5.0), at(5.0))
    clerk("platz-1", "next", 1.0)  # A001
    result = clerk("platz-1", "transfer", 6.0, service="P")
    assert (result.ok, result.label, result.service) == (True, "A001", "P")
    ticket = engine.tickets["kiosk-1-A001"]
    assert (ticket.state, ticket.service, ticket.counter, ticket.called_at) == (TicketState.WAITING, "P", None, None)
    assert engine.counters["platz-1"].current is None
    assert [t.label for t in engine.waiting("P")] == ["A001", "P001"]  # arrived 8:00, before P001
    assert clerk("abholung", "next", 7.0).label == "A001"
    assert clerk("platz-1", "transfer", 8.0, service="X").ok is False
    assert clerk("platz-2", "transfer", 8.0, service="A").ok is False  # nothing being served


def test_transfer_to_the_back_when_configured() -> None:
    engine = OfficeEngine(office(keeps_place=False), DAY)
    clerk = Clerk(engine)
    engine.ingest(issued("A", 1, 0.0), at(0.0))
    engine.ingest(issued("P", 1, 5.0), at(5.0))
    clerk("platz-1", "next", 1.0)
    clerk("platz-1", "transfer", 6.0, service="P")
    assert engine.tickets["kiosk-1-A001"].queued_at == at(6.0)
    assert [t.label for t in engine.waiting("P")] == ["P001", "A001"]


def test_pause_refuses_next_until_resume(engine: OfficeEngine) -> None:
    clerk = Clerk(engine)
    engine.ingest(issued("A", 1, 0.0), at(0.0))
    engine.ingest(issued("A", 2, 0.0), at(0.0))
    clerk("platz-1", "next", 1.0)
    assert clerk("platz-1", "pause", 9.0).ok is True
    assert engine.tickets["kiosk-1-A001"].state == TicketState.DONE  # pausing completes the current one
    assert counter_state(engine, "platz-1") == CounterState(DAY, "platz-1", "paused")
    refused = clerk("platz-1", "next", 10.0)
    assert (refused.ok, refused.error) == (False, "counter is paused")
    assert engine.tickets["kiosk-1-A002"].state == TicketState.WAITING
    assert engine.present_counters() == []  # platz-1 paused, the others never logged in
    assert clerk("platz-1", "resume", 20.0).ok is True
    assert engine.present_counters() == ["platz-1"]
    assert clerk("platz-1", "next", 20.0).label == "A002"
    assert counter_state(engine, "platz-1") == CounterState(DAY, "platz-1", "serving", "A002", "A")


def test_repeated_request_id_returns_the_first_result_without_executing_again(engine: OfficeEngine) -> None:
    for n in (1, 2, 3):
        engine.ingest(issued("A", n, float(n)), at(float(n)))
    first = engine.counter_command("platz-1", "next", {}, "tablet-1-0001", at(5.0))
    again = engine.counter_command("platz-1", "next", {}, "tablet-1-0001", at(6.0))
    assert first == again and first.label == "A001"
    assert [t.label for t in engine.waiting()] == ["A002", "A003"]
    assert engine.calls_seq == 1
    # Even from another counter or with another op: the id is the identity of the request.
    assert engine.counter_command("platz-2", "pause", {}, "tablet-1-0001", at(7.0)) == first
    assert engine.counters["platz-2"].paused is False
    # A refused request is answered the same way again, even when it would succeed now.
    refused = engine.counter_command("abholung", "next", {}, "tablet-2-0001", at(8.0))
    engine.ingest(issued("P", 1, 8.5), at(8.5))
    assert engine.counter_command("abholung", "next", {}, "tablet-2-0001", at(9.0)) == refused
    assert refused.ok is False
    assert engine.tickets["kiosk-1-P001"].state == TicketState.WAITING
    office_first = engine.office_command("close_service", {"service": "P"}, "office-1", at(10.0))
    assert engine.office_command("open_service", {"service": "P"}, "office-1", at(11.0)) == office_first
    assert engine.closed_services == {"P"}


def test_office_commands(engine: OfficeEngine) -> None:
    assert engine.office_command("announce", {"text": "Heute bis 12 Uhr"}, "o1", at(0.0)).ok
    assert engine.announcement == "Heute bis 12 Uhr"
    assert not engine.office_command("announce", {"text": "x" * 301}, "o2", at(0.0)).ok
    assert not engine.office_command("close_service", {"service": "Z"}, "o3", at(0.0)).ok
    assert engine.office_command("close_service", {"service": "A"}, "o4", at(0.0)).ok
    assert engine.office_command("open_service", {"service": "A"}, "o5", at(0.0)).ok
    assert engine.closed_services == set()
    assert not engine.office_command("reboot", {}, "o6", at(0.0)).ok


@pytest.mark.parametrize("operation", OPERATIONS, ids=lambda op: op.name)
def test_the_engine_carries_out_every_operation_of_the_contract_on_its_own_topic(operation: Operation) -> None:
    """protocol/operations.py is the list the engine dispatches on: each operation is known on its own topic
    (counter or office) and unknown on the other."""
    engine = OfficeEngine(office(), DAY)
    engine.ingest(issued("A", 1, 0.0), at(0.0))
    args = {"label": "A001", "service": "A", "text": "Heute bis 12 Uhr"}
    sent = {key: args[key] for key in operation.args}
    on_counter = engine.counter_command("platz-1", operation.name, sent, "r-counter", at(1.0))
    on_office = engine.office_command(operation.name, sent, "r-office", at(1.0))
    known, unknown = (on_counter, on_office) if operation.scope == COUNTER else (on_office, on_counter)
    assert not (known.error or "").startswith("unknown operation"), known
    assert unknown.error == f"unknown operation {operation.name!r}"


def test_close_out_closes_waiting_tickets_only(engine: OfficeEngine) -> None:
    clerk = Clerk(engine)
    for n in (1, 2, 3):
        engine.ingest(issued("A", n, float(n)), at(float(n)))
    clerk("platz-1", "next", 470.0)
    closed = engine.close_out(at(480.0))
    assert [t.label for t in closed] == ["A002", "A003"]
    assert all(t.state == TicketState.CLOSED and t.finished_at == at(480.0) for t in closed)
    assert engine.tickets["kiosk-1-A001"].state == TicketState.CALLED  # served to the end
    assert engine.waiting() == []
    assert clerk("platz-1", "done", 485.0).ok
    # A late event (kiosk was offline) is recorded but never waits.
    assert engine.ingest(issued("A", 4, 479.0), at(481.0)) is True
    assert engine.tickets["kiosk-1-A004"].state == TicketState.CLOSED
    assert engine.waiting() == []


# ---------------------------------------------------------------------------------------------
# properties over random sequences of inputs


@dataclass(frozen=True)
class Step:
    kind: str  # "issue" | "void" | op of COUNTER_OPS
    minutes: float  # time passing before this step
    service: str = "A"
    counter: str = "platz-1"
    ref: int = 0  # which ticket (issue: its number; void/reactivate: an earlier one)
    repeat: bool = False  # re-send the previous request id


steps = st.lists(st.one_of(
    st.builds(Step, kind=st.just("issue"), minutes=st.floats(0, 5), service=st.sampled_from("AP")),
    st.builds(Step, kind=st.just("void"), minutes=st.floats(0, 2), service=st.sampled_from("AP"),
              ref=st.integers(0, 30)),
    st.builds(Step, kind=st.sampled_from(list(COUNTER_OPS)), minutes=st.floats(0, 10), service=st.sampled_from("APX"),
              counter=st.sampled_from(("platz-1", "platz-2", "abholung")), ref=st.integers(0, 30),
              repeat=st.booleans()),
), max_size=120)


def check_invariants(engine: OfficeEngine, issued_ids: set[str], voided_ids: set[str]) -> None:
    called = [t for t in engine.tickets.values() if t.state == TicketState.CALLED]
    serving = {c.id: c.current for c in engine.counters.values() if c.current is not None}
    # Nobody is called at two counters, and every called ticket is at exactly the counter it names.
    assert len(set(serving.values())) == len(serving)
    assert sorted(serving.values()) == sorted(t.id for t in called)
    for counter_id, ticket_id in serving.items():
        assert engine.tickets[ticket_id].counter == counter_id
        assert not engine.counters[counter_id].paused
    # Every ticket ever ingested is there, in exactly one state; voided ones never wait.
    assert set(engine.tickets) == issued_ids | voided_ids
    for ticket in engine.tickets.values():
        assert ticket.state in TicketState
        if ticket.state == TicketState.WAITING:
            assert ticket.called_at is None and ticket.finished_at is None and ticket in engine.waiting()
        elif ticket.state == TicketState.CALLED:
            assert ticket.called_at is not None and ticket.finished_at is None
        elif ticket.state in (TicketState.DONE, TicketState.NO_SHOW):
            assert ticket.finished_at is not None
    waiting = engine.waiting()
    assert len({t.id for t in waiting}) == len(waiting)
    assert all(t.state != TicketState.VOIDED for t in waiting)
    # The daily count (quotas) has one per issued id, whatever was re-sent; a ticket voided while it
    # was still waiting no longer counts.
    assert sum(engine.issued_count.values()) == sum(t.state != TicketState.VOIDED for t in engine.tickets.values())


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps)
def test_random_days_keep_the_invariants(plan: list[Step]) -> None:
    engine = OfficeEngine(office(), DAY)
    minute = 0.0
    numbers = {"A": 0, "P": 0}
    issued_ids: set[str] = set()
    voided_ids: set[str] = set()
    answers: dict[str, Any] = {}
    request = 0
    for step in plan:
        minute += step.minutes
        now = at(minute)
        if step.kind == "issue":
            numbers[step.service] += 1
            event = issued(step.service, numbers[step.service], minute)
            fresh = event.id not in engine.tickets
            assert engine.ingest(event, now) is fresh
            assert engine.ingest(event, now) is False  # re-sent: nothing changes
            if fresh:
                issued_ids.add(event.id)
        elif step.kind == "void":
            event_v = voided(step.service, step.ref % 31 + 1)
            before = engine.tickets.get(event_v.id)
            changed = engine.ingest(event_v, now)
            if before is None or before.state == TicketState.WAITING:
                assert changed and engine.tickets[event_v.id].state == TicketState.VOIDED
                voided_ids.add(event_v.id)
            else:
                assert not changed and engine.tickets[event_v.id] is before
        else:
            if not (step.repeat and request):
                request += 1
            rid = f"r{request}"
            args: dict[str, Any] = {"service": step.service, "label": f"{step.service}{step.ref % 31 + 1:03d}"}
            result = engine.counter_command(step.counter, step.kind, args, rid, now)
            if rid in answers:
                assert result == answers[rid]
            answers[rid] = result
        check_invariants(engine, issued_ids, voided_ids)
    engine.close_out(at(minute + 1))
    assert engine.waiting() == []
    check_invariants(engine, issued_ids, voided_ids)
    for counter in engine.counters:  # the clerks finish what they are serving
        engine.counter_command(counter, "done", {}, f"end-{counter}", at(minute + 20))
    final = {TicketState.DONE, TicketState.NO_SHOW, TicketState.CLOSED}
    for ticket_id, ticket in engine.tickets.items():
        assert ticket.state in (final if ticket_id in issued_ids - voided_ids else final | {TicketState.VOIDED})
    assert {t for t in voided_ids if engine.tickets[t].state == TicketState.VOIDED} == voided_ids


# ---------------------------------------------------------------------------------------------
# the fast lane under a flood of general tickets


def run_flood(engine: OfficeEngine, a_gap: float, a_minutes: float, p_times: list[float], p_minutes: float,
              until: float) -> list[tuple[str, float, float]]:
    """General tickets every `a_gap` minutes until `until`, pickups at `p_times`; every counter calls
    `next` whenever it is free, until everybody was called. Returns (service, arrived, called) minutes."""
    arrivals = sorted([(k * a_gap, "A") for k in range(int(until / a_gap))] + [(t, "P") for t in p_times])
    numbers = {"A": 0, "P": 0}
    free = {c.id: 0.0 for c in engine.office.counters}
    calls: list[tuple[str, float, float]] = []
    i = 0
    request = 0
    while i < len(arrivals) or engine.waiting():
        counter, t_free = min(free.items(), key=lambda kv: (kv[1], kv[0]))
        t_next = arrivals[i][0] if i < len(arrivals) else None
        if t_next is not None and t_next <= t_free:
            service = arrivals[i][1]
            numbers[service] += 1
            engine.ingest(issued(service, numbers[service], t_next), at(t_next))
            i += 1
            continue
        request += 1
        result = engine.counter_command(counter, "next", {}, f"f{request}", at(t_free))
        if result.ok:
            ticket = engine.tickets[engine.counters[counter].current or ""]
            arrived = (ticket.issued_at - at(0.0)).total_seconds() / 60
            calls.append((ticket.service, arrived, t_free))
            free[counter] = t_free + (a_minutes if ticket.service == "A" else p_minutes)
        elif t_next is not None:  # idle until the next arrival
            free[counter] = t_next
        else:  # nothing this counter serves is left
            free[counter] = float("inf")
    return calls


@settings(max_examples=60, deadline=None)
@given(a_gap=st.floats(1.0, 3.0), a_minutes=st.floats(8.0, 15.0), p_minutes=st.floats(1.0, 5.0),
       p_times=st.lists(st.floats(0.0, 400.0), max_size=25))
def test_fast_lane_wait_stays_bounded_under_a_flood_of_general_tickets(a_gap: float, a_minutes: float,
                                                                       p_minutes: float,
                                                                       p_times: list[float]) -> None:
    # Two general counters weighing pickups 3, no pickup counter; general tickets arrive faster than
    # they can be served (every 3 min or more often, taking 8 min or longer), so their wait grows all day.
    engine = OfficeEngine(office(pickup_counter=False), DAY)
    calls = run_flood(engine, a_gap, a_minutes, p_times, p_minutes, until=480.0)
    pickups = [(arrived, called) for service, arrived, called in calls if service == "P"]
    assert len(pickups) == len(p_times)  # every pickup is called: nobody starves
    for arrived, called in pickups:
        # While a pickup waits, a general ticket goes first only if it waited 3× as long; after the
        # last one did, the pickup waits at most for a counter to finish a general case and for the
        # pickups ahead of it.
        general = [c - a for s, a, c in calls if s == "A" and arrived <= c < called]
        ahead = sum(1 for s, a, c in calls if s == "P" and arrived <= c < called)
        assert called - arrived <= max(general, default=0.0) / 3.0 + a_minutes + ahead * p_minutes + 1e-6
    worst_general = max(c - a for s, a, c in calls if s == "A")
    assert worst_general > 60  # it is a flood
    if pickups:
        assert max(c - a for a, c in pickups) < worst_general / 2  # the fast lane is faster


def test_fast_lane_is_bounded_in_minutes_with_a_pickup_counter() -> None:
    # A flood that makes general tickets wait hours; a pickup every 6 min still waits minutes at most.
    engine = OfficeEngine(office(pickup_counter=True), DAY)
    calls = run_flood(engine, 1.5, 12.0, [5.0 + 6.0 * k for k in range(70)], 3.0, until=480.0)
    assert max(c - a for s, a, c in calls if s == "A") > 120
    assert max(c - a for s, a, c in calls if s == "P") <= 1e-6  # called the minute they come
