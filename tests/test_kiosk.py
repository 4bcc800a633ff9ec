"""The kiosk in one process: mock pins, a file or dummy printer, a real mosquitto, a real SQLite file."""

from __future__ import annotations

import json
import logging
from datetime import UTC, date, datetime, timedelta

import pytest
import zxingcpp
from PIL import Image

from devtools.kiosk_harness import (
    FAST_A,
    TRACKING_URL,
    events,
    hold_technician,
    press,
    printed_files,
    start_kiosk,
    write_config,
)
from kiosk.cli import main as kiosk_main
from kiosk.panel import LedPattern
from kiosk.printer.memory import MemoryPrinter
from protocol import topics
from protocol.fields import encode_object
from protocol.messages import Ack, QueueState, ServiceQueue
from tests.test_ticket_render import native_qr_payloads


def queue_payload(day: date, issuing_a: bool = True, waiting: int = 4, at: datetime | None = None,
                  wait_range: tuple[int, int] | None = None) -> bytes:
    services = (ServiceQueue("A", waiting, waiting * 5, issuing_a, None if issuing_a else "quota",
                             "green" if issuing_a else "red", wait_range_min=wait_range),
                ServiceQueue("P", 1, 3, True, None, "green"))
    return encode_object(QueueState(day=day, at=at or datetime.now(UTC), services=services).to_dict())


def kiosk_today(kiosk) -> date:
    day: date = kiosk.current_day()
    return day


@pytest.fixture
def rec(shared_broker, recorder_factory, topic_office):
    return recorder_factory(shared_broker, [topics.office_tree(topic_office)])


@pytest.fixture
def kiosk(tmp_path, shared_broker, topic_office, rec):
    k = start_kiosk(write_config(tmp_path, shared_broker.port, topic_office))
    assert k.ready.wait(10), "fresh kiosk did not start numbering"
    yield k
    k.stop()


def ack(rec, office: str, seq: int, day: date, last: dict[str, int], device: str = "kiosk-1") -> None:
    rec.publish(topics.kiosk_ack(office, device), encode_object(Ack(seq, day, last).to_dict()), retain=True)


def test_press_prints_label_and_native_qr_of_the_tracking_link_and_delivers_the_event(kiosk, rec, tmp_path,
                                                                                      topic_office):
    press(kiosk, "A")
    assert kiosk.wait_handled(1, 10)
    [ticket_file] = printed_files(tmp_path)
    data = ticket_file.read_bytes()
    assert b"A001" in data and ticket_file.name.endswith("-A001.escpos")
    event = rec.wait_for_json(topics.kiosk_ticket(topic_office, "kiosk-1"))
    assert event["type"] == "ticket.issued" and event["label"] == "A001" and event["seq"] == 1
    assert native_qr_payloads(data) == [(TRACKING_URL + event["token"]).upper().encode()]
    assert len(data) < 1024
    assert len(event["token"]) >= 26  # ≥ 128 bits of base32
    # the hub acknowledges → the outbox entry is deleted
    ack(rec, topic_office, 1, kiosk_today(kiosk), {"A": 1})
    rec.wait_for_json(topics.device_status(topic_office, "kiosk-1"), lambda s: s.get("outbox_pending") == 0
                      and s.get("acked_seq") == 1)  # acked_seq 1 only exists after this ack
    assert kiosk.store.pending_count() == 0


def test_preview_png_qr_decodes_to_the_tracking_link(tmp_path, shared_broker, topic_office, capsys):
    config = write_config(tmp_path, shared_broker.port, topic_office)
    out = tmp_path / "ticket.png"
    assert kiosk_main(["preview", "--config", str(config), "--out", str(out)]) == 0
    [barcode] = zxingcpp.read_barcodes(Image.open(out))
    assert barcode.text.startswith(TRACKING_URL.upper()) and len(barcode.text) == len(TRACKING_URL) + 26


