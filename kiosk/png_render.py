"""Render a `kiosk.ticket.Document` to a PNG-ready image, as an 80 mm thermal printer would print it.

Used by `wartemarke-kiosk preview`, the demo's printer folder and the tests, which decode the QR
code from this image with a real decoder. One pixel is one printer dot (576 dots = 80 mm paper
at 203 dpi), so a QR module is `module_size` pixels wide just as on paper. The layout is done in
two passes, measure then paint, so the image is exactly as tall as its content.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import assert_never

import qrcode
from PIL import Image, ImageDraw, ImageFont

from kiosk.ticket import QR, Align, Block, Cut, Document, Feed, Text

FONT_DIR = Path("/usr/share/fonts/truetype/dejavu")
REGULAR_FONT = FONT_DIR / "DejaVuSans.ttf"
BOLD_FONT = FONT_DIR / "DejaVuSans-Bold.ttf"

#: Font A on a thermal printer is 12 x 24 dots; DejaVu Sans at 22 px is about as wide and tall.
BASE_FONT_PX = 22
#: The printer's default line spacing (1/6 inch at 203 dpi), the height of an empty line.
LINE_PX = 34
LINE_GAP_PX = 8
MARGIN_PX = 8
QUIET_ZONE_MODULES = 4
MIN_MODULE_PX = 3
CUT_PX = 24

Font = ImageFont.FreeTypeFont | ImageFont.ImageFont


@dataclass(frozen=True)
class _Line:
    text: str
    font: Font
    align: Align
    height: int


@dataclass(frozen=True)
class _Picture:
    image: Image.Image

    @property
    def height(self) -> int:
        return self.image.height


@dataclass(frozen=True)
class _Gap:
    height: int


@dataclass(frozen=True)
class _CutMark:
    height: int = CUT_PX


_Piece = _Line | _Picture | _Gap | _CutMark


def render_png(doc: Document, width_px: int = 576) -> Image.Image:
    """The document as a white image printed in black, `width_px` wide; save with `.save(path)`."""
    pieces = [piece for block in doc.blocks for piece in _layout(block, width_px)]
    height = MARGIN_PX + sum(piece.height for piece in pieces) + MARGIN_PX
    image = Image.new("L", (width_px, height), 255)
    y = MARGIN_PX
    for piece in pieces:
        _paint(image, piece, y)
        y += piece.height
    return image


@lru_cache(maxsize=32)
def font(size: int, bold: bool) -> Font:
    """DejaVu Sans at the pixel size for Text.size; Pillow's built-in font if DejaVu is missing."""
    px = BASE_FONT_PX * size
    path = BOLD_FONT if bold and BOLD_FONT.exists() else REGULAR_FONT
    try:
        return ImageFont.truetype(str(path), px)
    except OSError:
        return ImageFont.load_default(px)


def _layout(block: Block, width: int) -> list[_Piece]:
    match block:
        case Text():
            return _text_lines(block, width - 2 * MARGIN_PX)
        case QR():
            return [_Picture(qr_image(block.data, block.module_size, width))]
        case Feed():
            return [_Gap(LINE_PX * block.lines)]
        case Cut():
            return [_Gap(LINE_PX), _CutMark()]
        case _:
            assert_never(block)


def _text_lines(block: Text, width: int) -> list[_Piece]:
    face = font(block.size, block.bold)
    block_px = BASE_FONT_PX * block.size
    ascent, descent = face.getmetrics() if isinstance(face, ImageFont.FreeTypeFont) else (block_px, 0)
    height = max(LINE_PX, ascent + descent + LINE_GAP_PX)
    return [_Line(line, face, block.align, height) for line in wrap_px(block.text, face, width)]


def wrap_px(text: str, face: Font, width: int) -> list[str]:
    """Greedy word wrap by rendered width; words wider than a line are broken by character."""
    lines: list[str] = []
    current = ""
    for word in text.split():
        candidate = f"{current} {word}" if current else word
        if face.getlength(candidate) <= width:
            current = candidate
            continue
        if current:
            lines.append(current)
        pieces = _break_word(word, face, width)
        lines.extend(pieces[:-1])
        current = pieces[-1]
    lines.append(current)
    return lines


def _break_word(word: str, face: Font, width: int) -> list[str]:
    pieces = [""]
    for char in word:
        if pieces[-1] and face.getlength(pieces[-1] + char) > width:
            pieces.append("")
        pieces[-1] += char
    return pieces


def qr_image(data: str, module_size: int, max_width: int) -> Image.Image:
    """A QR code (error correction M) with a 4-module quiet zone, `module_size` px per module if it fits."""
    code = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, border=QUIET_ZONE_MODULES)
    code.add_data(data)
    code.make(fit=True)
    matrix: list[list[bool]] = code.get_matrix()
    modules = len(matrix)
    box = max(MIN_MODULE_PX, module_size)
    box = max(1, min(box, max_width // modules))
    small = Image.new("L", (modules, modules), 255)
    small.putdata([0 if dark else 255 for row in matrix for dark in row])
    return small.resize((modules * box, modules * box), Image.Resampling.NEAREST)


def _paint(image: Image.Image, piece: _Piece, y: int) -> None:
    match piece:
        case _Line():
            _paint_line(image, piece, y)
        case _Picture():
            image.paste(piece.image, ((image.width - piece.image.width) // 2, y))
        case _Gap():
            pass
        case _CutMark():
            _paint_cut(image, y + piece.height // 2)
        case _:
            assert_never(piece)


def _paint_line(image: Image.Image, line: _Line, y: int) -> None:
    draw = ImageDraw.Draw(image)
    text_width = draw.textlength(line.text, font=line.font)
    inner = image.width - 2 * MARGIN_PX
    offset = {"left": 0.0, "center": (inner - text_width) / 2, "right": inner - text_width}[line.align]
    draw.text((MARGIN_PX + offset, y), line.text, font=line.font, fill=0)


def _paint_cut(image: Image.Image, y: int, dash: int = 12) -> None:
    draw = ImageDraw.Draw(image)
    for x in range(0, image.width, 2 * dash):
        draw.line([(x, y), (x + dash - 1, y)], fill=0, width=2)
