"""`wartemarke-web run --config PATH`: a public replica (tracking, Ampel, history, open data)."""

from __future__ import annotations

import gc
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


# The collector's thresholds in a replica (Python's defaults: 700, 10, 10; see tune_garbage_collector).
GC_YOUNG, GC_MIDDLE, GC_OLD = 10_000, 50, 100


def _run(config: ReplicaConfig) -> int:
    server = WebServer(config.web, config.broker, config.device, SystemClock())
    server.start()
    tune_garbage_collector()
    serving = f"serving {', '.join(config.web.offices)} on port {config.web.port}"
    return serve(server.stop, {"event loop": lambda: server.beat}, 30.0, server.clock.monotonic,
                 lambda notifier: notifier.ready(serving))


def tune_garbage_collector() -> None:
    """A replica holds every open event stream's objects for as long as the stream lives — ~45 each,
    hundreds of thousands at 10,000 streams — and a full collection walks them all while no stream is
    written: at Python's defaults one ran every ~15 s under a benchmark's calls (60–75 ms CPU at 1,500
    streams, ten times that in wall time on a busy machine: every screen of a call waits). What start-up
    made (modules, templates, the app) lives as long as the process: `gc.freeze()` takes it out of the
    collector's generations for good. The higher thresholds make young collections rarer (most of a
    change's objects are freed by reference counting anyway) and full collections a matter of minutes,
    not seconds; they still run, so reference cycles of closed streams are still freed."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(GC_YOUNG, GC_MIDDLE, GC_OLD)


if __name__ == "__main__":
    sys.exit(main())