def test_repeated_press_is_dropped_but_other_buttons_queue_behind_printing(kiosk, rec, tmp_path, topic_office):
    press(kiosk, "A")
    press(kiosk, "A")  # a bounce or an impatient second press: within min_interval_s
    press(kiosk, "P")  # someone else, while A001 prints: queued, not lost
    assert kiosk.wait_handled(3, 10)
    assert [p.name.split("-", 1)[1] for p in printed_files(tmp_path)] == ["A001.escpos", "P001.escpos"]
    events = {lab: rec.wait_for_json(topics.kiosk_ticket(topic_office, "kiosk-1"), lambda e, lab=lab: e["label"] == lab)
              for lab in ("A001", "P001")}
    # No hub acks here: A001 is still in the outbox when P001 goes out, and the event says so.
    assert [events[lab]["pending_from"] for lab in ("A001", "P001")] == [1, 1]


def test_held_technician_button_prints_a_status_ticket(kiosk, tmp_path):
    hold_technician(kiosk)
    assert kiosk.wait_handled(1, 10)
    [status] = printed_files(tmp_path)
    assert status.name.endswith("-status.escpos") and b"kiosk-1" in status.read_bytes()


def test_closed_service_prints_a_slip_uses_no_number_and_reopens(kiosk, rec, tmp_path, topic_office):
    mark = rec.mark()
    rec.publish(topics.queue(topic_office), queue_payload(kiosk_today(kiosk), issuing_a=False), retain=True)
    status = rec.wait_for_json(topics.device_status(topic_office, "kiosk-1"),
                               lambda s: s.get("issuing", {}).get("A") is False, since=mark)
    assert status["hub_reachable"] is True
    assert not kiosk.panel.lights["A"].value and kiosk.panel.lights["P"].value
    press(kiosk, "A")
    assert kiosk.wait_handled(1, 10)
    [slip] = printed_files(tmp_path)
    assert slip.name.endswith("-slip-A.escpos") and b"Heute keine Wartemarken" in slip.read_bytes()
    assert events(rec, topic_office) == []
    mark = rec.mark()
    rec.publish(topics.queue(topic_office), queue_payload(kiosk_today(kiosk), issuing_a=True), retain=True)
    rec.wait_for_json(topics.device_status(topic_office, "kiosk-1"), lambda s: s.get("issuing", {}).get("A"),
                      since=mark)
    assert kiosk.panel.lights["A"].value
    kiosk._last_accepted.clear()  # the citizen came back later than min_interval_s
    press(kiosk, "A")
    assert kiosk.wait_handled(2, 10)
    assert rec.wait_for_json(topics.kiosk_ticket(topic_office, "kiosk-1"))["label"] == "A001"


def test_ticket_shows_queue_position_from_fresh_hub_state(kiosk, rec, tmp_path, topic_office):
    mark = rec.mark()
    rec.publish(topics.queue(topic_office), queue_payload(kiosk_today(kiosk), waiting=7), retain=True)
    rec.wait_for_json(topics.device_status(topic_office, "kiosk-1"), lambda s: s.get("hub_reachable"), since=mark)
    assert kiosk.panel.pattern == LedPattern.READY
    press(kiosk, "A")
    assert kiosk.wait_handled(1, 10)
    assert "Vor Ihnen: 7".encode("cp858") in printed_files(tmp_path)[0].read_bytes()


def test_ticket_prints_the_wait_as_a_range(kiosk, rec, tmp_path, topic_office):
    mark = rec.mark()
    rec.publish(topics.queue(topic_office), queue_payload(kiosk_today(kiosk), waiting=7, wait_range=(27, 41)),
                retain=True)
    rec.wait_for_json(topics.device_status(topic_office, "kiosk-1"), lambda s: s.get("hub_reachable"), since=mark)
    press(kiosk, "A")
    assert kiosk.wait_handled(1, 10)
    printed = printed_files(tmp_path)[0].read_bytes()
    assert "Vor Ihnen: 7 · ca. 25-45 Min.".encode("cp858") in printed  # 27–41 rounded outwards to 5 min
    assert b"approx. 25-45 min" in printed


