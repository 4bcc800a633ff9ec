"""The "when to come" chart: a weekday × hour table of typical waits, as a small server-side SVG with a
legend and the same figures as an HTML table.

Not by colour alone (WCAG 1.4.1): each cell shows its minutes in figures, a legend names the colours'
bands, and the table holds every value for screen readers and keyboard users (the SVG's hover titles
reach neither). The SVG scales to the width of the page (reflow at 320 px, WCAG 1.4.10).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from html import escape

from protocol.businessday import WEEKDAYS
from protocol.messages import History, HistoryCell, RanOut
from web.i18n import translator

# (upper bound in minutes, fill, the legend's message id); white figures on each fill: ≥ 6.4:1
BANDS = ((30, "#0a6b2b", "chart_band_green"),
         (90, "#7a5a00", "chart_band_yellow"),
         (None, "#a40e0e", "chart_band_red"))


def _days(lang: str) -> tuple[str, ...]:
    """The weekdays' short names, Monday first (as `weekday` counts), from language/."""
    t = translator(lang)
    return tuple(t(f"weekday_{key}") for key in WEEKDAYS)


def _fill(wait: float) -> str:
    return next(b for b in BANDS if b[0] is None or wait <= b[0])[1]


def history_chart(history: History | None, lang: str) -> str:
    """The chart, its legend and the table as one HTML fragment, or "" when there is nothing to show."""
    cells = history.cells if history is not None else ()
    ran_out = history.ran_out if history is not None else {}
    if not cells and not ran_out:
        return ""
    # left to right in every language (hours run left to right, like the figures); the table follows the page
    return (f'<figure class="chart" dir="ltr">{history_svg(cells, ran_out, lang)}{_legend(lang)}</figure>'
            f"{_table(cells, ran_out, lang)}")


def history_svg(cells: Sequence[HistoryCell], ran_out: Mapping[int, RanOut], lang: str) -> str:
    """One row per weekday, one column per hour (typical wait, in figures on the cell), and at the right the
    time tickets typically ran out on that weekday (when they did on any of the recent weeks' days)."""
    t = translator(lang)
    hours = sorted({c.hour for c in cells})
    days = sorted({c.weekday for c in cells} | set(ran_out))
    cw, ch, top = 26, 18, 16
    left = max(34, 8 * max((len(_days(lang)[d]) for d in days), default=0) + 4)  # room for "Mo" or "الأربعاء"
    grid = left + cw * len(hours)
    width, height = grid + (60 if ran_out else 0), top + ch * len(days)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" role="img" width="100%" '
             f'style="max-width:{width * 1.5:.0f}px;height:auto" viewBox="0 0 {width} {height}">'
             f"<title>{escape(t('chart_title'))}</title>"]
    for i, hour in enumerate(hours):
        parts.append(f'<text x="{left + i * cw + 4}" y="12">{hour:02d}</text>')
    if ran_out:
        parts.append(f'<text x="{grid + 6}" y="12">{escape(t("chart_out"))}</text>')
    for j, day in enumerate(days):
        parts.append(f'<text x="0" y="{top + j * ch + 13}">{_days(lang)[day]}</text>')
        out = ran_out.get(day)
        if out is not None:
            when = f"{out.typical_time:%H:%M}"
            label = translator(lang)("chart_ran_out", weekday=_days(lang)[day], days=out.days,
                                     of_days=out.of_days, time=when)
            parts.append(f'<text x="{grid + 6}" y="{top + j * ch + 13}"><title>{escape(label)}</title>'
                         f'{escape(when)}</text>')
    for cell in cells:
        i, j = hours.index(cell.hour), days.index(cell.weekday)
        wait = float(cell.typical_wait_min)
        label = f'{_days(lang)[cell.weekday]} {cell.hour:02d}:00 – {wait:.0f} min'
        x, y = left + i * cw, top + j * ch
        parts.append(f'<rect x="{x}" y="{y}" width="{cw - 2}" height="{ch - 2}" fill="{_fill(wait)}">'
                     f'<title>{escape(label)}</title></rect>'
                     f'<text x="{x + (cw - 2) / 2:g}" y="{y + 12}" text-anchor="middle" fill="#fff" '
                     f'font-weight="700">{wait:.0f}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _legend(lang: str) -> str:
    items = []
    t = translator(lang)
    for _, colour, message_id in BANDS:
        swatch = f'<svg width="24" height="16" aria-hidden="true" focusable="false"><rect width="24" height="16" ' \
                 f'fill="{colour}"/></svg>'

        items.append(f"<li>{swatch} {escape(t(message_id))}</li>")
    return f'<figcaption><ul class="legend" aria-label="{escape(t("chart_legend"))}">{"".join(items)}</ul></figcaption>'


def _table(cells: Sequence[HistoryCell], ran_out: Mapping[int, RanOut], lang: str) -> str:
    """Hours down, weekdays across: a week of five or six days fits a 320 px wide phone."""
    t = translator(lang)
    hours = sorted({c.hour for c in cells})
    days = sorted({c.weekday for c in cells} | set(ran_out))
    waits = {(c.weekday, c.hour): float(c.typical_wait_min) for c in cells}
    head = "".join(f'<th scope="col">{_days(lang)[d]}</th>' for d in days)
    rows = []
    for hour in hours:
        row = "".join(f'<td>{waits[(d, hour)]:.0f}</td>' if (d, hour) in waits else "<td>–</td>" for d in days)
        rows.append(f'<tr><th scope="row">{hour:02d}:00</th>{row}</tr>')
    if ran_out:
        row = "".join(f'<td>{_ran_out_time(ran_out.get(d))}</td>' for d in days)
        rows.append(f'<tr><th scope="row">{escape(t("chart_out"))}<span class="visually-hidden"> '
                    f'{escape(t("chart_ran_out_note"))}</span></th>'
                    f'{row}</tr>')
    return (f'<details class="chart-table"><summary>{escape(t("chart_table"))}</summary><table>'
            f'<caption>{escape(t("chart_caption"))}</caption><thead><tr><th scope="col">{escape(t("chart_hour"))}</th>'
            f'{head}</tr></thead>'
            f'<tbody>{"".join(rows)}</tbody></table></details>')


def _ran_out_time(out: RanOut | None) -> str:
    return "–" if out is None else f"{out.typical_time:%H:%M}"
