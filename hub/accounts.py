"""Clerk, supervisor and technician accounts for the web pages, stored in the hub's database.

Passwords are hashed with scrypt (memory-hard: 16 MiB per guess), each with its own salt.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from datetime import UTC, datetime

from hub.store import HubStore

ROLES = ("clerk", "supervisor", "technician")
N, R, P = 2**14, 8, 1


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


def add_user(store: HubStore, name: str, role: str, password: str) -> None:
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}")
    if len(password) < 10:
        raise ValueError("passwords need at least 10 characters")
    with store.lock:
        store.db.execute("INSERT OR REPLACE INTO users (name, role, password_hash, created) VALUES (?, ?, ?, ?)",
                         (name, role, hash_password(password), datetime.now(UTC).isoformat()))


def remove_user(store: HubStore, name: str) -> bool:
    with store.lock:
        return store.db.execute("DELETE FROM users WHERE name = ?", (name,)).rowcount > 0


def list_users(store: HubStore) -> list[tuple[str, str, str]]:
    with store.lock:
        return [(n, r, c) for n, r, c in store.db.execute("SELECT name, role, created FROM users ORDER BY name")]


def check_login(store: HubStore, name: str, password: str) -> str | None:
    """The user's role when name and password match, else None."""
    with store.lock:
        row = store.db.execute("SELECT role, password_hash FROM users WHERE name = ?", (name,)).fetchone()
    if row is None:
        verify_password(password, hash_password("timing-equaliser"))
        return None
    return str(row[0]) if verify_password(password, row[1]) else None
