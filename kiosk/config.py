"""The kiosk's configuration: one TOML file, every key typed and checked at start-up.

An unknown key or a bad value stops the kiosk with a message naming the file and the key, so a
technician never finds out about a typo from a citizen without a ticket.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import time
from pathlib import Path
from zoneinfo import ZoneInfo

from kiosk.numbering import NumberingScheme
from kiosk.printer.base import PrinterSettings
from kiosk.printer.config import read_printer_settings
from kiosk.ticket import extra_language_problem
from kiosk.voice import SpeechSettings, read_speech_settings
from process.config import ConfigSection, load_checked
from protocol.businessday import reset_time_problem
from protocol.fields import service_problem, slug_problem
from protocol.link import BrokerSettings, read_broker_settings
from protocol.text import human_text, url_problem

Pin = int | str


@dataclass(frozen=True)
class ServiceButton:
    """One service the kiosk issues tickets for, and the button (and light) that asks for it."""

    id: str
    name_de: str
    name_en: str
    button_pin: Pin
    light_pin: Pin | None
    min_interval_s: float


@dataclass(frozen=True)
class KioskConfig:
    path: Path
    office: str
    device: str
    office_name: str
    timezone: ZoneInfo
    day_reset: time
    state_dir: Path
    tracking_url: str
    booking_url: str | None
    queue_max_age_s: float
    resume_wait_s: float
    resend_after_s: float
    numbering: NumberingScheme
    broker: BrokerSettings
    printer: PrinterSettings
    status_led_pin: Pin
    technician_pin: Pin | None
    technician_hold_s: float
    services: tuple[ServiceButton, ...]
    speech: SpeechSettings = field(default_factory=SpeechSettings)
    large_label: bool = False  # the ticket's number at the printer's largest size (low vision)
    ticket_language: str | None = None  # a third language on the ticket and the slip (kiosk/ticket.py)

    def service(self, service_id: str) -> ServiceButton | None:
        return next((s for s in self.services if s.id == service_id), None)


def load_kiosk_config(path: Path) -> KioskConfig:
    """Read and validate a kiosk config; raises ConfigError naming file and key."""
    return load_checked(path, _read)


def _read(root: ConfigSection, path: Path) -> KioskConfig:
    kiosk = root.get_section("kiosk")
    tracking_url = kiosk.get_str("tracking_url", check=url_problem)
    if not re.match(r"^https?://[^/\s]+/\S*$", tracking_url) or not tracking_url.endswith("/"):
        raise kiosk.error("tracking_url", "must be an http(s) URL ending in '/', e.g. https://warte.example.org/t/")
    services = tuple(_read_service(s) for s in root.get_section_list("services"))
    ids = [s.id for s in services]
    if len(set(ids)) != len(ids):
        raise root.error("services", f"service ids must be unique; got {', '.join(ids)}")
    technician = root.get_section("technician", required=False)
    led = root.get_section("led")
    return KioskConfig(
        path=path,
        office=kiosk.get_str("office", check=slug_problem),
        device=kiosk.get_str("device", check=slug_problem),
        office_name=kiosk.get_str("office_name", check=human_text(120)),
        timezone=kiosk.get_zone("timezone"),
        day_reset=kiosk.get_time("day_reset", "04:00", check=reset_time_problem),
        state_dir=kiosk.get_path("state_dir"),
        tracking_url=tracking_url,
        booking_url=kiosk.get_str("booking_url", None, check=url_problem),
        queue_max_age_s=kiosk.get_float("queue_max_age_s", 180.0, minval=10, maxval=3600),
        resume_wait_s=kiosk.get_float("resume_wait_s", 5.0, minval=0.5, maxval=300),
        resend_after_s=kiosk.get_float("resend_after_s", 10.0, minval=0.5, maxval=3600),
        numbering=_read_numbering(root.get_section("numbering", required=False)),
        broker=read_broker_settings(root.get_section("broker")),
        printer=read_printer_settings(root.get_section("printer")),
        status_led_pin=_read_pin(led, "pin"),
        technician_pin=_read_pin(technician, "pin") if technician.has("pin") else None,
        technician_hold_s=technician.get_float("hold_s", 3.0, minval=0.1, maxval=30),
        services=services,
        speech=read_speech_settings(root.get_section("speech", required=False)),
        large_label=kiosk.get_bool("large_label", False),
        ticket_language=kiosk.get_str("ticket_language", "", check=_ticket_language_problem) or None,
    )


def _ticket_language_problem(value: str) -> str | None:
    return None if value == "" else extra_language_problem(value)


def _read_pin(section: ConfigSection, key: str) -> Pin:
    value = section.get_value(key)
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise section.error(key, f"must be a BCM GPIO number (e.g. 17) or a pin name (e.g. 'BOARD11'); got {value!r}")
    if isinstance(value, int) and not 0 <= value <= 27:
        raise section.error(key, f"BCM GPIO numbers are 0..27; got {value}")
    return value


def _read_service(section: ConfigSection) -> ServiceButton:
    return ServiceButton(
        id=section.get_str("id", check=service_problem),
        name_de=section.get_str("name_de", check=human_text(120)),
        name_en=section.get_str("name_en", check=human_text(120)),
        button_pin=_read_pin(section, "button_pin"),
        light_pin=_read_pin(section, "light_pin") if section.has("light_pin") else None,
        min_interval_s=section.get_float("min_interval_s", 3.0, minval=0.0, maxval=600),
    )


def _read_numbering(section: ConfigSection) -> NumberingScheme:
    count = section.get_int("kiosk_count", 1, minval=1, maxval=20)
    index = section.get_int("kiosk_index", 0, minval=0, maxval=19)
    if index >= count:
        raise section.error("kiosk_index", f"must be below kiosk_count ({count}); got {index}")
    return NumberingScheme(kiosk_index=index, kiosk_count=count, digits=section.get_int("digits", 3, 1, 6))
