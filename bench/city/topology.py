"""The city the benchmark runs, every config rendered from the playbook's templates (devtools/deploy_templates):
a city CA; the central mosquitto (roles/central: TLS, one account per office bridge and per replica, the
ACL); the measured office's mosquitto (roles/broker, bridged to the central one as roles/broker/tasks/
city.yml sets it up) with a real hub process; two replicas on two loopback "hosts" (roles/web's web.toml.j2
in city mode); one nginx (roles/web's site template, upstreams from the inventory) in a main nginx.conf
written here — the role leaves nginx.conf to Debian's package, whose worker_connections it reads.
"""

from __future__ import annotations

import os
import pwd
import re
import secrets
import subprocess
import textwrap
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.runner import python
from devtools.broker import Broker, free_port
from devtools.deploy_templates import playbook_filters, render_role_template, write_password_file
from devtools.hub_harness import write_hub_config
from devtools.office_ca import OfficeCA, make_office_ca
from protocol import topics

FILTERS = playbook_filters()
MEASURED = "bb-mess"  # the office with the real hub
MEASURED_HUB = "mess-hub"
REPLICAS = {"web-1": "127.0.0.1", "web-2": "127.0.0.2"}
OBSERVER = "bench-observer"  # reads the central broker like a replica: the baseline's receiving end
PROBE = "bench-probe"  # publishes a ticket view at the measured office's broker: the baseline's sending end
COUNTER = "platz-1-cli"
COUNTERS = 8  # the measured office's counters (the benchmark's clerk calls at platz-1)
DEBIAN_NGINX_CONF = Path("/etc/nginx/nginx.conf")


def _user() -> str:
    return pwd.getpwuid(os.geteuid()).pw_name  # as root, mosquitto would drop to `mosquitto`


def office_ids(count: int) -> list[tuple[str, str]]:
    """(office, hub) of the simulated offices: bb-01, … (the measured office comes on top)."""
    return [(f"bb-{n:03d}", f"hub-{n:03d}") for n in range(1, count + 1)]


def inventory(offices: list[tuple[str, str]], ports: dict[str, int]) -> tuple[dict[str, Any], dict[str, list[str]]]:
    hostvars: dict[str, Any] = {hub: {"wartemarke_office": office} for office, hub in offices}
    hostvars.update({name: {"web_replica_address": address, "web_replica_port": ports[name]}
                     for name, address in REPLICAS.items()})
    hostvars["central-1"] = {}
    return hostvars, {"hub": sorted(h for _, h in offices), "web": sorted(REPLICAS), "central": ["central-1"]}


