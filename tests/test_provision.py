"""`make test-deploy`: deploy/site.yml applied for real to Debian bookworm roots made with debootstrap.

A small city: seven roots (the central broker; office `testamt` with a hub, a kiosk and a display; office
`zweitamt` with a hub; two public web hosts) are copied from a cached base root and provisioned through
Ansible's chroot connection, exactly as a technician's run provisions Pis over SSH, except that nothing
is booted: units are enabled, not started. Then the result is checked from the outside (users, venv,
configs accepted by the processes' own validation, enabled units, nginx -t, the central broker's
accounts and the bridges' credentials), the generated brokers run for real with their generated
credentials, ACLs and TLS, and a button press on the provisioned kiosk shows through the whole chain
(hub, office broker, bridge, central broker, both replicas, nginx), a second run changes nothing, and
an update is rolled back.

The base root is made once per machine (debootstrap, about a minute) in
$WARTEMARKE_DEBOOTSTRAP_CACHE (default /var/cache/wartemarke-test/bookworm-base).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import ssl
import subprocess
import sys
import time
import tomllib
import urllib.error
import urllib.request
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml  # type: ignore[import-untyped]

from devtools.broker import reserved_port
from protocol.businessday import WEEKDAYS
from tests.city_harness import stop_program
from tests.deploy_harness import NOT_AUTHORIZED, MqttProbe

pytestmark = [pytest.mark.provisioning, pytest.mark.timeout(3600)]

REPO = Path(__file__).resolve().parents[1]
DEPLOY = REPO / "deploy"
BIN = Path(sys.executable).parent
BASE = Path(os.environ.get("WARTEMARKE_DEBOOTSTRAP_CACHE", "/var/cache/wartemarke-test/bookworm-base"))
WORK = REPO / "test-artifacts" / "provision"
OFFICE, OFFICE_2 = "testamt", "zweitamt"
HOSTS = {"t-central": "central", "t-hub": "hub", "t-hub-2": "hub", "t-kiosk-1": "kiosk", "t-display-1": "display",
         "t-web-1": "web", "t-web-2": "web"}
SERVICES = {name: role for name, role in HOSTS.items() if role != "central"}  # hosts with a wartemarke service
REPLICA_ADDRESSES = {"t-web-1": "127.0.0.1", "t-web-2": "127.0.0.2"}  # two "hosts" on the loopback network
PORTS = ("tls", "local", "hub_web", "hub_redirect", "tls_2", "local_2", "hub_web_2", "hub_redirect_2", "central",
         "http", "https", "http_2", "https_2", "replica", "replica_2", "notifier")
BASE_PACKAGES = "python3,systemd,systemd-sysv,udev,ca-certificates,sudo,iproute2"


@dataclass
class Office:
    roots: dict[str, Path]
    inventory: Path
    secrets: Path
    ports: dict[str, int]
    first_run_s: float
    first_log: str
    second_log: str


def ensure_base_root() -> float:
    """Make the cached bookworm root once per machine; returns the seconds it took (0 when cached)."""
    if (BASE / "etc" / "debian_version").exists():
        return 0.0
    started = time.monotonic()
    partial = BASE.with_name(BASE.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(["debootstrap", "--variant=minbase", f"--include={BASE_PACKAGES}", "bookworm", str(partial),
                    "http://deb.debian.org/debian"], check=True, stdout=subprocess.DEVNULL, timeout=1800)
    partial.rename(BASE)
    return time.monotonic() - started


def unmount_all(root: Path) -> None:
    for sub in ("dev", "proc"):
        target = root / sub
        subprocess.run(["umount", "-l", str(target)], capture_output=True, check=False)


def prepare_root(root: Path) -> None:
    if root.exists():
        unmount_all(root)
        shutil.rmtree(root)
    subprocess.run(["cp", "-a", str(BASE), str(root)], check=True)
    # As in any image build: package scripts must not start services in the chroot.
    policy = root / "usr" / "sbin" / "policy-rc.d"
    policy.write_text("#!/bin/sh\nexit 101\n")
    policy.chmod(0o755)
    shutil.copy("/etc/resolv.conf", root / "etc" / "resolv.conf")
    subprocess.run(["mount", "-t", "proc", "proc", str(root / "proc")], check=True)
    subprocess.run(["mount", "--bind", "/dev", str(root / "dev")], check=True)


def write_inventory(path: Path, roots: dict[str, Path], secrets: Path, ports: dict[str, int],
                    wheelhouse: Path) -> None:
    example = yaml.safe_load((DEPLOY / "inventory" / "example" / "group_vars" / "office_mitte.yml").read_text())
    every_day = {day: ["00:00-23:59"] for day in WEEKDAYS}

    def office_vars(office: str, name: str, hub: str, suffix: str) -> dict[str, object]:
        return {**example, "wartemarke_office": office, "wartemarke_office_name": name, "wartemarke_hub_host": hub,
                "wartemarke_broker_address": "127.0.0.1", "broker_tls_port": ports["tls" + suffix],
                "broker_local_port": ports["local" + suffix], "time_office_subnets": ["127.0.0.0/8"],
                "wartemarke_hours": every_day}  # every day open, so the hub issues tickets whenever this runs

    def host(name: str, **extra: object) -> dict[str, object]:
        return {"ansible_host": str(roots[name]), **extra}

    def web(name: str, suffix: str) -> dict[str, object]:
        return host(name, web_server_name="warte.test", web_http_port=ports["http" + suffix],
                    web_https_port=ports["https" + suffix], web_replica_address=REPLICA_ADDRESSES[name],
                    web_replica_port=ports["replica" + suffix])

    inventory = {"all": {
        "vars": {
            "ansible_connection": "community.general.chroot",
            "ansible_python_interpreter": "/usr/bin/python3",
            "wartemarke_secrets_dir": str(secrets),
            "release_wheelhouse": str(wheelhouse),
            "wartemarke_public_url": "https://warte.test",
            "wartemarke_operator": "Testkommune",
            "wartemarke_privacy_url": "https://warte.test/datenschutz",
            "wartemarke_imprint_url": "https://warte.test/impressum",
            "wartemarke_central_address": "127.0.0.1",
            "wartemarke_central_port": ports["central"],
            # The Web Push notifier on the first web host (t-web-1), /push/ through every web host's nginx.
            "wartemarke_notifier": True,
            "web_notifier_vapid_subject": "mailto:betrieb@warte.test",
            "web_notifier_port": ports["notifier"],
        },
        "children": {
            "central": {"hosts": {"t-central": host("t-central")}},
            # Each office's hosts in its own child groups, which the role groups then list (as in the example
            # inventory): a role group inside two office groups would get both offices' variables.
            "office_test": {"vars": office_vars(OFFICE, "Testamt", "t-hub", ""), "children": {
                "test_hub": {"hosts": {"t-hub": host("t-hub", broker_tls_names=["127.0.0.1", "t-hub.local"],
                                                     hub_accounts=[{"name": "leitung", "role": "supervisor"}],
                                                     hub_web_port=ports["hub_web"],
                                                     hub_web_redirect_port=ports["hub_redirect"])}},
                "test_kiosks": {"hosts": {"t-kiosk-1": host(
                    "t-kiosk-1", kiosk_index=0,
                    kiosk_printer={"type": "file", "path": "/var/lib/wartemarke-kiosk/printed",
                                   "profile": "TM-T88V"})}},
                "test_displays": {"hosts": {"t-display-1": host("t-display-1", display_speech=True)}},
            }},
            "office_zwei": {"vars": office_vars(OFFICE_2, "Zweitamt", "t-hub-2", "_2"), "children": {
                "zwei_hub": {"hosts": {"t-hub-2": host("t-hub-2", broker_tls_names=["127.0.0.1"],
                                                       hub_web_port=ports["hub_web_2"],
                                                       hub_web_redirect_port=ports["hub_redirect_2"])}},
            }},
            "hub": {"children": {"test_hub": {}, "zwei_hub": {}}},
            "kiosk": {"children": {"test_kiosks": {}}},
            "display": {"children": {"test_displays": {}}},
            # A city's web hosts belong to no office: they read every office from the central broker.
            "web": {"hosts": {"t-web-1": web("t-web-1", ""), "t-web-2": web("t-web-2", "_2")}},
        },
    }}
    path.write_text(yaml.safe_dump(inventory, allow_unicode=True, sort_keys=False))


def run_playbook(playbook: str, inventory: Path, log: Path, *extra: str) -> tuple[str, float]:
    env = {**os.environ, "ANSIBLE_CONFIG": str(DEPLOY / "ansible.cfg"), "ANSIBLE_NOCOLOR": "1",
           "ANSIBLE_FORCE_COLOR": "0", "PATH": f"{BIN}:{os.environ['PATH']}"}
    started = time.monotonic()
    result = subprocess.run([str(BIN / "ansible-playbook"), "-i", str(inventory), playbook, *extra],
                            cwd=DEPLOY, env=env, capture_output=True, text=True, timeout=3000)
    elapsed = time.monotonic() - started
    log.write_text(result.stdout + result.stderr)
    assert result.returncode == 0, f"{playbook} failed (log: {log}):\n{result.stdout[-6000:]}\n{result.stderr[-2000:]}"
    return result.stdout, elapsed


def recap(output: str) -> dict[str, dict[str, int]]:
    hosts: dict[str, dict[str, int]] = {}
    for line in output.split("PLAY RECAP", 1)[1].splitlines():
        match = re.match(r"^(\S+)\s*:\s*(.*)$", line.strip())
        if match:
            hosts[match.group(1)] = {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", match.group(2))}
    return hosts


def changed_tasks(output: str) -> list[str]:
    """The 'TASK [...]' headers followed by a 'changed:' line, for a readable failure."""
    found, task = [], ""
    for line in output.splitlines():
        if line.startswith("TASK ["):
            task = line
        elif line.startswith("changed:"):
            found.append(f"{task} {line}")
    return found


@pytest.fixture(scope="module")
def office() -> Iterator[Office]:
    wheelhouse = REPO / "dist" / "wheelhouse"
    assert list(wheelhouse.glob("wartemarke-*.whl")), "run `make wheelhouse` first (make test-deploy does)"
    base_s = ensure_base_root()
    WORK.mkdir(parents=True, exist_ok=True)
    roots = {name: WORK / "roots" / name for name in HOSTS}
    (WORK / "roots").mkdir(exist_ok=True)
    secrets = WORK / "secrets"
    shutil.rmtree(secrets, ignore_errors=True)
    ports: dict[str, int] = {}
    while len(ports) < len(PORTS):  # distinct ports, reserved for the whole run
        port = reserved_port()
        if port not in ports.values():
            ports[PORTS[len(ports)]] = port
    inventory = WORK / "inventory.yml"
    try:
        copy_started = time.monotonic()
        for root in roots.values():
            prepare_root(root)
        copy_s = time.monotonic() - copy_started
        write_inventory(inventory, roots, secrets, ports, wheelhouse)
        first, first_s = run_playbook("site.yml", inventory, WORK / "run-1.log")
        second, second_s = run_playbook("site.yml", inventory, WORK / "run-2.log")
        print(f"\nprovisioning: base root {base_s:.0f} s (0 = cached), {len(HOSTS)} root copies {copy_s:.0f} s, "
              f"first run of site.yml {first_s:.0f} s for {len(HOSTS)} hosts, second run {second_s:.0f} s")
        (WORK / "timing.json").write_text(json.dumps({"base_root_s": base_s, "copies_s": copy_s,
                                                      "first_run_s": first_s, "second_run_s": second_s}))
        yield Office(roots, inventory, secrets, ports, first_s, first, second)
    finally:
        for root in roots.values():
            unmount_all(root)


def chroot_command(root: Path, argv: tuple[str, ...], user: str | None) -> list[str]:
    """`argv` inside the root, as `user` (the service user) when given."""
    return ["chroot", str(root)] + (["runuser", "-u", user, "--"] if user else []) + list(argv)


def in_root(root: Path, *argv: str, user: str | None = None, check: bool = True,
            timeout: float = 60) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(chroot_command(root, argv, user), capture_output=True, text=True, timeout=timeout,
                            check=False)
    if check:
        assert result.returncode == 0, f"{' '.join(argv)} in {root.name}: {result.stdout}{result.stderr}"
    return result


def test_a_second_run_changes_nothing(office: Office) -> None:
    first = recap(office.first_log)
    assert set(first) >= set(HOSTS), first
    assert all(first[h]["failed"] == 0 and first[h]["unreachable"] == 0 for h in HOSTS), first
    second = recap(office.second_log)
    assert {h: second[h]["changed"] for h in HOSTS} == dict.fromkeys(HOSTS, 0), changed_tasks(office.second_log)


def test_each_role_has_its_user_and_groups(office: Office) -> None:
    for name, role in SERVICES.items():
        passwd = (office.roots[name] / "etc" / "passwd").read_text()
        line = next((x for x in passwd.splitlines() if x.startswith(f"wartemarke-{role}:")), None)
        assert line is not None, f"no wartemarke-{role} user in {name}"
        assert line.endswith(":/usr/sbin/nologin"), line
    groups = in_root(office.roots["t-kiosk-1"], "id", "-nG", "wartemarke-kiosk").stdout.split()
    assert {"lp", "plugdev", "dialout"} <= set(groups), groups
    groups = in_root(office.roots["t-display-1"], "id", "-nG", "wartemarke-display").stdout.split()
    assert {"video", "render", "input", "audio", "tty"} <= set(groups), groups
    assert not (office.roots["t-central"] / "opt" / "wartemarke").exists()  # the central host runs mosquitto only


def test_the_release_venv_imports_every_package(office: Office) -> None:
    for name in SERVICES:
        root = office.roots[name]
        current = root / "opt" / "wartemarke" / "current"
        assert current.is_symlink() and os.readlink(current).startswith("/opt/wartemarke/releases/0.1.0-")
        in_root(root, "/opt/wartemarke/current/venv/bin/python", "-c",
                "import protocol, kiosk, hub, display, web, paho.mqtt, escpos, gpiozero, PIL, pygame, aiohttp")
        assert (current / "docs" / "operations.md").exists() or (root / os.readlink(current).lstrip("/") / "docs"
                                                                  / "operations.md").exists()


def test_configs_pass_the_processes_own_validation(office: Office) -> None:
    for name, role in SERVICES.items():
        result = in_root(office.roots[name], f"/opt/wartemarke/current/venv/bin/wartemarke-{role}", "check-config",
                         "--config", f"/etc/wartemarke/{role}.toml", user=f"wartemarke-{role}")
        assert "valid" in result.stdout
        mode = (office.roots[name] / "etc" / "wartemarke" / "broker-password").stat().st_mode & 0o777
        assert mode == 0o640


def test_units_are_enabled(office: Office) -> None:
    hub_units = ["wartemarke-hub.service", "wartemarke-hub-backup.timer", "mosquitto.service", "chrony.service"]
    web_units = ["wartemarke-web.service", "nginx.service"]
    expected = {"t-central": ["mosquitto.service"], "t-hub": hub_units, "t-hub-2": hub_units,
                "t-kiosk-1": ["wartemarke-kiosk.service", "chrony.service"],
                "t-display-1": ["wartemarke-display.service", "chrony.service"],
                "t-web-1": [*web_units, "wartemarke-notifier.service"], "t-web-2": web_units}
    for name, units in expected.items():
        result = subprocess.run(["systemctl", f"--root={office.roots[name]}", "is-enabled", *units],
                                capture_output=True, text=True, check=False)
        assert result.stdout.split() == ["enabled"] * len(units), (name, units, result.stdout, result.stderr)
    masked = subprocess.run(["systemctl", f"--root={office.roots['t-display-1']}", "is-enabled", "getty@tty1.service"],
                            capture_output=True, text=True, check=False)
    assert masked.stdout.strip() == "masked"
    for name in HOSTS:
        journald = office.roots[name] / "etc" / "systemd" / "journald.conf.d" / "50-wartemarke.conf"
        assert "SystemMaxUse=64M" in journald.read_text()
    drop_in = office.roots["t-kiosk-1"] / "etc" / "systemd" / "system" / "wartemarke-kiosk.service.d" / "50-groups.conf"
    assert "gpio" not in drop_in.read_text().split("SupplementaryGroups=\n", 1)[1]  # plain Debian: no gpio group
    assert "not Raspberry Pi OS" in office.first_log


def test_nginx_accepts_its_config(office: Office) -> None:
    for name in ("t-web-1", "t-web-2"):
        result = in_root(office.roots[name], "nginx", "-t")
        assert "syntax is ok" in result.stderr and "test is successful" in result.stderr
        site = (office.roots[name] / "etc" / "nginx" / "conf.d" / "wartemarke.conf").read_text()
        servers = re.findall(r"^\s+server (\S+) max_fails", site, re.MULTILINE)
        assert servers == [f"127.0.0.1:{office.ports['replica']}", f"127.0.0.2:{office.ports['replica_2']}"], name


def test_the_city_is_wired_by_the_playbook(office: Office) -> None:
    """The central broker's accounts, the offices' bridges and the replicas' configs, with no file copied by hand."""
    central = office.roots["t-central"] / "etc" / "mosquitto"
    users = re.findall(r"^user (\S+)$", (central / "wartemarke-central.acl").read_text(), re.MULTILINE)
    assert users == ["t-hub-bridge", "t-hub-2-bridge", "t-web-1", "t-web-2", "t-web-1-archive", "t-web-1-notifier"]
    # The daily archive runs on the first web host only, with its own read-only account (checked config).
    web_1, web_2 = office.roots["t-web-1"], office.roots["t-web-2"]
    assert (web_1 / "etc" / "wartemarke" / "archive.toml").exists()
    assert not (web_2 / "etc" / "wartemarke" / "archive.toml").exists()
    in_root(web_1, "/opt/wartemarke/current/venv/bin/wartemarke-archive", "check-config", "--config",
            "/etc/wartemarke/archive.toml")
    check_the_notifier_is_provisioned(office)
    passwd = dict(line.split(":", 1) for line in (central / "wartemarke-central.passwd").read_text().splitlines())
    assert set(passwd) == set(users) and all(h.startswith("$7$101$") for h in passwd.values())
    city_ca = (office.secrets / "city" / "ca" / "ca.crt").read_bytes()
    assert (central / "certs" / "city-ca.crt").read_bytes() == city_ca
    assert "persistence false" in (central / "mosquitto.conf").read_text().splitlines()
    for hub, suffix in (("t-hub", ""), ("t-hub-2", "_2")):
        mosquitto = office.roots[hub] / "etc" / "mosquitto"
        assert (mosquitto / "certs" / "central-ca.crt").read_bytes() == city_ca
        conf = (mosquitto / "mosquitto.conf").read_text().splitlines()
        password = (office.secrets / "city" / "broker" / f"{hub}-bridge").read_text().strip()
        for line in (f"address 127.0.0.1:{office.ports['central']}", f"remote_username {hub}-bridge",
                     f"remote_clientid {hub}-bridge", f"remote_password {password}", "bridge_protocol_version mqttv50",
                     "bridge_insecure false"):
            assert line in conf, (hub, line)
        # Out only what replicas read; in only the ticket holders' requests (protocol.md §3.12), this office's.
        bridged = [line.split() for line in conf if line.startswith("topic ")]
        prefixes = {fields[4] for fields in bridged}
        assert len(prefixes) == 1, (hub, prefixes)  # one office's topics, the same name on both sides
        assert [f[1:3] for f in bridged if f[2] != "out"] == [["citizen/request", "in"]], (hub, bridged)
        assert (mosquitto / "mosquitto.conf").stat().st_mode & 0o777 == 0o640
    for name in ("t-web-1", "t-web-2"):
        config = tomllib.loads((office.roots[name] / "etc" / "wartemarke" / "web.toml").read_text())
        assert config["web"]["offices"] == [OFFICE, OFFICE_2] and config["web"]["host"] == REPLICA_ADDRESSES[name]
        assert config["broker"]["port"] == office.ports["central"] and config["broker"]["username"] == name
        assert (office.roots[name] / "etc" / "wartemarke" / "city-ca.crt").read_bytes() == city_ca


