"""The city benchmark's table rows and notes."""

from __future__ import annotations

from bench.city.results import Growth, Level, Results
from devtools.stats import Row, median, mib, ms, p50_p99, percentile, ratio

TARGET_P99_S = 1.0
TARGET_STREAMS = 20_000


def _us(seconds: float) -> str:
    return "n/a" if seconds != seconds else f"{seconds * 1e6:.0f} µs"


def _share(cpu_s: float, wall_s: float) -> str:
    return f"{cpu_s / wall_s:.1%}" if wall_s else "n/a"


def level_rows(v: Level, share: float) -> list[Row]:
    ampel = round(v.streams * share)
    replica_cpu = v.cpu_s.get("web-1", 0.0) + v.cpu_s.get("web-2", 0.0)
    p99 = percentile(v.last, 99) if v.last else float("nan")
    rows = [
        Row(f"{v.streams:,} streams ({ampel:,} Ampel, {v.streams - ampel:,} tracking, {v.offices} offices): "
            f"call → last screen, p50 / p99 ({len(v.last)} calls, {v.watchers:,} screens each)",
            p50_p99(v.last), f"bare hop chain {p50_p99(v.bare)}", ratio(median(v.last), median(v.bare)),
            "p99 ≤ 1 s", bool(v.last) and p99 <= TARGET_P99_S and not (v.missing or v.failed or v.late)),
        Row("  call → first / median screen (p50 over calls)", f"{ms(median(v.first))} / {ms(median(v.mid))}"),
        Row("  call → the last Ampel screen / the office's last tracking page, p50 / p99",
            f"{p50_p99(v.last_ampel)}; {p50_p99(v.last_tracking)}"),
        Row("  call → the office's new queue at the central broker (hub, office broker, bridge), p50 / p99",
            p50_p99(v.central), f"bare hop chain {p50_p99(v.bare)}", ratio(median(v.central), median(v.bare))),
        Row("  streams open / refused or failed / not opened within the deadline; time to open them",
            f"{v.ready:,} / {v.failed:,} / {v.late:,}; {v.connect_s:.0f} s",
            ", ".join(f"{k} {n}" for k, n in sorted(v.errors.items())),
            f"{v.processes} client processes; {v.resumed:,} TLS sessions resumed"),
        Row("  replica CPU per delivered event (both replicas; with the other offices' changes)",
            _us(replica_cpu / v.events if v.events else float("nan")),
            f"nginx {_us(v.cpu_s.get('nginx', 0.0) / v.events if v.events else float('nan'))} per event",
            f"{v.events:,} events in {v.wall_s:.1f} s"),
        Row("  RSS with the streams open: each replica / nginx (all workers)",
            f"{mib(v.rss_kib.get('web-1', 0))}, {mib(v.rss_kib.get('web-2', 0))} / {mib(v.rss_kib.get('nginx', 0))}",
            f"{(v.rss_kib.get('web-1', 0) + v.rss_kib.get('web-2', 0)) / max(v.ready, 1):.1f} KiB per stream "
            "(replicas, with their idle size)"),
    ]
    if v.missing:
        rows.append(Row("  screens that did not show a call within 60 s", f"{v.missing:,}"))
    return rows


def growth_rows(g: Growth) -> list[Row]:
    quiet, loaded = g.quiet, g.loaded
    central_quiet = quiet["central_cpu_s"] / quiet["wall_s"]
    central_loaded = loaded["central_cpu_s"] / loaded["wall_s"] if loaded else float("nan")
    per_1000 = (central_loaded - central_quiet) / g.ready * 1000 if g.ready else float("nan")
    events = loaded.get("events", 0)
    rows = [
        Row(f"{g.offices} offices: central broker CPU, share of a core (per office)",
            f"{central_quiet:.2%} ({central_quiet / g.offices:.3%})",
            f"{quiet['published'] / quiet['wall_s']:.1f} messages/s in"),
        Row(f"  central broker RSS with {g.offices} offices (per office)",
            f"{mib(g.central_offices_kib)} ({(g.central_offices_kib - g.central_idle_kib) / g.offices:.1f} KiB)",
            f"no office yet: {mib(g.central_idle_kib)}"),
        Row(f"  central broker CPU and RSS with {g.ready:,} streams open (CPU per 1,000 streams)",
            f"{central_loaded:.2%}, {mib(g.central_streams_kib)} ({per_1000:+.2%})",
            f"no streams: {central_quiet:.2%}, {mib(g.central_offices_kib)}", ratio(central_loaded, central_quiet)),
        Row("  replica CPU per delivered event (both replicas: with streams − without, over the events)",
            _us((loaded["replica_cpu_s"] / loaded["wall_s"] - quiet["replica_cpu_s"] / quiet["wall_s"])
                * loaded["wall_s"] / events if events else float("nan")),
            f"no streams: {_us(quiet['replica_cpu_s'] / quiet['published'] if quiet['published'] else float('nan'))}"
            " per message in (idle work included)", f"{events / loaded['wall_s']:,.0f} events/s" if loaded else ""),
        Row("  replicas' CPU, share of a core, without / with the streams",
            f"{_share(quiet['replica_cpu_s'], quiet['wall_s'])} / {_share(loaded['replica_cpu_s'], loaded['wall_s'])}",
            f"both replicas' RSS with the streams {mib(g.replica_kib)}"),
    ]
    return rows


def rows(r: Results, notes: list[str]) -> list[Row]:
    out: list[Row] = []
    if r.per_view is not None:
        v = r.per_view
        out.append(Row(f"replica CPU per ticket view, in-process ({v.offices} offices subscribed, {v.streams} streams "
                       f"per tracked ticket; median of {v.rounds} calls × 100 views): dispatch, apply, render",
                       f"{v.after_us:.0f} µs", f"before (e3b81dd's way) {v.before_us:.0f} µs",
                       f"{v.before_us / v.after_us:.1f}× less" if v.after_us else ""))
        out.append(Row("  of which paho's thread → the loop (topic matching, hand-over)",
                       f"{v.dispatch_after_us:.1f} µs",
                       f"before {v.dispatch_before_us:.0f} µs",
                       f"{v.dispatch_before_us / v.dispatch_after_us:.0f}× less" if v.dispatch_after_us else ""))
    if r.deployed is not None:
        workers, connections, tried, opened = r.deployed
        out.append(Row(f"streams through nginx as the web role leaves it (Debian's nginx.conf: {workers} workers × "
                       f"worker_connections {connections})", f"{opened:,} of {tried:,} opened",
                       f"{workers * connections // 2:,} (2 connections per stream)", "",
                       f"{TARGET_STREAMS:,}", opened >= TARGET_STREAMS))
    for level in r.levels:
        out += level_rows(level, r.ampel_share)
    for g in r.growth:
        out += growth_rows(g)
    notes.append(f"Simulated offices: one change every {r.offices_interval_s:g} s each (alternately a ticket "
                 "issued and a call that updates every waiting ticket's view); the measured office runs a real hub.")
    return out
