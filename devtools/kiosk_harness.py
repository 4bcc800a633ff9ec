"""Building and driving kiosks in tests: a config file per test, mock pins, a real broker."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

from gpiozero.pins.mock import MockFactory

from kiosk.app import Kiosk
from kiosk.config import load_kiosk_config
from kiosk.simulate import hold_button, press_button
from process.clock import Clock, SystemClock
from protocol import topics

TRACKING_URL = "https://warte.example.org/t/"
FAST_A = """
    [[services]]
    id = "A"
    name_de = "Allgemeine Anliegen"
    name_en = "General concerns"
    button_pin = 5
    min_interval_s = 0.0
"""  # one service, no minimum interval between presses: for tests that press quickly


def write_config(directory: Path, port: int, office: str, device: str = "kiosk-1", printer: str = "file",
                 extra_kiosk: str = "", numbering: str = "", services: str | None = None) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    printer_block = 'type = "file"\npath = "printed"' if printer == "file" else f'type = "{printer}"'
    services = services if services is not None else """
        [[services]]
        id = "A"
        name_de = "Allgemeine Anliegen"
        name_en = "General concerns"
        button_pin = 5
        light_pin = 6
        min_interval_s = 2.0

        [[services]]
        id = "P"
        name_de = "Abholung Ausweis / Pass"
        name_en = "ID card / passport pickup"
        button_pin = 13
        light_pin = 19
        min_interval_s = 2.0
    """
    text = textwrap.dedent(f"""
        [kiosk]
        office = "{office}"
        device = "{device}"
        office_name = "Bürgerbüro Test"
        timezone = "Europe/Berlin"
        state_dir = "state"
        tracking_url = "{TRACKING_URL}"
        booking_url = "https://termin.example.org"
        resume_wait_s = 1.0
        resend_after_s = 2.0
        {extra_kiosk}

        [numbering]
        {numbering}

        [broker]
        host = "127.0.0.1"
        port = {port}
        reconnect_max_s = 1

        [printer]
        {printer_block}
        status_poll_s = 1

        [led]
        pin = 17

        [technician]
        pin = 27
        hold_s = 0.2
    """) + textwrap.dedent(services)
    path = directory / "kiosk.toml"
    path.write_text(text, encoding="utf-8")
    return path


def start_kiosk(config_path: Path, clock: Clock | None = None, **kwargs: Any) -> Kiosk:
    kiosk = Kiosk(load_kiosk_config(config_path), clock or SystemClock(assume_synced=True),
                  pin_factory=MockFactory(), **kwargs)
    kiosk.start()
    return kiosk


def press(kiosk: Kiosk, service: str) -> None:
    press_button(kiosk.panel.buttons[service])


def hold_technician(kiosk: Kiosk) -> None:
    assert kiosk.panel.technician is not None
    hold_button(kiosk.panel.technician, kiosk.config.technician_hold_s + 0.3)


def printed_files(directory: Path) -> list[Path]:
    return sorted((directory / "printed").glob("*.escpos"))


def events(recorder: Any, office: str, kind: str | None = None) -> list[dict[str, Any]]:
    found = []
    for _, payload in recorder.messages(topics.kiosk_tickets(office)):
        data = json.loads(payload)
        if kind is None or data["type"] == kind:
            found.append(data)
    return found
