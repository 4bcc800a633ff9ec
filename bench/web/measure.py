"""The web benchmark's measurements (bench/web/__init__.py says what each step measures)."""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path

from bench.mqtt_clients import private_broker
from bench.procfs import cpu_ns, status_kib
from bench.runner import work_dir
from bench.web.fanout import FanOut, Mqtt
from bench.web.fetch import Fetched, fetch, fetch_events, get_json, sse_streams, wait_for
from bench.web.markers import MARK_BASE, realtime_ns
from bench.web.payloads import (
    MEASURED,
    OFFICES,
    history_payload,
    info_payload,
    new_token,
    queue_payload,
    ticket_payload,
)
from bench.web.renders import measure_renders
from bench.web.replica import replica_process
from bench.web.report import rows
from bench.web.results import IDLE_S, WebBenchResult
from bench.web.sse_clients import SseClients
from bench.web.throughput import run_wrk
from devtools.stats import Row
from protocol import topics
from web.gate import raise_open_files_limit

TRACKED_TICKETS = 200


class Bench:
    def __init__(self, work: Path, say: Callable[[str], None]) -> None:
        self.work, self.say = work, say
        self.day = date.today()
        self.k = 0  # the latest marker published
        self.tracked = [new_token() for _ in range(TRACKED_TICKETS)]
        self.waiting_token, self.called_token = new_token(), new_token()
        self.pid = 0
        self.port = 0
        self.mqtt: Mqtt | None = None

    # -- the retained state -----------------------------------------------------------------------------

    def publish_office(self) -> None:
        assert self.mqtt is not None
        for n, (office, name) in enumerate(OFFICES):
            self.mqtt.publish(topics.info(office), info_payload(name, self.day))
            self.mqtt.publish(topics.history(office), history_payload(office, self.day, n))
            self.mqtt.publish(topics.queue(office), queue_payload(self.day, MARK_BASE + self.k if n == 0 else 14 + n))
        self.mqtt.publish(topics.ticket(MEASURED, topics.token_hash(self.waiting_token)),
                          ticket_payload(self.day, "A042", "waiting", ahead=7))
        self.mqtt.publish(topics.ticket(MEASURED, topics.token_hash(self.called_token)),
                          ticket_payload(self.day, "A038", "called"))
        self.publish_tickets()

    def publish_queue(self) -> None:
        assert self.mqtt is not None
        self.mqtt.publish(topics.queue(MEASURED), queue_payload(self.day, MARK_BASE + self.k))

    def publish_tickets(self) -> None:
        assert self.mqtt is not None
        for n, token in enumerate(self.tracked):
            self.mqtt.publish(topics.ticket(MEASURED, topics.token_hash(token)),
                              ticket_payload(self.day, f"A{100 + n:03d}", "waiting", MARK_BASE + self.k, n + 1))

    def wait_mirrored(self) -> None:
        def mirrored() -> bool:
            offices = get_json(self.port, "/api/v1/offices")
            if not offices or any(not o["services"] for o in offices["offices"]):
                return False
            waiting = offices["offices"][0]["services"][0]["waiting"]
            ticket = get_json(self.port, f"/api/v1/tickets/{self.tracked[-1]}")
            return bool(waiting == MARK_BASE + self.k and ticket and ticket.get("recall") == MARK_BASE + self.k)

        wait_for(mirrored, 30, "the replica to mirror the offices and tickets")

    # -- 3. bytes -------------------------------------------------------------------------------------------

    def pages(self) -> dict[str, tuple[Fetched, Fetched]]:
        out = {}
        for what, token in (("waiting", self.waiting_token), ("called", self.called_token)):
            out[f"/t/{{token}}, {what} ticket"] = (fetch(self.port, f"/t/{token}"),
                                                   fetch_events(self.port, f"/t/{token}/events", 1))
        out["/ (Ampel, 3 offices)"] = (fetch(self.port, "/"), fetch_events(self.port, "/events/offices",
                                                                           len(OFFICES)))
        return out

    # -- 2. wrk ---------------------------------------------------------------------------------------------

    # -- 1. fan-out -----------------------------------------------------------------------------------------

    def fan_out(self, name: str, paths: list[tuple[str, int]], updates: int, warmup: int,
                publish: Callable[[], None], messages: int = 1, gap_s: float = 0.03) -> FanOut:
        assert self.mqtt is not None
        clients = sum(n for _, n in paths)
        result = FanOut(name, clients)
        result.rss_before_kib = status_kib(self.pid, "VmRSS")
        with (self.work / f"sse-{name}.log").open("ab") as log:
            sse = SseClients(self.port, paths, log)
            try:
                before = cpu_ns(self.pid)
                ready = sse.result(timeout=180)
                result.connect_s, result.connect_cpu_s = ready["seconds"], (cpu_ns(self.pid) - before) / 1e9
                result.failed = ready["failed"]
                if ready["ready"] == 0:
                    raise RuntimeError(f"no SSE client connected ({name})")
                result.rss_kib = status_kib(self.pid, "VmRSS")
                timeout = 30.0
                for n in range(warmup + updates):
                    if n == warmup:
                        cpu0, client0, wall0 = cpu_ns(self.pid), sse.cpu_ns(), time.monotonic()
                    self.k += 1
                    sse.ask(self.k, timeout)
                    t0 = realtime_ns()
                    publish()
                    got = sse.result(timeout + 30)
                    bare = self.mqtt.received(self.k, messages)
                    if n >= warmup:
                        if got["kernel"]:
                            first, mid, p99, last = got["kernel"]
                            result.first.append((first - t0) / 1e9)
                            result.mid.append((mid - t0) / 1e9)
                            result.client_p99.append((p99 - t0) / 1e9)
                            result.last.append((last - t0) / 1e9)
                            result.lag.append(got["lag"][1] / 1e9)
                        if bare:
                            result.bare.append((max(bare) - t0) / 1e9)
                        result.delivered += got["n"]
                        result.missing += got["expected"] - got["n"]
                    time.sleep(gap_s)
                result.cpu_s = (cpu_ns(self.pid) - cpu0) / 1e9
                result.client_cpu_s = (sse.cpu_ns() - client0) / 1e9
                result.wall_s = time.monotonic() - wall0
            finally:
                sse.close()
        # Clients gone: do their streams end? (aiohttp does not cancel a handler when its client leaves.)
        time.sleep(1.0)
        result.streams_after_close = sse_streams(self.port)
        started = time.monotonic()
        self.k += 1
        publish()  # the next update makes each orphaned stream write, fail and end
        self.mqtt.received(self.k, messages)
        wait_for(lambda: sse_streams(self.port) == 0, 60, "the replica's event streams to end")
        result.cleanup_s = time.monotonic() - started
        return result

    def measure(self, clients: list[int], wrk_seconds: float) -> WebBenchResult:
        result = WebBenchResult()
        self.say("[web] in-process: the per-client work of one event …")
        result.renders = measure_renders(self.day)
        result.rlimit = raise_open_files_limit()
        broker = private_broker(self.work / "broker", nodelay=True)
        broker.start()
        self.mqtt = Mqtt(broker.port)
        try:
            self.mqtt.start()
            self.publish_office()
            with replica_process(self.work, broker.port) as (proc, port):
                self.pid, self.port = proc.pid, port
                wait_for(lambda: fetch(port, "/healthz").status == 200, 30, "the replica to connect")
                self.wait_mirrored()
                result.replica_idle_rss_kib = status_kib(self.pid, "VmRSS")
                before, started = cpu_ns(self.pid), time.monotonic()
                time.sleep(IDLE_S)
                result.replica_idle_cpu = (cpu_ns(self.pid) - before) / 1e9 / (time.monotonic() - started)
                self.say("[web] bytes of /t/{token} and / …")
                result.pages = self.pages()
                if shutil.which("wrk") is None:
                    result.wrk_missing = "wrk is not installed (apt-get install wrk)"
                else:
                    for path in ("/api/v1/offices", "/healthz"):
                        self.say(f"[web] wrk -t2 -c64 -d{wrk_seconds:g}s {path} …")
                        result.wrk.append(run_wrk(self.work, self.pid, self.port, path, wrk_seconds))
                plan = [(1, 60, 5)] + [(n, 30 if n <= 1000 else 12, 3 if n <= 1000 else 2) for n in clients]
                for n, updates, warmup in plan:
                    self.say(f"[web] Ampel stream: {n} client(s), {updates} queue updates …")
                    result.fanouts.append(self.fan_out(f"ampel-{n}", [("/events/offices", n)], updates, warmup,
                                                       self.publish_queue))
                self.say(f"[web] tracking streams: {TRACKED_TICKETS} tickets × 1 client, bursts of "
                         f"{TRACKED_TICKETS} ticket updates …")
                result.burst = self.fan_out("tickets", [(f"/t/{t}/events", 1) for t in self.tracked], 12, 2,
                                            self.publish_tickets, messages=TRACKED_TICKETS, gap_s=0.1)
            log = (self.work / "replica.log").read_text(encoding="utf-8", errors="replace").splitlines()
            result.log_lines = len(log)
            result.log_problems = [line for line in log if " WARNING " in line or " ERROR " in line
                                   or "Traceback" in line]
        finally:
            self.mqtt.stop()
            broker.stop()
        return result



def run(directory: Path | None = None, notes: list[str] | None = None,
        progress: Callable[[str], None] | None = print, clients: list[int] | None = None,
        wrk_seconds: float = 10.0) -> list[Row]:
    with work_dir("web", directory, keep=bool(os.environ.get("BENCH_KEEP_WEB"))) as work:
        bench = Bench(work, lambda m: progress(m) if progress else None)
        result = bench.measure(clients if clients is not None else [1000, 5000], wrk_seconds)
        return rows(result, notes)
