"""The hub benchmark's table rows and notes."""

from __future__ import annotations

from bench.hub.results import HubBenchResult, Variant
from devtools.stats import Row, median, ms, p50_p99, ratio


def _share(value: float, baseline: float) -> str:
    """Like devtools.stats.ratio, with two significant digits below 1 (110/s beside 2400/s is 0.046×, not 0.0×)."""
    if not baseline or value != value or baseline != baseline:
        return "-"
    q = value / baseline
    return f"{q:.2g}×" if q < 0.95 else f"{q:.1f}×"


def _variant_rows(v: Variant) -> list[Row]:
    out: list[Row] = []
    hub = {t.clients: t for t in v.throughput if t.target == "hub"}
    echo = {t.clients: t for t in v.throughput if t.target == "echo"}
    for k, t in sorted(hub.items()):
        b = echo.get(k)
        out.append(Row(f"[{v.name}] hub commands/s, {k} client(s), closed-loop next/done "
                       f"({t.waiting_max}→{t.waiting_min} waiting)",
                       f"{t.rate:.0f}/s ({t.commands} in {t.seconds:.1f} s)",
                       f"echo {b.rate:.0f}/s" if b else "", _share(t.rate, b.rate) if b else ""))
        out.append(Row(f"  reply latency p50 / p99, {k} client(s)", p50_p99(t.latency),
                       f"echo {p50_p99(b.latency)}" if b else "",
                       ratio(median(t.latency), median(b.latency)) if b else ""))
        if t.refused:
            out.append(Row(f"  refused replies, {k} client(s)", str(t.refused)))
    if v.preload_events:
        out.append(Row(f"[{v.name}] kiosk events ingested/s (0→{v.preload_events} waiting, pipelined, acked)",
                       f"{v.preload_events / v.preload_s:.0f}/s"))
    out.append(Row(f"[{v.name}] next → retained calls update, p50 / p99 ({len(v.calls)} presses, "
                   f"≤ {v.waiting} waiting)", p50_p99(v.calls), f"echo round trip {p50_p99(v.echo)}",
                   ratio(median(v.calls), median(v.echo))))
    out.append(Row("  the same presses: next → reply, p50 / p99", p50_p99(v.calls_reply), f"echo {p50_p99(v.echo)}",
                   ratio(median(v.calls_reply), median(v.echo))))
    out.append(Row("  bare publish → receive (one hop), p50 / p99", p50_p99(v.pubsub)))
    return out


def rows(r: HubBenchResult, notes: list[str] | None = None) -> list[Row]:
    out: list[Row] = []
    for v in r.variants:
        out += _variant_rows(v)
    f50 = median(r.fsync)
    out.append(Row("hub commit alone (HubStore.append, synced), p50 / p99", p50_p99(r.commit),
                   f"write+fsync {p50_p99(r.fsync)}", ratio(median(r.commit), f50)))
    b = r.breakdown
    if b is not None:
        per = median(b.commit_engine) + median(b.direct) + median(b.publish)
        out.append(Row(f"in-process, one command at {b.waiting} waiting: commit + engine, p50",
                       ms(median(b.commit_engine)), "", f"{median(b.commit_engine) / per:.0%}"))
        out.append(Row("  then what it changes directly (calls, counter states, acks), p50", ms(median(b.direct)), "",
                       f"{median(b.direct) / per:.0%}"))
        out.append(Row("  then the forecast thread's publish (queue, views; once per burst), p50",
                       ms(median(b.publish)), "", f"{median(b.publish) / per:.0%}"))
        out.append(Row("    of which forecast(), p50", ms(median(b.forecast)), "", f"{median(b.forecast) / per:.0%}"))
        out.append(Row("  retained messages per next / per done, each forecast on its own (median)",
                       f"{median(b.messages_after_next):.0f} / {median(b.messages_after_done):.0f}"))
    if notes is not None:
        notes.append("hub: every accepted command is one synced SQLite commit (WAL, synchronous=FULL) before its "
                     f"reply; a raw write+fsync on the state disk took {ms(f50)} (p50) here and the hub's "
                     f"commit {ms(median(r.commit))}: durability alone would allow ≈ {1 / median(r.commit):.0f} "
                     "commands/s, so the commit is not what limits the hub.")
        notes.append("hub: a separate process (`python -m hubprocess run`, INFO log to a file); the echo responder "
                     "another; the load clients share the benchmark process. `next` also finishes the counter's "
                     "current ticket. Percentages in the breakdown are shares of one command's hub time (p50s).")
        notes.append("TCP_NODELAY = broker set_tcp_nodelay true and TCP_NODELAY on every client socket (MqttLink "
                     "sets it); the Nagle comparison (--shipped-duration) uses mosquitto's default and plain "
                     "sockets: ~40 ms per hop where a small packet follows an unacknowledged one.")
        for v in r.variants:
            notes.append(f"[{v.name}] hub log: {v.hub_log_lines} lines.")
    return out
