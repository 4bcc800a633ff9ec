"""The aiohttp application, and running it — in its own process (a public replica) or in a thread of
the hub's process (with the clerk and technician pages).

aiohttp, because it is one mature dependency for the server, the streaming responses that
server-sent events need and the test client, with no separate ASGI server to deploy.
"""

from __future__ import annotations

import asyncio
import logging
import re
import threading
from collections.abc import Callable
from typing import Any

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger

from protocol.clock import Clock
from protocol.link import BrokerSettings
from protocol.systemd import Notifier, Watchdog
from web.bridge import Bridge
from web.config import WebSettings
from web.keys import BRIDGE, MIRROR, SETTINGS
from web.metrics import metrics
from web.mirror import Mirror
from web.public import FRAGMENTS, MISSES, FragmentCache, MissLimiter, add_public_routes

log = logging.getLogger("wartemarke.web")
TOKEN_IN_PATH = re.compile(r"/(t|T|tickets)/[A-Za-z2-7]{16,64}")


class RedactingAccessLogger(AbstractAccessLogger):
    """Access log lines without client addresses and without tracking tokens (they outlive their day
    in a log): `GET /t/… 200 3261 B 0.002 s`."""

    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
        path = TOKEN_IN_PATH.sub(lambda m: f"/{m.group(1)}/…", request.path)
        self.logger.info("%s %s %s %s B %.3f s", request.method, path, response.status, response.body_length, time)


def create_app(settings: WebSettings, mirror: Mirror, bridge: Bridge | None = None,
               internal: Callable[[web.Application], None] | None = None) -> web.Application:
    app = web.Application(client_max_size=64 * 1024)
    app[SETTINGS] = settings
    app[MIRROR] = mirror
    app[BRIDGE] = bridge
    app[MISSES] = MissLimiter(settings.miss_limit_per_min)
    app[FRAGMENTS] = FragmentCache()
    add_public_routes(app)
    app.router.add_get("/metrics", metrics)
    if internal is not None:
        internal(app)
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
        self._thread = threading.Thread(target=self._main, name="web", daemon=True)
        self.error: BaseException | None = None
        self.beat = clock.monotonic()  # the event loop's heartbeat, for systemd's watchdog
        self._heartbeat_task: asyncio.Task[None] | None = None

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
        self.bridge = Bridge(self.broker, self.settings.offices, self.device, self.clock, self.mirror, self.loop,
                             internal=self.internal is not None)
        app = create_app(self.settings, self.mirror, self.bridge, self.internal)
        access = logging.getLogger("wartemarke.web.access") if self.settings.access_log else None
        self._runner = web.AppRunner(app, access_log=access, access_log_class=RedactingAccessLogger,
                                     handler_cancellation=True, shutdown_timeout=5)
        await self._runner.setup()
        await web.TCPSite(self._runner, self.settings.host, self.settings.port).start()
        self.bridge.start()
        self._heartbeat_task = self.loop.create_task(self._heartbeat())
        log.info("web on http://%s:%d (%s pages) for %s", self.settings.host, self.settings.port,
                 "all" if self.internal else "public", ", ".join(self.settings.offices))
        self.ready.set()

    async def _heartbeat(self) -> None:
        while True:
            self.beat = self.clock.monotonic()
            await asyncio.sleep(1.0)

    def stop(self) -> None:
        async def shutdown() -> None:
            if self._heartbeat_task is not None:
                self._heartbeat_task.cancel()
            if self._runner is not None:
                await self._runner.cleanup()

        if self.loop.is_running():
            asyncio.run_coroutine_threadsafe(shutdown(), self.loop).result(10)
            self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)
        if self.bridge is not None:
            self.bridge.stop()


def run_forever(server: WebServer, wait: Callable[[], Any]) -> None:
    server.start()
    notifier = Notifier()
    watchdog = Watchdog(notifier, {"event loop": lambda: server.beat}, 30.0, server.clock.monotonic)
    watchdog.start()
    notifier.ready(f"serving {', '.join(server.settings.offices)} on port {server.settings.port}")
    wait()
    notifier.stopping()
    watchdog.stop()
    server.stop()
