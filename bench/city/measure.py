"""The city benchmark's two measurements (bench/city/__init__.py says what each one measures)."""

from __future__ import annotations

import contextlib
import json
import math
import resource
import time
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path
from typing import Any

from bench.city import per_view, report
from bench.city.processes import HopChain, Office, replicas_and_nginx
from bench.city.results import Growth, Level, Results
from bench.city.topology import MEASURED, MEASURED_HUB, REPLICAS, City, debian_nginx_defaults, office_ids
from bench.procfs import cpu_ns, process_tree, status_kib
from bench.runner import LineChild, child, python, wait_ready, work_dir
from bench.web.payloads import new_token
from devtools.stats import Row, median
from protocol import topics

TOKENS_PER_OFFICE = 40  # tickets with open tracking pages per office (more pages share a ticket)
FRONT = 3  # tickets ahead of the tracked ones besides those the updates call
WAIT_TIMEOUT_S = 20.0


def tree_cpu_ns(pid: int) -> int:
    return sum(cpu_ns(p) for p in process_tree(pid))


def tree_rss_kib(pid: int) -> int:
    return sum(status_kib(p, "VmRSS") for p in process_tree(pid))


def split_streams(streams: int, ampel_share: float, tokens: dict[str, list[str]], watched: str | None,
                  ) -> list[list[Any]]:
    """The clients' spec: `ampel_share` of the streams on the Ampel, the rest on tracking pages spread evenly
    over the offices and, within an office, over its tracked tickets."""
    ampel = round(streams * ampel_share)
    spec: list[list[Any]] = [["/events/offices", watched is not None, ampel]] if ampel else []
    offices = list(tokens)
    tracking = streams - ampel
    for n, office in enumerate(offices):
        share = tracking // len(offices) + (1 if n < tracking % len(offices) else 0)
        for i, token in enumerate(tokens[office]):
            count = share // len(tokens[office]) + (1 if i < share % len(tokens[office]) else 0)
            if count:
                spec.append([f"/t/{token}/events", office == watched, count])
    return spec


CONNECT_DEADLINE_S = 300.0  # streams not open by then are left out (a 2-core machine shared by others)
CLIENT_PROCESSES = 2  # the citizens' streams are spread over this many client processes
ADDRESS_BLOCK = 1 << 20  # stream numbers per client process (their source addresses never overlap)


class Clients:
    """The citizens' streams spread over several client processes (bench/city/clients.py), answering as
    one: counts summed, the kernel stamps of a change merged before first / median / last are taken."""

    def __init__(self, children: list[LineChild]) -> None:
        self.children = children

    def result(self, timeout: float) -> dict[str, Any]:
        """The ready line of every child, merged."""
        return _merged([process.result(timeout) for process in self.children])

    def ask(self, line: str, timeout: float) -> dict[str, Any]:
        for process in self.children:  # all at once: each waits for its own streams
            process.send(line)
        return _merged([process.result(timeout) for process in self.children])

    def close(self) -> None:
        for process in self.children:
            process.close()


def _merged(answers: list[dict[str, Any]]) -> dict[str, Any]:
    merged = dict(answers[0])
    for key in ("ready", "failed", "late", "watchers", "resumed", "events", "bytes", "closed", "n", "expected"):
        if key in merged:
            merged[key] = sum(int(a[key]) for a in answers)
    for key in ("seconds", "last_ampel", "last_tracking"):
        if key in merged:
            merged[key] = max(a[key] for a in answers)
    if "errors" in merged:
        errors: dict[str, int] = {}
        for answer in answers:
            for name, count in answer["errors"].items():
                errors[name] = errors.get(name, 0) + count
        merged["errors"] = errors
    if "behind" in merged:
        merged["behind"] = {kind: sum(a["behind"][kind] for a in answers) for kind in ("ampel", "tracking")}
    if "stamps" in merged:
        stamps = sorted(ns for a in answers for ns in a["stamps"])
        merged["stamps"] = stamps
        merged["kernel"] = [stamps[0], int(median(stamps)), stamps[-1]] if stamps else []
    return merged


