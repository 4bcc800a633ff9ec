"""The notifier's durable state (SQLite): the subscriptions and, per ticket, every notification ever
recorded for it — the record is what makes a notification go out once (docs/architecture.md, "notifier/").

A subscription is keyed by the hash of the ticket's token (never the token) and holds what the browser
gave us to reach it: the push endpoint and its two keys, the citizen's choice and language. It is
deleted, with its notifications, when the ticket ends: that is all the personal data the notifier keeps.
"""

from __future__ import annotations

import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path

from notifier.rules import Notification
from process.sqlite import open_database, transaction

SCHEMA = """
CREATE TABLE IF NOT EXISTS subscriptions (
    hash TEXT PRIMARY KEY, office TEXT NOT NULL, endpoint TEXT NOT NULL, p256dh TEXT NOT NULL,
    auth TEXT NOT NULL, choice TEXT NOT NULL, lang TEXT NOT NULL, day TEXT NOT NULL, ending INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS notifications (
    hash TEXT NOT NULL, key TEXT NOT NULL, kind TEXT NOT NULL, title TEXT NOT NULL, body TEXT NOT NULL,
    ttl_s INTEGER NOT NULL, state TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,
    next_at REAL NOT NULL, recorded_at REAL NOT NULL, PRIMARY KEY (hash, key));
CREATE INDEX IF NOT EXISTS pending ON notifications (state, next_at);
"""
PENDING, SENT, FAILED = "pending", "sent", "failed"


@dataclass(frozen=True)
class Subscription:
    hash: str
    office: str
    endpoint: str
    p256dh: str
    auth: str
    choice: str
    lang: str
    day: str  # the ticket's business day: a subscription never outlives the day after it

    def info(self) -> dict[str, object]:
        """As pywebpush takes it (the browser's PushSubscription.toJSON())."""
        return {"endpoint": self.endpoint, "keys": {"p256dh": self.p256dh, "auth": self.auth}}


@dataclass(frozen=True)
class Outgoing:
    """A recorded notification not yet confirmed by the push service."""

    subscription: Subscription
    key: str
    kind: str
    title: str
    body: str
    ttl_s: int
    attempts: int
    recorded_at: float


