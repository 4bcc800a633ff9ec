"""What every wartemarke process does the same way at start and stop: logging, signals, and the run loop
of a service under systemd (READY=1, the watchdog, STOPPING=1)."""

from __future__ import annotations

import faulthandler
import logging
import os
import signal
import sys
import threading
from collections.abc import Callable, Mapping

from process.systemd import Beat, Notifier, Watchdog


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


def serve(stop: Callable[[], None], beats: Mapping[str, Beat], max_age_s: float, monotonic: Callable[[], float],
          ready: Callable[[Notifier], None], wait: Callable[[], None] = wait_for_stop) -> int:
    """Run a started service until SIGTERM or SIGINT, then `stop` it.

    systemd's watchdog is fed while every beat is younger than `max_age_s`; `ready` tells systemd when the
    service is ready (at once, or from a thread once it really is).
    """
    notifier = Notifier()
    watchdog = Watchdog(notifier, beats, max_age_s, monotonic)
    watchdog.start()
    ready(notifier)
    wait()
    notifier.stopping()
    watchdog.stop()
    stop()
    return 0
