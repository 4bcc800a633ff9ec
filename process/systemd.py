"""systemd's notify protocol: READY=1 when a process is really ready, and a watchdog that is fed only
while every critical worker of the process has reported in recently.

A hung print worker or a stuck hub lock therefore stops the pings, and systemd restarts the service
(`Type=notify`, `WatchdogSec=` in systemd/*.service). Outside systemd (no NOTIFY_SOCKET) all of this
is a no-op.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Callable, Mapping

log = logging.getLogger("wartemarke.systemd")
Beat = Callable[[], float]  # the monotonic time a worker last reported in


class Notifier:
    def __init__(self, env: Mapping[str, str] | None = None) -> None:
        env = os.environ if env is None else env
        address = env.get("NOTIFY_SOCKET", "")
        self.address = "\0" + address[1:] if address.startswith("@") else address
        usec = env.get("WATCHDOG_USEC", "")
        pid = env.get("WATCHDOG_PID", "")
        applies = usec.isdigit() and (not pid or pid == str(os.getpid()))
        self.watchdog_s: float | None = int(usec) / 1e6 if applies else None

    @property
    def enabled(self) -> bool:
        return bool(self.address)

    def send(self, message: str) -> None:
        if not self.address:
            return
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
            try:
                sock.sendto(message.encode(), self.address)
            except OSError as exc:
                log.warning("systemd notify failed: %s", exc)

    def ready(self, status: str) -> None:
        self.send(f"READY=1\nSTATUS={status}")

    def status(self, status: str) -> None:
        self.send(f"STATUS={status}")

    def stopping(self) -> None:
        self.send("STOPPING=1")


class Watchdog:
    """Feeds systemd's watchdog at half its interval while every beat is younger than `max_age_s`."""

    def __init__(self, notifier: Notifier, beats: Mapping[str, Beat], max_age_s: float,
                 monotonic: Callable[[], float]) -> None:
        self.notifier, self.beats, self.max_age_s, self.monotonic = notifier, beats, max_age_s, monotonic
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="watchdog", daemon=True)
        self.stuck: list[str] = []

    def start(self) -> None:
        if self.notifier.enabled and self.notifier.watchdog_s:
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def check(self) -> list[str]:
        """The workers that have not reported in for longer than max_age_s."""
        now = self.monotonic()
        return [name for name, beat in self.beats.items() if now - beat() > self.max_age_s]

    def _run(self) -> None:
        interval = (self.notifier.watchdog_s or 10.0) / 2
        while not self._stop.wait(interval):
            stuck = self.check()
            if stuck:
                if stuck != self.stuck:
                    log.error("not feeding the watchdog: %s stopped reporting in (systemd will restart us)",
                              ", ".join(stuck))
                self.stuck = stuck
                continue
            self.stuck = []
            self.notifier.send("WATCHDOG=1")
