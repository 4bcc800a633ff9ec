"""A real ESC/POS printer through python-escpos, over USB, a serial line or the network.

The three connections differ only in how the device is opened (`connect`) and named; printing the
raw bytes and reading the paper sensor are the same for all. A printer that does not answer the
status query gets its paper estimated; one that stops answering is reported offline and reopened
on the next attempt.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar

from kiosk.escpos_setup import escpos_ready
from kiosk.printer.base import PaperState, PrinterFault, PrinterSettings, PrinterStatus, TicketPrinter
from kiosk.ticket import Document
from process.config import ConfigSection

log = logging.getLogger("wartemarke.kiosk.printer")


def _escpos_printers() -> Any:
    escpos_ready()
    from escpos import printer as escpos_printer

    return escpos_printer


class Connection(ABC):
    """How one python-escpos device is reached: the settings a connection type adds to `[printer]`."""

    @abstractmethod
    def connect(self, profile: str) -> Any:
        """A python-escpos printer object, not yet opened."""

    @abstractmethod
    def describe(self) -> str:
        """Where the printer is, for the start-up banner and the selftest."""

    def printer(self, settings: PrinterSettings) -> TicketPrinter:
        return DevicePrinter(settings, self)


@dataclass(frozen=True)
class UsbSettings(Connection):
    """`type = "usb"`: the printer's USB vendor and product id (`lsusb`)."""

    KEYS: ClassVar[tuple[str, ...]] = ("usb_vendor_id", "usb_product_id")
    vendor_id: int = 0
    product_id: int = 0

    @classmethod
    def read(cls, section: ConfigSection) -> UsbSettings:
        return cls(vendor_id=section.get_int("usb_vendor_id", 0, minval=0, maxval=0xFFFF),
                   product_id=section.get_int("usb_product_id", 0, minval=0, maxval=0xFFFF))

    def connect(self, profile: str) -> Any:
        return _escpos_printers().Usb(self.vendor_id, self.product_id, profile=profile)

    def describe(self) -> str:
        return f"USB printer {self.vendor_id:04x}:{self.product_id:04x}"



@dataclass(frozen=True)
class SerialSettings(Connection):
    """`type = "serial"`: the serial device and its baud rate."""

    KEYS: ClassVar[tuple[str, ...]] = ("serial_device", "baudrate")
    device: str = "/dev/ttyUSB0"
    baudrate: int = 9600

    @classmethod
    def read(cls, section: ConfigSection) -> SerialSettings:
        return cls(device=section.get_str("serial_device", "/dev/ttyUSB0"),
                   baudrate=section.get_int("baudrate", 9600, minval=1200, maxval=921600))

    def connect(self, profile: str) -> Any:
        return _escpos_printers().Serial(devfile=self.device, baudrate=self.baudrate, timeout=2, profile=profile)

    def describe(self) -> str:
        return f"serial printer {self.device} at {self.baudrate} baud"



@dataclass(frozen=True)
class NetworkSettings(Connection):
    """`type = "network"`: the printer's address and TCP port (raw printing, usually 9100)."""

    KEYS: ClassVar[tuple[str, ...]] = ("host", "port")
    host: str
    port: int = 9100

    @classmethod
    def read(cls, section: ConfigSection) -> NetworkSettings:
        return cls(host=section.get_str("host"), port=section.get_int("port", 9100, minval=1, maxval=65535))

    def connect(self, profile: str) -> Any:
        return _escpos_printers().Network(host=self.host, port=self.port, timeout=5, profile=profile)

    def describe(self) -> str:
        return f"network printer {self.host}:{self.port}"



class DevicePrinter(TicketPrinter):
    """One python-escpos device, opened on first use and kept open until it fails."""

    def __init__(self, settings: PrinterSettings, connection: Connection) -> None:
        super().__init__(settings)
        self.connection = connection
        self._device: Any = None

    def describe(self) -> str:
        return f"{self.connection.describe()} ({self.settings.profile})"

    def _output(self, data: bytes, doc: Document, name: str) -> None:
        try:
            device = self._open()
            device._raw(data)
            flush = getattr(device, "flush", None)
            if callable(flush):
                flush()
        except Exception as exc:
            self._close()
            raise PrinterFault(f"{self.settings.type} printer error: {exc}") from exc

    def _status(self, roll_count: int) -> PrinterStatus:
        from escpos.constants import RT_MASK_ONLINE, RT_STATUS_ONLINE

        try:
            device = self._open()
            answer = device.query_status(RT_STATUS_ONLINE)
            if not answer:
                return PrinterStatus(online=True, paper=self.estimate(roll_count),
                                     detail="printer does not report status; paper estimated")
            if answer[0] & RT_MASK_ONLINE:
                return PrinterStatus(online=False, paper=PaperState.UNKNOWN, detail="printer reports offline")
            sensor = device.paper_status()
        except Exception as exc:
            self._close()
            return PrinterStatus(online=False, paper=PaperState.UNKNOWN, detail=f"printer not answering: {exc}")
        paper = {0: PaperState.OUT, 1: PaperState.LOW}.get(sensor, PaperState.OK)
        return PrinterStatus(online=True, paper=paper, sensor=True)

    def _open(self) -> Any:
        if self._device is None:
            device = self.connection.connect(self.settings.profile)
            device.open()
            self._device = device
        return self._device

    def _close(self) -> None:
        if self._device is not None:
            try:
                self._device.close()
            except Exception as exc:
                log.debug("closing printer: %s", exc)
            self._device = None