def check_the_notifier_is_provisioned(office: Office) -> None:
    """The notifier on t-web-1 only: its checked config, its VAPID key (its user's alone, made once: the
    second run changed nothing), its read-only account; every replica's page offers the button and every
    nginx passes /push/ to t-web-1."""
    web_1, web_2 = office.roots["t-web-1"], office.roots["t-web-2"]
    assert (web_1 / "etc" / "wartemarke" / "notifier.toml").exists()
    assert not (web_2 / "etc" / "wartemarke" / "notifier.toml").exists()
    in_root(web_1, "/opt/wartemarke/current/venv/bin/wartemarke-notifier", "check-config", "--config",
            "/etc/wartemarke/notifier.toml", user="wartemarke-notifier")
    key = web_1 / "etc" / "wartemarke" / "notifier-vapid.pem"
    assert key.stat().st_mode & 0o777 == 0o600, oct(key.stat().st_mode)
    owner = in_root(web_1, "stat", "-c", "%U", "/etc/wartemarke/notifier-vapid.pem").stdout.strip()
    assert owner == "wartemarke-notifier"
    assert "PRIVATE KEY" in key.read_text()
    config = tomllib.loads((web_1 / "etc" / "wartemarke" / "notifier.toml").read_text())
    assert config["notifier"]["device"] == config["broker"]["username"] == "t-web-1-notifier"
    assert config["notifier"]["offices"] == [OFFICE, OFFICE_2] and config["notifier"]["trust_forwarded"] is True
    assert (config["notifier"]["host"], config["notifier"]["port"]) == ("127.0.0.1", office.ports["notifier"])
    acl = (office.roots["t-central"] / "etc" / "mosquitto" / "wartemarke-central.acl").read_text()
    grants = acl.split("user t-web-1-notifier\n", 1)[1].split("\n\n", 1)[0].strip().splitlines()
    assert grants == ["topic read wartemarke/v1/+/ticket/+",
                      "topic write wartemarke/v1/+/device/t-web-1-notifier/status"]
    for name in ("t-web-1", "t-web-2"):
        web_config = tomllib.loads((office.roots[name] / "etc" / "wartemarke" / "web.toml").read_text())
        assert web_config["web"]["push_url"] == "/push/v1", name
        site = (office.roots[name] / "etc" / "nginx" / "conf.d" / "wartemarke.conf").read_text()
        assert f"proxy_pass http://127.0.0.1:{office.ports['notifier']};" in site, name


