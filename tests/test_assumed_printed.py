"""A kiosk killed between allocating a number and the print's outcome (issue 11 item 8): the ticket is
delivered as issued — the citizen may hold it — but flagged `assumed_printed`, and the hub logs it and
lists it in its status, so a technician can tell a missing citizen from a ticket that never came out.

A real kiosk process prints into a folder; its printer "hangs" because the file it writes is a FIFO
that nobody reads, and then it is killed with -9. The hub runs in this process.
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3

from devtools.hub_harness import write_hub_config
from devtools.kiosk_harness import write_config
from hub.app import Hub
from hub.config import load_hub_config
from process.clock import SystemClock
from protocol import topics
from protocol.messages import DeviceStatus
from tests.test_kiosk_crash import FAST_SERVICES, KioskProcess
from tests.web_harness import wait_until


def allocated(state: sqlite3.Connection) -> int:
    row = state.execute("SELECT value FROM meta WHERE key = 'seq'").fetchone()
    return 0 if row is None else int(row[0])


def test_a_ticket_interrupted_mid_print_is_delivered_as_assumed_printed(tmp_path, broker, topic_office,
                                                                        recorder_factory, caplog):
    caplog.set_level(logging.INFO)
    rec = recorder_factory(broker, [topics.office_tree(topic_office)])
    hub = Hub(load_hub_config(write_hub_config(tmp_path / "hub", broker.port, topic_office)),
              SystemClock(assume_synced=True))
    hub.start()
    config = write_config(tmp_path, broker.port, topic_office, services=FAST_SERVICES)
    kiosk = KioskProcess(config)
    try:
        rec.wait_for_json(topics.device_status(topic_office, "hub-test"), lambda s: s["online"])
        assert kiosk.ready.wait(20), "".join(kiosk.lines[-20:])
        kiosk.press("A")
        assert kiosk.wait_printed(1, 20)
        rec.wait_for_json(topics.kiosk_ack(topic_office, "kiosk-1"), lambda a: a["seq"] == 1)
        os.mkfifo(tmp_path / "printed" / ".00000002-A002.escpos.tmp")  # the printer hangs on the next ticket
        kiosk.press("A")
        with sqlite3.connect(tmp_path / "state" / "kiosk.sqlite3") as state:
            wait_until(lambda: allocated(state) == 2, 20, "A002's number to be allocated")
        kiosk.kill()  # between the allocation's commit and the print's outcome
        (tmp_path / "printed" / ".00000002-A002.escpos.tmp").unlink()
        kiosk = KioskProcess(config)
        assert kiosk.ready.wait(20), "".join(kiosk.lines[-20:])
        rec.wait_for_json(topics.kiosk_ack(topic_office, "kiosk-1"), lambda a: a["seq"] == 2, timeout=20)
        restarted = kiosk.lines
        kiosk.press("A")
        assert kiosk.wait_printed(1, 20)
        kiosk.kill()  # right after a print: that ticket did come out and must not be flagged
        kiosk = KioskProcess(config)
        assert kiosk.ready.wait(20), "".join(kiosk.lines[-20:])
        rec.wait_for_json(topics.kiosk_ack(topic_office, "kiosk-1"), lambda a: a["seq"] == 3, timeout=20)
        status = rec.wait_for_json(topics.device_status(topic_office, "hub-test"),
                                   lambda s: s.get("assumed_printed") == ["A002"])
        assert status["online"]
        from web.devices import device_row  # what the technician's device page shows for the hub

        row = device_row("hub-test", "hub", DeviceStatus.from_dict(status), None, "en")
        assert any("A002" in note for note in row["notes"])
    finally:
        kiosk.terminate()
        hub.stop()
    flags: dict[str, set[bool]] = {}
    for _, data in rec.messages(topics.kiosk_ticket(topic_office, "kiosk-1")):
        event = json.loads(data)
        flags.setdefault(event["label"], set()).add(event.get("assumed_printed", False))
    assert flags == {"A001": {False}, "A002": {True}, "A003": {False}}
    assert any("A002" in line and "stopped before its print finished" in line for line in restarted)
    assert any("ASSUMED printed" in r.message and "A002" in r.message for r in caplog.records)
