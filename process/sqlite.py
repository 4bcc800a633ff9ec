"""SQLite as every process of ours uses it: one connection in WAL mode, and transactions that either
commit or roll back.

A write that fails half-way must not leave its transaction open: the next `BEGIN` would fail with
"cannot start a transaction within a transaction", and so would every write after it, until the
process is restarted. `transaction()` therefore rolls back on any exception (also one in `COMMIT`).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Literal

Synchronous = Literal["FULL", "NORMAL"]


def open_database(path: Path, synchronous: Synchronous = "FULL", schema: str = "") -> sqlite3.Connection:
    """One connection for all threads of the process (the caller serialises them with a lock), in
    autocommit mode so that transactions are explicit. `synchronous=FULL` in WAL mode: a commit is on
    disk (one fsync) when it returns. `secure_delete`: what is deleted (a day's tickets and their ratings, a
    push subscription) is overwritten in the file, not left in a free page for anyone who copies it —
    Debian's SQLite does so by default, other builds (pip wheels, other systems) do not."""
    path.parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute(f"PRAGMA synchronous={synchronous}")
    db.execute("PRAGMA secure_delete=ON")
    if schema:
        db.executescript(schema)
    return db


@contextmanager
def transaction(db: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """`BEGIN IMMEDIATE` (the write lock at once, so no later statement waits for it) … `COMMIT`;
    `ROLLBACK` when anything in between, or the commit itself, raises."""
    db.execute("BEGIN IMMEDIATE")
    try:
        yield db
        db.execute("COMMIT")
    except BaseException:
        if db.in_transaction:  # SQLite may have rolled back by itself (e.g. a full disk at COMMIT)
            db.execute("ROLLBACK")
        raise