class Store:
    def __init__(self, path: Path) -> None:
        self._db = open_database(path, schema=SCHEMA)
        self._lock = threading.Lock()

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # -- subscriptions --------------------------------------------------------------------------

    def subscribe(self, s: Subscription) -> None:
        """A new subscription, or a new endpoint or choice for the same ticket (its record stays: what was
        sent is not sent again)."""
        with self._lock, transaction(self._db) as db:
            db.execute("INSERT INTO subscriptions (hash, office, endpoint, p256dh, auth, choice, lang, day) "
                       "VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (hash) DO UPDATE SET endpoint = excluded.endpoint, "
                       "p256dh = excluded.p256dh, auth = excluded.auth, choice = excluded.choice, "
                       "lang = excluded.lang",
                       (s.hash, s.office, s.endpoint, s.p256dh, s.auth, s.choice, s.lang, s.day))

    def get(self, token_hash: str) -> Subscription | None:
        with self._lock:
            row = self._db.execute("SELECT hash, office, endpoint, p256dh, auth, choice, lang, day FROM subscriptions "
                                   "WHERE hash = ?", (token_hash,)).fetchone()
        return None if row is None else Subscription(*row)

    def hashes(self) -> list[str]:
        with self._lock:
            return [row[0] for row in self._db.execute("SELECT hash FROM subscriptions")]

    def delete_days_before(self, day: str) -> int:
        """Subscriptions of tickets older than `day`: their views were cleared while we were not listening."""
        with self._lock, transaction(self._db) as db:
            db.execute("DELETE FROM notifications WHERE hash IN (SELECT hash FROM subscriptions WHERE day < ?)",
                       (day,))
            return db.execute("DELETE FROM subscriptions WHERE day < ?", (day,)).rowcount

    def delete(self, token_hash: str) -> bool:
        """The subscription and its record go (unsubscribed, the push service said 404/410, the ticket ended)."""
        with self._lock, transaction(self._db) as db:
            db.execute("DELETE FROM notifications WHERE hash = ?", (token_hash,))
            return db.execute("DELETE FROM subscriptions WHERE hash = ?", (token_hash,)).rowcount > 0

    def end(self, token_hash: str) -> None:
        """The ticket is over: delete now, or once its last notification (e.g. "closed") is out."""
        with self._lock, transaction(self._db) as db:
            db.execute("UPDATE subscriptions SET ending = 1 WHERE hash = ?", (token_hash,))
            self._delete_if_ended(db, token_hash)

    @staticmethod
    def _delete_if_ended(db: sqlite3.Connection, token_hash: str) -> None:
        pending = db.execute("SELECT 1 FROM notifications WHERE hash = ? AND state = ?", (token_hash, PENDING))
        if pending.fetchone() is None and db.execute("SELECT 1 FROM subscriptions WHERE hash = ? AND ending = 1",
                                                     (token_hash,)).fetchone() is not None:
            db.execute("DELETE FROM notifications WHERE hash = ?", (token_hash,))
            db.execute("DELETE FROM subscriptions WHERE hash = ?", (token_hash,))

    def count(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT count(*) FROM subscriptions").fetchone()[0])

    # -- notifications --------------------------------------------------------------------------

    def record(self, token_hash: str, n: Notification, now: float) -> bool:
        """Record a notification to send; False when its key was recorded before (sent or not)."""
        with self._lock, transaction(self._db) as db:
            if db.execute("SELECT 1 FROM subscriptions WHERE hash = ?", (token_hash,)).fetchone() is None:
                return False
            cursor = db.execute("INSERT OR IGNORE INTO notifications (hash, key, kind, title, body, ttl_s, state, "
                                "next_at, recorded_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                                (token_hash, n.key, n.kind, n.title, n.body, n.ttl_s, PENDING, now, now))
            return cursor.rowcount > 0

    def due(self, now: float, limit: int = 100) -> list[Outgoing]:
        """Pending notifications whose time has come, oldest first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT s.hash, s.office, s.endpoint, s.p256dh, s.auth, s.choice, s.lang, s.day, n.key, n.kind, "
                "n.title, n.body, n.ttl_s, n.attempts, n.recorded_at "
                "FROM notifications n JOIN subscriptions s USING (hash) "
                "WHERE n.state = ? AND n.next_at <= ? ORDER BY n.recorded_at LIMIT ?", (PENDING, now, limit))
            found = rows.fetchall()
        return [Outgoing(Subscription(*row[:8]), *row[8:]) for row in found]

    def next_due(self) -> float | None:
        with self._lock:
            row = self._db.execute("SELECT min(next_at) FROM notifications WHERE state = ?", (PENDING,)).fetchone()
        return None if row[0] is None else float(row[0])

    def settle(self, token_hash: str, key: str, state: str) -> None:
        """Sent (the push service took it) or failed (it refused it for good, or its time-to-live is over)."""
        with self._lock, transaction(self._db) as db:
            db.execute("UPDATE notifications SET state = ?, attempts = attempts + 1 WHERE hash = ? AND key = ?",
                       (state, token_hash, key))
            self._delete_if_ended(db, token_hash)

    def retry(self, token_hash: str, key: str, at: float) -> None:
        with self._lock, transaction(self._db) as db:
            db.execute("UPDATE notifications SET attempts = attempts + 1, next_at = ? WHERE hash = ? AND key = ?",
                       (at, token_hash, key))

    def sent_kinds(self, token_hash: str) -> list[str]:
        """What the push service has taken for this ticket, in order (the page shows it; tests wait on it)."""
        with self._lock:
            rows = self._db.execute("SELECT kind FROM notifications WHERE hash = ? AND state = ? "
                                    "ORDER BY recorded_at", (token_hash, SENT))
            return [row[0] for row in rows]