@dataclass
class City:
    """Everything but the processes' lifetimes (measure.py starts and stops them)."""

    work: Path
    offices: list[tuple[str, str]]  # every office of the inventory, the measured one first
    ca: OfficeCA = field(init=False)
    passwords: dict[str, str] = field(default_factory=dict)
    replica_ports: dict[str, int] = field(default_factory=dict)
    central: Broker | None = None
    office_broker: Broker | None = None
    office_local_port: int = 0
    nginx_port: int = 0
    notifier_port: int = 0  # with `wartemarke_notifier` set on web-1 (bench/city/push.py): where it listens

    def __post_init__(self) -> None:
        self.ca = make_office_ca(self.work / "city-ca", hosts=("localhost",), ips=("127.0.0.1",))
        self.replica_ports = {name: free_port("0.0.0.0") for name in REPLICAS}
        self.hostvars, self.groups = inventory(self.offices, self.replica_ports)

    # -- the central broker ------------------------------------------------------------------------------

    def accounts(self) -> list[dict[str, Any]]:
        accounts: list[dict[str, Any]] = FILTERS["wartemarke_central_accounts"](
            self.hostvars, self.groups, [{"name": OBSERVER, "role": "replica"}])
        return accounts

    def central_broker(self) -> Broker:
        directory = self.work / "central"
        directory.mkdir()
        accounts = self.accounts()
        self.passwords.update({a["name"]: secrets.token_urlsafe(18) for a in accounts})
        write_password_file(directory / "passwd", {a["name"]: self.passwords[a["name"]] for a in accounts})
        broker = Broker(directory, port=free_port())
        variables = {"accounts": accounts, "central_user": _user(), "wartemarke_central_address": "localhost",
                     "wartemarke_central_port": broker.port, "central_tls_bind_address": "127.0.0.1",
                     "central_tls_cafile": str(self.ca.ca_cert), "central_tls_certfile": str(self.ca.server_cert),
                     "central_tls_keyfile": str(self.ca.server_key), "central_password_file": str(directory / "passwd"),
                     "central_acl_file": str(directory / "acl"), "central_log_dest": [f"file {broker.log_path}"]}
        (directory / "acl").write_text(render_role_template("central", "acl.j2", variables), encoding="utf-8")
        broker.config_path.write_text(render_role_template("central", "mosquitto.conf.j2", variables),
                                      encoding="utf-8")
        self.central = broker
        return broker

    # -- the measured office: its broker, bridged, and its hub ----------------------------------------

    def office_mosquitto(self) -> Broker:
        assert self.central is not None
        directory = self.work / "office"
        directory.mkdir()
        office_ca = make_office_ca(directory / "office-ca", hosts=("localhost",), ips=("127.0.0.1",))
        devices: list[dict[str, Any]] = [{"name": MEASURED_HUB, "role": "hub", "offices": [MEASURED]},
                   {"name": f"{MEASURED_HUB}-kiosk", "role": "kiosk", "office": MEASURED},
                   {"name": COUNTER, "role": "counter", "office": MEASURED, "counter": "platz-1"}]
        users = [d["name"] for d in devices] + [PROBE]
        self.passwords.update({user: secrets.token_urlsafe(18) for user in users})
        write_password_file(directory / "passwd", {user: self.passwords[user] for user in users})
        broker = Broker(directory, port=free_port())
        self.office_local_port = free_port()
        bridge: str = FILTERS["wartemarke_bridge_account"](MEASURED_HUB)
        variables = {
            "offices": [{"id": MEASURED}], "devices": devices, "inventory_hostname": MEASURED_HUB,
            "broker_user": _user(), "broker_tls_port": broker.port, "broker_tls_bind_address": "127.0.0.1",
            "broker_local_port": self.office_local_port, "broker_tls_cafile": str(office_ca.ca_cert),
            "broker_tls_certfile": str(office_ca.server_cert), "broker_tls_keyfile": str(office_ca.server_key),
            "broker_password_file": str(directory / "passwd"), "broker_acl_file": str(directory / "acl"),
            "broker_persistence_location": f"{directory}/", "broker_log_dest": [f"file {broker.log_path}"],
            "broker_bridge_enabled": True, "broker_bridge_address": f"localhost:{self.central.port}",
            "broker_bridge_username": bridge, "broker_bridge_remote_clientid": bridge,
            "broker_bridge_password": self.passwords[bridge], "broker_bridge_cafile": str(self.ca.ca_cert)}
        probe_acl = (f"\n# benchmark only: the baseline's publisher\nuser {PROBE}\n"
                     f"topic write {topics.tickets(MEASURED)}\n")
        (directory / "acl").write_text(render_role_template("broker", "acl.j2", variables) + probe_acl,
                                       encoding="utf-8")
        broker.config_path.write_text(render_role_template("broker", "mosquitto.conf.j2", variables),
                                      encoding="utf-8")
        self.office_broker = broker
        return broker

    def hub_argv(self) -> list[str]:
        """`python -m hubprocess run` for the measured office, on its broker's local listener, its own account."""
        directory = self.work / "hub"
        path = write_hub_config(directory, self.office_local_port, MEASURED, counters=COUNTERS, tick_s=15.0)
        (directory / "password").write_text(self.passwords[MEASURED_HUB] + "\n", encoding="utf-8")
        text = path.read_text(encoding="utf-8").replace('device = "hub-test"', f'device = "{MEASURED_HUB}"').replace(
            "reconnect_max_s = 1", f'reconnect_max_s = 1\nusername = "{MEASURED_HUB}"\n'
            f'password_file = "{directory / "password"}"')
        # One clerk calls (platz-1): at 10 minutes a ticket the benchmark's 100+ tickets would outlast the
        # day, the hub would stop issuing and the Ampel would show "no tickets left" instead of the count.
        text = text.replace("prior_handling_min = 10", "prior_handling_min = 1")
        path.write_text(text, encoding="utf-8")
        return python("hubprocess", "run", "--config", str(path))

    # -- the replicas and nginx -------------------------------------------------------------------------

    def web_variables(self, name: str, **overrides: Any) -> dict[str, Any]:
        assert self.central is not None
        return {"hostvars": self.hostvars, "groups": self.groups, "inventory_hostname": name,
                "wartemarke_city": True, "wartemarke_central_address": "localhost",
                "wartemarke_central_port": self.central.port, "web_replica_address": REPLICAS[name],
                "web_replica_port": self.replica_ports[name], "wartemarke_public_url": "https://localhost",
                "wartemarke_operator": "Landeshauptstadt Stuttgart", "wartemarke_privacy_url": "/datenschutz",
                "wartemarke_imprint_url": "/impressum", "ansible_managed": "bench",
                **({"web_notifier_port": self.notifier_port} if self.notifier_port else {}), **overrides}

    def replica_config(self, name: str, max_streams: int) -> Path:
        """roles/web's web.toml.j2; the benchmark's only change: `max_streams` and `max_connections` in [web]
        (the role leaves the replica's defaults, 8,000 streams and 10,000 connections)."""
        directory = self.work / name
        directory.mkdir()
        (directory / "broker-password").write_text(self.passwords[name] + "\n", encoding="utf-8")
        variables = self.web_variables(name, web_broker_ca_file=str(self.ca.ca_cert))
        text = render_role_template("web", "web.toml.j2", variables)
        text = text.replace("/etc/wartemarke/broker-password", str(directory / "broker-password"))
        limits = f"max_streams = {max_streams}\nmax_connections = {max_streams + 1000}\n"
        text = text.replace("[web]\n", "[web]\n" + limits, 1)
        path = directory / "web.toml"
        path.write_text(text, encoding="utf-8")
        return path

    def nginx_config(self, workers: int, worker_connections: int) -> Path:
        """The web role's site inside a main config with `workers` × `worker_connections` (and open files for them)."""
        directory = self.work / f"nginx-{workers}x{worker_connections}"
        directory.mkdir()
        self.nginx_port = free_port("0.0.0.0")
        site = render_role_template("web", "nginx-wartemarke.conf.j2", self.web_variables(
            "web-1", web_tls_certificate=str(self.ca.server_cert), web_tls_key=str(self.ca.server_key),
            web_http_port=free_port("0.0.0.0"), web_https_port=self.nginx_port, web_cache_dir=str(directory / "cache"),
            web_access_log=str(directory / "access.log"), web_error_log=str(directory / "site-error.log"),
            web_server_name="localhost"))
        (directory / "wartemarke.conf").write_text(site, encoding="utf-8")
        temp = directory / "temp"
        temp.mkdir()
        main = directory / "nginx.conf"
        main.write_text(textwrap.dedent(f"""\
            {'user root;' if os.geteuid() == 0 else ''}
            worker_processes {workers};
            worker_rlimit_nofile {worker_connections + 1024};
            daemon off;
            pid {directory}/nginx.pid;
            error_log {directory}/error.log;
            events {{ worker_connections {worker_connections}; accept_mutex on; }}
            http {{
                client_body_temp_path {temp}/body; proxy_temp_path {temp}/proxy; fastcgi_temp_path {temp}/fastcgi;
                uwsgi_temp_path {temp}/uwsgi; scgi_temp_path {temp}/scgi;
                access_log off;
                include {directory / 'wartemarke.conf'};
            }}
        """), encoding="utf-8")
        check = subprocess.run(["nginx", "-t", "-c", str(main)], capture_output=True, text=True, timeout=30)
        if check.returncode != 0:
            raise RuntimeError(f"nginx -t: {check.stderr}")
        return main


def debian_nginx_defaults(path: Path = DEBIAN_NGINX_CONF) -> tuple[int, int]:
    """(worker_processes, worker_connections) of Debian's nginx.conf, which the web role keeps: `auto` is
    one worker per CPU."""
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    workers = re.search(r"^\s*worker_processes\s+(\w+);", text, re.MULTILINE)
    connections = re.search(r"^\s*worker_connections\s+(\d+);", text, re.MULTILINE)
    count = workers.group(1) if workers else "1"
    return (os.cpu_count() or 1) if count == "auto" else int(count), int(connections.group(1)) if connections else 512
