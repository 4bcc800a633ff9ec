"""Jinja filters of the wartemarke playbook (deploy/site.yml).

- `mosquitto_hash`: a mosquitto 2.x password-file hash ($7$, PBKDF2-SHA512) with a salt derived from a
  stored random string, so the rendered password file is the same on every run (mosquitto_passwd picks a
  new salt each time, which would make every run a change and restart the broker).
- `toml`: one TOML value (string, number, boolean, list, inline table) for the config templates.
- `wartemarke_broker_devices`: the broker users of one hub, read from the inventory, in the form
  roles/broker/templates/acl.j2 expects (see roles/broker/README.md).
- `wartemarke_device_roles`: those users as `{device id: role}`, the hub web's `[web] device_roles`
  (who is who on /devices and in /metrics, never what a device says about itself).
- `subject_alt_names`: names and addresses as a certificate's subjectAltName entries (`IP:192.168.1.2`,
  `DNS:hub.local`), for the broker's and the office web's certificates.
- `wartemarke_city_offices`: the office ids of every hub of the inventory, sorted — what a city's public
  replicas serve.
- `wartemarke_central_accounts`: the central broker's users, one bridge account per hub
  (`wartemarke_bridge_account`: `{hub}-bridge`) and one per public web host, in the form
  roles/central/templates/acl.j2 expects.
- `wartemarke_web_replicas`: `host:port` of every public web host's replica, nginx's upstream servers.
- `wartemarke_notifier_host`: the web host that runs the Web Push notifier (`wartemarke_notifier: true`),
  or '' when there is none; `wartemarke_notifier_account`: its broker username, `{host}-notifier`.
"""

from __future__ import annotations

import base64
import hashlib
import ipaddress
import json
import re
from collections.abc import Mapping
from typing import Any

MOSQUITTO_ITERATIONS = 101  # mosquitto_passwd's default for $7$
_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")


class DeployError(Exception):
    """An inventory value the playbook cannot use; the message names the host and the variable."""


def mosquitto_hash(password: str, salt_seed: str, iterations: int = MOSQUITTO_ITERATIONS) -> str:
    salt = hashlib.sha256(salt_seed.encode()).digest()[:12]
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, iterations, 64)
    return f"$7${iterations}${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}"


def toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)  # a JSON string is a valid TOML basic string
    if isinstance(value, Mapping):
        items = ", ".join(f"{_key(k)} = {toml(v)}" for k, v in value.items())
        return "{ " + items + " }" if items else "{}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(toml(v) for v in value) + "]"
    raise DeployError(f"cannot write {value!r} ({type(value).__name__}) as a TOML value")


def _key(key: Any) -> str:
    text = str(key)
    return text if _BARE_KEY.match(text) else json.dumps(text, ensure_ascii=False)


def wartemarke_broker_devices(hostvars: Mapping[str, Any], groups: Mapping[str, list[str]], hub_host: str,
                              extra_clients: list[dict[str, Any]] | None = None) -> list[dict[str, Any]]:
    """Every inventory host whose `wartemarke_hub_host` is `hub_host`, the hub itself and its web.

    A host's role is its group (kiosk, display, web). The result lists one dict per broker user: name,
    role and office(s) (plus counter for counters).
    """
    role_of = {host: role for role in ("kiosk", "display", "web") for host in groups.get(role, [])}
    hub = hostvars[hub_host]
    hub_name = hub_host  # inventory names are device ids (broker usernames)
    office = _required(hub, hub_host, "wartemarke_office")
    devices: list[dict[str, Any]] = [
        {"name": hub_name, "role": "hub", "offices": [office]},
        {"name": f"{hub_name}-web", "role": "web", "offices": [office]},
    ]
    for host in sorted(hostvars):
        variables = hostvars[host]
        if host == hub_host or variables.get("wartemarke_hub_host") != hub_host:
            continue
        role = role_of.get(host)
        if role in {"kiosk", "display"}:
            devices.append({"name": host, "role": role,
                            "office": _required(variables, host, "wartemarke_office")})
        elif role == "web":
            devices.append({"name": host, "role": "replica",
                            "offices": variables.get("wartemarke_offices") or [office]})
        else:
            raise DeployError(f"host {host} uses hub {hub_host} but is in none of the groups kiosk, display, web")
    notifier = wartemarke_notifier_host(hostvars, groups)
    if notifier and hostvars[notifier].get("wartemarke_hub_host") == hub_host:  # an office without a city
        devices.append({"name": notifier_account(notifier), "role": "notifier",
                        "offices": hostvars[notifier].get("wartemarke_offices") or [office]})
    for client in extra_clients or []:
        devices.append(dict(client))
    return devices


def wartemarke_device_roles(devices: list[dict[str, Any]]) -> dict[str, str]:
    return {str(d["name"]): str(d["role"]) for d in devices}


def _required(variables: Mapping[str, Any], host: str, key: str) -> Any:
    if key not in variables or variables[key] in (None, ""):
        raise DeployError(f"host {host}: inventory variable {key} is not set")
    return variables[key]


