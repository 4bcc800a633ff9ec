"""Signed cookies for the office-network pages: sessions, CSRF tokens, login-form tokens, flash messages.

The web tier keeps no session table (it holds no durable state): a cookie carries its own content,
`base64url(JSON) "." base64url(HMAC-SHA256(secret, purpose NUL JSON))`. The purpose is part of the
MAC, so a flash cookie can never pass as a session and the other way round. Whoever holds the secret
(`[web] session_secret_file`; a random one per process otherwise) can mint sessions, so it is read
from a file only root and the hub can read.

- A session says who is logged in, as what and until when, and carries a random session id `sid` and
  the account's stamp at login (hub/accounts.py): a password or role change, or the account's removal,
  ends every session made before it.
- The CSRF token of a session is HMAC(secret, "csrf" NUL sid): nothing to store, and a new login
  (a new sid) gives a new token.
- Logging out is recorded by the account directory (web/auth.py), which outlives a restart.
- A browser that logged in as a user keeps a signed "known device" cookie naming that user: the
  per-account limit on failed logins does not lock it out (web/auth.py), so guessing cannot lock a
  clerk out of her own PC.
- The login form, before any session exists, is protected by a double-submit token: a random nonce in
  an HttpOnly cookie and HMAC(secret, "login" NUL nonce) in the form.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

SESSION_COOKIE = "wm_session"
FLASH_COOKIE = "wm_flash"
LOGIN_COOKIE = "wm_login"
DEVICE_COOKIE = "wm_device"
SESSION_LIFETIME_S = 10 * 3600
FLASH_LIFETIME_S = 120
LOGIN_FORM_LIFETIME_S = 3600
DEVICE_LIFETIME_S = 365 * 86400
MAX_COOKIE_CHARS = 3000


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class Signer:
    """HMAC-SHA256 over a purpose and a value; tokens and signed JSON."""

    def __init__(self, secret: bytes) -> None:
        if len(secret) < 16:
            raise ValueError("the session secret needs at least 16 bytes")
        self._secret = secret

    def mac(self, purpose: str, value: bytes) -> bytes:
        return hmac.new(self._secret, purpose.encode() + b"\0" + value, hashlib.sha256).digest()

    def token(self, purpose: str, value: str) -> str:
        return _b64(self.mac(purpose, value.encode()))

    def check_token(self, purpose: str, value: str, candidate: str | None) -> bool:
        return candidate is not None and hmac.compare_digest(self.token(purpose, value).encode(),
                                                             candidate.encode("utf-8", "replace"))

    def dumps(self, purpose: str, data: dict[str, Any]) -> str:
        body = json.dumps(data, separators=(",", ":"), sort_keys=True).encode()
        return f"{_b64(body)}.{_b64(self.mac(purpose, body))}"

    def loads(self, purpose: str, cookie: str | None) -> dict[str, Any] | None:
        if not cookie or len(cookie) > MAX_COOKIE_CHARS or cookie.count(".") != 1:
            return None
        body_text, mac_text = cookie.split(".")
        try:
            body, mac = _unb64(body_text), _unb64(mac_text)
        except (ValueError, binascii.Error):
            return None
        if not hmac.compare_digest(mac, self.mac(purpose, body)):
            return None
        try:
            data = json.loads(body)
        except ValueError:
            return None
        return data if isinstance(data, dict) else None


@dataclass(frozen=True)
class Session:
    user: str
    role: str
    expires: int  # Unix seconds
    sid: str  # random per login
    stamp: str = ""  # the account's stamp at login: a session of an older stamp is over
    office: str | None = None  # the counter page's remembered choice
    counter: str | None = None

    def choose(self, office: str | None, counter: str | None) -> Session:
        return replace(self, office=office, counter=counter)


class Sessions:
    """Minting and checking the signed cookies of one web process."""

    def __init__(self, secret: bytes, lifetime_s: int = SESSION_LIFETIME_S,
                 now: Callable[[], float] = time.time) -> None:
        self.signer = Signer(secret)
        self.lifetime_s = lifetime_s
        self.now = now

    # -- sessions -----------------------------------------------------------------------------

    def new(self, user: str, role: str, stamp: str) -> Session:
        return Session(user=user, role=role, expires=int(self.now()) + self.lifetime_s, sid=secrets.token_hex(16),
                       stamp=stamp)

    def encode(self, session: Session) -> str:
        data: dict[str, Any] = {"u": session.user, "r": session.role, "e": session.expires, "s": session.sid,
                                "g": session.stamp}
        if session.office is not None:
            data["o"] = session.office
        if session.counter is not None:
            data["c"] = session.counter
        return self.signer.dumps("session", data)

    def decode(self, cookie: str | None) -> Session | None:
        data = self.signer.loads("session", cookie)
        if data is None:
            return None
        try:
            session = Session(user=str(data["u"]), role=str(data["r"]), expires=int(data["e"]), sid=str(data["s"]),
                              stamp=str(data["g"]), office=_opt_str(data.get("o")), counter=_opt_str(data.get("c")))
        except (KeyError, TypeError, ValueError):
            return None
        if session.expires <= self.now():
            return None
        return session

    def remaining_s(self, session: Session) -> int:
        return max(0, session.expires - int(self.now()))

    # -- CSRF ---------------------------------------------------------------------------------

    def csrf_token(self, session: Session) -> str:
        return self.signer.token("csrf", session.sid)

    def check_csrf(self, session: Session, candidate: str | None) -> bool:
        return self.signer.check_token("csrf", session.sid, candidate)

    def login_nonce(self) -> tuple[str, str]:
        """A fresh (cookie value, form token) pair for the login form."""
        nonce = secrets.token_hex(16)
        return nonce, self.signer.token("login", nonce)

    def check_login_token(self, nonce: str | None, candidate: str | None) -> bool:
        return bool(nonce) and nonce is not None and self.signer.check_token("login", nonce, candidate)

    # -- known devices ------------------------------------------------------------------------

    def device_token(self, user: str) -> str:
        return self.signer.dumps("device", {"u": user.casefold(), "n": secrets.token_hex(8)})

    def known_device(self, cookie: str | None, user: str) -> bool:
        """The browser logged in as `user` before (its cookie says so, signed by us)."""
        data = self.signer.loads("device", cookie)
        return data is not None and data.get("u") == user.casefold()

    # -- flash messages -----------------------------------------------------------------------

    def encode_flash(self, flash: dict[str, Any]) -> str:
        return self.signer.dumps("flash", {**flash, "_e": int(self.now()) + FLASH_LIFETIME_S})

    def decode_flash(self, cookie: str | None) -> dict[str, Any] | None:
        data = self.signer.loads("flash", cookie)
        if data is None or not isinstance(data.get("_e"), int) or data["_e"] <= self.now():
            return None
        data.pop("_e")
        return data


def _opt_str(value: Any) -> str | None:
    return value if isinstance(value, str) else None
