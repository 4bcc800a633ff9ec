"""Delivery through outages: broker down, no ack, a broker restarted without persistence."""

from __future__ import annotations

import json

import pytest

from devtools.kiosk_harness import FAST_A, press, printed_files, start_kiosk, write_config
from protocol import topics
from protocol.fields import encode_object
from protocol.messages import Ack


@pytest.fixture
def office_setup(tmp_path, broker, recorder_factory, topic_office):
    config = write_config(tmp_path, broker.port, topic_office, services=FAST_A)
    rec = recorder_factory(broker, [topics.office_tree(topic_office)])
    kiosk = start_kiosk(config)
    assert kiosk.ready.wait(10)
    yield kiosk, rec, topic_office
    kiosk.stop()


def ticket_events(rec, office, since=0):
    return [json.loads(r.payload) for r in rec.records(topics.kiosk_ticket(office, "kiosk-1"))][since:]


def acknowledge(rec, kiosk, office, seq):
    ack = Ack(seq=seq, day=kiosk.current_day(), last={})
    rec.publish(topics.kiosk_ack(office, "kiosk-1"), encode_object(ack.to_dict()), retain=True)


def test_presses_while_the_broker_is_down_all_print_and_arrive_later(office_setup, broker, tmp_path):
    kiosk, rec, office = office_setup
    broker.stop()
    assert rec.wait_disconnected(10)
    for n in range(1, 6):
        press(kiosk, "A")
        assert kiosk.wait_handled(n, 10)
    assert len(printed_files(tmp_path)) == 5  # printing never waits for the network
    broker.start()
    for seq in range(1, 6):
        rec.wait_for_json(topics.kiosk_ticket(office, "kiosk-1"), lambda e, s=seq: e["seq"] == s, timeout=20)
    labels = {e["label"] for e in ticket_events(rec, office)}
    assert labels == {f"A00{n}" for n in range(1, 6)}
    mark = rec.mark()
    acknowledge(rec, kiosk, office, 5)
    rec.wait_for_json(topics.device_status(office, "kiosk-1"), lambda s: s.get("outbox_pending") == 0, since=mark)
    assert kiosk.store.pending_count() == 0


def test_an_unacknowledged_event_is_sent_again(office_setup):
    kiosk, rec, office = office_setup
    press(kiosk, "A")
    assert kiosk.wait_handled(1, 10)
    first = rec.wait_for_json(topics.kiosk_ticket(office, "kiosk-1"))
    mark = rec.mark()
    again = rec.wait_for_json(topics.kiosk_ticket(office, "kiosk-1"), since=mark, timeout=10)
    assert again["id"] == first["id"]  # the same event (same id): the hub dedupes it
    mark = rec.mark()
    acknowledge(rec, kiosk, office, 1)
    rec.wait_for_json(topics.device_status(office, "kiosk-1"), lambda s: s.get("outbox_pending") == 0, since=mark)


def test_a_broker_restarted_without_persistence_loses_nothing(office_setup, broker):
    kiosk, rec, office = office_setup
    for n in range(1, 4):
        press(kiosk, "A")
        assert kiosk.wait_handled(n, 10)
    for seq in range(1, 4):
        rec.wait_for_json(topics.kiosk_ticket(office, "kiosk-1"), lambda e, s=seq: e["seq"] == s)
    acknowledge(rec, kiosk, office, 1)  # the hub had taken only the first before the broker died
    rec.wait_for_json(topics.device_status(office, "kiosk-1"), lambda s: s.get("acked_seq") == 1)
    broker.kill()  # no persistence: retained ack, sessions and queued messages are gone
    broker.start()
    assert rec.wait_ready(10)
    mark = rec.mark()
    for seq in (2, 3):
        rec.wait_for_json(topics.kiosk_ticket(office, "kiosk-1"), lambda e, s=seq: e["seq"] == s, since=mark,
                          timeout=20)
    mark = rec.mark()
    acknowledge(rec, kiosk, office, 3)
    rec.wait_for_json(topics.device_status(office, "kiosk-1"), lambda s: s.get("outbox_pending") == 0, timeout=20,
                      since=mark)
    assert kiosk.store.pending_count() == 0
