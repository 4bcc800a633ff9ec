"""`kill -9` of the hub process mid-stream: nothing lost, nothing called twice, state replayed.

A real hub subprocess, an in-process kiosk pressing buttons (its unacked events are re-sent after
each restart) and two clerks pressing "next"; the hub is killed at random moments and restarted.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import uuid
from datetime import UTC, datetime
from pathlib import Path

from devtools.hub_harness import write_hub_config
from devtools.kiosk_harness import FAST_A, press, start_kiosk, write_config
from hub.config import load_hub_config
from hub.counter_cli import send_command
from hub.engine import TicketState
from hub.runtime import OfficeRuntime
from hub.store import HubStore
from process.clock import SystemClock
from protocol import VERSION, topics
from protocol.link import BrokerSettings, MqttLink
from protocol.messages import CommandAnswer, CommandRequest

REPO = Path(__file__).resolve().parents[1]


def start_hub_process(config: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "hubprocess", "run", "--config", str(config)], cwd=REPO,
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})


def test_kill_9_of_the_hub_loses_nothing_and_calls_nothing_twice(tmp_path, broker, recorder_factory, topic_office):
    rng = random.Random(4711)
    rec = recorder_factory(broker, [topics.office_tree(topic_office)])
    hub_config = write_hub_config(tmp_path / "hub", broker.port, topic_office, counters=2, tick_s=0.5)
    kiosk = start_kiosk(write_config(tmp_path / "kiosk", broker.port, topic_office, services=FAST_A))
    clerk = MqttLink(BrokerSettings(port=broker.port), topic_office, "clerk-crash", "cli", VERSION, SystemClock(),
                     availability=False)
    clerk.start()
    answered: list[tuple[str, CommandAnswer]] = []
    presses = 0
    hub = start_hub_process(hub_config)
    try:
        assert kiosk.ready.wait(10)
        for _ in range(6):
            rec.wait_for_json(topics.device_status(topic_office, "hub-test"), lambda s: s["online"], timeout=20)
            done = threading.Event()

            def clerks(done=done) -> None:
                while not done.is_set():
                    counter = rng.choice(["platz-1", "platz-2"])
                    request = CommandRequest(uuid.uuid4().hex, "next")
                    answer = send_command(clerk, topic_office, counter, request, timeout_s=1.0)
                    if answer is not None:
                        answered.append((request.id, answer))

            worker = threading.Thread(target=clerks)
            worker.start()
            for _ in range(rng.randint(2, 6)):
                presses += 1
                press(kiosk, "A")
                assert kiosk.wait_handled(presses, 10)
            threading.Event().wait(rng.uniform(0.0, 0.3))
            hub.send_signal(signal.SIGKILL)
            hub.wait(10)
            done.set()
            worker.join(15)
            mark = rec.mark()
            hub = start_hub_process(hub_config)
            rec.wait_for_json(topics.device_status(topic_office, "hub-test"), lambda s: s["online"], since=mark,
                              timeout=20)
        # a last undisturbed stretch: the kiosk's outbox drains into the hub
        rec.wait_for_json(topics.device_status(topic_office, "kiosk-1"),
                          lambda s: s.get("outbox_pending") == 0 and s.get("acked_seq") == presses, timeout=30)
    finally:
        hub.send_signal(signal.SIGTERM)
        hub.wait(15)
        kiosk.stop()
        clerk.stop()
    # The hub's durable state, replayed exactly as a restarted hub does:
    config = load_hub_config(hub_config)
    store = HubStore(config.state_dir / "hub.sqlite3")
    runtime = OfficeRuntime(config.offices[0], store)
    runtime.start(datetime.now(UTC))
    tickets = runtime.engine.tickets.values()
    assert len(tickets) == presses, "every printed ticket reached the hub exactly once"
    assert len({t.label for t in tickets}) == presses
    called = [a.label for _, a in answered if a.ok]
    assert len(called) == len(set(called)), f"a ticket was called twice: {called}"
    in_db = {t.label for t in tickets if t.state in (TicketState.CALLED, TicketState.DONE)}
    assert set(called) <= in_db, "an answered call was lost in the crash"
    counters = [t.counter for t in tickets if t.state == TicketState.CALLED]
    assert len(counters) == len(set(counters)), "a counter serves two tickets at once"
    store.close()
