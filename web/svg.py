"""The "when to come" chart: a weekday × hour table of typical waits as a small server-side SVG."""

from __future__ import annotations

from html import escape
from typing import Any

DAYS = {"de": ("Mo", "Di", "Mi", "Do", "Fr", "Sa", "So"), "en": ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")}


def _colour(wait: float) -> str:
    if wait <= 30:
        return "#0a6b2b"
    return "#7a5a00" if wait <= 90 else "#a40e0e"


def history_svg(history: dict[str, Any] | None, lang: str) -> str:
    """An accessible SVG (title, per-cell titles) or "" when there is nothing to show."""
    cells = (history or {}).get("cells") or []
    if not cells:
        return ""
    hours = sorted({int(c["hour"]) for c in cells})
    days = sorted({int(c["weekday"]) for c in cells})
    cw, ch, left, top = 26, 18, 34, 16
    width, height = left + cw * len(hours), top + ch * len(days)
    title = "Typische Wartezeit nach Wochentag und Stunde" if lang == "de" else "Typical wait by weekday and hour"
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" role="img" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}"><title>{escape(title)}</title>']
    for i, hour in enumerate(hours):
        parts.append(f'<text x="{left + i * cw + 4}" y="12">{hour:02d}</text>')
    for j, day in enumerate(days):
        parts.append(f'<text x="0" y="{top + j * ch + 13}">{DAYS[lang][day]}</text>')
    for cell in cells:
        i, j = hours.index(int(cell["hour"])), days.index(int(cell["weekday"]))
        wait = float(cell["typical_wait_min"])
        label = f'{DAYS[lang][int(cell["weekday"])]} {int(cell["hour"]):02d}:00 – {wait:.0f} min'
        parts.append(f'<rect x="{left + i * cw}" y="{top + j * ch}" width="{cw - 2}" height="{ch - 2}" '
                     f'fill="{_colour(wait)}"><title>{escape(label)}</title></rect>')
    parts.append("</svg>")
    return "".join(parts)
