"""A compressed office day under faults, with a fixed seed (issue 11, "Done when").

Real processes throughout: mosquitto, the hub (`python -m hubprocess run`), two kiosks (`python -m kiosk run
--simulate`, numbering 1 of 2 and 2 of 2, printing into folders), a public web replica, clerks sending
MQTT v5 requests from threads and through `wartemarke-counter`. The office starts with yesterday's
tickets still in the hub's database and on the broker (the hub was off across the day change). Then a
few hundred presses while the schedule injects: hub kill -9 (×3), broker kill -9 and restart (×2), each
kiosk kill -9 (×2), a kiosk replaced by one with empty state, bursts of eight simultaneous `next` (at
counters of their own, while the five clerks keep working), and transfers by the clerks.

Checked at the end: no label printed twice; every printed ticket known to the hub exactly once (a ticket
the hub has that no printer shows is flagged assumed printed); no ticket at two counters at once; the
retained `calls.seq` and every kiosk's `ack.seq` never go backwards as a subscriber sees them;
yesterday's tracking links answer 404; the day's statistics add up.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

from devtools.broker import Broker, Recorder
from devtools.hub_harness import issued, payload, write_hub_config
from devtools.kiosk_harness import write_config
from hub.app import Hub
from hub.config import load_hub_config
from hub.counter_cli import send_command
from hub.runtime import OfficeRuntime
from hub.statistics import day_summary
from hub.store import HubStore
from process.clock import FakeClock
from protocol import VERSION, topics
from protocol.link import BrokerSettings, MqttLink
from protocol.messages import CommandAnswer, CommandRequest
from tests.fault_harness import never_backwards, retained, start_replica
from tests.test_kiosk_crash import FAST_SERVICES, KioskProcess
from tests.web_harness import get, random_token, wait_until

REPO = Path(__file__).resolve().parents[1]
SEED = 20261129
PRESSES = 300
CLERKS = ("platz-1", "platz-2", "platz-3", "platz-4", "platz-5")
# A burst's eight clerks sit at counters no clerk thread uses: one clerk per counter, as in an office. Sharing
# one made a clerk thread's `transfer` put back the ticket a burst link had just called there, and the next
# burst link rightly called it again — one burst showed a label twice with no ticket called twice.
BURST = tuple(f"platz-{i}" for i in range(6, 14))
ENV = {**os.environ, "PYTHONUNBUFFERED": "1"}


class Kiosk:
    """One kiosk of the office: its folder, its process (restarted after kills), its presses."""

    def __init__(self, directory: Path, port: int, office: str, device: str, index: int) -> None:
        self.directory, self.device = directory, device
        self.config = write_config(directory, port, office, device=device, services=FAST_SERVICES,
                                   numbering=f"kiosk_index = {index}\nkiosk_count = 2")
        self.process: KioskProcess | None = None

    def start(self) -> None:
        self.process = KioskProcess(self.config)
        assert self.process.ready.wait(60), "".join(self.process.lines[-20:])

    def press(self, service: str) -> None:
        assert self.process is not None
        with contextlib.suppress(BrokenPipeError, ValueError):  # being killed: the press is lost, as for real
            self.process.press(service)

    def kill(self) -> None:
        assert self.process is not None
        self.process.kill()

    def stop(self) -> None:
        if self.process is not None and self.process.proc.poll() is None:
            self.process.terminate()

    def allocated(self) -> int:
        with sqlite3.connect(self.directory / "state" / "kiosk.sqlite3") as db:
            row = db.execute("SELECT value FROM meta WHERE key = 'seq'").fetchone()
        return 0 if row is None else int(row[0])

    def printed(self) -> list[str]:
        return [p.name.split("-", 1)[1].removesuffix(".escpos") for p in (self.directory / "printed").glob("*.escpos")]


class Clerks:
    """Clerks at five counters, each a thread with its own MQTT v5 connection; they also transfer."""

    def __init__(self, port: int, office: str, rng: random.Random) -> None:
        self.port, self.office = port, office
        self.seeds = [rng.randrange(2**32) for _ in CLERKS]
        self.answers: list[tuple[str, str, CommandAnswer]] = []  # counter, op, answer
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._work, args=(c, s), daemon=True)
                         for c, s in zip(CLERKS, self.seeds, strict=True)]

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            if thread.ident is not None:
                thread.join(30)

    def record(self, counter: str, op: str, answer: CommandAnswer | None) -> None:
        if answer is not None:
            with self._lock:
                self.answers.append((counter, op, answer))

    def _work(self, counter: str, seed: int) -> None:
        rng = random.Random(seed)
        link = MqttLink(BrokerSettings(port=self.port), self.office, f"clerk-{counter}", "cli", VERSION,
                        FakeClock(datetime.now(UTC)), availability=False)
        link.start()
        serving = False
        try:
            while not self._stop.wait(rng.uniform(0.1, 0.5)):
                roll = rng.random()
                op = "transfer" if serving and roll < 0.12 else "done" if serving and roll < 0.2 else "next"
                args = {"service": rng.choice("AP")} if op == "transfer" else {}
                answer = send_command(link, self.office, counter, CommandRequest(uuid.uuid4().hex, op, args), 4)
                self.record(counter, op, answer)
                serving = bool(answer and answer.ok and op == "next")
        finally:
            link.stop()

    def burst(self) -> list[CommandAnswer | None]:
        """Eight clerks press `next` at the same moment (at the BURST counters)."""
        counters = list(BURST)
        links = [MqttLink(BrokerSettings(port=self.port), self.office, f"burst-{c}-{uuid.uuid4().hex[:4]}", "cli",
                          VERSION, FakeClock(datetime.now(UTC)), availability=False) for c in counters]
        for link in links:
            link.start()
        barrier = threading.Barrier(len(links))
        results: list[CommandAnswer | None] = [None] * len(links)

        def press(i: int) -> None:
            link = links[i]
            link.connected.wait(10)
            barrier.wait(15)
            results[i] = send_command(link, self.office, counters[i], CommandRequest(uuid.uuid4().hex, "next"), 6)
            self.record(counters[i], "next", results[i])

        threads = [threading.Thread(target=press, args=(i,)) for i in range(len(links))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        for link in links:
            link.stop()
        return results


def office_yesterday(directory: Path, config: Path, broker: Broker, office: str, rec: Recorder) -> list[str]:
    """Yesterday's tickets: a hub (in this process, its clock a day back) took three events; returns their
    tokens. The hub is then switched off across the day change."""
    clock = FakeClock(datetime.now(UTC) - timedelta(hours=26))
    hub = Hub(load_hub_config(config), clock)
    hub.start()
    try:
        rec.wait_for_json(topics.device_status(office, "hub-test"), lambda s: s["online"])
        tokens = [random_token() for _ in range(3)]
        day = hub.runtimes[office].engine.day
        for seq, token in enumerate(tokens, 1):
            rec.publish(topics.kiosk_ticket(office, "kiosk-old"),
                        payload(issued(day, f"A{seq:03d}", seq, device="kiosk-old", at=clock.now(), token=token)))
        rec.wait_for_json(topics.kiosk_ack(office, "kiosk-old"), lambda a: a["seq"] == 3)
    finally:
        hub.stop()
    return tokens


def hub_process(config: Path, log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen([sys.executable, "-m", "hubprocess", "run", "--config", str(config)], cwd=REPO, env=ENV,
                                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT)


def test_a_day_of_faults_keeps_every_guarantee(tmp_path, broker, topic_office, recorder_factory):
    rng = random.Random(SEED)
    office = topic_office
    rec = recorder_factory(broker, [topics.calls(office), topics.kiosk_acks(office),
                                    topics.counter_states(office), topics.device_statuses(office)])
    hub_config = write_hub_config(tmp_path / "hub", broker.port, office, counters=len(CLERKS) + len(BURST), tick_s=0.5)
    replica, web = start_replica(tmp_path / "web", office, broker.port)
    yesterday = office_yesterday(tmp_path, hub_config, broker, office, rec)

    def pages(status: int) -> bool:
        return all(get(f"{web}/t/{t}").status == status for t in yesterday)

    wait_until(lambda: pages(200), 10, "yesterday's tracking pages")

    hub_log = tmp_path / "hub.log"
    mark = rec.mark()
    hub = hub_process(hub_config, hub_log)
    kiosks = [Kiosk(tmp_path / f"k{i + 1}", broker.port, office, f"kiosk-{i + 1}", i) for i in range(2)]
    clerks = Clerks(broker.port, office, rng)
    called_by_cli: list[str] = []
    presses = 0

    def hub_online(since: int) -> None:
        rec.wait_for_json(topics.device_status(office, "hub-test"), lambda s: s["online"] and "offices" in s,
                          since=since, timeout=60)

    def delivered(kiosk: Kiosk) -> None:
        wanted = kiosk.allocated()
        rec.wait_for_json(topics.kiosk_ack(office, kiosk.device), lambda a: bool(a["seq"] >= wanted), timeout=60)

    def press_some(count: int) -> None:
        nonlocal presses
        for _ in range(count):
            rng.choice(kiosks).press(rng.choice("AAP"))
            presses += 1
            threading.Event().wait(rng.uniform(0.0, 0.06))

    faults = (["hub"] * 3 + ["broker"] * 2 + ["kiosk-1"] * 2 + ["kiosk-2"] * 2 + ["replace"] + ["burst"] * 3
              + ["cli"] * 2)
    rng.shuffle(faults)
    try:
        hub_online(mark)
        wait_until(lambda: pages(404), 20, "yesterday's links to be gone after the day change")
        for kiosk in kiosks:
            kiosk.start()
        clerks.start()
        per_step = PRESSES // (len(faults) + 1)
        for fault in faults:
            press_some(per_step)
            if fault == "hub":
                hub.send_signal(signal.SIGKILL)
                hub.wait(10)
                mark = rec.mark()
                hub = hub_process(hub_config, hub_log)
                hub_online(mark)
            elif fault == "broker":
                broker.kill()
                broker.start()
                assert rec.wait_ready(20)
            elif fault.startswith("kiosk-"):
                kiosk = kiosks[int(fault[-1]) - 1]
                threading.Event().wait(rng.uniform(0.0, 0.3))  # mid-stream: maybe mid-print, maybe mid-send
                kiosk.kill()
                kiosk.start()
            elif fault == "replace":  # a technician swaps kiosk-2's SD card once its outbox is delivered
                kiosk = kiosks[1]
                delivered(kiosk)
                kiosk.stop()
                delivered(kiosk)
                ack_topic = topics.kiosk_ack(office, kiosk.device)
                wait_until(lambda: any(json.loads(p)["seq"] == kiosk.allocated()
                                       for _, p in retained(broker, ack_topic)),
                           30, "the retained ack a new kiosk resumes from")
                shutil.rmtree(kiosk.directory / "state")
                kiosk.start()
            elif fault == "burst":
                labels = [a.label for a in clerks.burst() if a is not None and a.ok]
                assert len(labels) == len(set(labels)), f"one burst called a ticket twice: {labels}"
            elif fault == "cli":
                cli = subprocess.run([sys.executable, "-m", "hub.counter_cli", "--config", str(hub_config),
                                      "--office", office, "--counter", "platz-6", "--timeout", "6", "next"],
                                     cwd=REPO, env=ENV, capture_output=True, text=True, timeout=60)
                assert cli.returncode in (0, 1, 3), cli.stderr
                if cli.returncode == 0:
                    called_by_cli.append(cli.stdout.split()[0])
        press_some(PRESSES - presses)
        clerks.stop()
        for kiosk in kiosks:  # the last undisturbed stretch: every outbox drains into the hub
            delivered(kiosk)
        assert pages(404)
    finally:
        clerks.stop()
        for kiosk in kiosks:
            kiosk.stop()
        hub.send_signal(signal.SIGTERM)
        hub.wait(20)
        replica.stop()

    # -- the checks ---------------------------------------------------------------------------------
    printed = [label for kiosk in kiosks for label in kiosk.printed()]
    duplicates = [label for label, n in Counter(printed).items() if n > 1]
    assert not duplicates, f"labels printed twice: {duplicates}"
    assert len(printed) >= PRESSES // 2, f"the day should print tickets, not only crash: {len(printed)} printed"

    config = load_hub_config(hub_config)
    store = HubStore(config.state_dir / "hub.sqlite3")
    runtime = OfficeRuntime(config.offices[0], store)
    runtime.start(datetime.now(UTC))
    engine = runtime.engine
    try:
        tickets = list(engine.tickets.values())
        known = Counter(t.label for t in tickets)
        assert not [label for label, n in known.items() if n > 1], "the hub holds a label twice"
        assert set(printed) <= set(known), f"printed but unknown to the hub: {set(printed) - set(known)}"
        unprinted = set(known) - set(printed)
        assumed = {t.label for t in tickets if t.assumed_printed}
        assert unprinted <= assumed, f"the hub has tickets no kiosk printed, not flagged: {unprinted - assumed}"

        serving = [t.counter for t in tickets if t.state.value == "called"]
        assert len(serving) == len(set(serving)), "a counter serves two tickets"
        at: dict[str, str] = {}
        for record in rec.records(topics.office_tree(office)):
            data = json.loads(record.payload) if record.payload else {}
            if record.topic == topics.device_status(office, "hub-test") and data.get("online") and not record.retain:
                at.clear()  # the hub (re)connected: every counter's state follows
            elif record.topic.endswith("/state"):
                if data.get("state") == "serving":
                    at[data["counter"]] = data["label"]
                else:
                    at.pop(data["counter"], None)
                assert len(set(at.values())) == len(at), f"a ticket at two counters: {at}"
        transferred = {t.label for t in tickets if t.transfers}
        answered = {a.label for _, op, a in clerks.answers if op == "transfer" and a.ok}
        assert answered <= transferred and answered, "the clerks transferred tickets"
        counters_of: dict[str, set[str]] = {}  # what the displays showed: every call in every `calls` seen
        for record in rec.records(topics.calls(office)):
            for call in json.loads(record.payload)["calls"]:
                counters_of.setdefault(call["label"], set()).add(call["counter"])
        moved = {label for label, counters in counters_of.items() if len(counters) > 1}
        assert moved <= transferred, f"called to two counters: {moved - transferred}"
        called = [a.label for _, op, a in clerks.answers if op == "next" and a.ok] + called_by_cli
        twice = [label for label, n in Counter(called).items() if n > 1 and label not in transferred]
        assert not twice, f"tickets called twice: {twice}"

        days_and_seqs = never_backwards(rec.records(topics.calls(office)), lambda c: (c["day"], c["seq"]))
        assert days_and_seqs[-1] == (engine.day.isoformat(), engine.calls_seq) and engine.calls_seq >= len(called)
        for kiosk in kiosks:
            acks = never_backwards(rec.records(topics.kiosk_ack(office, kiosk.device)), lambda a: a["seq"])
            assert acks[-1] == kiosk.allocated()

        summary = day_summary(engine)
        issued_per_service = Counter[str]()
        for row in summary["hours"]:
            issued_per_service[row["service"]] += row["issued"]
            assert row["called"] <= row["issued"] and row["transferred"] <= row["issued"]
        assert issued_per_service == Counter(label[0] for label in known), "statistics count what was issued"
        assert sum(row["transferred"] for row in summary["hours"]) == len(transferred)
        assert sum(row["issued"] for row in summary["hours"]) == len(tickets)
        [(_, old_day)] = store.daily_stats(office).items()
        assert sum(row["issued"] for row in old_day["hours"]) == 3  # yesterday's three tickets
        assert store.pending_clears(office) == []
        print(f"fault day: {presses} presses, {len(printed)} printed, {len(assumed)} assumed printed, "
              f"{engine.calls_seq} calls, {len(transferred)} transferred, {len(clerks.answers)} answers, "
              f"faults {faults}")
    finally:
        store.close()
