"""The aiohttp application, and running it — in its own process (a public replica) or in a thread of
the hub's process (with the clerk and technician pages).

aiohttp, because it is one mature dependency for the server, the streaming responses that
server-sent events need and the test client, with no separate ASGI server to deploy.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable
from typing import Any, cast

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger

from process.clock import Clock
from protocol.link import BrokerSettings
from web.ampel import add_ampel_routes
from web.bodies import whole_body
from web.bridge import Bridge
from web.config import WebSettings
from web.gate import GATE, Gate, listening_socket, track
from web.keys import BRIDGE, MIRROR, SETTINGS
from web.limits import TALLY, THROTTLED, MissLimiter, Tally
from web.malformed import ROUTE, install_server_log_filter, malformed_input, route_name
from web.metrics import metrics
from web.mirror import Mirror
from web.public import MISSES, add_public_routes

log = logging.getLogger("wartemarke.web")
QUIET_ROUTES = ("/healthz", "/metrics")  # polled by monitoring: a line each would drown the rest
ACCESS_LOG_BURST, ACCESS_LOG_PER_S = 30, 1.0


class RedactingAccessLogger(AbstractAccessLogger):
    """Access log lines without client addresses and without tracking tokens (they outlive their day in a
    log): the route's template, never the path as typed (`GET /t/{token} 200 3261 B 0.002 s`; an unknown
    path is `(no route)`). At most ACCESS_LOG_BURST lines at once and ACCESS_LOG_PER_S on average: a
    flood of requests must not flood the journal, so lines beyond that are counted (nginx's access log
    in front of a public replica is complete). Requests refused by a limit are counted by the app's
    Tally instead; monitoring's polls of /healthz and /metrics are not logged."""

    def log(self, request: web.BaseRequest, response: web.StreamResponse, time_s: float) -> None:
        route = route_name(request)
        parser_refused = ROUTE not in request  # no middleware ran: aiohttp's parser answered (ServerLogFilter counts)
        if request.get(THROTTLED) or parser_refused or route in QUIET_ROUTES:
            return
        if not cast(web.Request, request).app[ACCESS_LOG_BUDGET].take():
            return
        self.logger.info("%s %s %s %s B %.3f s", request.method, route, response.status, response.body_length, time_s)


class LogBudget:
    """A token bucket for log lines, one per web server and shared by every connection's access logger
    (aiohttp makes one per connection); what it refuses is counted."""

    def __init__(self, burst: int, per_s: float, logger: logging.Logger) -> None:
        self.burst, self.per_s = burst, per_s
        self._tokens, self._last = float(burst), time.monotonic()
        self._left_out = Tally(logger)

    def take(self) -> bool:
        now = time.monotonic()
        self._tokens = min(self.burst, self._tokens + (now - self._last) * self.per_s)
        self._last = now
        if self._tokens < 1:
            self._left_out.count("access log lines left out (more than the log's rate)")
            return False
        self._tokens -= 1
        return True


ACCESS_LOG_BUDGET = web.AppKey("access_log_budget", LogBudget)


def create_app(settings: WebSettings, mirror: Mirror, bridge: Bridge | None = None,
               internal: Callable[[web.Application], None] | None = None) -> web.Application:
    app = web.Application(client_max_size=64 * 1024,
                          middlewares=[track, malformed_input, whole_body(settings.limits.header_timeout_s)])
    app[SETTINGS] = settings
    app[MIRROR] = mirror
    app[BRIDGE] = bridge
    app[TALLY] = Tally(logging.getLogger("wartemarke.web.limits"))
    app[GATE] = Gate(settings.limits, app[TALLY])
    app[ACCESS_LOG_BUDGET] = LogBudget(ACCESS_LOG_BURST, ACCESS_LOG_PER_S, logging.getLogger("wartemarke.web.access"))
    app[MISSES] = MissLimiter(settings.miss_limit_per_min)
    if settings.tls is not None:
        app.on_response_prepare.append(_strict_transport_security)
    add_public_routes(app)
    add_ampel_routes(app)
    app.router.add_get("/metrics", metrics)
    if internal is not None:
        internal(app)
    return app


async def _strict_transport_security(request: web.Request, response: web.StreamResponse) -> None:
    response.headers["Strict-Transport-Security"] = "max-age=31536000"


def redirect_app(https_port: int, body_timeout_s: float) -> web.Application:
    """The plain-HTTP port of a web with TLS: every request is sent to the same path over HTTPS."""

    async def to_https(request: web.Request) -> web.Response:
        try:
            target = request.url.with_scheme("https").with_port(None if https_port == 443 else https_port)
        except ValueError:
            return web.Response(status=400, text="malformed request: no usable Host header\n")
        return web.Response(status=301, headers={"Location": str(target), "Cache-Control": "no-store"})

    app = web.Application(client_max_size=1024, middlewares=[whole_body(body_timeout_s)])
    app.router.add_route("*", "/{path:.*}", to_https)
    return app


