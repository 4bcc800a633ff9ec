"""Simulated hardware for `run --simulate` and the demo: mock pins driven from stdin.

A line with a service id (e.g. `A`) presses that service's button through its mock pin, exactly as
a finger would; `status` holds the technician button. Pins are gpiozero's MockFactory, the same
seam tests use.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
from typing import TextIO

from gpiozero import Button

from kiosk.app import Kiosk

log = logging.getLogger("wartemarke.kiosk.simulate")


def press_button(button: Button) -> None:
    """A press and release on a mock pin (active low, like the real wiring)."""
    button.pin.drive_low()
    button.pin.drive_high()


def hold_button(button: Button, seconds: float) -> None:
    button.pin.drive_low()
    threading.Event().wait(seconds)
    button.pin.drive_high()


def feed_stdin(kiosk: Kiosk, stream: TextIO = sys.stdin) -> None:
    """Read presses until EOF; the kiosk keeps running after EOF. `quit` stops the process cleanly."""
    for raw in stream:
        line = raw.strip()
        if not line:
            continue
        if line == "quit":
            os.kill(os.getpid(), signal.SIGTERM)
            return
        if line == "status" and kiosk.panel.technician is not None:
            hold_button(kiosk.panel.technician, kiosk.config.technician_hold_s + 0.3)
            continue
        button = kiosk.panel.buttons.get(line)
        if button is None:
            log.warning("simulate: %r is not a service of this kiosk (have %s)", line,
                        ", ".join(kiosk.panel.buttons))
            continue
        press_button(button)