def test_chrony_config_is_the_office_one(office: Office) -> None:
    hub = (office.roots["t-hub"] / "etc" / "chrony" / "chrony.conf").read_text()
    assert "allow 127.0.0.0/8" in hub and "local stratum" in hub
    kiosk = (office.roots["t-kiosk-1"] / "etc" / "chrony" / "chrony.conf").read_text()
    assert "server 127.0.0.1 iburst prefer" in kiosk


@contextlib.contextmanager
def running(root: Path, *argv: str, user: str | None = None, stdin: bool = False) -> Iterator[subprocess.Popen[str]]:
    log = (WORK / f"{root.name}-{Path(argv[0]).name}.log").open("w")
    process = subprocess.Popen(chroot_command(root, argv, user), stdout=log, stderr=subprocess.STDOUT, text=True,
                               stdin=subprocess.PIPE if stdin else subprocess.DEVNULL)
    try:
        yield process
    finally:
        stop_program(process)
        log.close()


def secret(root: Path, name: str) -> str:
    return (root / "etc" / "wartemarke" / name).read_text().strip()


def connect_when_up(port: int, timeout: float = 60.0, **kwargs: Any) -> MqttProbe:
    """A probe connected as soon as the broker (just started from its root) accepts it (a minute: on a
    loaded CI machine a chrooted mosquitto has taken longer than 15 s to listen)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return MqttProbe.connect_ok(port, **kwargs)
        except (AssertionError, OSError):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def https_get(office: Office, path: str) -> tuple[int, str]:
    """A GET through the provisioned nginx of t-web-1 (its self-signed certificate, made by the playbook)."""
    context = ssl.create_default_context(cafile=str(office.secrets / "t-web-1" / "tls" / "web.crt"))
    context.check_hostname = False  # the certificate names warte.test; we connect to 127.0.0.1
    try:
        with urllib.request.urlopen(f"https://127.0.0.1:{office.ports['https']}{path}", context=context,
                                    timeout=15) as response:
            return response.status, response.read().decode("utf-8", errors="replace")
    except urllib.error.HTTPError as error:
        return error.code, ""
    except urllib.error.URLError as error:  # nginx not listening yet
        return 0, str(error.reason)


def https_put(office: Office, path: str, body: bytes) -> tuple[int, str]:
    """A JSON PUT through t-web-1's provisioned nginx; (status, body), also for an error status."""
    context = ssl.create_default_context(cafile=str(office.secrets / "t-web-1" / "tls" / "web.crt"))
    context.check_hostname = False
    request = urllib.request.Request(f"https://127.0.0.1:{office.ports['https']}{path}", data=body, method="PUT",
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, context=context, timeout=15) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode(errors="replace")


