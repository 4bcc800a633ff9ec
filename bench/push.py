"""The notifier under load: call → Web Push POST at the push service, p50/p99, with many subscribed tickets
across several offices, beside call → the tracking page's `called` event (SSE) in the same run.

    .venv/bin/python -m bench.push [--offices 10] [--tickets 100] [--calls 40] [--markdown]

One hub process serves `--offices` offices (two counters each) with its web; `--tickets` tickets of
service A per office are issued over MQTT and every one is subscribed at `wartemarke-notifier` (its own
process) with its own browser key pair, choosing "5 places before"; a local push service over real HTTP
(devtools/push_service.py) checks each VAPID signature, decrypts each message and notes when it arrived.
Then `--calls` `next` commands, round robin over the offices: before each, an SSE stream is opened on the
tracking page of the ticket that will be called; the clock starts when the command is published.

    .venv/bin/python -m bench.push --city [--offices 10] [--tickets 500] [--calls 40] [--interval 20]

The same through the city tier, subscriptions and tracking pages through nginx: bench/city/push.py.
"""

from __future__ import annotations

import argparse
import base64
import http.client
import json
import secrets
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from datetime import date
from pathlib import Path

from bench.runner import child, python, say, standalone, wait_ready, work_dir
from devtools.broker import Broker, free_port
from devtools.hub_harness import issued, payload, write_hub_config
from devtools.notifier_harness import SUBJECT, NotifierProcess, generate_key, write_notifier_config
from devtools.push_service import PushService
from devtools.stats import Row, median, ms, percentile
from hub.counter_cli import send_command
from process.clock import SystemClock
from protocol import VERSION, topics
from protocol.link import BrokerSettings, MqttLink
from protocol.messages import CommandRequest


def hub_config(directory: Path, broker_port: int, offices: list[str], web_port: int) -> Path:
    """One hub for several offices (each as devtools/hub_harness.py writes one), with its web."""
    path = write_hub_config(directory, broker_port, offices[0], counters=2, tick_s=1.0)
    text = path.read_text(encoding="utf-8")
    head, office = text.split("[[offices]]", 1)
    blocks = [("[[offices]]" + office).replace(f'id = "{offices[0]}"', f'id = "{o}"') for o in offices]
    web = f"""\n[web]\nport = {web_port}\npublic_url = "http://127.0.0.1:{web_port}"\nmax_streams_per_client = 0\n"""
    path.write_text(head + "".join(blocks) + web, encoding="utf-8")
    return path


def get(port: int, path: str) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def offices_day(port: int) -> dict[str, date]:
    try:
        status, body = get(port, "/api/v1/offices")
    except OSError:
        return {}
    if status != 200:
        return {}
    return {o["id"]: date.fromisoformat(o["day"]) for o in json.loads(body)["offices"] if o.get("day")}


class CalledStream:
    """One tracking page's event stream, noting when it first says `called`."""

    def __init__(self, conn: http.client.HTTPConnection, token: str) -> None:
        self.at: float | None = None
        self.open = threading.Event()
        self.conn = conn  # the hub's web, or nginx in front of the replicas (bench/city/push.py)
        self.thread = threading.Thread(target=self._read, args=(token,), daemon=True)
        self.thread.start()

    def _read(self, token: str) -> None:
        self.conn.request("GET", f"/t/{token}/events", headers={"Accept": "text/event-stream"})
        response = self.conn.getresponse()
        self.open.set()
        for raw in response:
            if raw.startswith(b"data:") and b'"state": "called"' in raw:
                self.at = time.time()
                return

    def close(self) -> None:
        self.thread.join(30)
        self.conn.close()


def called_latency(push: PushService, stream: CalledStream, name: str, call: Callable[[], float],
                   ) -> tuple[float, float | None]:
    """Seconds from the clerk's command (`call` sends it and returns the wall clock just before) to the push
    service holding the decrypted `called` message for browser `name`, and to `stream` saying `called`."""
    stream.open.wait(10)
    t0 = call()
    push.wait_for(lambda: any(p.name == name and p.message["kind"] == "called" for p in push.posts), timeout=30)
    stream.close()
    post = next(p for p in push.posts if p.name == name and p.message["kind"] == "called")
    return post.at - t0, None if stream.at is None else stream.at - t0


def latency_row(label: str, push_lat: list[float], baseline: str, sse_lat: list[float]) -> Row:
    return Row(label, f"{ms(median(push_lat))} / {ms(percentile(push_lat, 99))}",
               f"{baseline} {ms(median(sse_lat))} / {ms(percentile(sse_lat, 99))}" if sse_lat else f"{baseline}: none",
               f"{median(push_lat) / median(sse_lat):.1f}×" if sse_lat else "")


