"""The printer seam: what the kiosk asks of any printer, whatever its backend.

A backend says how the rendered bytes get out (`_output`) and what it can tell about itself
(`_status`); everything else is here once: rendering through python-escpos, one print at a time,
and the paper estimate for printers without a sensor (tickets counted against the roll length).
The backends, one module each, as python-escpos has one per printer connection: `device.py` (a
real ESC/POS printer over USB, serial or the network), `folder.py` (one `.escpos` file per ticket)
and `memory.py` (tests and demos). `config.py` reads the `[printer]` table into `PrinterSettings`.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from kiosk.escpos_render import render_escpos
from kiosk.escpos_setup import dummy_printer
from kiosk.ticket import Document


class PrinterFault(Exception):
    """The ticket did not (certainly) come out: the caller voids it."""


class PaperState(StrEnum):
    OK = "ok"
    LOW = "low"
    OUT = "out"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class PrinterStatus:
    """What the kiosk reports on its LED and in its retained device status."""

    online: bool
    paper: PaperState
    detail: str = ""
    sensor: bool = False  # True when paper came from the printer's sensor, False when estimated

    @property
    def can_print(self) -> bool:
        return self.online and self.paper != PaperState.OUT


class BackendSettings(Protocol):
    """What one printer type adds to `[printer]` (one dataclass per backend, see config.py)."""

    def printer(self, settings: PrinterSettings) -> TicketPrinter:
        """The backend's printer for these settings."""
        ...


@dataclass(frozen=True)
class PrinterSettings:
    """What every printer has; `backend` holds what its type adds."""

    type: str  # the config's name of the backend: usb, serial, network, file, dummy
    backend: BackendSettings
    profile: str = "TM-T88V"
    native_qr: bool = True
    roll_length_tickets: int = 600
    paper_low_fraction: float = 0.9
    status_poll_s: float = 30.0

    def open(self) -> TicketPrinter:
        return self.backend.printer(self)


class TicketPrinter(ABC):
    """Prints documents and reports status; thread-safe (one print at a time)."""

    def __init__(self, settings: PrinterSettings) -> None:
        self.settings = settings
        self._lock = threading.Lock()

    def print_document(self, doc: Document, name: str) -> int:
        """Print one document; returns the byte count. Raises PrinterFault when it did not print."""
        with self._lock:
            data = self._render_bytes(doc)
            self._output(data, doc, name)
            return len(data)

    def status(self, roll_count: int) -> PrinterStatus:
        """Ask the printer where it can answer; otherwise check the transport and estimate paper."""
        with self._lock:
            return self._status(roll_count)

    def warm_up(self) -> None:
        """Import python-escpos and render once, off the press path (~25 ms and the QR tables)."""
        from kiosk.ticket import QR, Text

        self._render_bytes(Document((Text("warm-up"), QR("HTTPS://EXAMPLE.ORG/T/WARMUP"))))

    def close(self) -> None:
        with self._lock:
            self._close()

    @abstractmethod
    def describe(self) -> str:
        """One line naming the printer, for the start-up banner and the selftest."""

    @abstractmethod
    def _output(self, data: bytes, doc: Document, name: str) -> None:
        """Get one ticket's ESC/POS bytes out (the lock is held); PrinterFault when they did not."""

    @abstractmethod
    def _status(self, roll_count: int) -> PrinterStatus:
        """The printer's status (the lock is held)."""

    def _close(self) -> None:
        """Release the device, if the backend holds one (the lock is held)."""
        return None

    def _render_bytes(self, doc: Document) -> bytes:
        buffer = dummy_printer(self.settings.profile)
        render_escpos(doc, buffer, native_qr=self.settings.native_qr)
        return bytes(buffer.output)

    def estimate(self, roll_count: int) -> PaperState:
        """Paper by counting: `roll_count` tickets printed since the roll was replaced."""
        length = self.settings.roll_length_tickets
        if roll_count >= length:
            return PaperState.OUT
        if roll_count >= length * self.settings.paper_low_fraction:
            return PaperState.LOW
        return PaperState.OK
