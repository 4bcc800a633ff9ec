"""A small city for tests, built from the deploy templates: a central mosquitto (roles/central) with a
city CA, and office mosquittos (roles/broker) whose bridges log in to it the way the playbook sets them
up in a city (roles/broker/tasks/city.yml): account `{hub}-bridge`, TLS verified against the city CA.

    ca = make_office_ca(tmp / "city-ca", name="wartemarke city CA")
    central = start_central(tmp / "central", ca, central_accounts(CITY))
    office = start_city_office(tmp / "ost", "t-ost", "ost-hub", central)
    observer = central.connect(OBSERVER)            # reads everything on the central broker
    wait_bridge_state(observer, "ost-hub-bridge", b"1")

The central ACL and config are the role's templates with its defaults; the accounts come from the
playbook's own filter (`wartemarke_central_accounts`) over a city inventory given as hostvars/groups.
"""

from __future__ import annotations

import os
import pwd
import re
import secrets
import subprocess
import sys
from pathlib import Path
from typing import Any

from devtools.broker import Broker, BrokerError, free_port
from devtools.office_ca import OfficeCA, make_office_ca
from tests.deploy_harness import (
    MqttProbe,
    playbook_filters,
    render_role_template,
    write_password_file,
)
from tests.test_broker_acl import OfficeBroker, start_office_broker

FILTERS = playbook_filters()
# office id -> its hub (inventory name); the city's two public web hosts.
CITY = {"t-ost": "ost-hub", "t-west": "west-hub"}
REPLICAS = ("web-1", "web-2")
OBSERVER = "test-observer"  # test only: reads every topic of the central broker
OBSERVER_ACL = f"\n# test only\nuser {OBSERVER}\ntopic read #\ntopic read $SYS/broker/connection/+/state\n"


def city_inventory(offices: dict[str, str] = CITY, replicas: dict[str, dict[str, Any]] | None = None,
                   ) -> tuple[dict[str, dict[str, Any]], dict[str, list[str]]]:
    """(hostvars, groups) of a city: one hub per office, the web hosts (with their host variables), a central host."""
    web = replicas if replicas is not None else {name: {} for name in REPLICAS}
    hostvars: dict[str, dict[str, Any]] = {hub: {"wartemarke_office": office} for office, hub in offices.items()}
    hostvars.update({name: dict(variables) for name, variables in web.items()})
    hostvars["central-1"] = {}
    return hostvars, {"hub": sorted(offices.values()), "web": sorted(web), "central": ["central-1"]}


def central_accounts(offices: dict[str, str] = CITY) -> list[dict[str, Any]]:
    hostvars, groups = city_inventory(offices)
    accounts: list[dict[str, Any]] = FILTERS["wartemarke_central_accounts"](hostvars, groups)
    return accounts


def bridge_account(hub: str) -> str:
    account: str = FILTERS["wartemarke_bridge_account"](hub)
    return account


def _user() -> str:
    # As root mosquitto would drop to `mosquitto`, which cannot read the test's tmp dir.
    return pwd.getpwuid(os.geteuid()).pw_name