class WebServer:
    """The web tier on its own event loop thread: the bridge feeds the mirror, aiohttp serves."""

    def __init__(self, settings: WebSettings, broker: BrokerSettings, device: str, clock: Clock,
                 internal: Callable[[web.Application], None] | None = None) -> None:
        self.settings, self.broker, self.device, self.clock = settings, broker, device, clock
        self.internal = internal
        self.loop = asyncio.new_event_loop()
        self.mirror = Mirror()
        self.bridge: Bridge | None = None
        self.ready = threading.Event()
        self._runner: web.AppRunner | None = None
        self._redirect: web.AppRunner | None = None
        self._gate: Gate | None = None
        self._loop_errors: set[str] = set()
        self._thread = threading.Thread(target=self._main, name="web", daemon=True)
        self.error: BaseException | None = None
        self.beat = clock.monotonic()  # the event loop's heartbeat, for systemd's watchdog
        self._heartbeat_task: asyncio.Task[None] | None = None

    @property
    def app(self) -> web.Application:
        """The running aiohttp application (its state: the mirror's views, the Ampel's renderings)."""
        assert self._runner is not None, "the web server has not started"
        return self._runner.app

    def start(self) -> None:
        self._thread.start()
        if not self.ready.wait(20):
            raise RuntimeError("web server did not start")
        if self.error is not None:
            raise self.error

    def _main(self) -> None:
        asyncio.set_event_loop(self.loop)
        try:
            self.loop.run_until_complete(self._serve())
        except BaseException as exc:
            self.error = exc
            self.ready.set()
            return
        self.loop.run_forever()

    async def _serve(self) -> None:
        install_server_log_filter()
        self.loop.set_exception_handler(self._loop_exception)
        self.bridge = Bridge(self.broker, self.settings.offices, self.device, self.clock, self.mirror, self.loop,
                             internal=self.internal is not None)
        app = create_app(self.settings, self.mirror, self.bridge, self.internal)
        self._gate = gate = app[GATE]
        gate.fit_to_open_files()
        access = logging.getLogger("wartemarke.web.access") if self.settings.access_log else None
        timeout = self.settings.limits.header_timeout_s
        self._runner = web.AppRunner(app, access_log=access, access_log_class=RedactingAccessLogger,
                                     handler_cancellation=True, shutdown_timeout=5, keepalive_timeout=timeout,
                                     auto_decompress=False)  # compressed bodies are refused (web/bodies.py)
        await self._runner.setup()
        tls = self.settings.tls.context() if self.settings.tls is not None else None
        listeners = [(self.settings.port, self._runner, tls)]
        if self.settings.redirect_port is not None:
            self._redirect = web.AppRunner(redirect_app(self.settings.port, timeout), access_log=None,
                                           keepalive_timeout=timeout, auto_decompress=False)
            await self._redirect.setup()
            listeners.append((self.settings.redirect_port, self._redirect, None))
        for port, runner, context in listeners:
            gate.listen(listening_socket(self.settings.host, port), cast(Callable[[], asyncio.Protocol], runner.server),
                        context)
        self.bridge.start()
        self._heartbeat_task = self.loop.create_task(self._heartbeat())
        log.info("web on %s://%s:%d%s (%s pages) for %s; at most %d connections", "https" if tls else "http",
                 self.settings.host, self.settings.port,
                 f" (port {self.settings.redirect_port} redirects to it)" if self.settings.redirect_port else "",
                 "all" if self.internal else "public", ", ".join(self.settings.offices), gate.max_connections)
        self.ready.set()

    def _loop_exception(self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        """The first of each kind in full; repeats (a flood of broken connections) only counted."""
        message = str(context.get("message", "unknown"))
        if message in self._loop_errors:
            if self._gate is not None:
                self._gate.tally.count(f"event loop: {message}")
            return
        self._loop_errors.add(message)
        loop.default_exception_handler(context)

    async def _heartbeat(self) -> None:
        while True:
            self.beat = self.clock.monotonic()
            await asyncio.sleep(1.0)

    def stop(self) -> None:
        async def shutdown() -> None:
            if self._heartbeat_task is not None:
                self._heartbeat_task.cancel()
            if self._gate is not None:
                self._gate.stop_listening()
            for runner in (self._redirect, self._runner):
                if runner is not None:
                    await runner.cleanup()

        if self.loop.is_running():
            asyncio.run_coroutine_threadsafe(shutdown(), self.loop).result(10)
            self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)
        if self.bridge is not None:
            self.bridge.stop()

