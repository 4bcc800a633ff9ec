"""Clerk, supervisor and technician accounts for the web's staff pages, kept in the hub's database.

`HubAccounts` is the account directory the web asks (the interface is the web's own,
web/directory.py; the hub's process hands this one over, hubprocess/app.py). Which roles exist is
the web's business too: they are passed in. The SQL lives in hub/store.py.

Passwords are hashed with scrypt (memory-hard: 16 MiB per guess), each with its own salt. Every
account has a random `stamp`, renewed whenever its password or role is set: a session carries the
stamp it was made with, so a password change, a role change or a removal ends every session of that
account at once (the web compares them on each request). A logout is kept here too (the session's
id until it would have expired), so a hub restart does not bring a logged-out session back. A wrong
name costs exactly what a wrong password costs: it is checked against a dummy hash, so timing does
not tell which names exist.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from hub.store import HubStore, StoredUser
from protocol.fields import account_name_problem

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


class HubAccounts:
    """The staff accounts on one hub database. Blocking (scrypt, SQLite): the web calls it off its event loop."""

    min_password = MIN_PASSWORD

    def __init__(self, store: HubStore, roles: Sequence[str]) -> None:
        self.store = store
        self.roles = tuple(roles)

    def add(self, name: str, role: str, password: str) -> None:
        """Create an account, or give an existing one a new password and role (ending its sessions)."""
        problem = account_name_problem(name)
        if problem is not None:
            raise ValueError(problem)
        if role not in self.roles:
            raise ValueError(f"role must be one of {', '.join(self.roles)}")
        self._check_new_password(password)
        self.store.put_user(StoredUser(name, role, hash_password(password), datetime.now(UTC).isoformat(),
                                       secrets.token_hex(8)))

    def remove(self, name: str) -> bool:
        return self.store.delete_user(name)

    def listing(self) -> list[tuple[str, str, str]]:
        """(name, role, created) of every account, by name."""
        return [(user.name, user.role, user.created) for user in self.store.users()]

    def account(self, name: str) -> Account | None:
        """The account as it is now (a session's user may have been changed or removed since the login)."""
        user = self.store.user(name)
        return None if user is None else Account(name, user.role, user.stamp)

    def check_login(self, name: str, password: str) -> Account | None:
        """The account when name and password match, else None — in the same time for an unknown name."""
        user = self.store.user(name)
        matches = verify_password(password, DUMMY_HASH if user is None else user.password_hash)
        return Account(name, user.role, user.stamp) if matches and user is not None else None

    def change_password(self, name: str, current: str, new: str) -> Account | None:
        """A user's own password change: None when `current` is wrong; ValueError when `new` is too short.
        The new stamp ends the account's other sessions."""
        self._check_new_password(new)
        found = self.check_login(name, current)
        if found is None:
            return None
        stamp = secrets.token_hex(8)
        changed = self.store.set_password(name, hash_password(new), stamp, if_stamp=found.stamp)
        return Account(name, found.role, stamp) if changed else None

    def end_session(self, sid: str, expires: int) -> None:
        """A logout: the session stays over across restarts (until it would have expired anyway)."""
        self.store.end_session(sid, expires, int(time.time()))

    def session_ended(self, sid: str) -> bool:
        return self.store.session_ended(sid)

    def _check_new_password(self, password: str) -> None:
        if len(password) < self.min_password:
            raise ValueError(f"passwords need at least {self.min_password} characters")
