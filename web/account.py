"""`/account`: staff change their own password. The form asks for the current password (a stolen
session alone cannot take the account over) and is CSRF-protected like every POST; a wrong current
password counts as a failed login (web/staff.py's limits). The new password renews the account's
stamp (hub/accounts.py): every other session of the account ends, this browser gets a new one."""

from __future__ import annotations

import logging

from aiohttp import web

from hub.accounts import MIN_PASSWORD, ROLES, Account, change_password
from web.malformed import read_form
from web.sessions import Session
from web.staff import (
    SESSIONS,
    STORE,
    _field,
    _internal_page,
    guarded,
    password_accepted,
    password_attempt,
    run_blocking,
    set_session,
)

log = logging.getLogger("wartemarke.web.account")


def _account_page(request: web.Request, session: Session, status: int = 200, error: str | None = None,
                  changed: bool = False) -> web.Response:
    return _internal_page(request, "account.html", session, status=status, error=error, changed=changed,
                          min_length=MIN_PASSWORD)


@guarded(ROLES)
async def account_page(request: web.Request, session: Session) -> web.StreamResponse:
    return _account_page(request, session)


@guarded(ROLES)
async def account_change(request: web.Request, session: Session) -> web.StreamResponse:
    form = await read_form(request)
    current, new = _field(form, "current")[:1024], _field(form, "new")[:1024]
    if new != _field(form, "repeat")[:1024]:
        return _account_page(request, session, 400, "account_mismatch")
    if len(new) < MIN_PASSWORD:
        return _account_page(request, session, 400, "account_short")
    refused = password_attempt(request, session.user)
    if refused is not None:
        response = _account_page(request, session, 429, "login_blocked")
        response.headers["Retry-After"] = refused.headers["Retry-After"]
        return response
    changed: Account | None = await run_blocking(change_password, request.app[STORE], session.user, current, new)
    if changed is None:
        log.warning("%s: password not changed (the current password was wrong)", session.user)
        return _account_page(request, session, 403, "account_wrong")
    password_accepted(request, session.user)
    renewed = request.app[SESSIONS].new(changed.name, changed.role, changed.stamp).choose(session.office,
                                                                                          session.counter)
    response = _account_page(request, renewed, changed=True)
    set_session(response, request, renewed)
    log.info("%s changed their password; their other sessions have ended", session.user)
    return response
