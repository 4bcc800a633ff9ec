"""Wiring the office-network pages (web/staff.py, web/account.py, web/counter.py, web/devices.py) into
the hub's web.

Only the hub's own web registers these routes; public replicas have none of them.
"""

from __future__ import annotations

from aiohttp import web

from hub.store import HubStore
from web.account import account_change, account_page
from web.counter import counter_api, counter_command_api, counter_command_form, counter_events, counter_page
from web.devices import devices_api, devices_events, devices_page
from web.keys import SETTINGS
from web.limits import MissLimiter
from web.sessions import (
    Sessions,
)
from web.staff import (
    ACCOUNT_FAILURES_PER_MIN,
    ACCOUNT_LIMITER,
    COMMAND_TIMEOUT,
    COMMAND_TIMEOUT_S,
    LOGIN_FAILURES_PER_MIN,
    LOGIN_LIMITER,
    SESSIONS,
    STORE,
    login,
    login_form,
    logout,
    session_api,
)

# -- wiring ------------------------------------------------------------------------------------------------

def add_internal_routes(app: web.Application, store: HubStore) -> None:
    """The clerk, supervisor and technician pages; called by the hub's web only."""
    app[STORE] = store
    app[SESSIONS] = Sessions(app[SETTINGS].session_secret)
    app[LOGIN_LIMITER] = MissLimiter(LOGIN_FAILURES_PER_MIN)
    app[ACCOUNT_LIMITER] = MissLimiter(ACCOUNT_FAILURES_PER_MIN)
    app[COMMAND_TIMEOUT] = COMMAND_TIMEOUT_S
    app.router.add_get("/login", login_form)
    app.router.add_post("/login", login)
    app.router.add_post("/logout", logout)
    app.router.add_get("/account", account_page)
    app.router.add_post("/account", account_change)
    app.router.add_get("/counter", counter_page)
    app.router.add_post("/counter/command", counter_command_form)
    app.router.add_get("/counter/events", counter_events)
    app.router.add_get("/devices", devices_page)
    app.router.add_get("/devices/events", devices_events)
    app.router.add_get("/api/internal/session", session_api)
    app.router.add_get("/api/internal/counter", counter_api)
    app.router.add_post("/api/internal/counter/command", counter_command_api)
    app.router.add_get("/api/internal/devices", devices_api)
