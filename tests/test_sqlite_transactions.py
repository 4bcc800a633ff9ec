"""A write that fails half-way rolls back and leaves the store usable (process/sqlite.py).

The failure is a real SQLite error raised inside the statement: a trigger added through a second
connection aborts it, as a full disk or an I/O error would. Without the rollback the transaction
stayed open, and every later write of the process failed ("cannot start a transaction within a
transaction") — a kiosk that could not print any more ticket after one failed void.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from hub.inputs import CitizenInput
from hub.store import HubStore
from kiosk.numbering import NumberingScheme
from kiosk.store import Allocation, KioskStore
from kiosk.tracking import new_token
from process.sqlite import open_database, transaction
from protocol.messages import TicketIssued, TicketVoided

DAY = date(2025, 3, 4)


def fail_in_sqlite(path: Path, table: str, when: str = "1") -> Callable[[], None]:
    """Make every insert into and update of `table` (matching `when`) fail; returns the undo."""
    db = sqlite3.connect(path, isolation_level=None)
    for event in ("INSERT", "UPDATE"):
        db.execute(f"CREATE TRIGGER fail_{event.lower()} BEFORE {event} ON {table} WHEN {when} "
                   "BEGIN SELECT RAISE(ABORT, 'simulated disk error'); END")

    def undo() -> None:
        db.execute("DROP TRIGGER fail_insert")
        db.execute("DROP TRIGGER fail_update")
        db.close()

    return undo


def issue(store: KioskStore, service: str = "A") -> TicketIssued:
    from datetime import UTC, datetime

    def event(a: Allocation) -> TicketIssued:
        return TicketIssued(id=f"event-{a.seq:04d}", token=new_token(), service=service, number=a.number, label=a.label,
                            issued_at=datetime(2025, 3, 4, 9, tzinfo=UTC), day=DAY, device="kiosk-1", seq=a.seq)

    return store.allocate(service, DAY, NumberingScheme(), event)


def test_transaction_commits_or_rolls_back(tmp_path: Path) -> None:
    db = open_database(tmp_path / "x.sqlite3", schema="CREATE TABLE t (v INTEGER);")
    with transaction(db):
        db.execute("INSERT INTO t VALUES (1)")
    with pytest.raises(ZeroDivisionError), transaction(db):
        db.execute("INSERT INTO t VALUES (2)")
        raise ZeroDivisionError  # anything, not only SQLite's errors
    assert not db.in_transaction
    assert [v for (v,) in db.execute("SELECT v FROM t")] == [1]
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert db.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL


@pytest.mark.parametrize(("write", "table", "when"), [
    (lambda store, event: store.void(TicketVoided(id=event.id, reason="jam", service="A", number=event.number,
                                                  label=event.label, day=DAY, device="kiosk-1", seq=event.seq)),
     "outbox", "1"),
    (lambda store, event: store.set_day(date(2025, 3, 5)), "meta", "NEW.key = 'day'"),
    (lambda store, event: store.reset_roll(), "meta", "NEW.key = 'roll_count'"),
])
def test_a_failed_kiosk_write_rolls_back_and_the_next_ticket_is_issued(tmp_path: Path, write, table: str,
                                                                       when: str) -> None:
    store = KioskStore(tmp_path / "kiosk.sqlite3")
    try:
        first = issue(store)
        undo = fail_in_sqlite(store.path, table, when)
        with pytest.raises(sqlite3.IntegrityError, match="simulated disk error"):
            write(store, first)
        undo()
        second = issue(store)  # the old code: "cannot start a transaction within a transaction"
        assert (second.seq, second.label) == (2, "A002")
        assert [e.type for e in store.pending()] == ["ticket.issued", "ticket.issued"]  # the void is not half-done
        assert store.stored_day() == DAY and store.roll_count() == 2
    finally:
        store.close()


def test_a_failed_hub_write_rolls_back_and_the_hub_goes_on(tmp_path: Path) -> None:
    store = HubStore(tmp_path / "hub.sqlite3")
    try:
        store.start_day("o", None, DAY, None, expired=("h1", "h2"))
        undo = fail_in_sqlite(store.path, "offices")
        with pytest.raises(sqlite3.IntegrityError):
            store.start_day("o", DAY, date(2025, 3, 5), {"tickets": 1}, expired=("h3",))
        undo()
        assert store.pending_clears("o") == ["h1", "h2"] and store.office_day("o") == DAY  # nothing half-done
        store.cleared("o", ["h1"])
        assert store.pending_clears("o") == ["h2"]
    finally:
        store.close()


def test_a_closed_day_leaves_no_rating_in_the_hub_database(tmp_path: Path) -> None:
    """The day's close deletes its inputs (a rating beside the ticket's call at a counter); the deleted rows
    must not stay readable in a free page of the file (secure_delete), so a copy of the hub's disk taken
    later cannot join a rating to a clerk."""
    marker = "f" * 24 + "0123456789abcdef" + "e" * 24  # a token hash as the input log keeps it
    path = tmp_path / "hub.sqlite3"
    store = HubStore(path)
    at = datetime(2025, 3, 4, 9, 30, tzinfo=UTC)
    store.append("bb-mitte", DAY, CitizenInput(at, "rate", marker, "r1-rate", 0, (5, True)))
    store.append("bb-ost", DAY, CitizenInput(at, "rate", "0" * 64, "r2-rate", 0, (4, None)))  # stays: its page lives on
    store.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    assert marker.encode() in path.read_bytes()  # the check below can see it
    store.start_day("bb-mitte", DAY, date(2025, 3, 5), stats={})
    store.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    store.close()
    leftovers = path.read_bytes() + (path.with_name(path.name + "-wal").read_bytes()
                                     if path.with_name(path.name + "-wal").exists() else b"")
    assert marker.encode() not in leftovers
