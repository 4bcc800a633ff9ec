"""The example inventories, read by Ansible itself: the city example (deploy/inventory/example-city) gives
the central broker its accounts, the web hosts every office and each other as upstreams, and both
examples pass site.yml's inventory check, which refuses a malformed city with a message naming the host."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml  # type: ignore[import-untyped]

from tests.deploy_harness import playbook_filters, render_role_template
from tests.test_broker_acl import acl_grants
from tests.test_deploy_filters import _hosts_of

DEPLOY = Path(__file__).resolve().parents[1] / "deploy"
BIN = Path(sys.executable).parent
FILTERS = playbook_filters()


def inventory(name: str) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """(hostvars, groups) as ansible-inventory reads deploy/inventory/{name}."""
    result = subprocess.run([str(BIN / "ansible-inventory"), "-i", str(DEPLOY / "inventory" / name / "hosts.yml"),
                             "--list"], capture_output=True, text=True, check=True, timeout=120)
    data = json.loads(result.stdout)
    return data["_meta"]["hostvars"], {group: _hosts_of(data, group) for group in data if group != "_meta"}


def test_the_example_city_gives_every_bridge_and_replica_its_account() -> None:
    hostvars, groups = inventory("example-city")
    accounts = FILTERS["wartemarke_central_accounts"](hostvars, groups)
    assert accounts == [
        {"name": "mitte-hub-bridge", "role": "bridge", "hub": "mitte-hub", "office": "buergerbuero-mitte"},
        {"name": "nord-hub-bridge", "role": "bridge", "hub": "nord-hub", "office": "buergerbuero-nord"},
        {"name": "web-1", "role": "replica"}, {"name": "web-2", "role": "replica"},
        {"name": "web-1-archive", "role": "archive"}]  # the daily archive runs on the first web host
    grants = acl_grants(render_role_template("central", "acl.j2", {"accounts": accounts}))
    assert "write wartemarke/v1/buergerbuero-nord/queue" in grants["nord-hub-bridge"]
    assert not [g for g in grants["nord-hub-bridge"] if "mitte" in g]
    assert grants["web-1-archive"] == {"read wartemarke/v1/+/info", "read wartemarke/v1/+/queue",
                                       "write wartemarke/v1/+/device/web-1-archive/status"}  # no tickets, no states
    assert FILTERS["wartemarke_city_offices"](hostvars, groups) == ["buergerbuero-mitte", "buergerbuero-nord"]
    assert FILTERS["wartemarke_web_replicas"](hostvars, groups, 8080) == ["10.20.0.11:8080", "10.20.0.12:8080"]
    # No web host of the city belongs to an office's broker.
    assert [d["name"] for d in FILTERS["wartemarke_broker_devices"](hostvars, groups, "nord-hub")] == [
        "nord-hub", "nord-hub-web", "nord-display-1", "nord-kiosk-1"]


def test_several_web_hosts_need_their_private_addresses() -> None:
    hostvars = {"web-1": {"web_replica_address": "10.0.0.1"}, "web-2": {}}
    with pytest.raises(FILTERS["wartemarke_web_replicas"].__globals__["DeployError"], match="host web-2"):
        FILTERS["wartemarke_web_replicas"](hostvars, {"web": ["web-1", "web-2"]}, 8080)
    assert FILTERS["wartemarke_web_replicas"]({"web-1": {}}, {"web": ["web-1"]}, 8080) == ["127.0.0.1:8080"]


def check_play(inventory_path: Path) -> subprocess.CompletedProcess[str]:
    """site.yml's first play (tag `always`) against an inventory; no host is contacted."""
    env = {**os.environ, "ANSIBLE_CONFIG": str(DEPLOY / "ansible.cfg"), "ANSIBLE_GATHERING": "explicit",
           "ANSIBLE_NOCOLOR": "1", "PATH": f"{BIN}:{os.environ['PATH']}"}
    return subprocess.run([str(BIN / "ansible-playbook"), "-i", str(inventory_path), "site.yml", "--tags", "always",
                           "-e", "ansible_connection=local"], cwd=DEPLOY, env=env, capture_output=True, text=True,
                          timeout=300, check=False)


@pytest.mark.parametrize("name", ["example", "example-city"])
def test_both_examples_pass_the_inventory_check(name: str) -> None:
    result = check_play(DEPLOY / "inventory" / name / "hosts.yml")
    assert result.returncode == 0, result.stdout[-3000:]


def minimal_city() -> dict[str, Any]:
    return {"all": {
        "vars": {"wartemarke_central_address": "central.test"},
        "children": {
            "central": {"hosts": {"central-1": {}}},
            "office_a": {"vars": {"wartemarke_office": "a", "wartemarke_hub_host": "a-hub"},
                         "children": {"hub": {"hosts": {"a-hub": {}}}}},
            "web": {"hosts": {"web-1": {}}},
        }}}


@pytest.mark.parametrize(("change", "message"), [
    (lambda inv: None, ""),  # the control: as it is, the minimal city passes
    (lambda inv: inv["all"]["children"]["web"]["hosts"]["web-1"].update(wartemarke_hub_host="a-hub"),
     "web-1: a city has exactly one host in the central group"),
    (lambda inv: inv["all"]["children"]["central"]["hosts"].update({"central-2": {}}),
     "a city has exactly one host in the central group (now ['central-1', 'central-2'])"),
    (lambda inv: inv["all"]["vars"].pop("wartemarke_central_address"), "wartemarke_central_address"),
    (lambda inv: inv["all"]["children"]["central"]["hosts"].update({"web-1": {}}),
     "web-1: put the host into exactly one of the groups central, hub, kiosk, display, web"),
])
def test_the_inventory_check_refuses_a_malformed_city(tmp_path: Path, change: Any, message: str) -> None:
    city = minimal_city()
    change(city)
    path = tmp_path / "hosts.yml"
    path.write_text(yaml.safe_dump(city))
    result = check_play(path)
    if not message:
        assert result.returncode == 0, result.stdout[-3000:]
        return
    assert result.returncode != 0 and message in " ".join(result.stdout.split()), result.stdout[-3000:]


def test_the_playbook_gives_each_city_office_its_location_for_shorter_wait_nearby(tmp_path: Path) -> None:
    """"Shorter wait nearby" compares only offices with a location (`[[offices]] latitude`/`longitude`):
    the hub.toml the playbook writes for the example city's offices has it, read by the hub's own loader."""
    from hub.config import load_hub_config

    hostvars, _ = inventory("example-city")
    places = {}
    for hub in ("mitte-hub", "nord-hub"):
        variables = {**hostvars[hub], "inventory_hostname": hub, "ansible_managed": "test", "broker_local_port": 1883,
                     "groups": {"kiosk": [], "display": [], "hub": [hub]}}
        text = render_role_template("hub", "hub.toml.j2", {**variables, "hostvars": {hub: variables}})
        path = tmp_path / f"{hub}.toml"
        path.write_text(text.replace("/etc/wartemarke/", f"{tmp_path}/"), encoding="utf-8")
        (tmp_path / "broker-password").write_text("secret\n", encoding="utf-8")
        office = load_hub_config(path, other_tables=("web",)).offices[0]  # [web] is the hub process's to read
        places[office.id] = office.location
    assert places["buergerbuero-mitte"] == (48.7758, 9.1829)
    assert places["buergerbuero-nord"] == (48.801, 9.183)
