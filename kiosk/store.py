"""The kiosk's durable state in one SQLite file: sequence, numbers per service, the outbox.

Allocating a number and writing its outbox entry happen in one transaction, committed with
`synchronous=FULL` in WAL mode (one fsync) *before* the printer gets a byte. After a power cut the
kiosk therefore never reissues a number, and every ticket that may have been printed is delivered.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from kiosk.numbering import NumberingScheme
from protocol.messages import Ack, TicketEvent, TicketIssued, TicketVoided, ticket_event_from_dict

log = logging.getLogger("wartemarke.kiosk.store")

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS numbers (service TEXT PRIMARY KEY, day TEXT NOT NULL, last INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS outbox (seq INTEGER PRIMARY KEY, payload TEXT NOT NULL);
"""


@dataclass(frozen=True)
class Allocation:
    """What a new ticket gets: its outbox sequence number, its number and label."""

    seq: int
    number: int
    label: str


class KioskStore:
    """Thread-safe access to the kiosk's SQLite file (one connection, one lock)."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        # No automatic checkpoint inside a ticket's commit: the monitor checkpoints between tickets.
        self._db.execute("PRAGMA wal_autocheckpoint=0")
        self._db.executescript(SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # -- meta ------------------------------------------------------------------------------

    def _meta(self, key: str) -> str | None:
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def _set_meta(self, key: str, value: str) -> None:
        self._db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))

    def is_initialized(self) -> bool:
        """False for a brand-new (or replaced) kiosk that has not yet resumed from the hub's ack."""
        with self._lock:
            return self._meta("seq") is not None

    def stored_day(self) -> date | None:
        with self._lock:
            value = self._meta("day")
        return None if value is None else date.fromisoformat(value)

    def last_seq(self) -> int:
        with self._lock:
            return int(self._meta("seq") or 0)

    def roll_count(self) -> int:
        with self._lock:
            return int(self._meta("roll_count") or 0)

    def reset_roll(self) -> None:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            self._set_meta("roll_count", "0")
            self._db.execute("COMMIT")

    # -- numbering -------------------------------------------------------------------------

    def resume(self, ack: Ack | None, today: date) -> bool:
        """Take the hub's receipt into account; True when it moved our seq or numbers forward.

        A fresh kiosk starts from it; a kiosk restored from an old backup catches up with it. The
        `last` numbers only count when the ack is from `today`; the seq counts forever.
        """
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                changed = self._resume_locked(ack, today)
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        return changed

    def _resume_locked(self, ack: Ack | None, today: date) -> bool:
        current = self._meta("seq")
        changed = current is None
        seq = int(current or 0)
        if ack is not None and ack.seq > seq:
            seq, changed = ack.seq, True
        if changed:
            self._set_meta("seq", str(seq))
        if ack is None or ack.day != today:
            return changed
        for service, number in ack.last.items():
            row = self._db.execute("SELECT day, last FROM numbers WHERE service = ?", (service,)).fetchone()
            if row is None or row[0] != today.isoformat() or row[1] < number:
                self._db.execute("INSERT OR REPLACE INTO numbers (service, day, last) VALUES (?, ?, ?)",
                                 (service, today.isoformat(), number))
                changed = True
        return changed

    def allocate(self, service: str, day: date, scheme: NumberingScheme,
                 make_event: Callable[[Allocation], TicketIssued]) -> TicketIssued:
        """Allocate the next number and write its outbox entry in ONE synced transaction."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                event = self._allocate_locked(service, day, scheme, make_event)
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        return event

    def _allocate_locked(self, service: str, day: date, scheme: NumberingScheme,
                         make_event: Callable[[Allocation], TicketIssued]) -> TicketIssued:
        seq = int(self._meta("seq") or 0) + 1
        row = self._db.execute("SELECT day, last FROM numbers WHERE service = ?", (service,)).fetchone()
        last = row[1] if row is not None and row[0] == day.isoformat() else 0
        number = scheme.next_number(last)
        event = make_event(Allocation(seq=seq, number=number, label=scheme.label(service, number)))
        self._db.execute("INSERT INTO outbox (seq, payload) VALUES (?, ?)", (seq, json.dumps(event.to_dict())))
        self._db.execute("INSERT OR REPLACE INTO numbers (service, day, last) VALUES (?, ?, ?)",
                         (service, day.isoformat(), number))
        self._set_meta("seq", str(seq))
        self._set_meta("day", day.isoformat())
        self._set_meta("roll_count", str(int(self._meta("roll_count") or 0) + 1))
        return event

    def set_day(self, day: date) -> None:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            self._set_meta("day", day.isoformat())
            self._db.execute("COMMIT")

    def checkpoint(self) -> None:
        """Copy the WAL into the database file. Passive and on its own connection: it neither waits
        for nor blocks a ticket's commit."""
        db = sqlite3.connect(self.path, isolation_level=None)
        try:
            db.execute("PRAGMA wal_checkpoint(PASSIVE)")
        finally:
            db.close()

    # -- outbox ----------------------------------------------------------------------------

    def void(self, voided: TicketVoided) -> None:
        """Replace an issued event whose ticket never came out of the printer by its void."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            self._db.execute("UPDATE outbox SET payload = ? WHERE seq = ?",
                             (json.dumps(voided.to_dict()), voided.seq))
            self._db.execute("COMMIT")

    def pending(self, limit: int = 500) -> list[TicketEvent]:
        """Unacknowledged events, oldest first."""
        with self._lock:
            rows = self._db.execute("SELECT payload FROM outbox ORDER BY seq LIMIT ?", (limit,)).fetchall()
        return [ticket_event_from_dict(json.loads(row[0])) for row in rows]

    def pending_count(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM outbox").fetchone()[0])

    def max_outbox_seq(self) -> int:
        with self._lock:
            row = self._db.execute("SELECT MAX(seq) FROM outbox").fetchone()
        return int(row[0] or 0)

    def delete_acked(self, up_to_seq: int) -> int:
        """Forget events the hub has durably ingested; returns how many were deleted."""
        with self._lock:
            cursor = self._db.execute("DELETE FROM outbox WHERE seq <= ?", (up_to_seq,))
        return cursor.rowcount
