"""The notifier's deployment (issue 15) as the playbook's filters and templates make it: off unless the
inventory sets `wartemarke_notifier`; then on the first web host, with a read-only account for exactly
the ticket views (on the real central broker of a city, or on the office's broker without one), its
notifier.toml accepted by the notifier's own validation, /push/ in every web host's nginx and the
button's `push_url` in every replica's web.toml. `make test-deploy` applies it to real roots."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from devtools.office_ca import make_office_ca
from process.config import ConfigSection
from protocol import topics
from tests.city_harness import CITY, bridge_account, city_inventory, start_central
from tests.deploy_harness import NOT_AUTHORIZED, playbook_filters, render_role_template
from tests.test_broker_acl import OfficeBroker, acl_grants, before_marker, marker, topics_of
from tests.test_city_inventory import inventory
from web.config import read_web_settings

FILTERS = playbook_filters()
OST = "t-ost"


def city(notifier: bool) -> tuple[dict[str, Any], dict[str, list[str]]]:
    web_1 = {"web_replica_address": "10.0.0.1", **({"wartemarke_notifier": True} if notifier else {})}
    return city_inventory(replicas={"web-1": web_1, "web-2": {"web_replica_address": "10.0.0.2"}})


def web_variables(host: str, notifier: bool, **overrides: Any) -> dict[str, Any]:
    hostvars, groups = city(notifier)
    return {"hostvars": hostvars, "groups": groups, "inventory_hostname": host, "wartemarke_city": True,
            "wartemarke_central_address": "central.test", "wartemarke_central_port": 8883,
            "web_replica_address": hostvars[host]["web_replica_address"], "wartemarke_public_url": "https://warte.test",
            "wartemarke_operator": "Teststadt", "wartemarke_privacy_url": "/datenschutz",
            "wartemarke_imprint_url": "/impressum", "ansible_managed": "test", "web_tls_certificate": "/c",
            "web_tls_key": "/k", "web_notifier_vapid_subject": "mailto:betrieb@warte.test", **overrides}


def test_without_wartemarke_notifier_there_is_no_notifier() -> None:
    hostvars, groups = city(notifier=False)
    assert FILTERS["wartemarke_notifier_host"](hostvars, groups) == ""
    assert "notifier" not in {a["role"] for a in FILTERS["wartemarke_central_accounts"](hostvars, groups)}
    for host in groups["web"]:
        assert "push_url" not in render_role_template("web", "web.toml.j2", web_variables(host, False))
        site = render_role_template("web", "nginx-wartemarke.conf.j2", web_variables(host, False))
        assert "location /push/" not in site


def test_in_a_city_the_first_web_host_runs_it_and_every_web_host_points_at_it(tmp_path: Path) -> None:
    hostvars, groups = city(notifier=True)
    assert FILTERS["wartemarke_notifier_host"](hostvars, groups) == "web-1"
    accounts = FILTERS["wartemarke_central_accounts"](hostvars, groups)
    assert accounts[-1] == {"name": "web-1-notifier", "role": "notifier"}
    grants = acl_grants(render_role_template("central", "acl.j2", {"accounts": accounts}))
    assert grants["web-1-notifier"] == {"read wartemarke/v1/+/ticket/+",
                                        "write wartemarke/v1/+/device/web-1-notifier/status"}
    for host in groups["web"]:
        web = tomllib.loads(render_role_template("web", "web.toml.j2", web_variables(host, True)))
        assert web["web"]["push_url"] == "/push/v1"
        site = render_role_template("web", "nginx-wartemarke.conf.j2", web_variables(host, True))
        assert "location /push/ {" in site and "proxy_pass http://10.0.0.1:8091;" in site, host
    notifier = render_role_template("web", "notifier.toml.j2", web_variables(
        "web-1", True, web_notifier_proxy="http://proxy.warte.test:3128",
        web_notifier_push_hosts=["fcm.googleapis.com"]))
    config = tomllib.loads(notifier)
    assert config["notifier"]["proxy"] == "http://proxy.warte.test:3128"
    assert config["notifier"]["push_hosts"] == ["fcm.googleapis.com"]
    assert config["notifier"]["offices"] == sorted(CITY)
    assert (config["notifier"]["host"], config["notifier"]["port"]) == ("10.0.0.1", 8091)  # not the archive's 8090
    path = tmp_path / "notifier.toml"
    (tmp_path / "password").write_text("secret\n")
    path.write_text(notifier.replace("/etc/wartemarke/notifier-broker-password", str(tmp_path / "password")))
    checked = subprocess.run([sys.executable, "-m", "notifier", "check-config", "--config", str(path)],
                             capture_output=True, text=True, timeout=60)
    assert checked.returncode == 0 and "valid" in checked.stdout, checked.stderr
    without_proxy = tomllib.loads(render_role_template("web", "notifier.toml.j2", web_variables("web-1", True)))
    assert "proxy" not in without_proxy["notifier"] and "push_hosts" not in without_proxy["notifier"]


@pytest.fixture
def central(tmp_path: Path) -> Iterator[OfficeBroker]:
    hostvars, groups = city(notifier=True)
    accounts = FILTERS["wartemarke_central_accounts"](hostvars, groups)
    broker = start_central(tmp_path / "central", make_office_ca(tmp_path / "ca"), accounts)
    try:
        yield broker
    finally:
        broker.close_probes()
        broker.broker.stop()


def test_the_notifier_account_reads_ticket_views_and_nothing_else_on_the_real_central_broker(
        central: OfficeBroker) -> None:
    bridge = central.connect(bridge_account(CITY[OST]))
    notifier = central.connect("web-1-notifier")
    view = topics.ticket(OST, topics.token_hash("CAIREEYUCULBOGAZDINRYHI6D4"))
    notifier.subscribe(["wartemarke/v1/#"], retained=False)
    for topic in (topics.queue(OST), topics.info(OST), topics.history(OST)):
        assert not bridge.publish(topic, b"{}").is_failure
    end = marker()
    assert not bridge.publish(view, end).is_failure
    assert topics_of(before_marker(notifier, end)) == set(), "the notifier reads nothing but ticket views"
    assert notifier.publish(topics.queue(OST)).value == NOT_AUTHORIZED
    assert notifier.publish(view).value == NOT_AUTHORIZED
    assert not notifier.publish(topics.device_status(OST, "web-1-notifier")).is_failure


def test_an_office_without_a_city_gives_it_an_account_on_its_own_broker() -> None:
    hostvars, groups = inventory("example")
    hostvars["web-1"] = {**hostvars["web-1"], "wartemarke_notifier": True}
    devices = FILTERS["wartemarke_broker_devices"](hostvars, groups, "mitte-hub")
    assert devices[-1] == {"name": "web-1-notifier", "role": "notifier", "offices": ["buergerbuero-mitte"]}
    offices = [{"id": "buergerbuero-mitte"}]
    grants = acl_grants(render_role_template("broker", "acl.j2", {"offices": offices, "devices": devices}))
    assert grants["web-1-notifier"] == {"deny $SYS/#", "read wartemarke/v1/buergerbuero-mitte/ticket/+",
                                        "write wartemarke/v1/buergerbuero-mitte/device/web-1-notifier/status"}
    # The hub's device page knows it by the inventory's role: hub.toml's `[web] device_roles`, read back by
    # the hub's web (which refused a role it did not know).
    roles = FILTERS["wartemarke_device_roles"](devices)
    section = ConfigSection({"device_roles": tomllib.loads(f"device_roles = {FILTERS['toml'](roles)}")["device_roles"]},
                            Path("hub.toml"), "web")
    assert read_web_settings(section, ("buergerbuero-mitte",), staff=True).device_roles["web-1-notifier"] == "notifier"
