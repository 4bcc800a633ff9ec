"""hub/arrival.py: the hub dates a ticket by its own clock, and one kiosk's tickets keep their order."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from hub.arrival import hub_issued_at
from protocol.messages import TicketIssued

RECEIVED = datetime(2026, 11, 30, 9, 0, 0, tzinfo=UTC)
DAY_START = datetime(2026, 11, 30, 0, 0, tzinfo=UTC)
TOKEN = "A" * 26


def issued(number: int, waited_ms: int, kiosk_clock_off: timedelta = timedelta(0)) -> TicketIssued:
    sent = RECEIVED + kiosk_clock_off
    return TicketIssued(id=f"k1-{number}", token=TOKEN, service="A", number=number, label=f"A{number:03d}",
                        issued_at=sent - timedelta(milliseconds=waited_ms), day=date(2026, 11, 30),
                        device="kiosk-1", seq=number, sent_at=sent)


def test_the_wait_on_the_kiosk_dates_the_ticket_whatever_its_clock() -> None:
    for off in (timedelta(days=30), timedelta(hours=-14), timedelta(0)):
        assert hub_issued_at(issued(1, 250, off), RECEIVED, DAY_START) == RECEIVED - timedelta(milliseconds=250)


def test_a_later_ticket_of_the_same_kiosk_is_never_filed_before_an_earlier_one() -> None:
    """A002 waited 40 ms on the kiosk and arrived at 9:00:00.000; A003 waited 90 ms and arrived 20 ms
    later: by the kiosk's waits alone A003 would be filed 30 ms before A002 and called first."""
    a2 = hub_issued_at(issued(2, 40), RECEIVED, DAY_START)
    later = RECEIVED + timedelta(milliseconds=20)
    assert hub_issued_at(issued(3, 90), later, DAY_START) < a2  # the jitter the floor is for
    assert hub_issued_at(issued(3, 90), later, DAY_START, earlier=a2) == a2
    assert hub_issued_at(issued(3, 10), later, DAY_START, earlier=a2) == later - timedelta(milliseconds=10)


def test_the_floor_never_dates_a_ticket_after_its_receipt() -> None:
    assert hub_issued_at(issued(3, 0), RECEIVED, DAY_START, earlier=RECEIVED + timedelta(hours=1)) == RECEIVED
