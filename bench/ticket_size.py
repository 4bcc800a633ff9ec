"""Ticket size in bytes as the printer receives it, and what that costs on a 9600-baud serial line.

The ticket is the one the kiosk prints (`kiosk.ticket.ticket_document`) with the example config's
office and services, a real 26-character token from `kiosk.tracking.new_token` behind
"https://warte.example.org/t/", rendered by `kiosk.escpos_render` for the TM-T88V profile exactly
as `TicketPrinter` does, once with the printer drawing the QR code (native, `GS ( k`) and once with
the QR code sent as an image. "Typical" is service A with the hub's waiting numbers; "largest" is the
biggest of both example services with and without the hub's numbers (the offline wording is longer).
The baseline is the 1 KiB target itself: sizes are deterministic, so there is no noise to compare.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from kiosk.escpos_render import render_escpos
from kiosk.escpos_setup import dummy_printer
from kiosk.ticket import TicketContent, ticket_document
from kiosk.tracking import new_token, qr_link, short_link

TRACKING_URL = "https://warte.example.org/t/"
OFFICE_NAME = "Bürgerbüro Mitte"  # deploy/examples/kiosk.toml
SERVICES = (("A042", "Allgemeine Anliegen", "General concerns"),
            ("P042", "Abholung Ausweis / Pass", "ID card / passport pickup"))
PROFILE = "TM-T88V"
BAUD = 9600
BITS_PER_BYTE = 10  # 8N1: start bit, 8 data bits, stop bit


@dataclass(frozen=True)
class TicketSizes:
    native: int
    native_max: int
    image: int
    qr_payload: int
    qr_payload_text: str


def serial_seconds(size: int, baud: int = BAUD) -> float:
    return size * BITS_PER_BYTE / baud


def content(label: str, name_de: str, name_en: str, online: bool, token: str) -> TicketContent:
    return TicketContent(
        office_name=OFFICE_NAME, label=label, service_de=name_de, service_en=name_en,
        issued_at=datetime(2025, 11, 24, 10, 27, tzinfo=ZoneInfo("Europe/Berlin")),
        ahead=17 if online else None, wait_min=105 if online else None,
        tracking_url=qr_link(TRACKING_URL, token), short_url=short_link(TRACKING_URL, token))


def render(ticket: TicketContent, native_qr: bool) -> bytes:
    printer = dummy_printer(PROFILE)
    render_escpos(ticket_document(ticket), printer, native_qr=native_qr)
    return bytes(printer.output)


def measure() -> TicketSizes:
    token = new_token()
    assert len(token) == 26, token
    typical = content(*SERVICES[0], online=True, token=token)
    variants = [content(*s, online=online, token=token) for s in SERVICES for online in (True, False)]
    return TicketSizes(
        native=len(render(typical, native_qr=True)),
        native_max=max(len(render(v, native_qr=True)) for v in variants),
        image=len(render(typical, native_qr=False)),
        qr_payload=len(typical.tracking_url),
        qr_payload_text=typical.tracking_url[:30] + "…",
    )
