"""Prometheus alert rules: valid (`promtool check rules`), behaving as intended on synthetic series
(`promtool test rules`), and about metrics the hub's web really exports."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

from devtools.broker import free_port
from protocol import topics
from tests.web_harness import WebHub, get, wait_until, write_web_hub_config

RULES = Path(__file__).resolve().parents[1] / "deploy" / "prometheus"


def test_promtool_accepts_the_rules():
    result = subprocess.run(["promtool", "check", "rules", "wartemarke-alerts.yml"], cwd=RULES, capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0 and "SUCCESS: 8 rules found" in result.stdout, result.stdout + result.stderr


def test_the_alerts_fire_when_they_should_and_not_before():
    result = subprocess.run(["promtool", "test", "rules", "wartemarke-alerts.test.yml"], cwd=RULES,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.fixture
def web(tmp_path, shared_broker, topic_office):
    config = write_web_hub_config(tmp_path / "hub", shared_broker.port, topic_office, free_port())
    instance = WebHub.start(config, topic_office, shared_broker.port)
    yield instance
    instance.stop()


def test_the_rules_use_metrics_the_hub_exports(web, shared_broker, recorder_factory, topic_office):
    rec = recorder_factory(shared_broker, [topics.office_tree(topic_office)])
    status = {"v": 1, "online": True, "role": "kiosk", "clock_synced": False, "acked_seq": 7, "outbox_pending": 0,
              "printer": {"online": True, "paper": "low", "detail": "", "sensor": False}}
    rec.publish(topics.device_status(topic_office, "kiosk-1"), json.dumps(status).encode(), retain=True)
    def metrics_with_kiosk() -> str | None:
        body = get(f"{web.url}/metrics").text
        return body if "kiosk-1" in body else None

    text = wait_until(metrics_with_kiosk, what="the kiosk in /metrics")
    labels = f'office="{topic_office}",device="kiosk-1",role="kiosk"'
    assert f"wartemarke_device_online{{{labels}}} 1" in text
    assert f"wartemarke_device_clock_synced{{{labels}}} 0" in text
    assert f'wartemarke_kiosk_paper_state{{{labels},state="low"}} 1' in text
    assert f"wartemarke_kiosk_tickets_acked{{{labels}}} 7" in text
    assert f'wartemarke_office_open{{office="{topic_office}"}} 1' in text
    assert re.search(rf'^wartemarke_hub_duplicate_labels{{office="{topic_office}",device="[^"]+"}} 0$', text, re.M)
    used = set(re.findall(r"\b(wartemarke_[a-z_]+)", (RULES / "wartemarke-alerts.yml").read_text()))
    exported = set(re.findall(r"^# TYPE (\S+)", text, re.M))
    assert used <= exported, used - exported
