"""Who speaks for whom (issue 10, finding 8): a device's status topic says who it is, never its payload.

A kiosk that publishes `role: "hub", online: false` on its own status topic must not make the clerk
page say the hub is offline, nor appear as the hub on /devices or in /metrics; the roles come from the
inventory (`[web] device_roles`) and the hub named in its own `info`. /metrics stays valid exposition
text (checked with `promtool check metrics`) whatever a device id or a payload holds. The display's
side of this is in tests/test_display.py (test_only_the_hub_named_in_info_can_say_the_hub_is_offline).
"""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Iterator
from typing import Any

import pytest

from devtools.broker import free_port
from hubprocess.config import load_hub_process_config
from protocol import topics
from tests.staff_harness import Browser, add_users, counter_path
from tests.web_harness import WebHub, get, wait_until, write_web_hub_config
from web.metrics import sample

INVENTORY = 'device_roles = { hub-test = "hub", hub-test-web = "web", kiosk-1 = "kiosk", display-1 = "display" }'
FORGED_ROLE = 'kiosk",device="hub-test",role="hub"} 0\nwartemarke_device_online{office="x",device="y",role="hub'
HUB_OFFLINE = "The hub is offline"
SAMPLE_RE = re.compile(r'^(\w+)\{((?:\w+="(?:[^"\\]|\\.)*",?)*)\} (\S+)$')
LABEL_RE = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')


def start(tmp_path: Any, broker: Any, office: str, extra_web: str = "") -> WebHub:
    config = write_web_hub_config(tmp_path, broker.port, office, free_port(), extra_web=extra_web)
    add_users(load_hub_process_config(config).hub.state_dir / "hub.sqlite3")
    return WebHub.start(config, office, broker.port)


@pytest.fixture
def inventoried(tmp_path, shared_broker, topic_office) -> Iterator[WebHub]:
    hub = start(tmp_path, shared_broker, topic_office, extra_web=INVENTORY)
    try:
        yield hub
    finally:
        hub.stop()


def publish_status(rec: Any, office: str, device: str, **fields: Any) -> None:
    # Not topics.device_status(): that builder refuses ids that are not slugs, a broker does not.
    rec.publish(f"{topics.office_root(office)}/device/{device}/status", json.dumps({"v": 1, **fields}).encode(),
                retain=True)


def device_samples(text: str) -> dict[str, dict[str, str]]:
    """device → labels of its wartemarke_device_online sample, unescaped as Prometheus reads them."""
    found = {}
    for line in text.splitlines():
        match = SAMPLE_RE.match(line)
        if match and match.group(1) == "wartemarke_device_online":
            labels = {k: re.sub(r"\\(.)", lambda m: "\n" if m.group(1) == "n" else m.group(1), v)
                      for k, v in LABEL_RE.findall(match.group(2))}
            found[labels["device"]] = labels
    return found


def promtool_accepts(text: str) -> None:
    """`promtool check metrics`: exit 1 and "error while linting: text format parsing error" for text
    Prometheus cannot parse; exit 3 for lint findings only (no HELP lines, naming advice)."""
    result = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True, text=True,
                            timeout=60)
    output = result.stdout + result.stderr
    assert result.returncode in (0, 3) and "error" not in output, output


def test_a_kiosk_claiming_to_be_the_hub_speaks_only_for_itself(inventoried, recorder_factory, shared_broker):
    web, office = inventoried, inventoried.office
    rec = recorder_factory(shared_broker, [])
    wait_until(lambda: getattr(web.mirror.office(office).info, "hub", None) == "hub-test", what="info naming the hub")
    publish_status(rec, office, "kiosk-1", online=False, role="hub")
    publish_status(rec, office, "kiosk-2", online=True, role="hub")  # not in the inventory
    wait_until(lambda: "kiosk-2" in web.mirror.office(office).devices, what="the statuses in the mirror")

    supervisor, technician = Browser(web.port), Browser(web.port)
    supervisor.login("sven")
    technician.login("tina")
    assert HUB_OFFLINE not in supervisor.get(counter_path(office)).text
    devices = technician.get("/devices").text
    for device, role in (("kiosk-1", "kiosk"), ("kiosk-2", "unknown"), ("hub-test", "hub")):
        row = re.search(rf'<tr id="device-{office}-{device}">.*?</tr>', devices, re.S)
        assert row is not None and f"<td>{role}</td>" in row.group(0), (device, row)

    metrics = get(f"{web.url}/metrics").text
    promtool_accepts(metrics)
    samples = device_samples(metrics)
    assert samples["kiosk-1"]["role"] == "kiosk" and samples["kiosk-2"]["role"] == "unknown"
    assert samples["hub-test"]["role"] == "hub" and set(samples) == {"hub-test", "hub-test-web", "kiosk-1",
                                                                       "kiosk-2"}
    assert metrics.count("wartemarke_device_online{") == 4

    # The hub's own status topic is what counts, whatever its payload claims.
    publish_status(rec, office, "hub-test", online=False, role="kiosk")
    wait_until(lambda: HUB_OFFLINE in supervisor.get(counter_path(office)).text, what="the hub offline warning")


def test_metrics_stay_valid_exposition_text_for_any_device_id_and_payload(tmp_path, shared_broker,
                                                                          recorder_factory, topic_office):
    web = start(tmp_path, shared_broker, topic_office)  # no inventory: a device's claim, but never "hub"
    try:
        rec = recorder_factory(shared_broker, [])
        evil = 'k"i\\osk} 1 forged 2'  # a topic level may hold quotes, backslashes and spaces
        publish_status(rec, topic_office, evil, online=True, role="kiosk", clock_synced=True,
                       printer={"paper": 'low"} 1\n'})
        # counters that are not integers in range: the contract drops the status (/metrics never sees them)
        publish_status(rec, topic_office, "kiosk-5", online=True, role="kiosk", acked_seq=True)
        publish_status(rec, topic_office, "kiosk-6", online=True, role="kiosk", outbox_pending="3\nforged_total 1")
        publish_status(rec, topic_office, "kiosk-7", online=True, role="kiosk", acked_seq=10**400)
        publish_status(rec, topic_office, "kiosk-8", online=True, role=FORGED_ROLE)  # not a role: dropped
        publish_status(rec, topic_office, "kiosk-9", online=False, role="hub")
        wait_until(lambda: "kiosk-9" in web.mirror.office(topic_office).devices, what="the statuses")
        reply = get(f"{web.url}/metrics")
        assert reply.status == 200
        metrics = reply.text
        promtool_accepts(metrics)
        samples = device_samples(metrics)
        assert samples[evil]["role"] == "kiosk" and samples["kiosk-9"]["role"] == "unknown"
        assert not {"kiosk-5", "kiosk-6", "kiosk-7", "kiosk-8", "y"} & set(samples)
        assert samples["hub-test"]["role"] == "hub"  # named by the hub's info
        assert "forged" not in "".join(line for line in metrics.splitlines() if not line.startswith("wartemarke_"))
        assert not re.search(r"^forged", metrics, re.M)
        assert "wartemarke_kiosk_tickets_acked{" not in metrics
        assert sample("x", "", 10**400) == [] and sample("x", "", True) == [] and sample("x", "", 3) == ["x 3"]
    finally:
        web.stop()

