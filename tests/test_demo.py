"""`make demo` stops everything it started on SIGINT and SIGTERM, also in the background (issue 11 item 9).

A shell without job control starts a background job with SIGINT ignored; the demo runs in its own
session here, so every process it starts (mosquitto, hub, kiosk, display) is found by its process group,
and after the signal none may be left.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from devtools.broker import free_port
from tests.web_harness import get, wait_until

REPO = Path(__file__).resolve().parents[1]


def group_members(pgid: int) -> list[str]:
    """Processes (pid and command) whose process group is `pgid` (from /proc; zombies count as gone)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        if int(fields[2]) == pgid and fields[0] != "Z":
            found.append(f"{entry.name} {cmdline.strip()}")
    return found


def background_job() -> None:
    """What a non-interactive shell does for `cmd &`: SIGINT (and SIGQUIT) ignored."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGQUIT, signal.SIG_IGN)


@pytest.mark.parametrize(("command", "sig", "to_group"), [
    ("make", signal.SIGINT, True),  # Ctrl-C, or `kill -INT %1`: the whole job's process group
    ("make", signal.SIGTERM, False),  # `kill <pid of make>`
    ("python", signal.SIGINT, False),  # `kill -INT <pid>` of a background demo
], ids=["make-sigint-to-group", "make-sigterm", "python-sigint"])
def test_the_demo_stops_everything_it_started(tmp_path, command, sig, to_group):
    web_port = free_port()
    env = {**os.environ, "DEMO_STATE_DIR": str(tmp_path / "demo"), "DEMO_WEB_PORT": str(web_port),
           "WARTEMARKE_LOG_LEVEL": "WARNING", "PYTHONUNBUFFERED": "1"}
    env.pop("DISPLAY", None)
    env.pop("WAYLAND_DISPLAY", None)
    argv = (["make", "-s", "-o", ".venv/.installed", "-o", ".venv/.debian-packages", "demo"] if command == "make"
            else [sys.executable, "-m", "demo"])
    demo = subprocess.Popen(argv, cwd=REPO, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True, preexec_fn=background_job)
    output: list[str] = []
    reader = threading.Thread(target=lambda: output.extend(demo.stdout or ()), daemon=True)
    reader.start()
    pgid = demo.pid
    try:
        try:
            wait_until(lambda: _listening(web_port) and get(f"http://127.0.0.1:{web_port}/healthz").status == 200,
                       90, "the demo's hub web")
        except AssertionError as exc:  # say what the demo printed (it starts a dozen processes; under load slowly)
            raise AssertionError(f"{exc}; the demo printed:\n{''.join(output)[-4000:]}") from None
        parts = ("mosquitto", "-m hubprocess run", "-m kiosk run", "-m display run", "-m notifier run")
        wait_until(lambda: all(any(part in p for p in group_members(pgid)) for part in parts), 30,
                 "mosquitto, hub, kiosk, display and notifier")
        if command == "python":  # a subscription end to end: the local push service decrypted a message
            wait_until(lambda: any(line.startswith("  phone ← ") for line in list(output)), 60,
                       "the demo's phone to receive a Web Push message")
        if to_group:
            os.killpg(pgid, sig)
        else:
            demo.send_signal(sig)
        code = demo.wait(40)
        wait_until(lambda: not group_members(pgid), 20, "every process of the demo to end")
    finally:
        if group_members(pgid):
            os.killpg(pgid, signal.SIGKILL)
        demo.wait(10)
        reader.join(5)
    assert code == 0 if command == "python" else code in (0, 2, -sig), "".join(output[-30:])


def _listening(port: int) -> bool:
    import socket

    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def test_a_small_city_demo_shows_a_shorter_wait_nearby(tmp_path):
    """`make demo OFFICES=3`: three offices on one city Ampel; Mitte turns red and the Ampel suggests the
    shorter wait nearby; SIGTERM stops all of it."""
    web_port = free_port()
    env = {**os.environ, "DEMO_STATE_DIR": str(tmp_path / "demo"), "DEMO_WEB_PORT": str(web_port),
           "DEMO_OFFICES": "3", "WARTEMARKE_LOG_LEVEL": "WARNING", "PYTHONUNBUFFERED": "1"}
    env.pop("DISPLAY", None)
    env.pop("WAYLAND_DISPLAY", None)
    demo = subprocess.Popen([sys.executable, "-m", "demo"], cwd=REPO, env=env, stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    output: list[str] = []
    reader = threading.Thread(target=lambda: output.extend(demo.stdout or ()), daemon=True)
    reader.start()
    try:
        wait_until(lambda: _listening(web_port) and get(f"http://127.0.0.1:{web_port}/healthz").status == 200, 90,
                   "the demo's city replica")
        offices = get(f"http://127.0.0.1:{web_port}/api/v1/offices").json()["offices"]
        assert [o["id"] for o in offices] == ["buergerbuero-mitte", "buergerbuero-ost", "buergerbuero-west"]
        # One hub per office: count their configs (a hub forking for a moment — ctypes' find_library runs
        # ldconfig — shows its parent's command line until the exec, so processes would count it twice).
        hubs = {p.split("--config", 1)[1].strip() for p in group_members(demo.pid) if "-m hubprocess run" in p}
        assert len(hubs) == 3, hubs
        wait_until(lambda: 'class="nearby"' in get(f"http://127.0.0.1:{web_port}/").text, 180,
                   "a shorter-wait suggestion on the city Ampel")
        demo.send_signal(signal.SIGTERM)
        code = demo.wait(60)
        wait_until(lambda: not group_members(demo.pid), 20, "every process of the demo to end")
    finally:
        if group_members(demo.pid):
            os.killpg(demo.pid, signal.SIGKILL)
        demo.wait(10)
        reader.join(5)
    assert code == 0, "".join(output[-30:])
