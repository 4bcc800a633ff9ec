"""A log line per sender and interval, not per case: what a hostile or broken sender can repeat at will
(an invalid MQTT message, 2,000 a second) must not fill the journal or drown what else is logged.

`LogLimiter.warn(key, …)` logs the first case of a key in an interval at once, with its detail; the
interval's further cases of that key are counted and written as one summary line per key when the
interval ends (a timer writes it, so a flood that stops is still summed up). At most `max_keys` keys
are told apart per interval; the rest share one key, so the lines per interval are bounded whatever
the sender names.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

OTHERS = "(other senders)"


class LogLimiter:
    def __init__(self, log: logging.Logger, interval_s: float = 60.0, max_keys: int = 50,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.log, self.interval_s, self.max_keys, self.clock = log, interval_s, max_keys, clock
        self._lock = threading.Lock()
        self._counts: dict[str, int] = {}  # key → cases after its first in this interval
        self._since: float | None = None  # when the current interval began; None: quiet
        self._timer: threading.Timer | None = None

    def warn(self, key: str, message: str, *args: Any, exc_info: bool = False) -> None:
        """Log `message % args` (plus the traceback with exc_info) unless `key` was logged in this interval."""
        with self._lock:
            self._flush_locked(self.clock())
            if self._since is None:
                self._since = self.clock()
            if key not in self._counts and len(self._counts) >= self.max_keys:
                key = OTHERS
            if key in self._counts:
                self._counts[key] += 1
                self._schedule_locked()
                return
            self._counts[key] = 0
        self.log.warning(message + " [further cases from %s are counted: a summary every %.0f s]", *args, key,
                         self.interval_s, exc_info=exc_info)

    def flush(self) -> None:
        """Write the summaries of an interval that is over (the timer calls it)."""
        with self._lock:
            self._flush_locked(self.clock())

    def _schedule_locked(self) -> None:
        if self._timer is None and self._since is not None:
            delay = max(0.0, self._since + self.interval_s - self.clock()) + 0.01
            self._timer = threading.Timer(delay, self._on_timer)
            self._timer.daemon = True
            self._timer.start()

    def _on_timer(self) -> None:
        with self._lock:
            self._timer = None
            self._flush_locked(self.clock())

    def _flush_locked(self, now: float) -> None:
        if self._since is None or now - self._since < self.interval_s:
            return
        for key, n in self._counts.items():
            if n:
                self.log.warning("%d more like it from %s in the last %.0f s", n, key, now - self._since)
        self._counts.clear()
        self._since = None
