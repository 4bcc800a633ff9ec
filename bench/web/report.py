"""The web benchmark's table rows and notes."""

from __future__ import annotations

import gzip
import re

from bench.web.payloads import OFFICES
from bench.web.results import IDLE_S, WebBenchResult
from devtools.stats import Row, median, ms, p50_p99, ratio

OFFICES_TARGET_RPS = 2000.0
PAGE_TARGET_BYTES = 30_000


def _us(seconds: float) -> str:
    return "n/a" if seconds != seconds else f"{seconds * 1e6:.0f} µs"


def _kb(n: int) -> str:
    return f"{n / 1000:.1f} kB"


def rows(r: WebBenchResult, notes: list[str] | None = None) -> list[Row]:
    notes = notes if notes is not None else []
    out: list[Row] = []
    one = next((f for f in r.fanouts if f.clients == 1), None)
    for f in r.fanouts:
        k = len(f.last)
        if f.clients == 1:
            out.append(Row(f"Ampel SSE, 1 client: publish → client's event, p50 / p99 ({k} updates)", p50_p99(f.last),
                           f"bare MQTT publish → receive {p50_p99(f.bare)}", ratio(median(f.last), median(f.bare))))
            out.append(Row("  replica CPU per update (MQTT in, 1 render, 1 write)", _us(f.cpu_per_event)))
            continue
        base = f"1 client {p50_p99(one.last)}" if one else ""
        out.append(Row(f"Ampel SSE, {f.clients} clients: publish → last client's event, p50 / p99 ({k} updates)",
                       p50_p99(f.last), base, ratio(median(f.last), median(one.last)) if one else ""))
        out.append(Row("  publish → first / median client (p50 over updates); spread last − first p50",
                       f"{ms(median(f.first))} / {ms(median(f.mid))}; {ms(median(f.spread))}",
                       f"bare MQTT publish → receive {p50_p99(f.bare)}"))
        per_client = median(f.spread) / (f.clients - 1) if f.clients > 1 else float("nan")
        out.append(Row("  replica CPU per delivered event", _us(f.cpu_per_event),
                       f"1 client: {_us(one.cpu_per_event)} per update" if one else "",
                       ratio(f.cpu_per_event, one.cpu_per_event) if one else ""))
        out.append(Row("  of which the per-client render (in-process: office.html + SVG + JSON)",
                       f"{_us(r.renders.ampel_event)} ({r.renders.ampel_event / f.cpu_per_event:.0%})"
                       if f.delivered else "n/a",
                       f"event rendered once, framed per client {_us(r.renders.encode_only)}",
                       ratio(r.renders.ampel_event, r.renders.encode_only)))
        out.append(Row("  replica busy per update / wall per client in the spread",
                       f"{ms(f.cpu_s / k if k else float('nan'))} / {_us(per_client)}",
                       f"replica {f.cpu_s / f.wall_s:.0%} of a core, client process {f.client_cpu_s / f.wall_s:.0%}"
                       if f.wall_s else ""))
        out.append(Row(f"  {f.clients} clients connect and get the initial state ({len(OFFICES)} offices each)",
                       f"{f.connect_s:.2f} s", f"replica CPU {f.connect_cpu_s:.2f} s "
                       f"({f.connect_cpu_s / f.clients / len(OFFICES) * 1e6:.0f} µs per office event)"))
        out.append(Row("  replica RSS with the clients connected (per client)",
                       f"{f.rss_kib / 1024:.1f} MiB ({(f.rss_kib - f.rss_before_kib) / f.clients:.1f} KiB)",
                       f"before {f.rss_before_kib / 1024:.1f} MiB"))
        if f.missing or f.failed:
            notes.append(f"Ampel {f.clients} clients: {f.failed} failed to connect, {f.missing} events missing "
                         "within the timeout.")
        if f.streams_after_close:
            notes.append(f"Ampel {f.clients} clients: 1 s after they disconnected, /metrics still counted "
                         f"{f.streams_after_close} open streams; they ended only after the next update "
                         f"({f.cleanup_s:.2f} s).")
        else:
            notes.append(f"Ampel {f.clients} clients: all {f.clients} streams had ended 1 s after the clients "
                         "disconnected (/metrics).")
    b = r.burst
    if b is not None and b.last:
        out.append(Row(f"tracking SSE, {b.clients} tickets × 1 client: burst of {b.clients} ticket updates → "
                       f"last client, p50 / p99 ({len(b.last)} bursts)", p50_p99(b.last),
                       f"bare MQTT: last of the {b.clients} received {p50_p99(b.bare)}",
                       ratio(median(b.last), median(b.bare))))
        out.append(Row("  replica CPU per delivered event (1 MQTT message → 1 render → 1 write)",
                       _us(b.cpu_per_event), f"in-process: render {_us(r.renders.ticket_event)}, Mirror.apply "
                       f"{_us(r.renders.ticket_apply)}",
                       ratio(b.cpu_per_event, r.renders.ticket_event + r.renders.ticket_apply)))
    if r.wrk_missing:
        out.append(Row("/api/v1/offices requests/s (wrk)", f"not measured: {r.wrk_missing}", "", "", "≥ 2,000/s",
                       False))
    by = {w.path: w for w in r.wrk}
    api, health = by.get("/api/v1/offices"), by.get("/healthz")
    if api is not None:
        base = f"/healthz {health.rps:,.0f}/s" if health else ""
        out.append(Row(f"/api/v1/offices requests/s (wrk -t2 -c64, {api.seconds:.0f} s)", f"{api.rps:,.0f}/s", base,
                       ratio(api.rps, health.rps) if health else "", "≥ 2,000/s", api.rps >= OFFICES_TARGET_RPS))
        for w in (api, health):
            if w is None:
                continue
            out.append(Row(f"  {w.path}: latency p50 / p99; replica CPU per request",
                           f"{ms(w.p50)} / {ms(w.p99)}; {_us(w.cpu_per_request)}",
                           f"replica {w.cpu_s / w.seconds:.0%} of a core, wrk {w.wrk_cpu_s / w.seconds:.0%}"))
            if w.errors:
                notes.append(f"wrk {w.path}: {w.errors}")
    for what, (page, events) in r.pages.items():
        body = page.body
        zipped = len(gzip.compress(body, 6))
        encoding = page.header("Content-Encoding") or "none"
        total = page.total + events.total
        tracking = what.startswith("/t/")
        out.append(Row(f"{what}: bytes transferred (page + its event stream's initial event{'s' * (not tracking)})",
                       f"{total:,} B" if page.status == 200 and events.status == 200 else f"HTTP {page.status}",
                       f"{PAGE_TARGET_BYTES:,} B (the target)" if tracking else "",
                       f"{total / PAGE_TARGET_BYTES:.0%}" if tracking else "",
                       "< 30 kB" if tracking else "",
                       (total < PAGE_TARGET_BYTES and page.status == 200) if tracking else None))
        out.append(Row("  page: headers + body; the stream: headers + first event(s)",
                       f"{len(page.head):,} + {len(body):,} B; {len(events.head):,} + {len(events.body):,} B",
                       f"Content-Encoding: {encoding}; body gzip -6 {zipped:,} B", ratio(zipped, len(body))))
        subresources = re.findall(rb"<(?:script|img|link|iframe)[^>]*(?:src|href)=\"(?!data:)[^\"]*\"", body)
        if subresources:
            notes.append(f"{what}: sub-resources {[s.decode(errors='replace')[:80] for s in subresources]}")
    notes.append(f"SSE event sizes: Ampel office event {r.renders.ampel_bytes:,} B (of which the SVG chart "
                 f"is most), tracking event {r.renders.ticket_bytes:,} B; the history chart alone "
                 f"{_us(r.renders.ampel_svg)} per render.")
    notes.append(f"replica: RLIMIT_NOFILE raised to {r.rlimit}; idle RSS {r.replica_idle_rss_kib / 1024:.1f} MiB, "
                 f"idle CPU {r.replica_idle_cpu:.1%} of a core ({IDLE_S:.0f} s); "
                 f"log {r.log_lines} lines (access log on), {len(r.log_problems)} warnings/errors"
                 + (f" (first: {r.log_problems[0].strip()[:200]})" if r.log_problems else "") + ".")
    for f in [*r.fanouts, *([b] if b else [])]:
        if f.lag:
            notes.append(f"{f.name}: kernel stamp → the client process read it, worst client per update p50 "
                         f"{ms(median(f.lag))} (max {ms(max(f.lag))}) — client-side lag, excluded above.")
    return out
