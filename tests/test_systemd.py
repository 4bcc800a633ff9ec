"""The systemd units: valid, locked down, and really reaching READY=1 with a watchdog that a hung
worker stops feeding."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from devtools.broker import free_port
from devtools.hub_harness import write_hub_config
from devtools.kiosk_harness import FAST_A, press, start_kiosk, write_config
from devtools.notifier_harness import generate_key, write_notifier_config
from kiosk.printer.memory import MemoryPrinter
from process.systemd import Notifier, Watchdog

REPO = Path(__file__).resolve().parents[1]
UNITS = sorted((REPO / "systemd").glob("*.service"))
TIMERS = sorted((REPO / "systemd").glob("*.timer"))
EXPOSURE_LIMIT = {"wartemarke-kiosk": 3.0, "wartemarke-hub": 3.0, "wartemarke-web": 3.0, "wartemarke-display": 5.0,
                  "wartemarke-hub-backup": 3.0, "wartemarke-archive": 3.0, "wartemarke-notifier": 3.0}


def test_every_role_has_a_unit():
    assert {u.stem for u in UNITS} == set(EXPOSURE_LIMIT)


@pytest.fixture(scope="module")
def unit_root(tmp_path_factory):
    """A root with systemd's own units and the executables the units name, for `verify --root`."""
    root = tmp_path_factory.mktemp("root")
    shutil.copytree("/usr/lib/systemd", root / "usr/lib/systemd", symlinks=True)
    (root / "etc/systemd/system").mkdir(parents=True)
    for unit in [*UNITS, *TIMERS]:
        shutil.copy(unit, root / "etc/systemd/system")
        for command in re.findall(r"^Exec\w+=(\S+)", unit.read_text(), re.M):
            exe = root / command.lstrip("/")
            exe.parent.mkdir(parents=True, exist_ok=True)
            exe.write_text("#!/bin/sh\n")
            exe.chmod(0o755)
    return root


@pytest.mark.parametrize("unit", [*UNITS, *TIMERS], ids=lambda u: u.name)
def test_systemd_analyze_verify_has_nothing_to_say(unit, unit_root):
    result = subprocess.run(["systemd-analyze", "verify", f"--root={unit_root}", unit.name], capture_output=True,
                            text=True, timeout=60)
    assert result.stdout.strip() == "" and result.stderr.strip() == "", result.stdout + result.stderr


@pytest.mark.parametrize("unit", UNITS, ids=lambda u: u.stem)
def test_exposure_is_low(unit):
    result = subprocess.run(["systemd-analyze", "security", "--offline=yes", str(unit)], capture_output=True,
                            text=True, timeout=60)
    match = re.search(r"Overall exposure level for \S+: ([0-9.]+)", result.stdout)
    assert match is not None, result.stdout[-500:] + result.stderr
    assert float(match.group(1)) < EXPOSURE_LIMIT[unit.stem]


class NotifySocket:
    """The test's stand-in for systemd's notify socket: collects what a service sends."""

    def __init__(self, directory: Path) -> None:
        self.path = directory / "notify.sock"
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(self.path))
        self.messages: list[str] = []
        self.cond = threading.Condition()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        while True:
            try:
                data = self.sock.recv(4096).decode()
            except OSError:
                return
            with self.cond:
                self.messages.append(data)
                self.cond.notify_all()

    def wait_for(self, needle: str, timeout: float, since: int = 0) -> bool:
        with self.cond:
            return self.cond.wait_for(lambda: any(needle in m for m in self.messages[since:]), timeout)

    def env(self, watchdog_s: float = 2.0) -> dict[str, str]:
        return {"NOTIFY_SOCKET": str(self.path), "WATCHDOG_USEC": str(int(watchdog_s * 1e6))}

    def close(self) -> None:
        self.sock.close()


def run_service(argv: list[str], notify: NotifySocket, log: Path, extra_env: dict[str, str] | None = None):
    env = {**os.environ, **notify.env(), **(extra_env or {}), "PYTHONUNBUFFERED": "1"}
    with log.open("w") as out:
        return subprocess.Popen([sys.executable, "-m", *argv], cwd=REPO, env=env, stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, stderr=out)


