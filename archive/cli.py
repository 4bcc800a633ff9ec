"""`wartemarke-archive`: record every office's public queue into one open-data CSV per business day."""

from __future__ import annotations

import sys

from archive.config import ArchiveConfig, load_archive_config
from process.cli import ConfigCli
from process.clock import SystemClock
from process.startup import serve


def main(argv: list[str] | None = None) -> int:
    cli = ConfigCli("wartemarke-archive", __doc__, load_archive_config)
    cli.command("run", "record and serve the daily archive", lambda config, _args: _run(config))
    return cli.main(argv)


def _run(config: ArchiveConfig) -> int:
    from archive.app import ArchiveService

    clock = SystemClock()
    service = ArchiveService(config, clock)
    service.start()
    return serve(service.stop, {"flush": lambda: service.beat}, max(30.0, 3 * config.flush_s), clock.monotonic,
                 lambda notifier: notifier.ready(f"archiving {len(config.offices)} offices"))


if __name__ == "__main__":
    sys.exit(main())
