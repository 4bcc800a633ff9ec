"""`type = "file"`: each ticket's raw ESC/POS bytes as one file in a folder, for a kiosk without a
printer (the demo, a test bench) or a spooler that picks the files up.

Files are written atomically (a hidden temporary file, fsynced, then renamed) and named
`00000001-A001.escpos`, so name order is print order, also across restarts. With `png_previews`
a picture of each ticket (what the citizen would get) is written beside it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from kiosk.printer.base import PaperState, PrinterFault, PrinterSettings, PrinterStatus, TicketPrinter
from kiosk.ticket import Document
from process.config import ConfigSection


@dataclass(frozen=True)
class FolderSettings:
    """The folder tickets are written into, and whether a PNG picture goes beside each."""

    KEYS: ClassVar[tuple[str, ...]] = ("path", "png_previews")
    path: Path
    png_previews: bool = False

    @classmethod
    def read(cls, section: ConfigSection) -> FolderSettings:
        path = section.get_path("path", None)
        if path is None:
            raise section.error("path", "is required for type = \"file\" (the folder tickets are written into)")
        return cls(path=path, png_previews=section.get_bool("png_previews", False))

    def printer(self, settings: PrinterSettings) -> TicketPrinter:
        return FolderPrinter(settings, self)


class FolderPrinter(TicketPrinter):
    """Writes one file per ticket; the folder is created if missing."""

    def __init__(self, settings: PrinterSettings, folder: FolderSettings) -> None:
        super().__init__(settings)
        self.folder = folder.path
        self.png_previews = folder.png_previews
        self.folder.mkdir(parents=True, exist_ok=True)
        indexes = [int(p.name[:8]) for p in self.folder.glob("*.escpos") if p.name[:8].isdigit()]
        self._next_index = max(indexes, default=0) + 1

    def describe(self) -> str:
        return f"file printer into {self.folder}"

    def warm_up(self) -> None:
        super().warm_up()
        if self.png_previews:
            from kiosk.png_render import render_png  # noqa: F401

    def _output(self, data: bytes, doc: Document, name: str) -> None:
        target = self.folder / f"{self._next_index:08d}-{name}.escpos"
        temp = self.folder / f".{target.name}.tmp"
        try:
            with temp.open("wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            temp.rename(target)
            if self.png_previews:
                from kiosk.png_render import render_png

                render_png(doc).save(target.with_suffix(".png"))
        except OSError as exc:
            raise PrinterFault(f"cannot write to printer folder {self.folder}: {exc.strerror or exc}") from exc
        self._next_index += 1

    def _status(self, roll_count: int) -> PrinterStatus:
        if not self.folder.is_dir() or not os.access(self.folder, os.W_OK):
            return PrinterStatus(online=False, paper=PaperState.UNKNOWN,
                                 detail=f"printer folder {self.folder} missing or not writable")
        return PrinterStatus(online=True, paper=self.estimate(roll_count))