def test_yesterdays_and_malformed_queue_state_are_ignored_with_a_log_line(tmp_path, shared_broker, rec, topic_office,
                                                                         caplog):
    from kiosk.config import load_kiosk_config
    from protocol.businessday import local_business_day

    caplog.set_level(logging.INFO)
    path = write_config(tmp_path, shared_broker.port, topic_office)
    settings = load_kiosk_config(path)
    today = local_business_day(datetime.now(UTC), settings.timezone, settings.day_reset)  # synced, no live hub
    yesterday = today - timedelta(days=1)
    # Retained, handed over at subscribing: a hub's stored state, maybe old — not a live hub's day.
    rec.publish(topics.queue(topic_office), queue_payload(yesterday, issuing_a=False), retain=True)
    k = start_kiosk(path)
    try:
        assert k.ready.wait(10), "fresh kiosk did not start numbering"
        rec.publish(topics.queue(topic_office), b'{"v":1,"day":"2026-13-01"}', retain=True)
        rec.publish(topics.kiosk_ack(topic_office, "kiosk-1"), b"not json", retain=True)
        rec.wait_for_json(topics.device_status(topic_office, "kiosk-1"), lambda s: s.get("invalid_messages") == 2)
        assert any("ignoring queue state of" in r.message for r in caplog.records)
        assert any("dropped invalid message" in r.message for r in caplog.records)
        assert kiosk_today(k) == today
        press(k, "A")  # yesterday's "not issuing" does not apply today
        assert k.wait_handled(1, 10)
        assert printed_files(tmp_path)[0].name.endswith("-A001.escpos")
    finally:
        k.stop()


def test_print_failure_voids_the_ticket_shows_the_fault_and_recovers(tmp_path, shared_broker, topic_office, rec):
    k = start_kiosk(write_config(tmp_path, shared_broker.port, topic_office, printer="dummy"))
    try:
        assert k.ready.wait(10)
        assert isinstance(k.printer, MemoryPrinter)  # the dummy printer carries the fault injection
        k.printer.fail_next = "paper jam"
        press(k, "A")
        assert k.wait_handled(1, 10)
        voided = rec.wait_for_json(topics.kiosk_ticket(topic_office, "kiosk-1"))
        assert voided["type"] == "ticket.voided" and voided["label"] == "A001" and "paper jam" in voided["reason"]
        assert k.panel.pattern == LedPattern.PRINTER_FAULT
        rec.wait_for_json(topics.device_status(topic_office, "kiosk-1"),
                          lambda s: "paper jam" in (s.get("last_error") or ""))
        mark = rec.mark()
        press(k, "P")  # the printer works again: the next press prints
        assert k.wait_handled(2, 10)
        issued = rec.wait_for_json(topics.kiosk_ticket(topic_office, "kiosk-1"),
                                   lambda e: e["type"] == "ticket.issued")
        assert issued["label"] == "P001" and len(k.printer.printed) == 1
        rec.wait_for_json(topics.device_status(topic_office, "kiosk-1"), lambda s: s.get("last_error") is None,
                          since=mark)
        assert k.panel.pattern != LedPattern.PRINTER_FAULT
    finally:
        k.stop()


def test_missing_printer_is_reported_and_uses_no_number(kiosk, rec, tmp_path, topic_office):
    folder = tmp_path / "printed"
    folder.rmdir()
    folder.write_text("the printer is unplugged")  # the printer's folder is gone
    press(kiosk, "A")
    assert kiosk.wait_handled(1, 10)
    status = rec.wait_for_json(topics.device_status(topic_office, "kiosk-1"),
                               lambda s: s.get("printer", {}).get("online") is False)
    assert "missing or not writable" in status["printer"]["detail"]
    assert kiosk.panel.pattern == LedPattern.PRINTER_FAULT
    assert events(rec, topic_office) == [] and kiosk.store.last_seq() == 0
    folder.unlink()
    folder.mkdir()
    mark = rec.mark()
    rec.wait_for_json(topics.device_status(topic_office, "kiosk-1"),
                      lambda s: s.get("printer", {}).get("online") is True, timeout=15, since=mark)
    kiosk._last_accepted.clear()
    press(kiosk, "A")
    assert kiosk.wait_handled(2, 10)
    assert rec.wait_for_json(topics.kiosk_ticket(topic_office, "kiosk-1"))["label"] == "A001"


