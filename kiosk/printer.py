"""The ticket printer behind one interface, whatever the transport.

`usb`, `serial` and `network` drive a real ESC/POS printer through python-escpos and read its paper
sensor where it answers; `file` writes each ticket's raw ESC/POS bytes into a folder (one
`.escpos` file per ticket, name order = print order) and `dummy` keeps them in memory. Where the
paper sensor cannot be read, paper is estimated by counting tickets against the roll length.
"""

from __future__ import annotations

import logging
import os
import threading
from collections import deque
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from kiosk.config import PrinterSettings
from kiosk.escpos_render import render_escpos
from kiosk.escpos_setup import dummy_printer, escpos_ready
from kiosk.ticket import Document

log = logging.getLogger("wartemarke.kiosk.printer")


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


class TicketPrinter:
    """Prints documents and reports status; thread-safe (one print at a time)."""

    def __init__(self, settings: PrinterSettings) -> None:
        self.settings = settings
        self._lock = threading.Lock()
        self._device: Any = None
        self.printed: deque[bytes] = deque(maxlen=100)  # only the dummy keeps (recent) output here
        self.fail_next: str | None = None  # the dummy's fault injection, like gpiozero's mock pins
        self._next_file_index = self._first_file_index()

    # -- printing ---------------------------------------------------------------------------

    def print_document(self, doc: Document, name: str) -> int:
        """Print one document; returns the byte count. Raises PrinterFault when it did not print."""
        with self._lock:
            if self.settings.type in ("file", "dummy"):
                return self._print_buffered(doc, name)
            return self._print_device(doc)

    def warm_up(self) -> None:
        """Import python-escpos and render once, off the press path (~25 ms and the QR tables)."""
        from kiosk.ticket import QR, Text

        self._render_bytes(Document((Text("warm-up"), QR("HTTPS://EXAMPLE.ORG/T/WARMUP"))))
        if self.settings.png_previews:
            from kiosk.png_render import render_png  # noqa: F401

    def _render_bytes(self, doc: Document) -> bytes:
        buffer = dummy_printer(self.settings.profile)
        render_escpos(doc, buffer, native_qr=self.settings.native_qr)
        return bytes(buffer.output)

    def _print_buffered(self, doc: Document, name: str) -> int:
        data = self._render_bytes(doc)
        if self.settings.type == "dummy":
            if self.fail_next is not None:
                reason, self.fail_next = self.fail_next, None
                raise PrinterFault(reason)
            self.printed.append(data)
            return len(data)
        folder = self.settings.path
        assert folder is not None
        target = folder / f"{self._next_file_index:08d}-{name}.escpos"
        temp = folder / f".{target.name}.tmp"
        try:
            with temp.open("wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            temp.rename(target)
            if self.settings.png_previews:
                from kiosk.png_render import render_png

                render_png(doc).save(target.with_suffix(".png"))
        except OSError as exc:
            raise PrinterFault(f"cannot write to printer folder {folder}: {exc.strerror or exc}") from exc
        self._next_file_index += 1
        return len(data)

    def _print_device(self, doc: Document) -> int:
        data = self._render_bytes(doc)
        try:
            device = self._open()
            device._raw(data)
            flush = getattr(device, "flush", None)
            if callable(flush):
                flush()
        except Exception as exc:
            self._close()
            raise PrinterFault(f"{self.settings.type} printer error: {exc}") from exc
        return len(data)

    def _first_file_index(self) -> int:
        folder = self.settings.path
        if self.settings.type != "file" or folder is None or not folder.is_dir():
            return 1
        indexes = [int(p.name[:8]) for p in folder.glob("*.escpos") if p.name[:8].isdigit()]
        return max(indexes, default=0) + 1

    # -- devices ----------------------------------------------------------------------------

    def _open(self) -> Any:
        if self._device is not None:
            return self._device
        escpos_ready()
        from escpos import printer as escpos_printer

        s = self.settings
        if s.type == "usb":
            device = escpos_printer.Usb(s.usb_vendor_id, s.usb_product_id, profile=s.profile)
        elif s.type == "serial":
            device = escpos_printer.Serial(devfile=s.serial_device, baudrate=s.baudrate, timeout=2,
                                           profile=s.profile)
        else:
            device = escpos_printer.Network(host=s.host, port=s.port, timeout=5, profile=s.profile)
        device.open()
        self._device = device
        return device

    def _close(self) -> None:
        if self._device is not None:
            try:
                self._device.close()
            except Exception as exc:
                log.debug("closing printer: %s", exc)
            self._device = None

    def close(self) -> None:
        with self._lock:
            self._close()

    # -- status -----------------------------------------------------------------------------

    def status(self, roll_count: int) -> PrinterStatus:
        """Ask the printer where it can answer; otherwise check the transport and estimate paper."""
        with self._lock:
            if self.settings.type == "file":
                return self._file_status(roll_count)
            if self.settings.type == "dummy":
                return PrinterStatus(online=True, paper=self._estimate(roll_count))
            return self._device_status(roll_count)

    def _estimate(self, roll_count: int) -> PaperState:
        length = self.settings.roll_length_tickets
        if roll_count >= length:
            return PaperState.OUT
        if roll_count >= length * self.settings.paper_low_fraction:
            return PaperState.LOW
        return PaperState.OK

    def _file_status(self, roll_count: int) -> PrinterStatus:
        folder = self.settings.path
        assert folder is not None
        if not folder.is_dir() or not os.access(folder, os.W_OK):
            return PrinterStatus(online=False, paper=PaperState.UNKNOWN,
                                 detail=f"printer folder {folder} missing or not writable")
        return PrinterStatus(online=True, paper=self._estimate(roll_count))

    def _device_status(self, roll_count: int) -> PrinterStatus:
        from escpos.constants import RT_MASK_ONLINE, RT_STATUS_ONLINE

        try:
            device = self._open()
            answer = device.query_status(RT_STATUS_ONLINE)
            if not answer:
                return PrinterStatus(online=True, paper=self._estimate(roll_count),
                                     detail="printer does not report status; paper estimated")
            if answer[0] & RT_MASK_ONLINE:
                return PrinterStatus(online=False, paper=PaperState.UNKNOWN, detail="printer reports offline")
            sensor = device.paper_status()
        except Exception as exc:
            self._close()
            return PrinterStatus(online=False, paper=PaperState.UNKNOWN, detail=f"printer not answering: {exc}")
        paper = {0: PaperState.OUT, 1: PaperState.LOW}.get(sensor, PaperState.OK)
        return PrinterStatus(online=True, paper=paper, sensor=True)


def describe(settings: PrinterSettings) -> str:
    """One line naming the printer, for the start-up banner and the selftest."""
    if settings.type == "file":
        return f"file printer into {settings.path}"
    if settings.type == "usb":
        return f"USB printer {settings.usb_vendor_id:04x}:{settings.usb_product_id:04x} ({settings.profile})"
    if settings.type == "serial":
        return f"serial printer {settings.serial_device} at {settings.baudrate} baud ({settings.profile})"
    if settings.type == "network":
        return f"network printer {settings.host}:{settings.port} ({settings.profile})"
    return f"dummy printer ({settings.profile})"


def ensure_folder(path: Path | None) -> None:
    if path is not None:
        path.mkdir(parents=True, exist_ok=True)