def measure(args: argparse.Namespace, parent: Path, notes: list[str]) -> list[Row]:
    offices = [f"bench-o{i + 1}" for i in range(args.offices)]
    with work_dir("push", parent) as folder:
        # As the central broker is set up (deploy/roles/central): at the default of 1,000 queued messages a
        # client subscribing to thousands of retained views gets only the first thousand.
        broker = Broker(folder / "broker", extra_config="max_queued_messages 50000\nmax_inflight_messages 100")
        broker.start()
        try:
            web_port, notifier_port = free_port(), free_port()
            config = hub_config(folder / "hub", broker.port, offices, web_port)
            with child(python("hubprocess", "run", "--config", str(config)), folder / "hub.log", timeout=30) as hub:
                return _run(args, folder, broker, hub, offices, web_port, notifier_port, notes)
        finally:
            broker.stop()


def _run(args: argparse.Namespace, folder: Path, broker: Broker, hub: subprocess.Popen[bytes], offices: list[str],
         web_port: int, notifier_port: int, notes: list[str]) -> list[Row]:
    push = PushService(subject=SUBJECT).start()
    link = MqttLink(BrokerSettings(port=broker.port), offices[0], "bench-kiosk", "bench", VERSION,
                    SystemClock(), availability=False)
    notifier: NotifierProcess | None = None
    try:
        wait_ready(hub, lambda: len(offices_day(web_port)) == len(offices), "the hub's web", folder / "hub.log")
        days = offices_day(web_port)
        link.start()
        link.connected.wait(10)
        tokens: dict[str, list[str]] = {o: [] for o in offices}
        for office in offices:
            for n in range(1, args.tickets + 1):
                token = base64.b32encode(secrets.token_bytes(20)).decode()
                tokens[office].append(token)
                link.publish(topics.kiosk_ticket(office, "kiosk-1"),
                             payload(issued(days[office], f"A{n:03d}", n, token=token)))
        ncfg = write_notifier_config(folder / "notifier", broker.port, tuple(offices), f"http://127.0.0.1:{web_port}",
                                     port=notifier_port)
        push.vapid_key = generate_key(ncfg)
        notifier = NotifierProcess.for_config(ncfg)
        notifier.start(60)
        started = time.monotonic()
        deadline = started + 1200  # the hub takes a while to forecast and publish thousands of new tickets
        for office in offices:
            for i, token in enumerate(tokens[office]):
                browser = push.subscription(f"{office}-{i}")
                while notifier.subscribe(token, browser.info, notify="5places")[0] not in (200, 201):
                    if time.monotonic() > deadline:  # the notifier has not seen the ticket's view yet
                        raise RuntimeError(f"could not subscribe {office} #{i}")
                    time.sleep(0.05)
        subscribed = len(offices) * args.tickets
        notes.append(f"{subscribed} subscriptions made in {time.monotonic() - started:.1f} s "
                     f"({len(offices)} offices × {args.tickets} tickets)")
        push_lat, sse_lat = [], []
        for k in range(args.calls):
            office = offices[k % len(offices)]
            index = k // len(offices)
            token, name = tokens[office][index], f"{office}-{index}"
            stream = CalledStream(http.client.HTTPConnection("127.0.0.1", web_port, timeout=30), token)

            def call(office: str = office) -> float:
                t0 = time.time()
                answer = send_command(link, office, "platz-1", CommandRequest(uuid.uuid4().hex, "next"), timeout_s=10)
                if answer is None or not answer.ok:
                    raise RuntimeError(f"next in {office}: {answer}")
                return t0

            pushed, seen = called_latency(push, stream, name, call)
            push_lat.append(pushed)
            if seen is not None:
                sse_lat.append(seen)
        notes.append("push: from publishing `next` to the push service having the decrypted message "
                     "(incl. the hub's forecast, the bridge-less broker hop, the notifier's record, encryption, "
                     "HTTP); SSE: to the tracking page's `called` event")
        return [latency_row(f"call → Web Push POST, p50 / p99 ({args.calls} calls, {subscribed} subscribed)",
                            push_lat, "SSE", sse_lat),
                Row("  push messages taken (near + called) / rejected", f"{len(push.posts)} / {len(push.rejected)}")]
    finally:
        if notifier is not None:
            notifier.stop()
        link.stop()
        push.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.push", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--offices", type=int, default=10)
    parser.add_argument("--tickets", type=int, default=100, help="tickets subscribed per office")
    parser.add_argument("--calls", type=int, default=40)
    parser.add_argument("--city", action="store_true",
                        help="through the city tier: bridges, central broker, replicas, nginx (bench/city/push.py)")
    parser.add_argument("--interval", type=float, default=20.0,
                        help="--city: seconds between two changes of one simulated office")

    def part(args: argparse.Namespace, parent: Path, notes: list[str]) -> list[Row]:
        if not args.city:
            return measure(args, parent, notes)
        from bench.city import push as city  # imports this module: not at the top

        return city.measure(parent, notes, say, args.offices, args.tickets, args.calls, args.interval)

    return standalone(parser, argv, "wartemarke bench: Web Push", part)


if __name__ == "__main__":
    sys.exit(main())
