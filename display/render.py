"""Drawing the board with pygame: only the regions whose content changed, from cached text surfaces.

Each region has a signature (what it shows); a frame redraws the regions whose signature changed and
returns their rectangles for `pygame.display.update(rects)`. An idle board redraws its clock once a
minute (it checks once a second) and, in "alternate" language mode, the texts that change language
every `language_switch_s`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

import pygame

from display.board import Board
from display.fonts import Color, FontBook
from display.layout import BoardLayout, Rect
from language.catalogue import COMPLETE_LANGUAGES, translate
from protocol.businessday import WEEKDAYS

log = logging.getLogger("wartemarke.display.render")
BACKGROUND: Color = (0, 0, 0)
FOREGROUND: Color = (255, 255, 255)
MUTED: Color = (205, 205, 205)  # 12.9:1 on black
HIGHLIGHT: Color = (255, 212, 0)  # 14.3:1 on black
BANNER_BG: Color = (255, 176, 0)  # black on amber: 10.9:1
AMPEL: dict[str, Color] = {"green": (40, 200, 90), "yellow": (255, 212, 0), "red": (255, 80, 80),
                           "closed": (150, 150, 150)}
FLASH_S = 3.0  # the first seconds of a new call flash (inverted twice a second), then stay highlighted


@dataclass
class View:
    """How the board is shown: languages and their rhythm, how many recent calls."""

    languages: tuple[str, ...] = COMPLETE_LANGUAGES
    language_mode: str = "alternate"
    language_switch_s: float = 8.0
    recent_calls: int = 6
    highlight_s: float = 10.0

    def language(self, mono: float) -> str:
        return self.languages[int(mono / self.language_switch_s) % len(self.languages)]

    def say(self, key: str, mono: float, **values: object) -> str:
        if self.language_mode == "both":
            return " · ".join(translate(lang, key, **values) for lang in self.languages)
        return translate(self.language(mono), key, **values)


@dataclass
class Renderer:
    surface: pygame.Surface
    layout: BoardLayout
    fonts: FontBook
    view: View
    drawn: dict[str, list[Rect]] = field(default_factory=dict)  # text boxes of the last frame, per region
    pixels_drawn: int = 0
    label_box: Rect | None = None
    last_px: int = 0  # where the newest label was drawn (tests check the size rule on it)
    _signatures: dict[str, object] = field(default_factory=dict)

    def invalidate(self) -> None:
        self._signatures.clear()

    def render(self, board: Board, now: datetime, mono: float, stale: str | None) -> list[pygame.Rect]:
        """Draw what changed; returns the dirty rectangles."""
        if board.is_dark(now):
            return self._region("dark", (0, 0, self.layout.width, self.layout.height), ("dark",), lambda r: None)
        if self._signatures.get("dark") is not None:
            self._signatures.clear()
        dirty: list[pygame.Rect] = []
        lay = self.layout
        local = now.astimezone(board.timezone)
        lang = self.view.language(mono)
        if stale is None and self._signatures.pop("banner", None) is not None:
            self.surface.fill(BACKGROUND, lay.banner)  # the banner is wider than the header: clear all of it
            dirty.append(pygame.Rect(lay.banner))
            self._signatures.pop("header", None)
            self._signatures.pop("clock", None)
        header_sig = ("header", stale is None, board.info.name if board.info else board.office)
        dirty += self._region("header", lay.header, header_sig, lambda r: self._header(board, r))
        if stale is None:
            clock_sig = ("clock", local.strftime("%H:%M"), local.date(), lang)
            dirty += self._region("clock", lay.clock, clock_sig, lambda r: self._clock(local, lang, r))
        else:
            self._signatures.pop("clock", None)
            dirty += self._region("banner", lay.banner, ("banner", lang, stale), lambda r: self._banner(mono, r))
        dirty += self._region("newest", lay.newest, self._newest_sig(board, mono),
                              lambda r: self._newest(board, mono, r))
        recent = board.calls[1:self.view.recent_calls + 1]
        dirty += self._region("recent", lay.recent, ("recent", lang, tuple((c.label, c.counter_name) for c in recent)),
                              lambda r: self._recent(board, mono, r))
        queue_sig = ("services", lang, board.queue.services if board.queue else None,
                     board.info.services if board.info else None)
        dirty += self._region("services", lay.services, queue_sig, lambda r: self._services(board, mono, r))
        announcement = board.info.announcement if board.info else ""
        dirty += self._region("footer", lay.footer, ("footer", announcement, lang if not announcement else ""),
                              lambda r: self._footer(announcement, mono, r))
        return dirty

    # -- regions ---------------------------------------------------------------------------------

    def _region(self, name: str, rect: Rect, signature: object, draw: Callable[[Rect], None]) -> list[pygame.Rect]:
        if self._signatures.get(name) == signature:
            return []
        self._signatures[name] = signature
        self.drawn[name] = []
        self.surface.fill(BACKGROUND, rect)
        try:
            draw(rect)
        except Exception:  # one region's failure must not take the board (or the process) down
            log.exception("cannot draw the %s region; it stays empty until its content changes", name)
            self.surface.fill(BACKGROUND, rect)
        self.pixels_drawn += rect[2] * rect[3]
        return [pygame.Rect(rect)]

    def _text(self, region: str, content: str, px: int, color: Color, box: Rect, bold: bool = False,
              align: str = "left", fill: Color | None = None) -> Rect:
        x, y, w, h = box
        size = self.fonts.fit(content, px, w, h, bold)
        self.last_px = size
        surface = self.fonts.render(content, size, color, bold)
        tw, th = surface.get_size()
        tx = x + (w - tw) // 2 if align == "center" else x + w - tw if align == "right" else x
        ty = y + (h - th) // 2
        if fill is not None:
            self.surface.fill(fill, (tx, ty, tw, th))
        self.surface.blit(surface, (tx, ty))
        placed = (tx, ty, tw, th)
        self.drawn.setdefault(region, []).append(placed)
        return placed

    def _header(self, board: Board, rect: Rect) -> None:
        x, y, _, h = rect
        name = board.info.name if board.info else board.office
        self._text("header", name, round(h * 0.55), FOREGROUND, (x, y, self.layout.clock[0] - x - 10, h), bold=True)

    def _clock(self, local: datetime, lang: str, rect: Rect) -> None:
        x, y, w, h = rect
        day = f"{translate(lang, 'weekday_' + WEEKDAYS[local.weekday()])} {local:%d.%m.%Y}"
        clock_w = round(w * 0.38)
        self._text("clock", day, round(h * 0.4), MUTED, (x, y, w - clock_w - 10, h), align="right")
        self._text("clock", local.strftime("%H:%M"), round(h * 0.62), FOREGROUND, (x + w - clock_w, y, clock_w, h),
                   bold=True, align="right")

    def _banner(self, mono: float, rect: Rect) -> None:
        self.surface.fill(BANNER_BG, rect)
        x, y, w, h = rect
        m = self.layout.margin
        self._text("banner", self.view.say("board_stale", mono), round(h * 0.45), BACKGROUND, (x + m, y, w - 2 * m, h),
                   bold=True, align="center")

    def _newest_sig(self, board: Board, mono: float) -> object:
        if not board.calls:
            return ("newest", None, self.view.language(mono))
        call = board.calls[0]
        phase = "normal"
        if board.highlighted(mono):
            since = mono - (board.highlight_until - self.view.highlight_s)
            phase = f"flash{int(since * 2) % 2}" if since < FLASH_S else "steady"
        return ("newest", call.label, call.counter_name, call.recall, phase, self.view.language(mono))

    def _newest(self, board: Board, mono: float, rect: Rect) -> None:
        x, y, w, h = rect
        if not board.calls:
            nobody = self.view.say("board_nobody_called", mono)
            self._text("newest", nobody, round(h * 0.15), MUTED, rect, align="center")
            return
        call = board.calls[0]
        phase = self._newest_sig(board, mono)
        flashing = isinstance(phase, tuple) and str(phase[4]) == "flash1"
        color = HIGHLIGHT if board.highlighted(mono) else FOREGROUND
        caption = "board_called_again" if call.recall else "board_now_calling"
        caption_h = round(h * self.layout.caption_share)
        self._text("newest", self.view.say(caption, mono), round(caption_h * 0.8), MUTED, (x, y, w, caption_h))
        label_h = round(h * self.layout.label_share)
        label_px = self.layout.label_px
        self.label_box = self._text("newest", call.label, label_px, BACKGROUND if flashing else color,
                                    (x, y + caption_h, w, label_h), bold=True, align="center",
                                    fill=color if flashing else None)
        counter_y = y + caption_h + label_h
        self._text("newest", f"→ {call.counter_name}", round(label_px * 0.5), color,
                   (x, counter_y, w, y + h - counter_y), bold=True, align="center")

    def _recent(self, board: Board, mono: float, rect: Rect) -> None:
        x, y, w, h = rect
        rows = self.view.recent_calls
        caption_h = round(min(h * 0.12, self.layout.height * 0.06))
        self._text("recent", self.view.say("board_recent", mono), round(caption_h * 0.75), MUTED, (x, y, w, caption_h))
        row_h = (h - caption_h) // rows
        for i, call in enumerate(board.calls[1:rows + 1]):
            top = y + caption_h + i * row_h
            self._text("recent", call.label, round(row_h * 0.55), FOREGROUND, (x, top, round(w * 0.42), row_h),
                       bold=True)
            self._text("recent", f"→ {call.counter_name}", round(row_h * 0.5), FOREGROUND,
                       (x + round(w * 0.44), top, round(w * 0.56), row_h))

    def _services(self, board: Board, mono: float, rect: Rect) -> None:
        x, y, w, h = rect
        services = [s for s in (board.queue.services if board.queue else ())
                    if not board.services or s.service in board.services]
        caption_h = round(min(h * 0.22, self.layout.height * 0.05))
        caption = self.view.say("board_waiting", mono)
        self._text("services", caption, round(caption_h * 0.8), MUTED, (x, y, w, caption_h))
        if not services:
            return
        row_h = min((h - caption_h) // len(services), round(self.layout.height * 0.07))
        lang = self.view.language(mono)
        for i, state in enumerate(services):
            top = y + caption_h + i * row_h
            info = board.info.service(state.service) if board.info else None
            name = info.named(lang) if info else state.service
            dot = round(row_h * 0.35)
            pygame.draw.circle(self.surface, AMPEL.get(state.ampel, MUTED), (x + dot, top + row_h // 2), dot // 2 + 1)
            self._text("services", name, round(row_h * 0.55), FOREGROUND, (x + 2 * dot, top, round(w * 0.5), row_h))
            if state.issuing:
                wait = "" if state.expected_wait_min is None else \
                    "  " + self.view.say("approx_min", mono, n=state.expected_wait_min)
                detail = self.view.say("waiting_n", mono, n=state.waiting) + wait
            else:
                detail = self.view.say("board_no_tickets", mono)
            self._text("services", detail, round(row_h * 0.5), FOREGROUND,
                       (x + 2 * dot + round(w * 0.5), top, w - 2 * dot - round(w * 0.5), row_h), align="right")

    def _footer(self, announcement: str, mono: float, rect: Rect) -> None:
        h = rect[3]
        content = announcement or self.view.say("board_hint", mono)
        self._text("footer", content, round(h * 0.55), FOREGROUND if announcement else MUTED, rect, align="center")