def test_the_provisioned_city_shows_a_kiosk_ticket_through_nginx(office: Office) -> None:
    """Every generated broker (TLS, passwords, ACLs, the bridges) with the provisioned hubs, kiosk, replicas
    and nginx, all run from their roots: a button press on the kiosk shows through the whole chain."""
    roots = office.roots
    hub, kiosk, display = roots["t-hub"], roots["t-kiosk-1"], roots["t-display-1"]
    ca = kiosk / "etc" / "wartemarke" / "office-ca.crt"
    city_ca = roots["t-web-1"] / "etc" / "wartemarke" / "city-ca.crt"
    port, central_port = office.ports["tls"], office.ports["central"]
    venv = "/opt/wartemarke/current/venv/bin"
    with running(roots["t-central"], "mosquitto", "-c", "/etc/mosquitto/mosquitto.conf"):
        # Before the office brokers connect: the bridge account of t-hub publishes only its own office's views.
        bridge = connect_when_up(central_port, username="t-hub-bridge", ca_file=city_ca,
                                 password=(office.secrets / "city" / "broker" / "t-hub-bridge").read_text().strip())
        assert bridge.publish(f"wartemarke/v1/{OFFICE_2}/queue").value == NOT_AUTHORIZED
        assert bridge.publish(f"wartemarke/v1/{OFFICE}/kiosk/t-kiosk-1/ticket").value == NOT_AUTHORIZED
        assert not bridge.publish(f"wartemarke/v1/{OFFICE}/history").is_failure
        bridge.close()
        # The notifier's account reads ticket views only: it may not publish an office's views.
        notifier = connect_when_up(central_port, username="t-web-1-notifier", ca_file=city_ca,
                                   password=secret(roots["t-web-1"], "notifier-broker-password"))
        assert notifier.publish(f"wartemarke/v1/{OFFICE}/queue").value == NOT_AUTHORIZED
        assert notifier.publish(f"wartemarke/v1/{OFFICE}/ticket/x").value == NOT_AUTHORIZED
        notifier.close()
        anonymous = MqttProbe(central_port, ca_file=city_ca)
        assert anonymous.connect().value != 0, "anonymous clients must be refused by the central broker"
        anonymous.close()
        with running(hub, "mosquitto", "-c", "/etc/mosquitto/mosquitto.conf"), \
             running(roots["t-hub-2"], "mosquitto", "-c", "/etc/mosquitto/mosquitto.conf"):
            # The display's account (its service does not run here): the broker binds client ids to
            # usernames, so the hub's web, which starts below, would throw a probe with its account off.
            probe = connect_when_up(port, username="t-display-1", password=secret(display, "broker-password"),
                                    ca_file=ca)
            # t-web-2's account on the central broker until its replica starts: both bridges are up (TLS
            # verified against the city CA, with the accounts the playbook generated).
            replica = connect_when_up(central_port, username="t-web-2", ca_file=city_ca,
                                      password=secret(roots["t-web-2"], "broker-password"))
            try:
                replica.subscribe(["$SYS/broker/connection/+/state"])
                for name in ("t-hub", "t-hub-2"):
                    replica.wait_for(lambda t, p, n=name: t.endswith(f"/{n}-bridge/state") and p == b"1",  # type: ignore[misc]
                                     timeout=60)
                replica.close()
                anonymous = MqttProbe(port, ca_file=ca)
                assert anonymous.connect().value != 0, "anonymous clients must be refused"
                anonymous.close()
                kiosk_probe = MqttProbe.connect_ok(port, username="t-kiosk-1",
                                                   password=secret(kiosk, "broker-password"), ca_file=ca)
                assert kiosk_probe.publish(f"wartemarke/v1/{OFFICE}/kiosk/t-kiosk-1/ack").value == NOT_AUTHORIZED
                assert kiosk_probe.publish(f"wartemarke/v1/{OFFICE}/kiosk/other/ticket").value == NOT_AUTHORIZED
                kiosk_probe.close()
                probe.subscribe([f"wartemarke/v1/{OFFICE}/queue"])
                with running(hub, f"{venv}/wartemarke-hub", "run", "--config", "/etc/wartemarke/hub.toml",
                             user="wartemarke-hub"), \
                     running(roots["t-hub-2"], f"{venv}/wartemarke-hub", "run", "--config", "/etc/wartemarke/hub.toml",
                             user="wartemarke-hub"), \
                     running(kiosk, f"{venv}/wartemarke-kiosk", "run", "--simulate", "--config",
                             "/etc/wartemarke/kiosk.toml", user="wartemarke-kiosk", stdin=True) as kiosk_run, \
                     running(roots["t-web-1"], f"{venv}/wartemarke-web", "run", "--config", "/etc/wartemarke/web.toml",
                             user="wartemarke-web"), \
                     running(roots["t-web-2"], f"{venv}/wartemarke-web", "run", "--config", "/etc/wartemarke/web.toml",
                             user="wartemarke-web"), \
                     running(roots["t-web-1"], f"{venv}/wartemarke-notifier", "run", "--config",
                             "/etc/wartemarke/notifier.toml", user="wartemarke-notifier"), \
                     running(roots["t-web-1"], "nginx", "-g", "daemon off;"):
                    probe.wait_for(lambda t, p: t.endswith("/queue"), timeout=60)
                    assert kiosk_run.stdin is not None
                    kiosk_run.stdin.write("A\n")
                    kiosk_run.stdin.flush()
                    probe.wait_for(lambda t, p: t.endswith("/queue") and b'"waiting":1' in p.replace(b" ", b""),
                                   timeout=60)
                    printed = b"".join(p.read_bytes() for p in (kiosk / "var/lib/wartemarke-kiosk/printed").iterdir())
                    tokens = re.findall(rb"(?i:https://warte\.test)/[tT]/([A-Z2-7]{26,64})", printed)  # QR: upper case
                    assert tokens, "the kiosk printed no tracking link"
                    path = f"/t/{tokens[-1].decode()}"  # the QR code's target, through nginx and either replica
                    deadline = time.monotonic() + 60
                    while (answer := https_get(office, path))[0] != 200:
                        assert time.monotonic() < deadline, f"{path} never showed through nginx: {answer}"
                        time.sleep(0.5)  # the view is on its way: hub, office broker, bridge, central, replica
                    assert "A001" in answer[1]
                    status, offices = https_get(office, "/api/v1/offices")
                    assert status == 200 and OFFICE in offices and OFFICE_2 in offices
                    check_push_through_nginx(office, tokens[-1].decode())
            finally:
                probe.close()