def test_fresh_kiosk_resumes_seq_and_numbers_from_the_retained_ack(tmp_path, shared_broker, topic_office, rec):
    config = write_config(tmp_path, shared_broker.port, topic_office)
    k = start_kiosk(config)
    today = k.current_day()
    k.stop()
    (tmp_path / "state" / "kiosk.sqlite3").unlink()  # the SD card died; a replacement gets the same id
    for suffix in ("-wal", "-shm"):
        (tmp_path / "state" / f"kiosk.sqlite3{suffix}").unlink(missing_ok=True)
    ack(rec, topic_office, 41, today, {"A": 17, "P": 3})
    k = start_kiosk(config)
    try:
        assert k.ready.wait(10)
        press(k, "A")
        assert k.wait_handled(1, 10)
        event = rec.wait_for_json(topics.kiosk_ticket(topic_office, "kiosk-1"))
        assert (event["label"], event["seq"], event["pending_from"]) == ("A018", 42, 42)
    finally:
        k.stop()


def test_two_kiosks_interleave_numbers(tmp_path, shared_broker, topic_office, rec):
    kiosks = [start_kiosk(write_config(tmp_path / f"k{i}", shared_broker.port, topic_office, device=f"kiosk-{i}",
                                       numbering=f"kiosk_index = {i}\nkiosk_count = 2")) for i in range(2)]
    try:
        for k in kiosks:
            assert k.ready.wait(10)
            press(k, "A")
            assert k.wait_handled(1, 10)
        labels = {rec.wait_for_json(topics.kiosk_ticket(topic_office, f"kiosk-{i}"))["label"] for i in range(2)}
        assert labels == {"A001", "A002"}
    finally:
        for k in kiosks:
            k.stop()


def test_clean_stop_publishes_offline(tmp_path, shared_broker, topic_office, rec):
    k = start_kiosk(write_config(tmp_path, shared_broker.port, topic_office))
    rec.wait_for_json(topics.device_status(topic_office, "kiosk-1"), lambda s: s["online"])
    k.stop()
    status = rec.wait_for_json(topics.device_status(topic_office, "kiosk-1"), lambda s: not s["online"])
    assert status["role"] == "kiosk"


@pytest.mark.parametrize(("change", "message"), [
    (("tracking_url = \"https://warte.example.org/t/\"", "tracking_url = \"ftp://x\""), "kiosk.tracking_url"),
    (("hold_s = 0.2", "hold_s = 0.2\nhold_seconds = 3"), "technician.hold_seconds': is not a known setting"),
    (("min_interval_s = 2.0", "min_interval_s = \"2\""), "services[0].min_interval_s': expected a number"),
    (("[numbering]", "[numbering]\nkiosk_index = 2"), "numbering.kiosk_index': must be below kiosk_count"),
    (('timezone = "Europe/Berlin"', 'timezone = "Europe/Stutgart"'), "kiosk.timezone': unknown time zone"),
    (('timezone = "Europe/Berlin"', 'timezone = "Europe/Berlin"\nday_reset = "02:30"'), "02:00–03:00"),
    (('id = "A"', 'id = "a"'), "services[0].id'"),
    (("port = ", "port = \"x\" #"), "broker.port': expected an integer"),
    (('booking_url = "https://termin.example.org"', 'booking_url = "https://termin.example.org/\\u001bi\\u001dVA\\nEVIL"'),
     "kiosk.booking_url': must not contain control"),
    (('booking_url = "https://termin.example.org"', 'booking_url = "https://termin.example.org/a b"'),
     "kiosk.booking_url': must be an http(s) URL"),
    (("tracking_url = \"https://warte.example.org/t/\"", "tracking_url = \"https://warte.example.org/\\u001b/\""),
     "kiosk.tracking_url': must not contain control"),
    (('office_name = "Bürgerbüro Test"', 'office_name = "\\u200b"'), "kiosk.office_name': must show something"),
])
def test_config_errors_name_file_and_key(tmp_path, change, message, capsys):
    path = write_config(tmp_path, 1883, "t-config")
    text = path.read_text()
    assert change[0] in text
    path.write_text(text.replace(change[0], change[1], 1))
    assert kiosk_main(["selftest", "--config", str(path)]) == 2
    err = capsys.readouterr().err
    assert str(path) in err and message in err


def test_no_control_character_of_a_text_reaches_the_printer():
    """The last line of defence behind the config check: a text with ESC/POS commands in it is printed
    without its control bytes (review of issue 10, item 10)."""
    from escpos.printer import Dummy

    from kiosk.escpos_render import render_escpos
    from kiosk.ticket import no_tickets_slip

    printer = Dummy()
    render_escpos(no_tickets_slip("Amt", "A", "A", "https://t.example.org/\x1bi\x1dVA\nEVIL", datetime.now(UTC)),
                  printer)
    assert b"\x1bi\x1dVA" not in printer.output and b"https://t.example.org/iVAEVIL\n" in printer.output


