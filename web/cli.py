"""`wartemarke-web run --config PATH`: a public replica (tracking, Ampel, history, open data)."""

from __future__ import annotations

import sys

from process.cli import ConfigCli
from process.clock import SystemClock
from process.startup import serve
from web.app import WebServer
from web.config import ReplicaConfig, load_replica_config


def main(argv: list[str] | None = None) -> int:
    cli = ConfigCli("wartemarke-web", __doc__, load_replica_config)
    cli.command("run", "serve the public pages", lambda config, _args: _run(config))
    return cli.main(argv)


def _run(config: ReplicaConfig) -> int:
    server = WebServer(config.web, config.broker, config.device, SystemClock())
    server.start()
    serving = f"serving {', '.join(config.web.offices)} on port {config.web.port}"
    return serve(server.stop, {"event loop": lambda: server.beat}, 30.0, server.clock.monotonic,
                 lambda notifier: notifier.ready(serving))


if __name__ == "__main__":
    sys.exit(main())
