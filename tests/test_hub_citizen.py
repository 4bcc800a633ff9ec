"""A ticket holder's own operations on the pure engine (hub/citizen.py): exact, fast, no broker."""

from __future__ import annotations

from datetime import timedelta

from hub.calibration import todays_calibration
from hub.citizen import citizen_request, places_for, postpone_places, rating_counts
from hub.engine import OfficeEngine, TicketState, ToldWait
from hub.statistics import day_summary
from hub.views import counter_state
from protocol.messages import Ratings
from protocol.topics import token_hash
from tests.test_hub_engine import DAY, at, issued, office

TOKENS = [f"{'ABCDEFGHIJKLMNOPQRSTUVWXY'}{c}{'234567'}" for c in "ABCDEFGHIJ"]


def queue_of(n: int) -> OfficeEngine:
    engine = OfficeEngine(office(), DAY)
    for i in range(n):
        assert engine.ingest(issued("A", i + 1, float(i), token=TOKENS[i]), at(float(i)))
    return engine


def labels(engine: OfficeEngine) -> list[str]:
    return [t.label for t in engine.waiting("A")]


def test_postpone_moves_the_ticket_back_by_exactly_the_places_given() -> None:
    engine = queue_of(6)
    answer = citizen_request(engine, "postpone", token_hash(TOKENS[1]), "req-00001", 3, at(10))
    assert answer.ok and answer.label == "A002"
    assert labels(engine) == ["A001", "A003", "A004", "A005", "A002", "A006"]
    assert engine.tickets["kiosk-1-A002"].postponed == 1


def test_postpone_goes_to_the_end_when_fewer_wait_behind_and_is_refused_with_nobody_behind() -> None:
    engine = queue_of(3)
    assert citizen_request(engine, "postpone", token_hash(TOKENS[0]), "req-00001", 5, at(10)).ok
    assert labels(engine) == ["A002", "A003", "A001"]
    refused = citizen_request(engine, "postpone", token_hash(TOKENS[0]), "req-00002", 5, at(11))
    assert (refused.ok, refused.error) == (False, "nobody_behind")
    assert engine.tickets["kiosk-1-A001"].postponed == 1  # a refusal does not count


def test_at_most_twice_and_a_repeat_is_one_effect_with_the_same_answer() -> None:
    engine = queue_of(8)
    first = citizen_request(engine, "postpone", token_hash(TOKENS[0]), "req-00001", 1, at(10))
    again = citizen_request(engine, "postpone", token_hash(TOKENS[0]), "req-00001", 1, at(11))
    assert first == again and labels(engine)[:2] == ["A002", "A001"]
    assert citizen_request(engine, "postpone", token_hash(TOKENS[0]), "req-00002", 1, at(12)).ok
    third = citizen_request(engine, "postpone", token_hash(TOKENS[0]), "req-00003", 1, at(13))
    assert (third.ok, third.error) == (False, "postponed_twice")
    assert labels(engine)[:3] == ["A002", "A003", "A001"]


def test_cancel_ends_the_ticket_once_and_the_people_behind_move_up() -> None:
    engine = queue_of(3)
    answer = citizen_request(engine, "cancel", token_hash(TOKENS[0]), "req-00001", 0, at(10))
    assert answer.ok and engine.tickets["kiosk-1-A001"].state == TicketState.CANCELLED
    assert labels(engine) == ["A002", "A003"]
    assert citizen_request(engine, "cancel", token_hash(TOKENS[0]), "req-00001", 0, at(11)) == answer
    for op in ("cancel", "postpone"):
        refused = citizen_request(engine, op, token_hash(TOKENS[0]), f"req-{op}-2", 3, at(12))
        assert (refused.ok, refused.error) == (False, "ended")


def test_refused_once_called_and_for_an_unknown_token() -> None:
    engine = queue_of(3)
    assert engine.counter_command("platz-1", "next", {}, "c-1", at(5)).label == "A001"
    for op in ("cancel", "postpone"):
        called = citizen_request(engine, op, token_hash(TOKENS[0]), f"req-{op}-1", 1, at(6))
        assert (called.ok, called.error) == (False, "called")
        unknown = citizen_request(engine, op, token_hash(TOKENS[9]), f"req-{op}-2", 1, at(6))
        assert (unknown.ok, unknown.error) == (False, "unknown_ticket")
    assert engine.tickets["kiosk-1-A001"].state == TicketState.CALLED


