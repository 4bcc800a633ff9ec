"""The account directory the staff pages need, and the roles they know — an interface the web defines.

The web keeps no accounts itself (it holds no durable state): whoever runs the staff pages hands
`add_staff_routes` a directory. In the hub's process that is the hub's database (hub/accounts.py,
wired by hubprocess/app.py), so the web never imports the hub and the hub never imports the web.

A directory is blocking (password hashing, a database): the pages call it off the event loop.
"""

from __future__ import annotations

from typing import Protocol

ROLES = ("clerk", "supervisor", "technician")  # the roles the staff pages know; an account has one


class Account(Protocol):
    """An account as the directory holds it now."""

    @property
    def name(self) -> str: ...

    @property
    def role(self) -> str: ...

    @property
    def stamp(self) -> str:
        """Renewed with every password or role change: a session made with another stamp is over."""
        ...


class AccountDirectory(Protocol):
    @property
    def min_password(self) -> int:
        """The shortest password the directory accepts (the /account form says so before it asks)."""
        ...

    def account(self, name: str) -> Account | None:
        """The account as it is now, or None when it was removed."""
        ...

    def check_login(self, name: str, password: str) -> Account | None:
        """The account when name and password match; as slow for an unknown name as for a wrong password."""
        ...

    def change_password(self, name: str, current: str, new: str) -> Account | None:
        """The account with its new stamp; None when `current` is wrong (ValueError: `new` too short)."""
        ...

    def end_session(self, sid: str, expires: int) -> None:
        """A logout: the session with this id is over, across restarts, until `expires` (Unix seconds)."""
        ...

    def session_ended(self, sid: str) -> bool:
        ...
