"""Two kiosks of one office with the same `kiosk_index` (a misconfiguration) both issue A001: the hub
queues both — two people hold the paper — and says so loudly: an error in its log naming both kiosks
and the label in its status `duplicate_labels`, which the technician's device page shows (review of
issues 10/11, item 15; docs/protocol.md §7). Real mosquitto, a real hub, two real kiosks."""

from __future__ import annotations

import logging

from devtools.hub_harness import write_hub_config
from devtools.kiosk_harness import FAST_A, press, start_kiosk, write_config
from protocol import topics
from protocol.messages import DeviceStatus
from tests.fault_harness import start_hub
from web.devices import device_row
from web.metrics import hub_samples


def test_a_label_issued_twice_is_queued_and_reported(tmp_path, broker, topic_office, recorder_factory, caplog):
    caplog.set_level(logging.INFO)
    rec = recorder_factory(broker, [topics.office_tree(topic_office)])
    hub = start_hub(write_hub_config(tmp_path / "hub", broker.port, topic_office), rec=rec)
    kiosks = [start_kiosk(write_config(tmp_path / device, broker.port, topic_office, device=device, services=FAST_A))
              for device in ("kiosk-1", "kiosk-2")]  # both kiosk_index 0 of kiosk_count 1
    try:
        for kiosk, device in zip(kiosks, ("kiosk-1", "kiosk-2"), strict=True):
            assert kiosk.ready.wait(10)
            press(kiosk, "A")
            assert kiosk.wait_handled(1, 10)
            rec.wait_for_json(topics.kiosk_ack(topic_office, device), lambda a: a["seq"] == 1)
        engine = hub.runtimes[topic_office].engine
        assert [(t.label, t.device) for t in engine.waiting()] == [("A001", "kiosk-1"), ("A001", "kiosk-2")]
        status = rec.wait_for_json(topics.device_status(topic_office, "hub-test"),
                                   lambda s: s.get("duplicate_labels") == ["A001"])
        errors = [r.message for r in caplog.records if r.levelno == logging.ERROR and "DUPLICATE LABEL" in r.message]
        assert len(errors) == 1 and "kiosk-2 issued it, but kiosk-1 already did" in errors[0]
        row = device_row("hub-test", "hub", DeviceStatus.from_dict(status), "Europe/Berlin", "en")
        assert any("A001" in note and "numbering" in note for note in row["notes"])
        metrics = hub_samples(topic_office, "hub-test", DeviceStatus.from_dict(status).health)  # the alert's input
        assert metrics["wartemarke_hub_duplicate_labels"] == [
            f'wartemarke_hub_duplicate_labels{{office="{topic_office}",device="hub-test"}} 1']
    finally:
        for kiosk in kiosks:
            kiosk.stop()
        hub.stop()
