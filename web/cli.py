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
GC_YOUNG, GC_MIDDLE, GC_OLD = 10_000, 10, 100


def _run(config: ReplicaConfig) -> int:
    server = WebServer(config.web, config.broker, config.device, SystemClock())
    server.start()
    tune_garbage_collector()
    serving = f"serving {', '.join(config.web.offices)} on port {config.web.port}"
    return serve(server.stop, {"event loop": lambda: server.beat}, 30.0, server.clock.monotonic,
                 lambda notifier: notifier.ready(serving))


def tune_garbage_collector() -> None:
    """A replica holds every open event stream's objects for as long as the stream lives (~45 each) and
    a full collection walks them all while no stream is written. At Python's defaults (700, 10, 10) a
    replica with 10,000 streams ran one every ~10 s in the city benchmark, 0.1–0.6 s of CPU each (up to
    3 s of wall time on a busy machine) and freeing next to nothing: every screen of a call waited.
    What start-up made lives as long as the process: `gc.freeze()` takes it out of the collector's
    generations. Young collections every 10,000 new objects instead of 700 (a change's objects are
    freed by reference counting anyway), a full one considered after 100 middle ones instead of 10,
    i.e. every 10 million new objects (~13 min at the benchmark's rate, not every ~10 s). Full
    collections still run, so cycles of closed streams are still freed (docs/benchmarks.md,
    "after GC/fan-out tuning")."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(GC_YOUNG, GC_MIDDLE, GC_OLD)


if __name__ == "__main__":
    sys.exit(main())
