"""What every wartemarke process does the same way at start and stop: logging and signals."""

from __future__ import annotations

import argparse
import faulthandler
import logging
import os
import signal
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from process.config import ConfigError

T = TypeVar("T")


def default_log_level() -> str:
    return os.environ.get("WARTEMARKE_LOG_LEVEL", "INFO")


def setup_logging(level: str) -> None:
    """Log lines a technician reads in journald: time, level, named logger, message."""
    logging.basicConfig(level=level.upper(), stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")


def wait_for_stop() -> None:
    """Block until SIGTERM or SIGINT; SIGUSR1 dumps every thread's stack (for a hung process).

    The wait is timed: a process-directed signal may land on another thread, and only the main thread
    runs Python signal handlers — an untimed wait could sleep through it.
    """
    stop = threading.Event()
    faulthandler.register(signal.SIGUSR1, all_threads=True)
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    while not stop.wait(timeout=0.5):
        pass


def load_config(load: Callable[[Path], T], path: Path, prog: str) -> T | None:
    """The validated config, or None after printing the error (file and key named) for the technician."""
    try:
        return load(path)
    except ConfigError as exc:
        print(f"{prog}: configuration error: {exc}", file=sys.stderr)
        return None


def add_check_config_command(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """`check-config --config FILE`: the playbook validates every config it writes with it."""
    check = sub.add_parser("check-config", help="validate the config file and exit (the error names file and key)")
    check.add_argument("--config", type=Path, required=True)


def report_valid(path: Path) -> int:
    """What `check-config` prints once `load_config` accepted the file."""
    print(f"{path}: valid")
    return 0
