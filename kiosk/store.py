"""The kiosk's durable state in one SQLite file: sequence, numbers per service and day, the outbox.

Allocating a number and writing its outbox entry happen in one transaction, committed with
`synchronous=FULL` in WAL mode (one fsync) *before* the printer gets a byte. After a power cut the
kiosk therefore never reissues a number, and every ticket that may have been printed is delivered.
Numbers are kept per day (`day_numbers`), so a kiosk that follows the hub back to a day it already
issued numbers for continues them. After each print the kiosk notes the seq as printed (a commit without
fsync: off the press path); an outbox entry issued but not noted at start-up was interrupted mid-print
and is sent as `assumed_printed`.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import sqlite3
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

from kiosk.numbering import NumberingScheme
from process.sqlite import open_database, transaction
from protocol.messages import Ack, TicketEvent, TicketIssued, TicketVoided, ticket_event_from_dict

log = logging.getLogger("wartemarke.kiosk.store")
KEEP_NUMBERS = timedelta(days=400)  # numbers of days this far before the current one are forgotten

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS numbers (service TEXT PRIMARY KEY, day TEXT NOT NULL, last INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS day_numbers (
    service TEXT NOT NULL, day TEXT NOT NULL, last INTEGER NOT NULL, PRIMARY KEY (service, day)) WITHOUT ROWID;
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
        self.path = path
        self._lock = threading.Lock()
        self._db = open_database(path, "FULL", SCHEMA)
        # No automatic checkpoint inside a ticket's commit: the monitor checkpoints between tickets.
        self._db.execute("PRAGMA wal_autocheckpoint=0")

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
        with self._lock, transaction(self._db):
            self._set_meta("roll_count", "0")

    # -- numbering -------------------------------------------------------------------------

    def resume(self, ack: Ack | None, today: date) -> bool:
        """Take the hub's receipt into account; True when it moved our seq or numbers forward.

        A fresh kiosk starts from it; a kiosk restored from an old backup catches up with it. The
        `last` numbers only count when the ack is from `today`; the seq counts forever.
        """
        with self._lock, transaction(self._db):
            return self._resume_locked(ack, today)

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
            if self._last_number(service, today) < number:
                self._set_last_number(service, today, number)
                changed = True
        return changed

    def _last_number(self, service: str, day: date) -> int:
        """The highest number this kiosk holds for a service and day. `numbers`, the table of releases
        before `day_numbers`, is still read and written: an update, or a rollback, on a working day
        continues that day's numbers."""
        row = self._db.execute("SELECT last FROM day_numbers WHERE service = ? AND day = ?",
                               (service, day.isoformat())).fetchone()
        old = self._db.execute("SELECT last FROM numbers WHERE service = ? AND day = ?",
                               (service, day.isoformat())).fetchone()
        return max(int(row[0]) if row else 0, int(old[0]) if old else 0)

    def _set_last_number(self, service: str, day: date, number: int) -> None:
        self._db.execute("INSERT OR REPLACE INTO day_numbers (service, day, last) VALUES (?, ?, ?)",
                         (service, day.isoformat(), number))
        self._db.execute("INSERT OR REPLACE INTO numbers (service, day, last) VALUES (?, ?, ?)",
                         (service, day.isoformat(), number))

    def allocate(self, service: str, day: date, scheme: NumberingScheme,
                 make_event: Callable[[Allocation], TicketIssued], floor: int = 0) -> TicketIssued:
        """Allocate the next number (above `floor` too: the hub's `ack.last` for this day) and write its
        outbox entry in ONE synced transaction."""
        with self._lock, transaction(self._db):
            return self._allocate_locked(service, day, scheme, make_event, floor)

    def _allocate_locked(self, service: str, day: date, scheme: NumberingScheme,
                         make_event: Callable[[Allocation], TicketIssued], floor: int) -> TicketIssued:
        seq = int(self._meta("seq") or 0) + 1
        number = scheme.next_number(max(self._last_number(service, day), floor))
        event = make_event(Allocation(seq=seq, number=number, label=scheme.label(service, number)))
        self._db.execute("INSERT INTO outbox (seq, payload) VALUES (?, ?)", (seq, json.dumps(event.to_dict())))
        self._set_last_number(service, day, number)
        self._db.execute("DELETE FROM day_numbers WHERE day < ?", ((day - KEEP_NUMBERS).isoformat(),))
        self._set_meta("seq", str(seq))
        self._set_meta("day", day.isoformat())
        self._set_meta("roll_count", str(int(self._meta("roll_count") or 0) + 1))
        return event

    def mark_printed(self, seq: int) -> None:
        """The ticket of `seq` came out of the printer. Committed without fsync (not on the press path):
        a kill survives it, a power cut right after the print may lose it — the ticket is then reported
        as assumed printed although it did print."""
        with self._lock:
            self._db.execute("PRAGMA synchronous=NORMAL")  # WAL + NORMAL: this commit does not fsync
            try:
                with transaction(self._db):
                    self._set_meta("printed_seq", str(seq))
            finally:
                self._db.execute("PRAGMA synchronous=FULL")

    def flag_unprinted(self) -> list[TicketIssued]:
        """At start-up: outbox entries allocated but never noted as printed (nor voided) were interrupted
        mid-print. They are delivered as issued — the ticket may be in a citizen's hand — but flagged
        `assumed_printed`, so the hub and a technician can tell. Returns the flagged events."""
        with self._lock, transaction(self._db):
            printed = self._meta("printed_seq")
            if printed is None:  # first start of this release: older entries' outcomes were known
                row = self._db.execute("SELECT MAX(seq) FROM outbox").fetchone()
                printed = str(row[0] or 0)
                self._set_meta("printed_seq", printed)
            flagged = []
            for seq, payload in self._db.execute("SELECT seq, payload FROM outbox WHERE seq > ? ORDER BY seq",
                                                 (int(printed),)).fetchall():
                event = ticket_event_from_dict(json.loads(payload))
                if isinstance(event, TicketIssued) and not event.assumed_printed:
                    event = dataclasses.replace(event, assumed_printed=True)
                    self._db.execute("UPDATE outbox SET payload = ? WHERE seq = ?",
                                     (json.dumps(event.to_dict()), seq))
                    flagged.append(event)
            return flagged

    def set_day(self, day: date) -> None:
        with self._lock, transaction(self._db):
            self._set_meta("day", day.isoformat())

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
        with self._lock, transaction(self._db):
            self._db.execute("UPDATE outbox SET payload = ? WHERE seq = ?", (json.dumps(voided.to_dict()), voided.seq))

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
