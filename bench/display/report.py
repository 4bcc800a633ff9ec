"""The display benchmark's table rows and notes."""

from __future__ import annotations

from bench.display.chromium import CHROMIUM_FLAGS
from bench.display.results import DisplayBenchResult
from devtools.stats import Row, median, mib, ms, p50_p99, percentile, ratio

BURST_RATE = 10  # calls per second …
BURST_S = 5.0  # … for this long
LATENCY_P99_TARGET_S = 0.100
IDLE_CPU_TARGET = 0.02  # of one core
RSS_TARGET_BYTES = 120_000_000


def _pct(share: float) -> str:
    return f"{share * 100:.1f} % of a core"


def _mpx(pixels: float) -> str:
    return f"{pixels / 1e6:.2f} Mpx"


def rows(r: DisplayBenchResult, notes: list[str] | None = None) -> list[Row]:
    notes = notes if notes is not None else []
    out: list[Row] = []
    if r.latency:
        p50, p99 = median(r.latency), percentile(r.latency, 99)
        b50, b99 = median(r.probe), percentile(r.probe, 99)
        out += [
            Row(f"call → frame flipped, p50 ({r.calls} calls, display process)", ms(p50),
                f"bare publish → receive p50 {ms(b50)}", ratio(p50, b50)),
            Row(f"call → frame flipped, p99 ({r.calls} calls, display process)",
                f"{ms(p99)} (max {ms(max(r.latency))})", f"bare publish → receive p99 {ms(b99)}", ratio(p99, b99),
                "< 100 ms", p99 < LATENCY_P99_TARGET_S),
        ]
    if r.burst_latency:
        out.append(Row(f"  during the burst ({BURST_RATE} calls/s): call → frame p50 / p99", p50_p99(r.burst_latency),
                       f"bare {p50_p99(r.probe)}", ratio(median(r.burst_latency), median(r.probe))))
    out.append(Row("display start → first frame with the retained calls", f"{r.start_to_board_s:.2f} s"))
    if r.idle is not None and r.floor_idle is not None:
        idle, floor = r.idle, r.floor_idle
        out.append(Row(f"display CPU, idle, clock ticking ({idle.window.seconds:.0f} s)", _pct(idle.window.cpu_share),
                       f"bare pygame-ce wait loop {_pct(floor.cpu_share)}", ratio(idle.window.cpu_share,
                                                                                  floor.cpu_share),
                       "< 2 %", idle.window.cpu_share < IDLE_CPU_TARGET))
        if r.burst is not None:
            out.append(Row(f"display CPU, burst of {BURST_RATE} calls/s ({r.burst.window.seconds:.0f} s)",
                           _pct(r.burst.window.cpu_share), f"idle {_pct(idle.window.cpu_share)}",
                           ratio(r.burst.window.cpu_share, idle.window.cpu_share)))
    if r.rss_idle_kib:
        hint = "-"
        if r.chromium is not None:
            hint = f"headless Chromium {mib(r.chromium.rss_kib)} ({r.chromium.processes} processes, summed)"
        out.append(Row("display RSS, idle", mib(r.rss_idle_kib), hint,
                       ratio(r.rss_idle_kib, r.chromium.rss_kib) if r.chromium else "",
                       "< 120 MB", r.rss_idle_kib * 1024 < RSS_TARGET_BYTES))
        out.append(Row(f"  display RSS after {r.calls + int(BURST_RATE * BURST_S)} calls (peak VmHWM)",
                       f"{mib(r.rss_after_kib)} ({mib(r.hwm_kib)})", "", "", "< 120 MB",
                       r.hwm_kib * 1024 < RSS_TARGET_BYTES))
        out.append(Row(f"  of which text-surface cache (FontBook LRU) after {r.calls + int(BURST_RATE * BURST_S)} "
                       "calls", f"{r.cache_after[0]} surfaces, {mib(r.cache_after[1] / 1024)}",
                       f"idle {r.cache_idle[0]} surfaces, {mib(r.cache_idle[1] / 1024)}"))
        if r.chromium is not None:
            out.append(Row("  PSS (shared pages split between processes), idle", mib(r.pss_idle_kib),
                           f"Chromium {mib(r.chromium.pss_kib)}", ratio(r.pss_idle_kib, r.chromium.pss_kib)))
            out.append(Row(f"  headless Chromium CPU, static page ({r.chromium.cpu_s:.0f} s after load)",
                           _pct(r.chromium.cpu_share), f"display idle {_pct(r.idle.window.cpu_share)}"
                           if r.idle else ""))
    if r.chromium is None:
        out.append(Row("headless Chromium, same board", f"not measured: {r.chromium_reason}"))
    full_px = r.screen_px
    for name, phase in (("idle", r.idle), ("burst", r.burst)):
        if phase is None:
            continue
        label = "idle" if name == "idle" else f"burst ({BURST_RATE} calls/s)"
        out += [
            Row(f"loop wake-ups/s, {label}", f"{phase.wakeups_per_s:.1f}/s",
                f"frames {phase.frames_per_s:.1f}/s, text renders {phase.renders_per_s:.1f}/s"),
            Row(f"  pixels redrawn/s, {label}", f"{_mpx(phase.pixels_per_s)}/s",
                f"one full frame {_mpx(full_px)}", f"{phase.pixels_per_s / full_px:.2f} frames"),
            Row(f"  context switches/s (all threads), {label}", f"{phase.window.switches_per_s:.0f}/s",
                f"bare pygame-ce wait loop {r.floor_idle.switches_per_s:.0f}/s" if r.floor_idle else "",
                ratio(phase.window.switches_per_s, r.floor_idle.switches_per_s) if r.floor_idle else ""),
        ]
    for size, data in r.render.items():
        screen_px = data["screen_px"]
        for kind in ("full", "dirty"):
            d = data[kind]
            what = "full redraw" if kind == "full" else "dirty update (new call)"
            out.append(Row(f"frame {size.replace('x', '×')}, {what}: render + update p50 / p99 "
                           f"({len(d['render_s'])})", p50_p99(d["render_s"]),
                           f"fill + update same rects {p50_p99(d['fill_s'])}",
                           ratio(median(d["render_s"]), median(d["fill_s"]))))
        out.append(Row(f"  {size.replace('x', '×')}: pixels per full redraw / dirty update",
                       f"{_mpx(data['full']['pixels'])} / {_mpx(data['dirty']['pixels'])}",
                       f"screen {_mpx(screen_px)}", f"{data['dirty']['pixels'] / screen_px:.0%} dirty"))
        count, size_b = data["cache"]
        out.append(Row(f"  {size.replace('x', '×')}: text-surface cache after {data['calls']} calls, the last "
                       "150 through their highlight cycle (in-process)",
                       f"{count} surfaces, {mib(size_b / 1024)}", f"process RSS {mib(data['rss_kib'])}"))
    if r.idle is not None and r.floor_idle is not None:
        notes.append(f"display: context switches per thread, idle: {r.idle.window.describe()}; bare pygame-ce "
                     f"loop: {r.floor_idle.describe()}.")
    if r.burst is not None:
        notes.append(f"display: context switches per thread, burst: {r.burst.window.describe()}.")
    if r.chromium is not None:
        notes.append(f"Chromium: {r.chromium.version}, {r.chromium.processes} processes "
                     f"({' '.join(CHROMIUM_FLAGS)}), RSS summed over the tree (shared pages counted in each).")
    notes.append(f"display log: {r.log_lines} lines, {len(r.log_warnings)} warnings/errors"
                 + (f" (first: {r.log_warnings[0].strip()[:160]})" if r.log_warnings else "") + ".")
    return out