def check_push_through_nginx(office: Office, token: str) -> None:
    """/push/ through the provisioned nginx reaches the provisioned notifier: its public key (the one the
    playbook made), and for the kiosk's ticket — a view the notifier read through the bridge and the
    central broker with its own account — a subscription with a bad body is a 400 (an unknown ticket 404)."""
    key = in_root(office.roots["t-web-1"], "/opt/wartemarke/current/venv/bin/wartemarke-notifier", "public-key",
                  "--config", "/etc/wartemarke/notifier.toml", user="wartemarke-notifier").stdout.strip()
    deadline = time.monotonic() + 60
    while (answer := https_get(office, "/push/v1/key"))[0] != 200:
        assert time.monotonic() < deadline, f"/push/v1/key never answered through nginx: {answer}"
        time.sleep(0.5)  # the notifier is starting
    assert json.loads(answer[1]) == {"key": key}
    path = f"/push/v1/subscriptions/{token}"
    while (answer := https_put(office, path, b'{"subscription": {}}'))[0] == 404:
        assert time.monotonic() < deadline + 60, f"the notifier never saw the ticket: {answer}"
        time.sleep(0.5)  # the view is on its way to the notifier
    assert answer[0] == 400 and "invalid subscription" in answer[1], answer
    assert https_put(office, "/push/v1/subscriptions/" + "A" * 26, b"{}")[0] == 404


