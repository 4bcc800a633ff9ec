"""`kill -9` of the kiosk process at random moments: labels never repeat, no event is lost.

The kiosk runs as a real subprocess (`python -m kiosk run --simulate`, presses on stdin, a file
printer); the real hub runs in this process, ingesting events by id and acking contiguous seqs.
After many crashes, every printed ticket's event has arrived and no label was issued twice — also
after a replacement kiosk (empty state, same device id) resumes from the retained ack.
"""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from devtools.hub_harness import write_hub_config
from devtools.kiosk_harness import write_config
from hub.app import Hub
from hub.config import load_hub_config
from hub.engine import TicketState
from process.clock import SystemClock
from protocol import topics

REPO = Path(__file__).resolve().parents[1]
FAST_SERVICES = """
    [[services]]
    id = "A"
    name_de = "Allgemeine Anliegen"
    name_en = "General concerns"
    button_pin = 5
    min_interval_s = 0.0

    [[services]]
    id = "P"
    name_de = "Abholung"
    name_en = "Pickup"
    button_pin = 13
    min_interval_s = 0.0
"""


class KioskProcess:
    """A kiosk subprocess whose stderr is watched for log lines."""

    def __init__(self, config: Path) -> None:
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        self.proc = subprocess.Popen([sys.executable, "-m", "kiosk", "run", "--simulate", "--config", str(config)],
                                     stdin=subprocess.PIPE, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                     text=True, cwd=REPO, env=env)
        self.ready = threading.Event()
        self.printed = 0
        self.lines: list[str] = []
        self._cond = threading.Condition()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            with self._cond:
                self.lines.append(line)
                if "ready: a press prints a ticket" in line:
                    self.ready.set()
                if " printed " in line:
                    self.printed += 1
                self._cond.notify_all()

    def press(self, service: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(service + "\n")
        self.proc.stdin.flush()

    def wait_printed(self, count: int, timeout: float) -> bool:
        with self._cond:
            return self._cond.wait_for(lambda: self.printed >= count, timeout)

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def terminate(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.send_signal(signal.SIGUSR1)  # faulthandler: dump all stacks to stderr
            with self._cond:
                self._cond.wait(2)
            self.kill()
            raise AssertionError("kiosk did not stop on SIGTERM:\n" + "".join(self.lines[-80:])) from None


class HubView:
    """The real hub, with the questions this test asks of it."""

    def __init__(self, hub: Hub, office: str, recorder) -> None:
        self.hub, self.office, self.rec = hub, office, recorder

    def wait_acked(self, device: str, seq: int, timeout: float) -> bool:
        try:
            self.rec.wait_for_json(topics.kiosk_ack(self.office, device), lambda a: a["seq"] >= seq, timeout=timeout)
        except TimeoutError:
            return False
        return True

    def acked(self, device: str) -> int:
        return self.hub.store.acks(self.office).get(device, 0)

    def issued_labels(self, device: str) -> list[str]:
        return [t.label for t in self.hub.runtimes[self.office].engine.tickets.values()
                if t.device == device and t.state != TicketState.VOIDED]


@pytest.fixture
def hub(broker, topic_office, tmp_path, recorder_factory):
    rec = recorder_factory(broker, [topics.office_tree(topic_office)])
    running = Hub(load_hub_config(write_hub_config(tmp_path / "hub", broker.port, topic_office)),
                  SystemClock(assume_synced=True))
    running.start()
    rec.wait_for_json(topics.device_status(topic_office, "hub-test"), lambda s: s["online"])
    yield HubView(running, topic_office, rec)
    running.stop()


def allocated_seq(directory: Path) -> int:
    """The kiosk's last allocated seq, read from its SQLite file (safe beside the running kiosk)."""
    with sqlite3.connect(directory / "state" / "kiosk.sqlite3") as db:
        return int(db.execute("SELECT value FROM meta WHERE key = 'seq'").fetchone()[0])


def printed_labels(folder: Path) -> list[str]:
    return [p.name.split("-", 1)[1].removesuffix(".escpos") for p in sorted(folder.glob("*.escpos"))]


def test_kill_9_at_random_moments_never_repeats_a_label_nor_loses_an_event(tmp_path, broker, topic_office, hub):
    rng = random.Random(20261125)
    config = write_config(tmp_path, broker.port, topic_office, services=FAST_SERVICES)
    for _ in range(20):
        kiosk = KioskProcess(config)
        try:
            assert kiosk.ready.wait(20), "".join(kiosk.lines[-20:])
            for _ in range(rng.randint(1, 6)):
                kiosk.press(rng.choice("AP"))
            # die somewhere between the first press and well after the last one printed
            kiosk.wait_printed(rng.randint(0, 3), timeout=rng.uniform(0.0, 0.4))
        finally:
            kiosk.kill()
    kiosk = KioskProcess(config)  # a last, undisturbed run delivers whatever is still in the outbox
    try:
        assert kiosk.ready.wait(20)
        assert hub.wait_acked("kiosk-1", allocated_seq(tmp_path), timeout=30)
    finally:
        kiosk.terminate()
    printed = printed_labels(tmp_path / "printed")
    assert len(printed) >= 8, "the crash test should print tickets, not only crash"
    assert len(printed) == len(set(printed)), f"a label was printed twice: {printed}"
    issued = hub.issued_labels("kiosk-1")
    assert len(issued) == len(set(issued)), f"the hub got a label twice: {issued}"
    assert set(printed) <= set(issued), f"printed but never delivered: {set(printed) - set(issued)}"
    assert hub.acked("kiosk-1") == allocated_seq(tmp_path)  # every allocated seq arrived, none missing

    # The SD card dies: a replacement with empty state and the same device id resumes from the ack.
    for path in (tmp_path / "state").iterdir():
        path.unlink()
    kiosk = KioskProcess(config)
    try:
        assert kiosk.ready.wait(20)
        kiosk.press("A")
        assert kiosk.wait_printed(1, 20)
    finally:
        kiosk.terminate()
    after = printed_labels(tmp_path / "printed")
    new = [label for label in after if label not in printed]
    assert len(new) == 1 and new[0].startswith("A") and new[0] not in issued
    assert int(new[0][1:]) == max(int(label[1:]) for label in issued if label.startswith("A")) + 1
