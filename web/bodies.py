"""Request bodies arrive whole, and in time, before a handler sees them.

A handler that reads a body waits for the client: a client sending its body a byte at a time would
hold the connection as "busy" (web/gate.py) for the whole request timeout, and enough of them lock
everyone out. So this middleware waits for the body first, with the connection counted as waiting
for its client — cut off after `header_timeout_s`, and closed first when the server is full — and
only then lets the handler run. What it refuses before reading anything, with a clear 4xx and the
connection closed:

- a body with a `Content-Encoding` (415): nothing we serve takes compressed bodies, and decompressing
  them is work (and a failure point) for an attacker's benefit;
- a body without a `Content-Length` (411): chunked bodies have no size to check up front;
- a body longer than the app's `client_max_size` (413), by its `Content-Length`.

Refusals are counted (one log line per kind, then a summary a minute), never logged one by one.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from aiohttp.typedefs import Middleware

from web.gate import BUSY, GATE, WAITING
from web.limits import THROTTLED
from web.malformed import SERVER_LOG

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def whole_body(timeout_s: float) -> Middleware:
    """The middleware, with the time a client has to send its body (the web's `header_timeout_s`)."""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        if not request.body_exists:
            return await handler(request)
        encoding = request.headers.get("Content-Encoding", "identity").strip().lower()
        if encoding not in ("", "identity"):
            return _refuse(request, 415, "request bodies are not accepted with a Content-Encoding")
        length = request.content_length
        if length is None:
            return _refuse(request, 411, "a request body needs a Content-Length")
        if length > request.client_max_size:
            return _refuse(request, 413, f"a request body may have at most {request.client_max_size} bytes")
        gate = request.app.get(GATE)
        conn = gate.lookup(request) if gate is not None else None
        if gate is not None and conn is not None:
            gate.set_state(conn, WAITING)  # waiting for the client: cut off in time, and may make room
        try:
            await asyncio.wait_for(request.content.wait_eof(), timeout_s)
        except TimeoutError:
            return _refuse(request, 408, "the request body did not arrive in time")
        except HttpProcessingError:
            return _refuse(request, 400, "the request body cannot be read")
        except ConnectionError:  # the client went away (or the gate closed it to make room): nobody to answer
            request[THROTTLED] = "connection lost"
            return web.Response(status=400)
        finally:
            if gate is not None and conn is not None:
                gate.set_state(conn, BUSY)
        return await handler(request)

    return middleware


def _refuse(request: web.Request, status: int, reason: str) -> web.Response:
    request[THROTTLED] = reason  # counted, not access-logged one by one
    SERVER_LOG.tally.count(f"requests refused with {status}: {reason}")
    response = web.Response(status=status, text=f"{reason}\n", headers={"Cache-Control": "no-store"})
    response.force_close()  # the rest of the body is not read
    return response
