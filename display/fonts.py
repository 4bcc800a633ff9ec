"""Fonts and cached text surfaces: DejaVu Sans (Debian's fonts-dejavu-core, Bitstream Vera licence).

Rendering text is the expensive part of a frame, so every (text, size, colour) surface is rendered
once, `convert_alpha()`ed to the screen's format and reused until it falls out of an LRU bounded by
bytes (24 MiB), so a day of calls at 4K cannot grow the process.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from pathlib import Path

import pygame

from protocol.text import printable

log = logging.getLogger("wartemarke.display.fonts")
DEJAVU = Path("/usr/share/fonts/truetype/dejavu")
REGULAR, BOLD = DEJAVU / "DejaVuSans.ttf", DEJAVU / "DejaVuSans-Bold.ttf"
Color = tuple[int, int, int]
MAX_CHARS = 500  # longer than any text the contract allows; a bound on surface sizes all the same


class FontBook:
    def __init__(self, max_bytes: int = 24 * 1024 * 1024) -> None:
        self._fonts: dict[tuple[int, bool], pygame.font.Font] = {}
        self._surfaces: OrderedDict[tuple[str, int, bool, Color], pygame.Surface] = OrderedDict()
        self._max_bytes = max_bytes  # by bytes, not count: one big 4K label alone is ~3 MB
        self.cached_bytes = 0
        self.renders = 0  # surfaces actually rendered (cache misses), for the benchmarks
        if not BOLD.exists():
            log.warning("%s missing (apt-get install fonts-dejavu-core): using pygame's default font", BOLD)

    def font(self, px: int, bold: bool = False) -> pygame.font.Font:
        key = (max(px, 6), bold)
        font = self._fonts.get(key)
        if font is None:
            path = BOLD if bold else REGULAR
            font = pygame.font.Font(path if path.exists() else None, key[0])
            self._fonts[key] = font
        return font

    def size(self, text: str, px: int, bold: bool = False) -> tuple[int, int]:
        width, height = self.font(px, bold).size(_drawable(text))
        return int(width), int(height)

    def glyph_height(self, text: str, px: int, bold: bool = True) -> int:
        """Height of the ink of `text` (cap/digit height), not the line height."""
        metrics = [m for m in self.font(px, bold).metrics(_drawable(text)) if m is not None]
        if not metrics:
            return 0
        return max(m[3] for m in metrics) - min(m[2] for m in metrics)

    def fit(self, text: str, px: int, box_w: int, box_h: int, bold: bool = False) -> int:
        """The largest size ≤ px at which `text` fits the box."""
        size = px
        for _ in range(12):
            width, height = self.size(text, size, bold)
            if width <= box_w and height <= box_h:
                return size
            size = max(6, int(size * min(box_w / max(width, 1), box_h / max(height, 1)) * 0.98))
        return size

    def render(self, text: str, px: int, color: Color, bold: bool = False) -> pygame.Surface:
        key = (text, px, bold, color)
        surface = self._surfaces.get(key)
        if surface is not None:
            self._surfaces.move_to_end(key)
            return surface
        font, drawable = self.font(px, bold), _drawable(text)
        if font.size(drawable)[0] == 0:  # only zero-width characters: pygame raises "Text has zero width"
            drawable = ""
        surface = font.render(drawable, True, color)
        if pygame.display.get_surface() is not None:
            surface = surface.convert_alpha()
        self.renders += 1
        self._surfaces[key] = surface
        self.cached_bytes += _size(surface)
        while self.cached_bytes > self._max_bytes and len(self._surfaces) > 1:
            _, evicted = self._surfaces.popitem(last=False)
            self.cached_bytes -= _size(evicted)
        return surface


def _drawable(text: str) -> str:
    """What the font may be given: pygame raises on NUL and lone surrogates. Messages are checked long
    before (protocol/text.py), so this only guards against a path that forgot to."""
    return printable(text[:MAX_CHARS])


def _size(surface: pygame.Surface) -> int:
    width, height = surface.get_size()
    return width * height * surface.get_bytesize()