def clients_child(city: City, spec: list[list[Any]], log: Path, watched: str,
                  deadline_s: float = CONNECT_DEADLINE_S, processes: int = CLIENT_PROCESSES,
                  resume: bool = True) -> Clients:
    """The streams of `spec` opened by `processes` client processes (each path's count split among them)."""
    children = []
    for n in range(processes):
        part = [[path, watch, count // processes + (1 if n < count % processes else 0)] for path, watch, count in spec]
        data = {"port": city.nginx_port, "cafile": str(city.ca.ca_cert), "streams": [p for p in part if p[2]],
                "office": watched, "deadline_s": deadline_s, "first_index": n * ADDRESS_BLOCK, "resume": resume}
        path = log.with_name(f"{log.stem}-{n + 1}.json")
        path.write_text(json.dumps(data), encoding="utf-8")
        children.append(LineChild(python("bench.city.clients", str(path)), log.open("ab")))
    return Clients(children)


def offices_child(city: City, offices: list[tuple[str, str]], tokens: dict[str, list[str]], interval_s: float,
                  log: Path) -> LineChild:
    assert city.central is not None
    spec = {"port": city.central.port, "cafile": str(city.ca.ca_cert), "interval_s": interval_s,
            "offices": [[o, f"{hub}-bridge", city.passwords[f"{hub}-bridge"], [topics.token_hash(t) for t in tokens[o]]]
                        for o, hub in offices]}
    path = log.with_suffix(".json")
    path.write_text(json.dumps(spec), encoding="utf-8")
    return LineChild(python("bench.city.offices", str(path)), log.open("ab"))


def replicas_hold(city: City, messages: int) -> Callable[[], bool]:
    """Every replica has applied at least `messages` MQTT messages (/metrics: the retained state reached it)."""
    import http.client
    import re

    def ready() -> bool:
        for name, address in REPLICAS.items():
            connection = http.client.HTTPConnection(address, city.replica_ports[name], timeout=5)
            try:
                connection.request("GET", "/metrics")
                text = connection.getresponse().read().decode()
            except (OSError, http.client.HTTPException):
                return False
            finally:
                connection.close()
            found = re.search(r"^wartemarke_web_updates_total (\d+)", text, re.MULTILINE)
            if not found or int(found.group(1)) < messages:
                return False
        return True

    return ready


@contextlib.contextmanager
def started_central(city: City) -> Iterator[None]:
    broker = city.central_broker()
    broker.start(timeout=30)
    try:
        yield
    finally:
        broker.stop()


def measured_office(city: City, stack: contextlib.ExitStack, work: Path) -> tuple[HopChain, Office]:
    """On `stack`: the central broker, the measured office's broker bridged to it, its hub, the benchmark's
    kiosk and clerk there and the bare hop chain — once the hub's (empty) queue reached the central broker."""
    stack.enter_context(started_central(city))
    office_broker = city.office_mosquitto()
    office_broker.start(timeout=30)
    stack.callback(office_broker.stop)
    hop = HopChain(city)
    stack.callback(hop.close)
    hub = stack.enter_context(child(city.hub_argv(), work / "hub.log", timeout=20))
    office = Office(city)
    stack.callback(office.close)
    wait_ready(hub, lambda: hop.waiting == 0, "the hub (its queue at the central broker)", work / "hub.log", 60)
    return hop, office


def latency(work: Path, results: Results, levels: list[int], offices: int, updates: int, ampel_share: float,
            interval_s: float, say: Callable[[str], None], deployed: bool = True,
            deadline_s: float = CONNECT_DEADLINE_S, processes: int = CLIENT_PROCESSES, resume: bool = True) -> None:
    """Office change → last screen at each stream count, beside the bare hop chain, in one city."""
    simulated = office_ids(offices - 1)
    city = City(work, [(MEASURED, MEASURED_HUB), *simulated])
    tokens = {office: [new_token() for _ in range(TOKENS_PER_OFFICE)] for office, _ in city.offices}
    biggest = max(levels)
    with contextlib.ExitStack() as stack:
        hop, office = measured_office(city, stack, work)
        say(f"[city] the measured office's hub is up; {len(simulated)} simulated offices …")
        others = offices_child(city, simulated, tokens, interval_s, work / "offices.log")
        stack.callback(others.close)
        others.result(120)
        issued = FRONT + updates * len(levels) + TOKENS_PER_OFFICE
        front = [new_token() for _ in range(issued - TOKENS_PER_OFFICE)]
        for token in [*front, *tokens[MEASURED]]:
            office.issue(token, date.today())
        hop.wait_waiting(issued)
        procs = stack.enter_context(replicas_and_nginx(city, math.ceil(biggest / 2) + 500, *_nginx_sizing(biggest)))
        wait_ready(procs["web-1"], replicas_hold(city, TOKENS_PER_OFFICE * (offices - 1) + issued),
                   "the replicas (every office's tickets)", work / "web-1" / "replica.log", 300)
        if deployed:
            results.deployed = _deployed_capacity(city, tokens, ampel_share, work, say, processes, resume)
        for streams in levels:
            say(f"[city] {streams:,} streams over both replicas: connecting …")
            level = Level(streams, offices, updates)
            spec = split_streams(streams, ampel_share, tokens, MEASURED)
            clients = clients_child(city, spec, work / f"clients-{streams}.log", MEASURED, deadline_s, processes,
                                    resume)
            try:
                _measure_level(level, clients, procs, city, hop, office, say)
            finally:
                clients.close()
            results.levels.append(level)
            _settle(interval_s)


def _nginx_sizing(streams: int) -> tuple[int, int]:
    """(worker_processes, worker_connections) for `streams`: a proxied stream holds two connections. A worker
    cannot open more files than the hard RLIMIT_NOFILE this process inherited (nginx's `worker_rlimit_nofile`
    cannot raise it without CAP_SYS_RESOURCE: 20,000 in this VM), and with `accept_mutex on` a worker stops
    accepting at 7/8 of its connections: enough workers that all streams fit below that."""
    needed = 2 * streams + 2000
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    per_worker = needed if hard == resource.RLIM_INFINITY else min(needed, hard - 1024)
    return max(debian_nginx_defaults()[0], math.ceil(needed / (per_worker * 7 // 8))), per_worker


def _settle(seconds: float) -> None:
    time.sleep(min(seconds, 2.0))  # the replicas end the closed streams before the next level connects


def _measure_level(level: Level, clients: Clients, procs: dict[str, Any], city: City, hop: HopChain,
                   office: Office, say: Callable[[str], None]) -> None:
    ready = clients.result(1800)
    level.ready, level.failed, level.watchers = ready["ready"], ready["failed"], ready["watchers"]
    level.late, level.resumed, level.processes = ready["late"], ready["resumed"], len(clients.children)
    level.connect_s, level.errors = ready["seconds"], ready["errors"]
    say(f"[city]   {level.ready:,} open ({level.failed:,} failed, {level.late:,} not opened in time) in "
        f"{level.connect_s:.0f} s; "
        f"{level.watchers:,} screens show the measured office; {level.updates} calls …")
    pids = {name: p.pid for name, p in procs.items()}
    level.rss_kib = {name: tree_rss_kib(pid) for name, pid in pids.items()}
    before = {name: tree_cpu_ns(pid) for name, pid in pids.items()}
    events_before = clients.ask("count", 60)["events"]
    started = time.monotonic()
    for k in range(1, level.updates + 1):
        level.bare.append(hop.once())
        waiting = hop.waiting
        t0 = office.call_next()
        answer = clients.ask(f"wait {k} {WAIT_TIMEOUT_S}", WAIT_TIMEOUT_S + 60)
        level.missing += answer["expected"] - answer["n"]
        level.central.append((hop.wait_waiting(waiting - 1) - t0) / 1e9)
        if answer["kernel"]:
            first, mid, last = ((ns - t0) / 1e9 for ns in answer["kernel"])
            level.first.append(first)
            level.mid.append(mid)
            level.last.append(last)
            for kind, into in (("last_ampel", level.last_ampel), ("last_tracking", level.last_tracking)):
                if answer[kind]:
                    into.append((answer[kind] - t0) / 1e9)
    level.wall_s = time.monotonic() - started
    level.events = clients.ask("count", 60)["events"] - events_before
    level.cpu_s = {name: (tree_cpu_ns(pid) - before[name]) / 1e9 for name, pid in pids.items()}


def _deployed_capacity(city: City, tokens: dict[str, list[str]], ampel_share: float, work: Path,
                       say: Callable[[str], None], processes: int, resume: bool) -> tuple[int, int, int, int]:
    """How many streams nginx with Debian's nginx.conf (which the web role keeps) lets through: returns
    (workers, worker_connections, tried, open)."""
    workers, connections = debian_nginx_defaults()
    tried = max(1000, workers * connections)
    say(f"[city] nginx as the role leaves it ({workers} × worker_connections {connections}): {tried:,} streams …")
    port = city.nginx_port
    main = city.nginx_config(workers, connections)
    with child(["nginx", "-c", str(main)], main.parent / "nginx.out", timeout=30) as nginx:
        wait_ready(nginx, lambda: _accepts(city.nginx_port), "nginx (Debian's sizing)", main.parent / "error.log")
        clients = clients_child(city, split_streams(tried, ampel_share, tokens, None), work / "clients-deployed.log",
                                MEASURED, processes=processes, resume=resume)
        try:
            opened = int(clients.result(600)["ready"])
        finally:
            clients.close()
    city.nginx_port = port
    return workers, connections, tried, opened


def _accepts(port: int) -> bool:
    import socket

    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return True
    except OSError:
        return False


def growth(work: Path, results: Results, offices: int, streams: int, window_s: float, ampel_share: float,
           interval_s: float, say: Callable[[str], None], processes: int = CLIENT_PROCESSES,
           resume: bool = True) -> None:
    """The central broker and the replicas with `offices` simulated offices, without and with `streams`."""
    city = City(work, office_ids(offices))
    tokens = {office: [new_token() for _ in range(TOKENS_PER_OFFICE)] for office, _ in city.offices}
    row = Growth(offices, streams, window_s)
    with contextlib.ExitStack() as stack:
        stack.enter_context(started_central(city))
        assert city.central is not None and city.central.pid is not None
        central = city.central.pid
        procs = stack.enter_context(replicas_and_nginx(city, streams + 500, *_nginx_sizing(streams)))
        row.central_idle_kib = status_kib(central, "VmRSS")
        say(f"[city] {offices} simulated offices, a change every {interval_s:g} s each …")
        others = offices_child(city, city.offices, tokens, interval_s, work / "offices.log")
        stack.callback(others.close)
        others.result(300)
        wait_ready(procs["web-1"], replicas_hold(city, TOKENS_PER_OFFICE * offices), "the replicas (every office's "
                   "tickets)", work / "web-1" / "replica.log", 300)
        replicas = [procs[name].pid for name in REPLICAS]
        row.central_offices_kib = status_kib(central, "VmRSS")
        row.quiet = _window(central, replicas, others, None, window_s)
        say(f"[city]   {streams:,} streams …")
        clients = clients_child(city, split_streams(streams, ampel_share, tokens, None), work / "clients.log",
                                city.offices[0][0], processes=processes, resume=resume)
        try:
            ready = clients.result(1800)
            row.ready = ready["ready"]
            row.loaded = _window(central, replicas, others, clients, window_s)
            row.central_streams_kib = status_kib(central, "VmRSS")
            row.replica_kib = sum(status_kib(pid, "VmRSS") for pid in replicas)
        finally:
            clients.close()
    results.growth.append(row)


def _window(central: int, replicas: list[int], offices: LineChild, clients: Clients | None,
            seconds: float) -> dict[str, float]:
    """CPU seconds of the central broker and the replicas, messages published, events delivered, over `seconds`."""
    def sample() -> tuple[int, int, int, int]:
        events = clients.ask("count", 60)["events"] if clients is not None else 0
        return cpu_ns(central), sum(cpu_ns(p) for p in replicas), offices.ask("count", 60)["published"], events

    before, started = sample(), time.monotonic()
    time.sleep(seconds)
    after, wall = sample(), time.monotonic() - started
    return {"wall_s": wall, "central_cpu_s": (after[0] - before[0]) / 1e9,
            "replica_cpu_s": (after[1] - before[1]) / 1e9, "published": after[2] - before[2],
            "events": after[3] - before[3]}


def run(directory: Path, notes: list[str], progress: Callable[[str], None], levels: list[int], offices: int,
        growth_offices: list[int], growth_streams: int, updates: int, window_s: float, ampel_share: float,
        interval_s: float, deployed: bool = True, deadline_s: float = CONNECT_DEADLINE_S,
        processes: int = CLIENT_PROCESSES, resume: bool = True) -> list[Row]:
    """Both parts in a temporary directory under `directory`; the table rows."""
    results = Results(offices_interval_s=interval_s, ampel_share=ampel_share)
    progress("[city] a replica's CPU per ticket view, in-process, before and after …")
    results.per_view = per_view.measure(offices)
    with work_dir("city", directory) as work:
        if levels:
            latency(work / "latency", results, levels, offices, updates, ampel_share, interval_s, progress, deployed,
                    deadline_s, processes, resume)
        for count in growth_offices:
            growth(work / f"growth-{count}", results, count, growth_streams, window_s, ampel_share, interval_s,
                   progress, processes, resume)
    return report.rows(results, notes)
