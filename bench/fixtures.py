"""Kiosk configs and state for the benchmarks, built with the test harness (devtools/kiosk_harness.py).

Every benchmark kiosk uses the dummy printer (bytes kept in memory), mock pins, and the private
mosquitto started by `bench.__main__`; each part gets its own office slug so that retained messages
(acks, status) of one part never reach another.
"""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

from devtools.kiosk_harness import write_config
from kiosk.config import load_kiosk_config
from kiosk.store import KioskStore

#: Two services without a minimum interval, so that back-to-back presses all print.
SERVICES_NO_INTERVAL = """
    [[services]]
    id = "A"
    name_de = "Allgemeine Anliegen"
    name_en = "General concerns"
    button_pin = 5
    light_pin = 6
    min_interval_s = 0.0

    [[services]]
    id = "P"
    name_de = "Abholung Ausweis / Pass"
    name_en = "ID card / passport pickup"
    button_pin = 13
    light_pin = 19
    min_interval_s = 0.0
"""

SERVICE_IDS = ("A", "P")


#: The production default (kiosk/config.py); the test harness uses 2 s to keep tests short.
RESEND_AFTER_S = 10.0
#: More tickets than any benchmark prints from one roll.
ROLL_LENGTH_TICKETS = 100000


def kiosk_config(directory: Path, port: int, office: str) -> Path:
    """A kiosk config (dummy printer on a long roll, min_interval_s = 0, production resend_after_s) in
    `directory`; state in `directory/state`."""
    path = write_config(directory, port, office, printer="dummy", services=SERVICES_NO_INTERVAL)
    text = re.sub(r"(?m)^resend_after_s = .*$", f"resend_after_s = {RESEND_AFTER_S}",
                  path.read_text(encoding="utf-8"))
    # The paper estimate would report "paper out" after 600 tickets (the default roll) and stop printing.
    text = text.replace('type = "dummy"', f'type = "dummy"\nroll_length_tickets = {ROLL_LENGTH_TICKETS}')
    path.write_text(text, encoding="utf-8")
    return path


def state_file(config_path: Path) -> Path:
    return load_kiosk_config(config_path).state_dir / "kiosk.sqlite3"


def initialize_state(config_path: Path) -> Path:
    """Give the kiosk numbering state as if it had resumed once, so it is ready without waiting for a hub."""
    path = state_file(config_path)
    store = KioskStore(path)
    try:
        store.resume(None, date.today())
    finally:
        store.close()
    return path
