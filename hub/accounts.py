"""Clerk, supervisor and technician accounts for the web pages, stored in the hub's database.

Passwords are hashed with scrypt (memory-hard: 16 MiB per guess), each with its own salt. Every
account has a random `stamp`, renewed whenever its password or role is set: a session carries the
stamp it was made with, so a password change, a role change or a removal ends every session of that
account at once (web/staff.py compares them on each request). A wrong name costs exactly what a wrong
password costs: it is checked against a dummy hash, so timing does not tell which names exist.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

from hub.store import HubStore

ROLES = ("clerk", "supervisor", "technician")
N, R, P = 2**14, 8, 1
MIN_PASSWORD = 10


@dataclass(frozen=True)
class Account:
    name: str
    role: str
    stamp: str  # changes with the password or the role: sessions with an older stamp are over


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=N, r=R, p=P, maxmem=64 * 1024 * 1024, dklen=32)
    return f"scrypt${N}${R}${P}${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}"


def verify_password(password: str, stored: str) -> bool:
    try:
        kind, n, r, p, salt, digest = stored.split("$")
        if kind != "scrypt":
            return False
        candidate = hashlib.scrypt(password.encode(), salt=base64.b64decode(salt), n=int(n), r=int(r), p=int(p),
                                   maxmem=64 * 1024 * 1024, dklen=32)
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(candidate, base64.b64decode(digest))


# What an unknown name's password is checked against: the same work as a real account's, and made
# here, once, so that no login pays for making it.
DUMMY_HASH = hash_password(secrets.token_hex(16))


def _check_new_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise ValueError(f"passwords need at least {MIN_PASSWORD} characters")


def add_user(store: HubStore, name: str, role: str, password: str) -> None:
    """Create an account, or give an existing one a new password and role (ending its sessions)."""
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}")
    _check_new_password(password)
    with store.lock:
        store.db.execute("INSERT OR REPLACE INTO users (name, role, password_hash, created, stamp) "
                         "VALUES (?, ?, ?, ?, ?)",
                         (name, role, hash_password(password), datetime.now(UTC).isoformat(), secrets.token_hex(8)))


def remove_user(store: HubStore, name: str) -> bool:
    with store.lock:
        return store.db.execute("DELETE FROM users WHERE name = ?", (name,)).rowcount > 0


def list_users(store: HubStore) -> list[tuple[str, str, str]]:
    with store.lock:
        return [(n, r, c) for n, r, c in store.db.execute("SELECT name, role, created FROM users ORDER BY name")]


def account(store: HubStore, name: str) -> Account | None:
    """The account as it is now (a session's user may have been changed or removed since the login)."""
    with store.lock:
        row = store.db.execute("SELECT role, stamp FROM users WHERE name = ?", (name,)).fetchone()
    return None if row is None else Account(name, str(row[0]), str(row[1]))


def check_login(store: HubStore, name: str, password: str) -> Account | None:
    """The account when name and password match, else None — in the same time for an unknown name."""
    with store.lock:
        row = store.db.execute("SELECT role, password_hash, stamp FROM users WHERE name = ?", (name,)).fetchone()
    stored = DUMMY_HASH if row is None else str(row[1])
    matches = verify_password(password, stored)
    return Account(name, str(row[0]), str(row[2])) if matches and row is not None else None


def change_password(store: HubStore, name: str, current: str, new: str) -> Account | None:
    """A user's own password change: None when `current` is wrong; ValueError when `new` is too short.
    The new stamp ends the account's other sessions."""
    _check_new_password(new)
    found = check_login(store, name, current)
    if found is None:
        return None
    stamp = secrets.token_hex(8)
    with store.lock:
        changed = store.db.execute("UPDATE users SET password_hash = ?, stamp = ? WHERE name = ? AND stamp = ?",
                                   (hash_password(new), stamp, name, found.stamp)).rowcount
    return Account(name, found.role, stamp) if changed else None