def test_an_update_is_rolled_back(office: Office, tmp_path: Path) -> None:
    """A new release goes into its own folder, `current` switches to it, rollback.yml switches back."""
    wheelhouse = tmp_path / "wheelhouse"
    shutil.copytree(REPO / "dist" / "wheelhouse", wheelhouse)
    wheel = next(wheelhouse.glob("wartemarke-*.whl"))
    with zipfile.ZipFile(wheel, "a") as archive:  # same version, different bytes: a rebuilt release
        archive.writestr("wartemarke-rebuild.txt", "rebuilt\n")
    kiosk = office.roots["t-kiosk-1"]
    before = os.readlink(kiosk / "opt" / "wartemarke" / "current")
    run_playbook("site.yml", office.inventory, WORK / "run-update.log", "--limit", "t-kiosk-1",
                 "-e", f"release_wheelhouse={wheelhouse}")
    after = os.readlink(kiosk / "opt" / "wartemarke" / "current")
    assert after != before and os.readlink(kiosk / "opt" / "wartemarke" / "previous") == before
    in_root(kiosk, "/opt/wartemarke/current/venv/bin/wartemarke-kiosk", "check-config", "--config",
            "/etc/wartemarke/kiosk.toml")
    run_playbook("rollback.yml", office.inventory, WORK / "run-rollback.log", "--limit", "t-kiosk-1")
    assert os.readlink(kiosk / "opt" / "wartemarke" / "current") == before
    assert os.readlink(kiosk / "opt" / "wartemarke" / "previous") == after


