"""A light and a buzzer per counter (display/signals.py) on gpiozero's mock pins: a call to a counter
blinks its light and beeps its buzzer, and leaves the other counters' outputs alone."""

from __future__ import annotations

from pathlib import Path

import pytest
from gpiozero.pins.mock import MockFactory

from display.config import load_display_config
from process.config import ConfigError
from protocol import topics
from tests.deploy_harness import render_role_template
from tests.display_harness import DisplayThread, write_display_config
from tests.test_display import calls_payload, today

SIGNALS = """
        [[signals]]
        counter = "platz-1"
        light_pin = 20
        buzzer_pin = 21

        [[signals]]
        counter = "platz-2"
        light_pin = 22
"""


def went_high(factory: MockFactory, pin: int) -> bool:
    return any(state.state for state in factory.pin(pin).states[1:])


def test_a_call_blinks_and_beeps_at_its_counter_only(tmp_path, shared_broker, recorder_factory, topic_office):
    rec = recorder_factory(shared_broker, [topics.office_tree(topic_office)])
    config = write_display_config(tmp_path, shared_broker.port, topic_office)
    config.write_text(config.read_text(encoding="utf-8") + SIGNALS, encoding="utf-8")
    factory = MockFactory()
    display = DisplayThread(config, pin_factory=factory)
    try:
        rec.publish(topics.calls(topic_office), calls_payload(today(), 1, ["A000"]), retain=True)
        display.start()
        assert display.wait(lambda a: a.board.calls_seq == 1)  # what was retained at start is not news
        assert not went_high(factory, 20)
        rec.publish(topics.calls(topic_office), calls_payload(today(), 2, ["A001", "A000"]), retain=True)  # Platz 1
        assert display.wait(lambda a: a.board.calls_seq == 2 and len(display.announcer.announced) == 1)
        assert display.wait(lambda a: went_high(factory, 20) and went_high(factory, 21))  # light and buzzer
        assert not went_high(factory, 22)  # platz-2's light stays dark
    finally:
        display.stop()
        rec.clear_retained(topics.calls(topic_office))


@pytest.mark.parametrize(("table", "message"), [
    ('[[signals]]\ncounter = "platz-1"\n', "needs a light_pin, a buzzer_pin or both"),
    ('[[signals]]\ncounter = "Platz 1"\nlight_pin = 20\n', "signals\\[0\\].counter"),
    ('[[signals]]\ncounter = "platz-1"\nlight_pin = 40\n', "BCM GPIO number"),
])
def test_signal_config_errors_name_the_key(tmp_path, table, message):
    config = write_display_config(tmp_path, 1883, "t-office")
    config.write_text(config.read_text(encoding="utf-8") + table, encoding="utf-8")
    with pytest.raises(ConfigError, match=message):
        load_display_config(config)


def test_the_display_role_writes_the_inventorys_signals_as_the_display_reads_them(tmp_path):
    """`display_signals` in the inventory become [[signals]] tables the display's own reader accepts (the
    playbook validates display.toml with `check-config`, so a template slip would stop every deploy)."""
    text = render_role_template("display", "display.toml.j2", {
        "ansible_managed": "test", "inventory_hostname": "mitte-display-1", "wartemarke_office_name": "Mitte",
        "wartemarke_office": "mitte", "wartemarke_broker_address": "hub.local",
        "display_signals": [{"counter": "platz-1", "light_pin": 20, "buzzer_pin": 21},
                            {"counter": "platz-2", "buzzer_pin": "GPIO22"}]})
    for secret in ("/etc/wartemarke/broker-password", "/etc/wartemarke/office-ca.crt"):  # the host's files
        (tmp_path / Path(secret).name).write_text("x\n", encoding="utf-8")
        text = text.replace(secret, str(tmp_path / Path(secret).name))
    path = tmp_path / "display.toml"
    path.write_text(text, encoding="utf-8")
    signals = load_display_config(path).signals
    expected = [("platz-1", 20, 21), ("platz-2", None, "GPIO22")]
    assert [(s.counter, s.light_pin, s.buzzer_pin) for s in signals] == expected
