"""The "when to come" chart: a weekday × hour table of typical waits as a small server-side SVG."""

from __future__ import annotations

from html import escape
from typing import Any

from protocol.businessday import WEEKDAYS
from web.i18n import translator


def _colour(wait: float) -> str:
    if wait <= 30:
        return "#0a6b2b"
    return "#7a5a00" if wait <= 90 else "#a40e0e"


def history_svg(history: dict[str, Any] | None, lang: str) -> str:
    """An accessible SVG (title, per-cell titles) or "" when there is nothing to show.

    One row per weekday, one column per hour (typical wait), and at the right the time tickets typically
    ran out on that weekday (when they did on any of the recent weeks' days).
    """
    cells = (history or {}).get("cells") or []
    ran_out: dict[str, Any] = (history or {}).get("ran_out") or {}
    if not cells and not ran_out:
        return ""
    hours = sorted({int(c["hour"]) for c in cells})
    days = sorted({int(c["weekday"]) for c in cells} | {int(d) for d in ran_out})
    cw, ch, left, top = 26, 18, 34, 16
    grid = left + cw * len(hours)
    width, height = grid + (60 if ran_out else 0), top + ch * len(days)
    t = translator(lang)
    names = [t(f"weekday_{key}") for key in WEEKDAYS]  # Monday first, as `weekday` counts
    title = t("chart_title")
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" role="img" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}"><title>{escape(title)}</title>']
    for i, hour in enumerate(hours):
        parts.append(f'<text x="{left + i * cw + 4}" y="12">{hour:02d}</text>')
    if ran_out:
        parts.append(f'<text x="{grid + 6}" y="12">{escape(t("chart_ran_out_column"))}</text>')
    for j, day in enumerate(days):
        parts.append(f'<text x="0" y="{top + j * ch + 13}">{escape(names[day])}</text>')
        out = ran_out.get(str(day))
        if out:
            label = t("chart_ran_out", weekday=names[day], days=out.get("days"), of_days=out.get("of_days"),
                      time=out.get("typical_time"))
            parts.append(f'<text x="{grid + 6}" y="{top + j * ch + 13}"><title>{escape(label)}</title>'
                         f'{escape(str(out.get("typical_time", "")))}</text>')
    for cell in cells:
        i, j = hours.index(int(cell["hour"])), days.index(int(cell["weekday"]))
        wait = float(cell["typical_wait_min"])
        label = f'{names[int(cell["weekday"])]} {int(cell["hour"]):02d}:00 – {wait:.0f} min'
        parts.append(f'<rect x="{left + i * cw}" y="{top + j * ch}" width="{cw - 2}" height="{ch - 2}" '
                     f'fill="{_colour(wait)}"><title>{escape(label)}</title></rect>')
    parts.append("</svg>")
    return "".join(parts)
