"""Small statistics and table helpers shared by the benchmarks (no dependencies beyond the stdlib)."""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else math.nan


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0..100), linear between the nearest ranks (numpy's default method)."""
    if not values:
        return math.nan
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100.0
    low = math.floor(pos)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


def p50_p99(seconds: Sequence[float]) -> str:
    """"1.23 ms / 4.56 ms": the median and the 99th percentile of durations."""
    return f"{ms(median(seconds))} / {ms(percentile(seconds, 99))}"


def ratio(value: float, baseline: float) -> str:
    if not baseline or math.isnan(value) or math.isnan(baseline):
        return "-"
    return f"{value / baseline:.1f}×"


def ms(seconds: float) -> str:
    if math.isnan(seconds):
        return "n/a"
    value = seconds * 1000.0
    return f"{value:.2f} ms" if value < 10 else f"{value:.1f} ms"


def secs(seconds: float) -> str:
    return "n/a" if math.isnan(seconds) else f"{seconds:.3f} s"


def mib(kib: float) -> str:
    return "n/a" if math.isnan(kib) else f"{kib / 1024.0:.1f} MiB"


@dataclass(frozen=True)
class Row:
    """One line of the result table: what, result, the same-run baseline, their ratio, target, verdict."""

    what: str
    result: str
    baseline: str = ""
    ratio: str = ""
    target: str = ""
    ok: bool | None = None  # None: no target

    @property
    def verdict(self) -> str:
        return "" if self.ok is None else ("ok" if self.ok else "MISSED")


HEADER = ("Measurement", "Result", "Baseline (same run)", "Ratio", "Target", "")


def _cells(row: Row) -> tuple[str, ...]:
    return (row.what, row.result, row.baseline, row.ratio, row.target, row.verdict)


def text_table(rows: Sequence[Row]) -> str:
    """A plain aligned table for the terminal."""
    cells = [HEADER, *(_cells(r) for r in rows)]
    widths = [max(len(c[i]) for c in cells) for i in range(len(HEADER))]
    lines = []
    for n, c in enumerate(cells):
        lines.append("  ".join(v.ljust(w) for v, w in zip(c, widths, strict=True)).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def markdown_table(rows: Sequence[Row]) -> str:
    """The same table in Markdown, for docs/benchmarks.md."""
    cells = [HEADER, *(_cells(r) for r in rows)]
    out = ["| " + " | ".join(cells[0]) + " |", "|" + "|".join("---" for _ in HEADER) + "|"]
    # Markdown trims cells, so a sub-row's indent becomes a visible "↳".
    body = [(("↳ " + c[0].strip()) if c[0].startswith("  ") else c[0], *c[1:]) for c in cells[1:]]
    out += ["| " + " | ".join(v.replace("|", "\\|") for v in c) + " |" for c in body]
    return "\n".join(out)


def print_report(rows: Sequence[Row], notes: Sequence[str], markdown: bool, started: float) -> None:
    """The table, its notes, optionally the same as Markdown, and the run's length and load."""
    import os
    import time

    print()
    print(text_table(rows))
    for note in notes:
        print(f"* {note}")
    if markdown:
        print()
        print(markdown_table(rows))
        print()
        print("\n".join(f"* {note}" for note in notes))
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"\n(total {time.monotonic() - started:.0f} s; load avg now {load})")
