"""The playbook's own Jinja filters (deploy/filter_plugins/wartemarke.py), checked against real parts:
a real mosquitto accepts the password hashes, Python's TOML reader reads the values back, and the
example inventory (read by ansible-inventory itself) yields the broker users the ACL template expects.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import tomllib
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from devtools.broker import Broker
from process.config import ConfigSection
from tests.deploy_harness import MqttProbe, render_broker_template
from web.config import read_web_settings

DEPLOY = Path(__file__).resolve().parents[1] / "deploy"


def load_filters() -> ModuleType:
    spec = importlib.util.spec_from_file_location("wartemarke_filters", DEPLOY / "filter_plugins" / "wartemarke.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


filters = load_filters()


def test_mosquitto_accepts_the_generated_password_hashes(tmp_path: Path) -> None:
    (tmp_path / "passwd").write_text("kiosk-1:" + filters.mosquitto_hash("s3cret-Pass", "salt-seed-kiosk-1") + "\n")
    auth = f"allow_anonymous false\npassword_file {tmp_path / 'passwd'}"
    with Broker(tmp_path / "broker", extra_config=auth) as broker:
        probe = MqttProbe.connect_ok(broker.port, username="kiosk-1", password="s3cret-Pass", tls=False)
        probe.close()
        wrong = MqttProbe(broker.port, username="kiosk-1", password="wrong", tls=False)
        assert wrong.connect().is_failure
        wrong.close()


def test_the_hash_is_stable_and_salted_per_seed() -> None:
    first = filters.mosquitto_hash("pw", "seed-a")
    assert first == filters.mosquitto_hash("pw", "seed-a")  # a second playbook run changes nothing
    assert first != filters.mosquitto_hash("pw", "seed-b")
    assert first.startswith("$7$101$")


@pytest.mark.parametrize("value", [
    "Bürgerbüro \"Mitte\"\n", 3, 2.5, True, ["A", "P"], {"P": 3.0, "mon": ["08:00-12:00"]}, {"x y": {}},
])
def test_toml_values_read_back_unchanged(value: Any) -> None:
    assert tomllib.loads(f"key = {filters.toml(value)}\n")["key"] == value


def test_toml_refuses_what_it_cannot_write() -> None:
    with pytest.raises(filters.DeployError, match="cannot write"):
        filters.toml(None)


def example_inventory() -> dict[str, Any]:
    result = subprocess.run([str(Path(sys.executable).parent / "ansible-inventory"), "-i",
                             str(DEPLOY / "inventory" / "example" / "hosts.yml"), "--list"],
                            capture_output=True, text=True, check=True, timeout=120)
    data: dict[str, Any] = json.loads(result.stdout)
    return data


def test_the_example_inventory_gives_one_broker_user_per_device() -> None:
    data = example_inventory()
    hostvars = data["_meta"]["hostvars"]
    groups = {name: _hosts_of(data, name) for name in data if name != "_meta"}
    devices = filters.wartemarke_broker_devices(hostvars, groups, "mitte-hub")
    assert {d["name"]: d["role"] for d in devices} == {
        "mitte-hub": "hub", "mitte-hub-web": "web", "mitte-kiosk-1": "kiosk", "mitte-kiosk-2": "kiosk",
        "mitte-display-1": "display", "mitte-display-2": "display", "web-1": "replica"}
    # What roles/hub/templates/hub.toml.j2 writes as `[web] device_roles`, read back by the hub's web.
    roles = filters.wartemarke_device_roles(devices)
    section = ConfigSection({"device_roles": tomllib.loads(f"device_roles = {filters.toml(roles)}")["device_roles"]},
                            Path("hub.toml"), "web")
    assert read_web_settings(section, ("buergerbuero-mitte",), staff=True).device_roles == {
        d["name"]: d["role"] for d in devices}
    acl = render_broker_template("acl.j2", {"offices": [{"id": "buergerbuero-mitte"}], "devices": devices})
    assert "user mitte-kiosk-2" in acl
    assert "topic write wartemarke/v1/buergerbuero-mitte/kiosk/mitte-kiosk-2/ticket" in acl


def _hosts_of(data: dict[str, Any], group: str) -> list[str]:
    """The hosts of a group and of its children (ansible-inventory --list nests them)."""
    entry = data.get(group, {})
    hosts = list(entry.get("hosts", []))
    for child in entry.get("children", []):
        hosts.extend(_hosts_of(data, child))
    return hosts


def test_a_device_without_a_role_group_is_named() -> None:
    hostvars = {"hub-1": {"wartemarke_office": "o"}, "stray": {"wartemarke_hub_host": "hub-1"}}
    with pytest.raises(filters.DeployError, match="stray"):
        filters.wartemarke_broker_devices(hostvars, {"hub": ["hub-1"]}, "hub-1")


def test_subject_alt_names_tell_addresses_from_names() -> None:
    assert filters.subject_alt_names(["192.168.10.2", "mitte-hub.local", "fd00::2", "hub"]) == [
        "IP:192.168.10.2", "DNS:mitte-hub.local", "IP:fd00::2", "DNS:hub"]