def start_central(directory: Path, ca: OfficeCA, accounts: list[dict[str, Any]], extra_acl: str = OBSERVER_ACL,
                  **overrides: Any) -> OfficeBroker:
    """The central mosquitto from roles/central's templates, a random password per account (and per
    `user` of `extra_acl`), TLS with `ca`'s server certificate. `.local_port` is 0: there is no plain listener."""
    directory.mkdir(parents=True, exist_ok=True)
    users = [a["name"] for a in accounts] + re.findall(r"^user (\S+)$", extra_acl, re.MULTILINE)
    passwords = {user: secrets.token_urlsafe(18) for user in users}
    write_password_file(directory / "passwd", passwords)
    for attempt in range(3):
        broker = Broker(directory / f"mosquitto-{attempt}", port=free_port())
        variables = {
            "accounts": accounts, "central_user": _user(), "wartemarke_central_address": "localhost",
            "wartemarke_central_port": broker.port, "central_tls_bind_address": "127.0.0.1",
            "central_tls_cafile": str(ca.ca_cert), "central_tls_certfile": str(ca.server_cert),
            "central_tls_keyfile": str(ca.server_key), "central_password_file": str(directory / "passwd"),
            "central_acl_file": str(directory / "acl"), "central_log_dest": [f"file {broker.log_path}"],
            "central_log_types": ["all"], **overrides,
        }
        acl = render_role_template("central", "acl.j2", variables)
        (directory / "acl").write_text(acl + extra_acl, encoding="utf-8")
        config = render_role_template("central", "mosquitto.conf.j2", variables)
        broker.config_path.write_text(config, encoding="utf-8")
        try:
            broker.start()
        except BrokerError as exc:
            if "Address already in use" not in str(exc) or attempt == 2:
                raise
            continue  # another process took the free port in the meantime
        return OfficeBroker(broker, ca, broker.port, 0, passwords, acl, config)
    raise AssertionError("unreachable")


def office_devices(office: str, hub: str) -> list[dict[str, Any]]:
    """The office broker's users: the hub, one kiosk (which sends token-bearing ticket events), the hub's web."""
    return [{"name": hub, "role": "hub", "offices": [office]},
            {"name": f"{hub}-kiosk", "role": "kiosk", "office": office},
            {"name": f"{hub}-web", "role": "web", "offices": [office]}]


def city_bridge(hub: str, central: OfficeBroker, cafile: Path | None = None) -> dict[str, Any]:
    """The bridge settings roles/broker/tasks/city.yml gives an office's broker in a city."""
    account = bridge_account(hub)
    return {"broker_bridge_enabled": True, "broker_bridge_address": f"localhost:{central.tls_port}",
            "broker_bridge_username": account, "broker_bridge_remote_clientid": account,
            "broker_bridge_password": central.passwords[account],
            "broker_bridge_cafile": str(cafile or central.ca.ca_cert)}


def start_city_office(directory: Path, office: str, hub: str, central: OfficeBroker, extra_acl: str = "",
                      cafile: Path | None = None, **overrides: Any) -> OfficeBroker:
    """An office's mosquitto (roles/broker templates, its own office CA) bridged to `central`."""
    ca = make_office_ca(directory / "office-ca", name=f"wartemarke office CA {office}")
    return start_office_broker(directory, office_devices(office, hub), extra_acl=extra_acl, ca=ca,
                               offices=[{"id": office}], inventory_hostname=hub,
                               **{**city_bridge(hub, central, cafile), **overrides})


def bridge_state_topic(hub: str) -> str:
    """mosquitto's notification of the bridge's connection (`1` up, `0` down, retained; `0` is the bridge's
    will at the central broker): `$SYS/broker/connection/{remote_clientid}/state`."""
    return f"$SYS/broker/connection/{bridge_account(hub)}/state"


def wait_bridge_state(observer: MqttProbe, hub: str, state: bytes, since: int = 0, timeout: float = 30.0) -> int:
    return observer.wait_for(lambda t, p: t == bridge_state_topic(hub) and p == state, since, timeout)


def watch_central(central: OfficeBroker) -> MqttProbe:
    """The test observer on the central broker, subscribed to every topic and the bridges' states."""
    observer = central.connect(OBSERVER)
    observer.subscribe(["#", "$SYS/broker/connection/+/state"])
    return observer


def start_program(program: str, config: Path, log: Path) -> subprocess.Popen[bytes]:
    """`program run --config CONFIG` (a wartemarke-* entry point of this venv), its output appended to `log`."""
    with log.open("ab") as out:
        return subprocess.Popen([str(Path(sys.executable).parent / program), "run", "--config", str(config)],
                                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT)


def stop_program(process: subprocess.Popen[Any] | None) -> None:
    """SIGTERM and wait (a clean stop); SIGKILL after 20 s."""
    if process is not None and process.poll() is None:
        process.terminate()
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)