def service_configs(tmp_path: Path, port: int, office: str) -> dict[str, list[str]]:
    hub = write_hub_config(tmp_path / "hub", port, office)
    kiosk = write_config(tmp_path / "kiosk", port, office, printer="dummy", services=FAST_A)
    web = tmp_path / "web.toml"
    web.write_text(f'[replica]\ndevice = "web-1"\n[web]\noffices = ["{office}"]\nport = {free_port()}\n'
                   f'[broker]\nhost = "127.0.0.1"\nport = {port}\n')
    display = tmp_path / "display.toml"
    display.write_text(f'[display]\noffice = "{office}"\ndevice = "display-1"\n[screen]\nvideo_driver = "dummy"\n'
                       f'[sound]\nchime = false\n[broker]\nhost = "127.0.0.1"\nport = {port}\n')
    notifier = write_notifier_config(tmp_path / "notifier", port, (office,), "https://warte.test")
    generate_key(notifier)
    return {"hub": ["hubprocess", "run", "--config", str(hub)], "kiosk": ["kiosk", "run", "--simulate", "--config",
            str(kiosk)], "web": ["web", "run", "--config", str(web)], "display": ["display", "run", "--config",
            str(display)], "notifier": ["notifier", "run", "--config", str(notifier)]}


@pytest.mark.parametrize("role", ["hub", "kiosk", "web", "display", "notifier"])
def test_each_service_reaches_ready_and_feeds_the_watchdog(role, tmp_path, shared_broker, topic_office):
    configs = service_configs(tmp_path, shared_broker.port, topic_office)
    notify = NotifySocket(tmp_path)
    helpers = []
    if role == "kiosk":  # a kiosk is ready once it resumed numbering from the hub (or found none)
        (tmp_path / "hub-notify").mkdir()
        helpers.append(run_service(configs["hub"], NotifySocket(tmp_path / "hub-notify"), tmp_path / "hub.log"))
    log = tmp_path / f"{role}.log"
    process = run_service(configs[role], notify, log, {"SDL_VIDEODRIVER": "dummy", "SDL_AUDIODRIVER": "dummy"})
    try:
        assert notify.wait_for("READY=1", 30), (notify.messages, log.read_text()[-2000:])
        mark = len(notify.messages)
        assert notify.wait_for("WATCHDOG=1", 10, since=mark)
    finally:
        for running in [process, *helpers]:
            running.terminate()
            running.wait(20)
        notify.close()
    assert process.returncode == 0, log.read_text()[-2000:]
    assert any("STOPPING=1" in m for m in notify.messages)


class BlockingPrinter(MemoryPrinter):
    """A printer that hangs mid-ticket until released: the print worker stops reporting in."""

    release = threading.Event()

    def print_document(self, doc, name):
        self.release.wait(30)
        return super().print_document(doc, name)


def test_a_hung_print_worker_stops_the_watchdog(tmp_path, shared_broker, topic_office):
    notify = NotifySocket(tmp_path)
    config = write_config(tmp_path, shared_broker.port, topic_office, printer="dummy", services=FAST_A)
    from kiosk.config import load_kiosk_config

    printer = BlockingPrinter(load_kiosk_config(config).printer)
    kiosk = start_kiosk(config, printer=printer)
    watchdog = Watchdog(Notifier(notify.env(watchdog_s=0.4)), {"print worker": lambda: kiosk.worker_beat},
                        max_age_s=1.5, monotonic=kiosk.clock.monotonic)
    try:
        assert kiosk.ready.wait(10)
        watchdog.start()
        assert notify.wait_for("WATCHDOG=1", 5)
        press(kiosk, "A")  # the worker hangs inside the printer
        with notify.cond:
            assert notify.cond.wait_for(lambda: watchdog.stuck == ["print worker"], 10)
            stopped_at = len(notify.messages)
        assert not notify.wait_for("WATCHDOG=1", 1.0, since=stopped_at)  # no more pings while hung
        BlockingPrinter.release.set()
        assert kiosk.wait_handled(1, 10)
        assert notify.wait_for("WATCHDOG=1", 5, since=stopped_at)  # recovered: fed again
    finally:
        BlockingPrinter.release.set()
        watchdog.stop()
        kiosk.stop()
        notify.close()
