"""Where everything goes on the screen, computed from its size (pure: no pygame).

One layout for landscape, one for portrait; every size is a fraction of the screen, so 720p, 1080p,
4K and a portrait panel all get a designed board. The newest call's label is sized so its glyphs are
at least 12 % of the screen height — legible from 10 m on a 55" panel.
"""

from __future__ import annotations

from dataclasses import dataclass

Rect = tuple[int, int, int, int]  # x, y, w, h

LABEL_GLYPH_SHARE = 0.16  # newest label glyph height / screen height in landscape (rule: ≥ 0.12)
PORTRAIT_GLYPH_SHARE = 0.125  # a portrait panel is narrow: 12.5 % of its height is already very large
CAP_HEIGHT = 0.73  # DejaVu Sans Bold: cap/digit height per font pixel size


@dataclass(frozen=True)
class BoardLayout:
    width: int
    height: int
    header: Rect
    clock: Rect  # inside the header, right
    newest: Rect
    recent: Rect
    services: Rect
    footer: Rect  # the announcement line
    banner: Rect  # the "may be out of date" banner (over the header)
    label_px: int  # font size of the newest label
    margin: int
    caption_share: float = 0.14  # of the newest region: its caption line …
    label_share: float = 0.58  # … and the label line; the counter line gets the rest

    def regions(self) -> dict[str, Rect]:
        """The regions that must not overlap (the clock lives inside the header; the banner covers it)."""
        return {"header": self.header, "newest": self.newest, "recent": self.recent, "services": self.services,
                "footer": self.footer}


def _label_px(height: int, share: float = LABEL_GLYPH_SHARE) -> int:
    return int(height * share / CAP_HEIGHT) + 1


def board_layout(width: int, height: int) -> BoardLayout:
    return _portrait(width, height) if height > width else _landscape(width, height)


def _landscape(w: int, h: int) -> BoardLayout:
    m = max(4, round(0.02 * h))
    header_h, footer_h = round(0.10 * h), round(0.08 * h)
    top = header_h + m
    main_h = h - top - footer_h - 2 * m
    left_w = round(0.58 * w) - m
    newest_h = round(0.60 * main_h)
    header = (m, 0, w - 2 * m, header_h)
    return BoardLayout(
        width=w, height=h, header=header, clock=(round(w * 0.55), 0, round(w * 0.45) - m, header_h),
        newest=(m, top, left_w - m, newest_h),
        services=(m, top + newest_h + m, left_w - m, main_h - newest_h - m),
        recent=(left_w + m, top, w - left_w - 2 * m, main_h),
        footer=(m, h - footer_h - m, w - 2 * m, footer_h),
        banner=(0, 0, w, header_h), label_px=_label_px(h), margin=m,
    )


def _portrait(w: int, h: int) -> BoardLayout:
    m = max(4, round(0.02 * w))
    header_h, footer_h = round(0.07 * h), round(0.06 * h)
    newest_h, services_h = round(0.31 * h), round(0.15 * h)
    top = header_h + m
    recent_h = h - top - newest_h - services_h - footer_h - 4 * m
    return BoardLayout(
        width=w, height=h, header=(m, 0, w - 2 * m, header_h),
        clock=(round(w * 0.45), 0, round(w * 0.55) - m, header_h),
        newest=(m, top, w - 2 * m, newest_h),
        recent=(m, top + newest_h + m, w - 2 * m, recent_h),
        services=(m, top + newest_h + recent_h + 2 * m, w - 2 * m, services_h),
        footer=(m, h - footer_h - m, w - 2 * m, footer_h),
        banner=(0, 0, w, header_h), label_px=_label_px(h, PORTRAIT_GLYPH_SHARE), margin=m,
        caption_share=0.10, label_share=0.66,
    )


def overlaps(a: Rect, b: Rect) -> bool:
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    return ax < bx + bw and bx < ax + aw and ay < by + bh and by < ay + ah


def inside(inner: Rect, outer: Rect) -> bool:
    ix, iy, iw, ih = inner
    ox, oy, ow, oh = outer
    return ox <= ix and oy <= iy and ix + iw <= ox + ow and iy + ih <= oy + oh
