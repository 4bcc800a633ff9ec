"""The hub's durable state: an input log per office and day, kiosk ack positions, daily statistics.

The engine is pure, so its state is a function of its inputs: the hub commits every accepted input
(ticket event, command, close-out) before acting on it, and after a crash replays the day's log to
the identical state. Per-ticket data lives only in that log and is deleted when the day is over;
only aggregates (hub/statistics.py) stay.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from hub.inputs import Input, decode, encode
from process.sqlite import open_database, transaction

log = logging.getLogger("wartemarke.hub.store")

SCHEMA = """
CREATE TABLE IF NOT EXISTS inputs (
    seq INTEGER PRIMARY KEY, office TEXT NOT NULL, day TEXT NOT NULL, at TEXT NOT NULL,
    kind TEXT NOT NULL, payload TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS inputs_office_day ON inputs (office, day, seq);
CREATE TABLE IF NOT EXISTS kiosk_acks (
    office TEXT NOT NULL, device TEXT NOT NULL, contiguous INTEGER NOT NULL, PRIMARY KEY (office, device));
CREATE TABLE IF NOT EXISTS kiosk_received (
    office TEXT NOT NULL, device TEXT NOT NULL, seq INTEGER NOT NULL, PRIMARY KEY (office, device, seq));
CREATE TABLE IF NOT EXISTS offices (office TEXT PRIMARY KEY, day TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS pending_clears (
    office TEXT NOT NULL, token_hash TEXT NOT NULL, PRIMARY KEY (office, token_hash));
CREATE TABLE IF NOT EXISTS daily_stats (
    office TEXT NOT NULL, day TEXT NOT NULL, payload TEXT NOT NULL, PRIMARY KEY (office, day));
CREATE TABLE IF NOT EXISTS users (
    name TEXT PRIMARY KEY, role TEXT NOT NULL, password_hash TEXT NOT NULL, created TEXT NOT NULL,
    stamp TEXT NOT NULL DEFAULT '');
CREATE TABLE IF NOT EXISTS ended_sessions (sid TEXT PRIMARY KEY, expires INTEGER NOT NULL);
"""


@dataclass(frozen=True)
class StoredUser:
    """A staff account as stored (hub/accounts.py hashes the passwords and makes the stamps)."""

    name: str
    role: str
    password_hash: str
    created: str
    stamp: str


class HubStore:
    """One SQLite file (WAL, synchronous=FULL); a lock serialises writers of this process."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.lock = threading.RLock()
        self.db = open_database(path, "FULL", SCHEMA)
        self._migrate()

    def _migrate(self) -> None:
        """Databases made by older versions: accounts get the session stamp (hub/accounts.py)."""
        columns = {row[1] for row in self.db.execute("PRAGMA table_info(users)")}
        if "stamp" not in columns:
            self.db.execute("ALTER TABLE users ADD COLUMN stamp TEXT NOT NULL DEFAULT ''")

    def close(self) -> None:
        with self.lock:
            self.db.close()

    # -- the day --------------------------------------------------------------------------------

    def office_day(self, office: str) -> date | None:
        with self.lock:
            row = self.db.execute("SELECT day FROM offices WHERE office = ?", (office,)).fetchone()
        return None if row is None else date.fromisoformat(row[0])

    def inputs(self, office: str, day: date) -> list[Input]:
        with self.lock:
            rows = self.db.execute("SELECT kind, at, payload FROM inputs WHERE office = ? AND day = ? ORDER BY seq",
                                   (office, day.isoformat())).fetchall()
        return [decode(kind, datetime.fromisoformat(at), payload) for kind, at, payload in rows]

    def append(self, office: str, day: date, item: Input,
               kiosk: tuple[str, int, int | None] | None = None) -> int | None:
        """Commit one input (and, for a kiosk event, its seq); returns the kiosk's new contiguous ack."""
        with self.lock, transaction(self.db):
            self.db.execute("INSERT INTO inputs (office, day, at, kind, payload) VALUES (?, ?, ?, ?, ?)",
                            (office, day.isoformat(), item.at.isoformat(), *encode(item)))
            self.db.execute("INSERT OR REPLACE INTO offices (office, day) VALUES (?, ?)", (office, day.isoformat()))
            return self._receive(office, *kiosk) if kiosk else None

    def receive_only(self, office: str, device: str, seq: int, pending_from: int | None = None) -> int:
        """A kiosk event that changes nothing (a duplicate) still moves the ack forward."""
        with self.lock, transaction(self.db):
            return self._receive(office, device, seq, pending_from)

    def _receive(self, office: str, device: str, seq: int, pending_from: int | None = None) -> int:
        contiguous = self._contiguous(office, device)
        if pending_from is not None and contiguous < pending_from - 1:
            # The kiosk deleted everything below pending_from after a hub acknowledged it: this database
            # is older than that hub's (a restore from backup). Waiting for those events would stall
            # the kiosk's acks for good; their tickets are missing from this hub's queue either way.
            log.warning("%s/%s: events %d..%d were acknowledged by an earlier hub state (restored from a "
                        "backup?) and are gone from the kiosk: their tickets are not in this queue",
                        office, device, contiguous + 1, pending_from - 1)
            contiguous = pending_from - 1
            self.db.execute("INSERT OR REPLACE INTO kiosk_acks (office, device, contiguous) VALUES (?, ?, ?)",
                            (office, device, contiguous))
        if seq > contiguous:
            self.db.execute("INSERT OR IGNORE INTO kiosk_received (office, device, seq) VALUES (?, ?, ?)",
                            (office, device, seq))
            while self.db.execute("SELECT 1 FROM kiosk_received WHERE office = ? AND device = ? AND seq = ?",
                                  (office, device, contiguous + 1)).fetchone():
                contiguous += 1
            self.db.execute("DELETE FROM kiosk_received WHERE office = ? AND device = ? AND seq <= ?",
                            (office, device, contiguous))
            self.db.execute("INSERT OR REPLACE INTO kiosk_acks (office, device, contiguous) VALUES (?, ?, ?)",
                            (office, device, contiguous))
        return contiguous

    def _contiguous(self, office: str, device: str) -> int:
        row = self.db.execute("SELECT contiguous FROM kiosk_acks WHERE office = ? AND device = ?",
                              (office, device)).fetchone()
        return 0 if row is None else int(row[0])

    def acks(self, office: str) -> dict[str, int]:
        with self.lock:
            rows = self.db.execute("SELECT device, contiguous FROM kiosk_acks WHERE office = ?", (office,)).fetchall()
        return {device: int(seq) for device, seq in rows}

    def start_day(self, office: str, old_day: date | None, new_day: date, stats: dict[str, Any] | None,
                  expired: tuple[str, ...] = ()) -> None:
        """Close a business day: keep its aggregate statistics, delete its per-ticket inputs, and remember
        its tickets' tracking topics until the broker has confirmed clearing them (`pending_clears`)."""
        with self.lock, transaction(self.db):
            if old_day is not None:
                if stats is not None:
                    self.db.execute("INSERT OR REPLACE INTO daily_stats (office, day, payload) VALUES (?, ?, ?)",
                                    (office, old_day.isoformat(), json.dumps(stats)))
                self.db.execute("DELETE FROM inputs WHERE office = ? AND day <= ?", (office, old_day.isoformat()))
            self.db.executemany("INSERT OR IGNORE INTO pending_clears (office, token_hash) VALUES (?, ?)",
                                [(office, h) for h in expired])
            self.db.execute("INSERT OR REPLACE INTO offices (office, day) VALUES (?, ?)", (office, new_day.isoformat()))

    def pending_clears(self, office: str, limit: int = 1000) -> list[str]:
        """Tracking topics of ended days that the broker has not yet confirmed as cleared."""
        with self.lock:
            rows = self.db.execute("SELECT token_hash FROM pending_clears WHERE office = ? LIMIT ?",
                                   (office, limit)).fetchall()
        return [str(row[0]) for row in rows]

    def cleared(self, office: str, token_hashes: list[str]) -> None:
        with self.lock, transaction(self.db):
            self.db.executemany("DELETE FROM pending_clears WHERE office = ? AND token_hash = ?",
                                [(office, h) for h in token_hashes])

    def daily_stats(self, office: str, since: date | None = None) -> dict[date, dict[str, Any]]:
        with self.lock:
            rows = self.db.execute("SELECT day, payload FROM daily_stats WHERE office = ? AND day >= ? ORDER BY day",
                                   (office, (since or date.min).isoformat())).fetchall()
        return {date.fromisoformat(day): json.loads(payload) for day, payload in rows}

    def backup(self, target: Path) -> None:
        """An online, consistent copy (SQLite backup API) while the hub keeps running."""
        with self.lock:
            dest = sqlite3.connect(target)
            try:
                self.db.backup(dest)
            finally:
                dest.close()

    # -- staff accounts (hub/accounts.py) -------------------------------------------------------

    def put_user(self, user: StoredUser) -> None:
        """Create an account, or replace the one of that name."""
        with self.lock:
            self.db.execute("INSERT OR REPLACE INTO users (name, role, password_hash, created, stamp) "
                            "VALUES (?, ?, ?, ?, ?)",
                            (user.name, user.role, user.password_hash, user.created, user.stamp))

    def delete_user(self, name: str) -> bool:
        with self.lock:
            return self.db.execute("DELETE FROM users WHERE name = ?", (name,)).rowcount > 0

    def user(self, name: str) -> StoredUser | None:
        with self.lock:
            row = self.db.execute("SELECT name, role, password_hash, created, stamp FROM users WHERE name = ?",
                                  (name,)).fetchone()
        return None if row is None else StoredUser(*(str(value) for value in row))

    def users(self) -> list[StoredUser]:
        with self.lock:
            rows = self.db.execute("SELECT name, role, password_hash, created, stamp FROM users "
                                   "ORDER BY name").fetchall()
        return [StoredUser(*(str(value) for value in row)) for row in rows]

    def end_session(self, sid: str, expires: int, now: int) -> None:
        """A logged-out session's id, kept until the session would have expired anyway."""
        with self.lock:
            self.db.execute("DELETE FROM ended_sessions WHERE expires <= ?", (now,))
            self.db.execute("INSERT OR REPLACE INTO ended_sessions (sid, expires) VALUES (?, ?)", (sid, expires))

    def session_ended(self, sid: str) -> bool:
        with self.lock:
            return self.db.execute("SELECT 1 FROM ended_sessions WHERE sid = ?", (sid,)).fetchone() is not None

    def set_password(self, name: str, password_hash: str, stamp: str, if_stamp: str) -> bool:
        """A new password and stamp, only while the account still has `if_stamp` (nobody changed it since)."""
        with self.lock:
            return self.db.execute("UPDATE users SET password_hash = ?, stamp = ? WHERE name = ? AND stamp = ?",
                                   (password_hash, stamp, name, if_stamp)).rowcount > 0
