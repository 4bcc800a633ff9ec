"""The hub benchmark's view of the office: it fills the queue as kiosk-1 and runs closed-loop clerks
(each command sent after the reply to the previous one) against the hub or the echo responder."""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

from bench.hub.echo import ECHO_ROOT
from bench.mqtt_clients import Requester, Watch, bench_link, started
from devtools.hub_harness import issued, payload
from hub.app import FORECAST_INTERVAL_S
from protocol import topics

OFFICE = "bench-hub"
KIOSK = "kiosk-1"
COUNTERS = 8
PRODUCTION_TICK_S = 15.0  # hub/config.py default; the test harness ticks every 0.2 s


@dataclass
class Throughput:
    """Closed-loop requests from `clients` connections, each waiting for its reply before the next."""

    target: str  # "hub" | "echo"
    clients: int
    seconds: float = 0.0
    latency: list[float] = field(default_factory=list)  # request → reply, seconds
    refused: int = 0  # replies with ok = false (nobody waiting, …): still committed commands
    rounds: int = 0
    waiting_max: int = 0
    waiting_min: int = 0

    @property
    def commands(self) -> int:
        return len(self.latency)

    @property
    def rate(self) -> float:
        return self.commands / self.seconds if self.seconds > 0 else float("nan")


class Office:
    """The benchmark's view of the hub's office: fills the queue as kiosk-1, knows the waiting count."""

    def __init__(self, port: int, day: date, host: str = "127.0.0.1") -> None:
        self.day = day
        self.kiosk = bench_link(port, OFFICE, "bench-kiosk", host)
        self.ack = Watch(port, OFFICE, topics.kiosk_ack(OFFICE, KIOSK), "bench-ack", host)
        self.queue = Watch(port, OFFICE, topics.queue(OFFICE), "bench-queue", host)
        self.seq = 0

    def start(self) -> Office:
        started(self.kiosk)
        self.ack.start()
        self.queue.start()
        return self

    def stop(self) -> None:
        for link in (self.kiosk, self.ack.link, self.queue.link):
            link.stop()

    def issue(self, count: int, wait: bool = True) -> None:
        for _ in range(count):
            self.seq += 1
            event = issued(self.day, f"A{self.seq:03d}", self.seq, device=KIOSK, at=datetime.now(UTC))
            self.kiosk.publish(topics.kiosk_ticket(OFFICE, KIOSK), payload(event))
        if wait:
            last = self.seq
            self.ack.wait(lambda a: a.get("seq", 0) >= last, timeout=60)

    def waiting(self) -> int:
        # the hub publishes `queue` within FORECAST_INTERVAL_S of its last input (after the reply and the
        # ack): once it has been quiet for longer than that, after either, it is current
        q = self.queue.settled(3 * FORECAST_INTERVAL_S)
        return sum(int(s["waiting"]) for s in q["services"])

    def fill(self, target: int) -> None:
        missing = target - self.waiting()
        if missing > 0:
            self.issue(missing)
        self.queue.wait(lambda q: sum(int(s["waiting"]) for s in q["services"]) >= target)


def closed_loop(requesters: list[Requester], topic_of: Callable[[int], str], ops: tuple[str, ...],
                 duration: float, budget: int | None, result: Throughput) -> None:
    """Every requester sends its ops round robin, each after the previous reply, until `duration`
    has passed or `budget` `next` commands were sent in all (the queue must not run dry)."""
    lock = threading.Lock()
    left = [budget if budget is not None else -1]
    latencies: list[list[float]] = [[] for _ in requesters]
    refused = [0] * len(requesters)
    ends = [0.0] * len(requesters)
    errors: list[BaseException] = []
    barrier = threading.Barrier(len(requesters) + 1)

    def worker(i: int) -> None:
        requester, topic = requesters[i], topic_of(i)
        try:
            barrier.wait()
            deadline = time.perf_counter() + duration
            for n in itertools.count():
                op = ops[n % len(ops)]
                if op == "next" and budget is not None:
                    with lock:
                        if left[0] <= 0:
                            break
                        left[0] -= 1
                seconds, answer = requester.command(topic, op)
                latencies[i].append(seconds)
                refused[i] += not answer.get("ok")
                if time.perf_counter() >= deadline and n % len(ops) == len(ops) - 1:
                    break
            ends[i] = time.perf_counter()
        except BaseException as exc:
            errors.append(exc)
            ends[i] = time.perf_counter()

    threads = [threading.Thread(target=worker, args=(i,), name=f"bench-client-{i}") for i in range(len(requesters))]
    for t in threads:
        t.start()
    barrier.wait()
    start = time.perf_counter()
    for t in threads:
        t.join()
    if errors:
        raise RuntimeError(f"closed-loop client failed: {errors[0]}") from errors[0]
    result.seconds = max(ends) - start
    result.latency = [x for per in latencies for x in per]
    result.refused = sum(refused)


def echo_topic_of(requesters: list[Requester], i: int) -> str:
    return f"{ECHO_ROOT}/{requesters[i].link.device}/command"


def throughput(office: Office, requesters: list[Requester], waiting: int, duration: float) -> Throughput:
    """Closed-loop next/done against the hub in rounds of `waiting / 2` calls, until `duration` measured."""
    result = Throughput("hub", len(requesters), waiting_max=0, waiting_min=waiting)
    while result.seconds < duration:
        office.fill(waiting)
        result.waiting_max = max(result.waiting_max, office.waiting())
        part = Throughput("hub", len(requesters))
        closed_loop(requesters, lambda i: topics.counter_command(OFFICE, f"platz-{i + 1}"), ("next", "done"),
                     duration - result.seconds, max(waiting // 2, 1), part)
        result.seconds += part.seconds
        result.latency += part.latency
        result.refused += part.refused
        result.rounds += 1
        result.waiting_min = min(result.waiting_min, office.waiting())
    return result
