"""The hub's process running: the hub, and its web tier in a thread of the same process.

The web gets the hub's accounts as its account directory and, when `[web] broker_username` is set,
its own broker account (least privilege: the web cannot act as the hub). The two share nothing else:
the web learns the queue from the hub's retained topics and sends commands over MQTT, like any client.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from hub.accounts import HubAccounts
from hub.app import Hub
from hubprocess.config import HubProcessConfig
from process.clock import Clock
from web.app import WebServer
from web.directory import ROLES
from web.internal import add_internal_routes


class HubProcess:
    def __init__(self, config: HubProcessConfig, clock: Clock) -> None:
        self.config = config
        self.hub = Hub(config.hub, clock)
        self.accounts = HubAccounts(self.hub.store, ROLES)
        self.web: WebServer | None = None
        if config.web is not None:
            broker = config.hub.broker
            if config.web.broker_username is not None:
                broker = dataclasses.replace(broker, username=config.web.broker_username,
                                             password=config.web.broker_password)
            self.web = WebServer(config.web, broker, f"{config.hub.device}-web", clock,
                                 internal=lambda app: add_internal_routes(app, self.accounts))

    def start(self) -> None:
        self.hub.start()
        if self.web is not None:
            self.web.start()

    def stop(self) -> None:
        if self.web is not None:
            self.web.stop()
        self.hub.stop()

    def beats(self) -> dict[str, Callable[[], float]]:
        """The heartbeats systemd's watchdog waits for: the hub's tick and the web's event loop."""
        hub, web = self.hub, self.web
        beats = {"tick": lambda: hub.beat}
        if web is not None:
            beats["web"] = lambda: web.beat
        return beats