@contextlib.contextmanager
def booted(root: Path) -> Iterator[int]:
    """Boot a provisioned root with systemd-nspawn (host network); yields the container's init PID."""
    unmount_all(root)  # nspawn mounts its own /proc and /dev
    # The containers share the host's network: a second sshd could not bind port 22.
    subprocess.run(["systemctl", f"--root={root}", "mask", "ssh.service"], capture_output=True, check=True)
    log = (WORK / f"{root.name}-boot.log").open("w")
    container = subprocess.Popen(["systemd-nspawn", "--directory", str(root), "--boot", "--register=no",
                                  "--keep-unit", "--console=passive", "--quiet"],
                                 stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
    init: int | None = None
    try:
        deadline = time.monotonic() + 30
        while init is None:
            assert container.poll() is None, f"systemd-nspawn ended: see {log.name}"
            assert time.monotonic() < deadline, "the container's init did not start"
            init = container_init(container.pid)
            if init is None:
                time.sleep(0.1)  # init is being spawned
        yield init
    finally:
        container.terminate()  # nspawn asks the container's systemd to power off
        try:
            container.wait(60)
        except subprocess.TimeoutExpired:
            container.kill()
            container.wait(10)
        if init is not None:  # a killed nspawn leaves its container running: end its PID namespace
            with contextlib.suppress(ProcessLookupError):
                os.kill(init, signal.SIGKILL)
        log.close()


def container_init(nspawn: int) -> int | None:
    """The container's systemd among nspawn's descendants, once it runs as `systemd` (nspawn forks an
    intermediate child first, which exits: taking that one's PID made nsenter fail on a loaded machine)."""
    pending = [nspawn]
    while pending:
        pid = pending.pop()
        try:
            children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
            if pid != nspawn and Path(f"/proc/{pid}/comm").read_text().strip() == "systemd":
                return pid
        except OSError:
            continue  # it ended meanwhile
        pending.extend(int(child) for child in children)
    return None


def in_container(pid: int, *argv: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["nsenter", "-t", str(pid), "-a", *argv], capture_output=True, text=True,
                          timeout=timeout, check=False)


def wait_running(pid: int, units: list[str]) -> None:
    """`systemctl is-system-running --wait`: the boot finished with no failed unit; the units are active."""
    deadline = time.monotonic() + 120
    while True:  # until the container's systemd answers on its bus
        result = in_container(pid, "systemctl", "is-system-running", "--wait")
        state = result.stdout.strip()
        # "offline": the container's systemd is not up yet (slow on a loaded machine); keep asking
        if state not in ("", "offline") or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert state, f"the container's systemd did not answer: {result.stderr}"
    failed = in_container(pid, "systemctl", "--failed", "--no-legend", "--plain").stdout
    assert state == "running", f"system state {state!r}; failed units:\n{failed}"
    active = in_container(pid, "systemctl", "is-active", *units).stdout.split()
    assert active == ["active"] * len(units), dict(zip(units, active, strict=False))


def test_the_hub_kiosk_and_public_web_boot_and_serve(office: Office) -> None:
    """The provisioned central broker, hub, kiosk (mock pins) and one web root booted under systemd: every
    unit starts (Type=notify units reach READY=1 inside their sandbox), and the public page, through
    nginx, shows the office from the hub by way of the central broker (t-web-2's replica is not running:
    nginx passes its share on to t-web-1's)."""
    kiosk = office.roots["t-kiosk-1"]
    mock_pins = kiosk / "etc" / "systemd" / "system" / "wartemarke-kiosk.service.d" / "90-test-mock-pins.conf"
    mock_pins.write_text("[Service]\nEnvironment=GPIOZERO_PIN_FACTORY=mock\n")  # no GPIO here: the seam
    with booted(office.roots["t-central"]) as central, booted(office.roots["t-hub"]) as hub:
        wait_running(central, ["mosquitto.service"])
        limit = in_container(central, "systemctl", "show", "mosquitto.service", "-p", "LimitNOFILE").stdout.strip()
        assert limit == "LimitNOFILE=4096", limit  # the drop-in sized for the city's connections
        wait_running(hub, ["mosquitto.service", "wartemarke-hub.service", "wartemarke-hub-backup.timer"])
        # The office web: HTTPS with the certificate the playbook signed with the office CA (it names
        # 127.0.0.1, from broker_tls_names); its plain port only redirects.
        office_ca = ssl.create_default_context(cafile=str(office.secrets / "t-hub" / "ca" / "ca.crt"))
        with urllib.request.urlopen(f"https://127.0.0.1:{office.ports['hub_web']}/login", context=office_ca,
                                    timeout=10) as response:
            assert response.status == 200 and "wm_login=" in response.headers["Set-Cookie"]
            assert "Secure" in response.headers["Set-Cookie"]
        redirect = urllib.request.Request(f"http://127.0.0.1:{office.ports['hub_redirect']}/counter")
        with pytest.raises(urllib.error.HTTPError) as moved:
            urllib.request.build_opener(NoRedirect).open(redirect, timeout=10)
        assert moved.value.code == 301
        assert moved.value.headers["Location"] == f"https://127.0.0.1:{office.ports['hub_web']}/counter"
        with booted(kiosk) as kiosk_pid:
            # Type=notify under its sandbox and the groups drop-in; READY=1 after the hub's ack.
            wait_running(kiosk_pid, ["wartemarke-kiosk.service"])
        with booted(office.roots["t-web-1"]) as web:
            wait_running(web, ["nginx.service", "wartemarke-web.service", "wartemarke-notifier.service"])
            context = ssl.create_default_context(cafile=str(office.secrets / "t-web-1" / "tls" / "web.crt"))
            context.check_hostname = False  # the certificate names warte.test; we connect to 127.0.0.1
            url = f"https://127.0.0.1:{office.ports['https']}/api/v1/offices"
            deadline = time.monotonic() + 30
            while True:
                with urllib.request.urlopen(url, context=context, timeout=10) as response:
                    body = json.loads(response.read())
                offices = body.get("offices", body) if isinstance(body, dict) else body
                if OFFICE in json.dumps(offices):
                    break
                assert time.monotonic() < deadline, f"the replica never showed {OFFICE}: {body}"
                time.sleep(0.5)  # the replica is still receiving the hub's retained state
            # The notifier's unit (its sandbox, its key) answers /push/ through nginx.
            with urllib.request.urlopen(f"https://127.0.0.1:{office.ports['https']}/push/v1/key", context=context,
                                        timeout=10) as response:
                assert response.status == 200 and len(json.loads(response.read())["key"]) == 87


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):  # type: ignore[no-untyped-def]
        return None
