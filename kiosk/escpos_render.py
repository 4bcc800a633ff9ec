"""Render a `kiosk.ticket.Document` onto any python-escpos printer (Usb, Serial, Network, File, Dummy).

The printer's profile matters: it names the code pages python-escpos may switch to so that
umlauts print, the font-A column count used for word wrapping here (the printer itself would
break words anywhere), and the paper width for centring an image QR code. Native QR codes
(`GS ( k`) are the default because the printer draws them from ~60 bytes of data, where an
image QR costs kilobytes, which is over ten seconds on a 9600-baud serial line. Every document
starts with ESC @ and selects a code page before its first non-ASCII text, so each ticket's bytes stand alone (the
File printer writes one file per ticket and a printer may have been power-cycled in between).
"""

from __future__ import annotations

import textwrap
from typing import TYPE_CHECKING, assert_never

from kiosk.escpos_setup import escpos_ready
from kiosk.ticket import QR, Cut, Document, Feed, Text
from protocol.text import printable

escpos_ready()

from escpos.capabilities import NotSupported  # noqa: E402
from escpos.constants import QR_ECLEVEL_M  # noqa: E402

if TYPE_CHECKING:
    from escpos.escpos import Escpos

#: Font A columns when the profile does not say (80 mm paper at 180 dpi).
DEFAULT_COLUMNS = 42


def native_qr_supported(printer: Escpos) -> bool:
    """Whether the printer profile claims `GS ( k` QR support; otherwise print QR codes as images."""
    return bool(printer.profile.supports("qrCode"))


def render_escpos(doc: Document, printer: Escpos, native_qr: bool = True) -> None:
    """Send the whole document to the printer, ending with whatever the document ends with (a cut)."""
    native_qr = native_qr and native_qr_supported(printer)  # profiles without GS ( k get an image QR
    _start(printer)
    style = _Style(printer)
    columns = _columns(printer)
    for block in doc.blocks:
        _render_block(block, printer, style, columns, native_qr)


def _start(printer: Escpos) -> None:
    """ESC @ (the printer's defaults), and forget python-escpos's assumed code page, so that the first
    non-ASCII text selects one explicitly."""
    printer.hw("INIT")
    printer.magic.encoding = None


class _Style:
    """The printer's text style since ESC @, so that only changes are sent (keeps a ticket small)."""

    def __init__(self, printer: Escpos) -> None:
        self._printer = printer
        self._align = "left"
        self._bold = False
        self._size = 1

    def apply(self, align: str | None = None, bold: bool | None = None, size: int | None = None) -> None:
        if size is not None and size != self._size:
            if size > 1:
                self._printer.set(custom_size=True, width=size, height=size)
            else:
                self._printer.set(normal_textsize=True)
                self._bold = False  # that is ESC ! 0, which also clears emphasis
            self._size = size
        if bold is not None and bold != self._bold:
            self._printer.set(bold=bold)
            self._bold = bold
        if align is not None and align != self._align:
            self._printer.set(align=align)
            self._align = align


def _columns(printer: Escpos) -> int:
    try:
        return int(printer.profile.get_columns("a"))
    except (KeyError, ValueError, NotSupported):
        return DEFAULT_COLUMNS


def _render_block(block: Text | QR | Feed | Cut, printer: Escpos, style: _Style, columns: int, native_qr: bool) -> None:
    match block:
        case Text():
            _render_text(block, printer, style, columns)
        case QR():
            _render_qr(block, printer, style, native_qr)
        case Feed():
            printer.ln(block.lines)
        case Cut():
            printer.cut()
        case _:
            assert_never(block)


def _render_text(block: Text, printer: Escpos, style: _Style, columns: int) -> None:
    style.apply(align=block.align, bold=block.bold, size=block.size)
    for line in wrap(printable(block.text), max(1, columns // block.size)):  # no control byte reaches the printer
        printer.textln(line)
    style.apply(size=1)  # so that feeds and cuts after big text are normal height


def wrap(text: str, width: int) -> list[str]:
    """Word-wrap one paragraph; an empty paragraph is one empty line."""
    return textwrap.wrap(text, width=width, break_on_hyphens=False) or [""]


def _render_qr(block: QR, printer: Escpos, style: _Style, native_qr: bool) -> None:
    # python-escpos refuses center=True for native codes; the printer honours ESC a instead.
    style.apply(align="center")
    if native_qr:
        printer.qr(block.data, ec=QR_ECLEVEL_M, size=block.module_size, native=True, center=False)
    else:
        # An image is padded to the paper width where the profile knows it.
        printer.qr(block.data, ec=QR_ECLEVEL_M, size=block.module_size, native=False, center=_knows_width(printer))


def _knows_width(printer: Escpos) -> bool:
    """Whether the profile gives the paper width in pixels (python-escpos prints a warning otherwise)."""
    try:
        int(printer.profile.profile_data["media"]["width"]["pixels"])
    except (KeyError, TypeError, ValueError):
        return False
    return True