def test_a_postponed_ticket_is_called_after_the_ones_it_let_go_and_shows_so_at_the_counter() -> None:
    engine = queue_of(3)
    assert citizen_request(engine, "postpone", token_hash(TOKENS[0]), "req-00001", 2, at(10)).ok
    called = [engine.counter_command("platz-1", "next", {}, f"c-{i}", at(20 + i)).label for i in range(3)]
    assert called == ["A002", "A003", "A001"]
    assert counter_state(engine, "platz-1").to_dict()["postponed"] == 1


def test_the_places_are_the_tickets_behind_expected_within_fifteen_minutes() -> None:
    own = at(30)
    behind = [own + timedelta(minutes=m) for m in (4, 9, 15, 16, 40)] + [None]
    assert postpone_places(own, behind) == 3  # 4, 9 and 15 minutes after it
    assert postpone_places(own, [own + timedelta(minutes=20)]) == 1  # at least the next
    assert postpone_places(None, [None, None]) == 1
    assert postpone_places(own, []) == 0
    engine = queue_of(4)
    start = {f"kiosk-1-A00{i + 1}": at(10.0 * i) for i in range(4)}  # one call every 10 minutes
    assert places_for(engine, token_hash(TOKENS[0]), start) == 1
    assert places_for(engine, token_hash(TOKENS[9]), start) == 0


def test_a_rating_counts_once_only_after_the_visit_and_per_service_never_per_counter() -> None:
    engine = queue_of(3)
    first, second = token_hash(TOKENS[0]), token_hash(TOKENS[1])
    early = citizen_request(engine, "rate", first, "rate-0001", 0, at(1), (5, True))
    assert (early.ok, early.error) == (False, "not_served")  # waiting: nothing to rate yet
    engine.counter_command("platz-1", "next", {}, "c-1", at(2))
    assert citizen_request(engine, "rate", first, "rate-0002", 0, at(3), (5, True)).error == "not_served"  # called
    engine.counter_command("platz-1", "next", {}, "c-2", at(12))  # A001 done, A002 called
    engine.counter_command("platz-1", "done", {}, "c-3", at(20))
    assert citizen_request(engine, "rate", first, "rate-0003", 0, at(21), (4, True)).ok
    assert citizen_request(engine, "rate", first, "rate-0003", 0, at(22), (4, True)).ok  # a repeat: one rating
    assert citizen_request(engine, "rate", first, "rate-0004", 0, at(23), (1, False)).error == "rated"
    assert citizen_request(engine, "rate", second, "rate-0005", 0, at(24), (2, None)).ok
    assert rating_counts(engine) == {"A": Ratings((0, 1, 0, 1, 0), 1, 0)}
    summary = day_summary(engine)
    assert summary["ratings"] == {"A": {"scores": [0, 1, 0, 1, 0], "settled_yes": 1, "settled_no": 0}}
    assert "platz-1" not in repr(summary["ratings"])
    assert ticket_done_view(engine, TOKENS[0]).rated is True and ticket_done_view(engine, TOKENS[2]).rated is None


def ticket_done_view(engine: OfficeEngine, token: str):  # type: ignore[no-untyped-def]
    from hub.estimate import forecast
    from hub.views import ticket_view

    ticket = next(t for t in engine.tickets.values() if t.token_hash == token_hash(token))
    return ticket_view(engine, ticket, forecast(engine, at(30)), at(30))


def test_a_postponed_ticket_is_left_out_of_the_hubs_check_of_its_told_waits() -> None:
    """Its holder chose to wait longer: its wait says nothing about the estimate (hub/calibration.py)."""
    engine = queue_of(3)
    for i in range(3):
        assert engine.record_told(f"kiosk-1-A00{i + 1}", ToldWait("A", 10.0, 5.0, 15.0))
    assert citizen_request(engine, "postpone", token_hash(TOKENS[0]), "req-00001", 2, at(5)).ok
    for i in range(3):
        engine.counter_command("platz-1", "next", {}, f"c-{i}", at(10 + 10 * i))
    assert todays_calibration(engine)["A"].called == 2