def test_status_topic_never_carries_tokens(kiosk, rec, topic_office):
    press(kiosk, "A")
    assert kiosk.wait_handled(1, 10)
    token = rec.wait_for_json(topics.kiosk_ticket(topic_office, "kiosk-1"))["token"]
    for _, payload in rec.messages(topics.device_statuses(topic_office)):
        assert token.encode() not in payload
    assert json.loads(rec.messages(topics.device_statuses(topic_office))[-1][1])["v"] == 1


def test_unsynced_clock_never_moves_the_day_forward_without_the_hub(tmp_path, shared_broker, topic_office, rec):
    from process.clock import FakeClock

    clock = FakeClock(datetime(2026, 11, 25, 9, 0, tzinfo=UTC), synced=True)
    ack(rec, topic_office, 0, date(2026, 11, 25), {})  # the fake clock does not run: resume from an ack
    k = start_kiosk(write_config(tmp_path, shared_broker.port, topic_office), clock=clock)
    try:
        assert k.ready.wait(10)
        assert k.current_day() == date(2026, 11, 25)
        press(k, "A")
        assert k.wait_handled(1, 10)
        clock.set_synced(False)
        clock.advance(86400)  # the clock says tomorrow, but nobody vouches for it
        assert k.current_day() == date(2026, 11, 25)
        clock.advance(-2 * 86400)  # a Pi booting with an old time: never backwards
        assert k.current_day() == date(2026, 11, 25)
        ack(rec, topic_office, 1, date(2026, 11, 26), {})  # the hub says it is the 26th
        rec.wait_for_json(topics.device_status(topic_office, "kiosk-1"), lambda s: s.get("day") == "2026-11-26")
        assert k.current_day() == date(2026, 11, 26)
    finally:
        k.stop()


def test_paper_estimate_without_sensor_reports_low_then_reset_by_technician(tmp_path, shared_broker, topic_office,
                                                                          rec):
    config = write_config(tmp_path, shared_broker.port, topic_office, printer="dummy", services=FAST_A).read_text()
    config = config.replace("status_poll_s = 1",
                            "status_poll_s = 1\nroll_length_tickets = 10\npaper_low_fraction = 0.3")
    path = tmp_path / "kiosk.toml"
    path.write_text(config)
    k = start_kiosk(path)
    try:
        assert k.ready.wait(10)
        mark = rec.mark()
        for n in range(1, 4):
            press(k, "A")
            assert k.wait_handled(n, 10)
        status = rec.wait_for_json(topics.device_status(topic_office, "kiosk-1"),
                                   lambda s: s.get("printer", {}).get("paper") == "low", since=mark)
        assert status["roll_used"] == 3 and status["printer"]["sensor"] is False
    finally:
        k.stop()
    assert kiosk_main(["paper-replaced", "--config", str(path)]) == 0
    k = start_kiosk(path)
    try:
        assert k.health()["roll_used"] == 0 and k.health()["printer"]["paper"] == "ok"
    finally:
        k.stop()


def test_selftest_passes_with_broker_and_printer_and_fails_without_broker(tmp_path, broker, topic_office, capsys):
    path = write_config(tmp_path, broker.port, topic_office)
    assert kiosk_main(["selftest", "--simulate", "--config", str(path)]) in (0, 1)
    out = capsys.readouterr().out
    assert "[PASS] printer" in out and "[PASS] broker" in out and "[PASS] buttons and LED" in out
    assert ("[PASS] clock" in out) == ("all checks passed" in out)  # this machine's clock may be unsynced
    broker.stop()
    text = path.read_text().replace("reconnect_max_s = 1", "reconnect_max_s = 1\nkeepalive_s = 5")
    path.write_text(text)
    from kiosk.config import load_kiosk_config
    from kiosk.selftest import run_selftest

    assert run_selftest(load_kiosk_config(path), simulate=True, broker_timeout_s=2) == 1
    out = capsys.readouterr().out
    assert "[FAIL] broker: no connection to 127.0.0.1" in out
