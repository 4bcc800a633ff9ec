"""The `[printer]` table: the keys every printer has, then those of its `type`, read by its backend.

A key of another type (`usb_vendor_id` with `type = "file"`) is an error naming the key and its
type, not silently ignored: a technician who switches `type` deletes or comments out the old type's
keys (deploy/examples/kiosk.toml shows each type's keys).
"""

from __future__ import annotations

from typing import Protocol

from kiosk.printer.base import BackendSettings, PrinterSettings
from kiosk.printer.device import NetworkSettings, SerialSettings, UsbSettings
from kiosk.printer.folder import FolderSettings
from kiosk.printer.memory import MemorySettings
from process.config import ConfigSection


class Backend(Protocol):
    """A backend's settings class: the keys it adds to `[printer]` and its reader of them."""

    KEYS: tuple[str, ...]

    def read(self, section: ConfigSection) -> BackendSettings: ...


BACKENDS: dict[str, Backend] = {
    "usb": UsbSettings, "serial": SerialSettings, "network": NetworkSettings,
    "file": FolderSettings, "dummy": MemorySettings,
}


def read_printer_settings(section: ConfigSection) -> PrinterSettings:
    kind = section.get_str("type", choices=tuple(BACKENDS))
    for other, backend in BACKENDS.items():
        for key in backend.KEYS:
            if other != kind and section.has(key) and key not in BACKENDS[kind].KEYS:
                raise section.error(key, f'belongs to type = "{other}", not to type = "{kind}": '
                                         "delete it or comment it out")
    return PrinterSettings(
        type=kind,
        backend=BACKENDS[kind].read(section),
        profile=section.get_str("profile", "TM-T88V"),
        native_qr=section.get_bool("native_qr", True),
        roll_length_tickets=section.get_int("roll_length_tickets", 600, minval=10, maxval=100000),
        paper_low_fraction=section.get_float("paper_low_fraction", 0.9, minval=0.1, maxval=1.0),
        status_poll_s=section.get_float("status_poll_s", 30.0, minval=1, maxval=3600),
    )
