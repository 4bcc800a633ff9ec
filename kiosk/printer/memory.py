"""`type = "dummy"`: a printer in memory, for tests, benchmarks and trying a config out.

It carries the test hooks, as gpiozero's mock pins do, so the real backends carry none: `printed`
keeps the bytes of the recent tickets, and `fail_next` makes the next print fail with that reason
(a paper jam, a cable pulled) exactly as a real printer's fault would.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import ClassVar

from kiosk.printer.base import PrinterFault, PrinterSettings, PrinterStatus, TicketPrinter
from kiosk.ticket import Document
from process.config import ConfigSection


@dataclass(frozen=True)
class MemorySettings:
    """The dummy printer adds no keys."""

    KEYS: ClassVar[tuple[str, ...]] = ()

    @classmethod
    def read(cls, section: ConfigSection) -> MemorySettings:
        return cls()

    def printer(self, settings: PrinterSettings) -> TicketPrinter:
        return MemoryPrinter(settings)


class MemoryPrinter(TicketPrinter):
    """Always online; paper is estimated by counting, as for a printer without a sensor."""

    def __init__(self, settings: PrinterSettings) -> None:
        super().__init__(settings)
        self.printed: deque[bytes] = deque(maxlen=100)  # the recent tickets' bytes
        self.fail_next: str | None = None  # the next print fails with this reason

    def describe(self) -> str:
        return f"dummy printer ({self.settings.profile})"

    def _output(self, data: bytes, doc: Document, name: str) -> None:
        if self.fail_next is not None:
            reason, self.fail_next = self.fail_next, None
            raise PrinterFault(reason)
        self.printed.append(data)

    def _status(self, roll_count: int) -> PrinterStatus:
        return PrinterStatus(online=True, paper=self.estimate(roll_count))
