"""The office web under a socket flood: what a clerk and a health check see while an attacker holds
over 5,000 sockets, beside the same measured idle in the same run (`python -m bench flood`).

A hub process (`python -m hubprocess run`, its `[web]` over HTTPS with an office-CA certificate, default
limits) on a private mosquitto; devtools/flood_harness.py for everything else:

1. idle: `/healthz` on a fresh connection every 100 ms (devtools.flood_harness.Prober, all the run long),
   and ROUNDS clerk rounds — login form, login (scrypt), counter page, "next", the page after it —
   each request on a fresh TLS connection from the clerk's own address;
2. the attack of issue 10 (devtools.flood_harness.attack, from a process of its own): event streams,
   connections that never start TLS, headers and login bodies that never finish, first 2,300 from one
   address, then 3,800 from 1,500 addresses;
   while the sockets are held, ROUNDS clerk rounds again;
3. the sockets closed: how long until /metrics counts no streams and a clerk round works.

The hub's log lines during the attack, its RSS and its open file descriptors while attacked are noted.
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from bench.mqtt_clients import private_broker
from bench.runner import standalone
from devtools.broker import make_recorder
from devtools.flood_harness import Attacker, FloodHub, Prober, attack, clerk_round, sse_clients
from devtools.stats import Row, median, ms, percentile, ratio, secs
from protocol import topics
from web.gate import raise_open_files_limit

ROUNDS = 8
OFFICE = "flood-bench"


@dataclass
class FloodResult:
    idle: list[float] = field(default_factory=list)  # clerk request latencies
    attacked: list[float] = field(default_factory=list)
    healthz_idle: list[float] = field(default_factory=list)
    healthz_attacked: list[float] = field(default_factory=list)
    healthz_failed: int = 0
    held: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)
    attack_s: float = math.nan  # to open every socket
    recovery_s: float = math.nan
    log_lines: int = 0
    rss_kib: float = math.nan
    idle_rss_kib: float = math.nan
    open_files: int = 0
    calls: list[str] = field(default_factory=list)


def _proc(pid: int) -> tuple[float, int]:
    status = Path(f"/proc/{pid}/status").read_text()
    rss = next((float(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:")), math.nan)
    return rss, len(list(Path(f"/proc/{pid}/fd").iterdir()))


def measure(directory: Path, rounds: int = ROUNDS) -> FloodResult:
    raise_open_files_limit()
    result = FloodResult()
    broker = private_broker(directory / "broker", nodelay=True)
    broker.start()
    rec = make_recorder(broker, [topics.office_tree(OFFICE)])
    hub = FloodHub.start(directory / "hub", broker.port, OFFICE)
    prober = Prober(hub.port, hub.context).start()
    try:
        day = date.fromisoformat(rec.wait_for_json(topics.info(OFFICE), timeout=20)["day"])
        hub.issue(rec.publish, day, 2 * rounds + 2)
        rec.wait_for_json(topics.queue(OFFICE), lambda q: q["services"][0]["waiting"] == 2 * rounds + 2, timeout=20)
        idle_started = time.monotonic()
        for _ in range(rounds):
            flash, latencies = clerk_round(hub.port, hub.context, OFFICE)
            result.idle += latencies
            result.calls.append(flash)
        idle_ended = time.monotonic()
        lines_before = hub.log_lines()
        result.idle_rss_kib, _ = _proc(hub.process.pid)
        attacker = Attacker(hub.port, hub.ca_file)
        try:
            started = time.monotonic()
            one, many = attack(attacker)
            result.attack_s = time.monotonic() - started
            result.held = attacker.held
            result.outcomes = dict(one + many)
            result.rss_kib, result.open_files = _proc(hub.process.pid)
            for _ in range(rounds):
                flash, latencies = clerk_round(hub.port, hub.context, OFFICE)
                result.attacked += latencies
                result.calls.append(flash)
            attacked_until = time.monotonic()
        finally:
            attacker.stop()
        released = time.monotonic()
        while sse_clients(hub.port, hub.context) != 0 and time.monotonic() - released < 60:
            time.sleep(0.05)
        clerk_round(hub.port, hub.context, OFFICE, source="127.0.203.1")
        result.recovery_s = time.monotonic() - released
        result.log_lines = hub.log_lines() - lines_before
        result.healthz_idle = [s for _, status, s in prober.between(idle_started, idle_ended) if status == 200]
        during = prober.between(started, attacked_until)
        result.healthz_attacked = [s for _, status, s in during if status == 200]
        result.healthz_failed = sum(1 for _, status, _ in during if status != 200)
    finally:
        prober.stop()
        hub.stop()
        rec.close()
        broker.stop()
    return result


def rows(r: FloodResult, notes: list[str]) -> list[Row]:
    i50, i99, a50, a99 = median(r.idle), percentile(r.idle, 99), median(r.attacked), percentile(r.attacked, 99)
    h50, h99 = median(r.healthz_idle), percentile(r.healthz_idle, 99)
    k50, k99 = median(r.healthz_attacked), percentile(r.healthz_attacked, 99)
    notes.append("flood: attempts " + ", ".join(f"{k} {v}" for k, v in sorted(r.outcomes.items())))
    notes.append(f"flood: the clerk's calls {'; '.join(r.calls[:2])} … {r.calls[-1] if r.calls else ''}")
    return [
        Row("flood: sockets opened by the attacker (one address, then 1,500) / still held",
            f"{sum(r.outcomes.values()):,} / {r.held:,}", f"opened in {secs(r.attack_s)}", "", "≥ 5,000 opened",
            sum(r.outcomes.values()) >= 5000),
        Row(f"flood: clerk request latency, p50 / p99 ({len(r.attacked)} requests, {ROUNDS} rounds)",
            f"{ms(a50)} / {ms(a99)}", f"idle {ms(i50)} / {ms(i99)}", f"{ratio(a50, i50)} / {ratio(a99, i99)}"),
        Row(f"flood: /healthz p50 / p99 while attacked ({len(r.healthz_attacked)} probes, "
            f"{r.healthz_failed} failed)", f"{ms(k50)} / {ms(k99)}", f"idle {ms(h50)} / {ms(h99)}",
            ratio(k99, h99), "p99 < 1 s, none failed", k99 < 1.0 and r.healthz_failed == 0),
        Row("flood: hub log lines during attack and recovery", str(r.log_lines), "", "", "< 100", r.log_lines < 100),
        Row("flood: sockets closed → no streams left and a clerk round done", secs(r.recovery_s)),
        Row("flood: hub RSS / open files while attacked", f"{r.rss_kib / 1024:.1f} MiB / {r.open_files:,}",
            f"idle RSS {r.idle_rss_kib / 1024:.1f} MiB"),
    ]


def run(directory: Path | None = None, notes: list[str] | None = None, rounds: int = ROUNDS) -> list[Row]:
    with tempfile.TemporaryDirectory(prefix="wartemarke-bench-flood-", dir=directory) as work:
        return rows(measure(Path(work), rounds), notes if notes is not None else [])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.web_flood", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=ROUNDS, help="clerk rounds idle and under attack")

    def part(args: argparse.Namespace, parent: Path, notes: list[str]) -> list[Row]:
        return run(parent, notes=notes, rounds=args.rounds)

    return standalone(parser, argv, "wartemarke flood benchmark", part)


if __name__ == "__main__":
    sys.exit(main())