def wartemarke_city_offices(hostvars: Mapping[str, Any], groups: Mapping[str, list[str]]) -> list[str]:
    return sorted({str(_required(hostvars[hub], hub, "wartemarke_office")) for hub in groups.get("hub", [])})


def wartemarke_central_accounts(hostvars: Mapping[str, Any], groups: Mapping[str, list[str]],
                                extra_accounts: list[dict[str, Any]] | None = None) -> list[dict[str, Any]]:
    """One account per office bridge (the hub's broker connects as `{hub}-bridge`), per public web host and
    one for the daily archive (`{archive host}-archive`, on the first web host) and, with
    `wartemarke_notifier`, one for the Web Push notifier (`{notifier host}-notifier`, the same host).

    A bridge may publish only its own office's public topics; a replica reads every office; the archive
    reads only the offices' `info` and `queue` (acl.j2).
    """
    accounts: list[dict[str, Any]] = [
        {"name": bridge_account(hub), "role": "bridge", "hub": hub,
         "office": _required(hostvars[hub], hub, "wartemarke_office")}
        for hub in sorted(groups.get("hub", []))
    ]
    accounts += [{"name": web, "role": "replica"} for web in sorted(groups.get("web", []))]
    if groups.get("web"):
        accounts.append({"name": archive_account(wartemarke_archive_host(groups)), "role": "archive"})
    notifier = wartemarke_notifier_host(hostvars, groups)
    if notifier:
        accounts.append({"name": notifier_account(notifier), "role": "notifier"})
    accounts += [dict(account) for account in extra_accounts or []]
    return accounts


def bridge_account(hub: str) -> str:
    """The central broker's username (and client id) of the bridge from `hub`'s office broker."""
    return f"{hub}-bridge"


def wartemarke_archive_host(groups: Mapping[str, list[str]]) -> str:
    """The web host that runs the city's daily archive (`wartemarke-archive`): the first of the `web` group."""
    return sorted(groups.get("web", []))[0] if groups.get("web") else ""


def archive_account(host: str) -> str:
    """The central broker's username (and client id) of the archive on `host`."""
    return f"{host}-archive"


def wartemarke_notifier_host(hostvars: Mapping[str, Any], groups: Mapping[str, list[str]]) -> str:
    """The web host that runs the Web Push notifier (`wartemarke-notifier`): the first of the `web` group
    when the inventory sets `wartemarke_notifier: true` for it (group_vars/all.yml); else ''."""
    host = wartemarke_archive_host(groups)
    enabled = hostvars[host].get("wartemarke_notifier", False) if host else False
    return host if enabled is True or str(enabled).strip().lower() in ("true", "yes", "on", "1") else ""


def notifier_account(host: str) -> str:
    """The broker username (and client id) of the notifier on `host` (central broker, or the office's)."""
    return f"{host}-notifier"


def wartemarke_web_replicas(hostvars: Mapping[str, Any], groups: Mapping[str, list[str]],
                            default_port: int) -> list[str]:
    """`address:port` of the replica on every host of the `web` group (`web_replica_address`,
    `web_replica_port`): every nginx spreads the load over all of them. One web host may keep the
    default 127.0.0.1; with several, each needs the private address the others reach it at."""
    hosts = sorted(groups.get("web", []))
    servers = []
    for host in hosts:
        address = hostvars[host].get("web_replica_address")
        if not address and len(hosts) > 1:
            raise DeployError(f"host {host}: set web_replica_address (its private address): with {len(hosts)} web "
                              "hosts, every host's nginx reaches every replica")
        address = str(address or "127.0.0.1")
        port = int(hostvars[host].get("web_replica_port") or default_port)
        servers.append(f"[{address}]:{port}" if ":" in address else f"{address}:{port}")
    return servers


def subject_alt_names(names: list[str]) -> list[str]:
    entries = []
    for name in names:
        try:
            entries.append(f"IP:{ipaddress.ip_address(name)}")
        except ValueError:
            entries.append(f"DNS:{name}")
    return entries


class FilterModule:
    """Ansible's entry point for filter plugins."""

    def filters(self) -> dict[str, Any]:
        return {
            "mosquitto_hash": mosquitto_hash,
            "subject_alt_names": subject_alt_names,
            "toml": toml,
            "wartemarke_archive_account": archive_account,
            "wartemarke_archive_host": wartemarke_archive_host,
            "wartemarke_bridge_account": bridge_account,
            "wartemarke_broker_devices": wartemarke_broker_devices,
            "wartemarke_central_accounts": wartemarke_central_accounts,
            "wartemarke_city_offices": wartemarke_city_offices,
            "wartemarke_device_roles": wartemarke_device_roles,
            "wartemarke_notifier_account": notifier_account,
            "wartemarke_notifier_host": wartemarke_notifier_host,
            "wartemarke_web_replicas": wartemarke_web_replicas,
        }
