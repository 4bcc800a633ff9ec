"""`wartemarke-web run --config PATH`: a public replica (tracking, Ampel, history, open data)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from process.clock import SystemClock
from process.startup import (
    add_check_config_command,
    default_log_level,
    load_config,
    report_valid,
    setup_logging,
    wait_for_stop,
)
from web.app import WebServer, run_forever
from web.config import load_replica_config


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="wartemarke-web", description=__doc__)
    parser.add_argument("--log-level", default=default_log_level())
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="serve the public pages")
    run.add_argument("--config", type=Path, required=True)
    add_check_config_command(sub)
    args = parser.parse_args(argv)
    setup_logging(args.log_level)
    config = load_config(load_replica_config, args.config, "wartemarke-web")
    if config is None:
        return 2
    if args.command == "check-config":
        return report_valid(args.config)
    run_forever(WebServer(config.web, config.broker, config.device, SystemClock()), wait_for_stop)
    return 0


if __name__ == "__main__":
    sys.exit(main())
