"""The hub's process against hostile and mistaken neighbours, through the real `wartemarke-hub run`
process and a real mosquitto (review of issues 10/11, items 14 and 16):

- a flood of invalid MQTT messages is logged once per sender and interval, with a count, and the hub
  keeps serving;
- a second hub started with the same config refuses to start with one clear line, before it opens the
  database or connects to the broker — the running hub is never thrown off the broker.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from datetime import date
from pathlib import Path

from devtools.broker import Recorder
from devtools.hub_harness import issued, payload, write_hub_config
from hub.counter_cli import send_command
from protocol import topics
from protocol.messages import CommandRequest
from tests.fault_harness import clerk_link

REPO = Path(__file__).resolve().parents[1]


class HubProcess:
    """`python -m hubprocess run` with its stderr (the log) in a file."""

    def __init__(self, config: Path, log: Path) -> None:
        self.log = log
        self._out = log.open("wb")
        self.proc = subprocess.Popen([sys.executable, "-m", "hubprocess", "run", "--config", str(config)], cwd=REPO,
                                     stdin=subprocess.DEVNULL, stdout=self._out, stderr=subprocess.STDOUT,
                                     env={**os.environ, "PYTHONUNBUFFERED": "1"})

    def text(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self._out.close()


def online(rec: Recorder, office: str, since: int = 0) -> None:
    rec.wait_for_json(topics.device_status(office, "hub-test"), lambda s: bool(s["online"]), since=since,
                             timeout=30)


def test_a_flood_of_invalid_messages_is_logged_in_a_few_lines_and_the_hub_keeps_serving(
        tmp_path, broker, topic_office, recorder_factory):
    rec = recorder_factory(broker, [topics.office_tree(topic_office)])
    hub = HubProcess(write_hub_config(tmp_path, broker.port, topic_office), tmp_path / "hub.log")
    clerk = clerk_link(broker.port, topic_office)
    try:
        online(rec, topic_office)
        day = date.fromisoformat(rec.wait_for_json(topics.queue(topic_office), lambda q: True)["day"])
        before = hub.text().count("\n")
        bad = [b"not json", b'{"v": 1, "type": "ticket.issued"}', b'{"v": 2}', b"\xff\xfe"]
        infos = [rec.client.publish(topics.kiosk_ticket(topic_office, "kiosk-2"), bad[n % len(bad)], qos=1)
                 for n in range(2000)]  # kiosk-2 gone mad: 2,000 invalid events on its own topic, in order
        infos[-1].wait_for_publish(60)
        mark = rec.mark()
        rec.publish(topics.kiosk_ticket(topic_office, "kiosk-1"), payload(issued(day, "A001", 1)))
        rec.wait_for_json(topics.kiosk_ack(topic_office, "kiosk-1"), lambda a: a["seq"] == 1, since=mark)
        status = rec.wait_for_json(topics.device_status(topic_office, "hub-test"),
                                   lambda s: s.get("invalid_messages", 0) >= 2000, since=mark, timeout=30)
        assert status["invalid_messages"] == 2000, "every invalid message counted"
        answer = send_command(clerk, topic_office, "platz-1", CommandRequest(uuid.uuid4().hex, "next", {}), 10)
        assert answer is not None and answer.label == "A001", "the hub still serves"
        lines = hub.text().splitlines()[before:]
        about_invalid = [line for line in lines if "invalid" in line or "more like it" in line]
        assert 1 <= len(about_invalid) <= 3, "\n".join(about_invalid[:20])
        assert len(lines) < 30, "\n".join(lines[:40])
        assert "kiosk_ticket of 'kiosk-2'" in about_invalid[0]
    finally:
        clerk.stop()
        hub.stop()


def test_a_second_hub_with_the_same_config_refuses_to_start_and_disturbs_nothing(
        tmp_path, broker, topic_office, recorder_factory):
    rec = recorder_factory(broker, [topics.office_tree(topic_office)])
    config = write_hub_config(tmp_path, broker.port, topic_office)
    first = HubProcess(config, tmp_path / "first.log")
    second: HubProcess | None = None
    clerk = clerk_link(broker.port, topic_office)
    try:
        online(rec, topic_office)
        second = HubProcess(config, tmp_path / "second.log")
        try:
            code = second.proc.wait(30)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"the second hub is running\n{second.text()[-2000:]}") from None
        out = second.text()
        assert code == 1, out
        assert out.count("\n") == 1 and "wartemarke-hub: not starting: another instance is running" in out, out
        assert str(tmp_path / "hub-state" / "hub.lock") in out and str(first.proc.pid) in out, out
        assert "Traceback" not in out
        assert first.proc.poll() is None
        answer = send_command(clerk, topic_office, "platz-1", CommandRequest(uuid.uuid4().hex, "pause", {}), 10)
        assert answer is not None and answer.ok, "the running hub still answers"
        offline = [r for r in rec.records(topics.device_status(topic_office, "hub-test"))
                   if r.payload and not json.loads(r.payload)["online"]]
        assert offline == [], "the running hub was never thrown off the broker"
        assert "lost the broker connection" not in first.text()
    finally:
        clerk.stop()
        if second is not None:
            second.stop()
        first.stop()
