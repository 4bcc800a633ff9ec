"""`make demo OFFICES=3`: a small city on one machine — per office its own hub (with its office web), a
simulated kiosk and a waiting-room display, all on the demo's one broker (a city's central broker and
bridges are left out: one broker is what a replica reads either way), and one public replica
(`wartemarke-web`) with every office on the city Ampel.

Mitte gets narrow Ampel bands (green up to 5 min, yellow up to 10) and a slow clerk, so it turns red
within a minute or two and the Ampel suggests the shorter wait at Ost and West nearby.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
import threading
from pathlib import Path

from demo.__main__ import (
    DEMO_PASSWORD,
    DEMO_USER,
    OFFICE,
    VAR,
    adapt,
    clerk,
    display_config,
    hub_config,
    kiosk_config,
    start,
)
from devtools.broker import Broker, free_port
from process.clock import SystemClock
from protocol import VERSION
from protocol.link import BrokerSettings, MqttLink

# id, name, latitude, longitude (Stuttgart's centre and around it)
PLACES = (("buergerbuero-mitte", "Bürgerbüro Mitte", 48.7758, 9.1829),
          ("buergerbuero-ost", "Bürgerbüro Ost", 48.7784, 9.2146),
          ("buergerbuero-west", "Bürgerbüro West", 48.7735, 9.1560),
          ("buergerbuero-nord", "Bürgerbüro Nord", 48.8010, 9.1830),
          ("buergerbuero-sued", "Bürgerbüro Süd", 48.7530, 9.1690))
MAX_OFFICES = len(PLACES)


def _adapt(path: Path, out: Path, replacements: dict[str, str]) -> Path:
    """A config the single-office demo wrote, made another office's (an absolute path: EXAMPLES / it is it)."""
    return adapt(str(path.resolve()), replacements, out)


def office_configs(index: int, port: int, city_port: int) -> tuple[Path, Path, Path, int]:
    """hub.toml (with its office web on a port of its own), kiosk.toml and display.toml of office `index`."""
    office, name, latitude, longitude = PLACES[index]
    hub_port, window = free_port(), bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
    renames = {f'"{OFFICE}"': f'"{office}"', '"Bürgerbüro Mitte"': f'"{name}"'}
    hub = {**renames, f'state_dir = "{VAR / "hub"}"': f'state_dir = "{VAR / office / "hub"}"',
           'device = "hub-1"': f'device = "hub-{index + 1}"', "latitude = 48.7758": f"latitude = {latitude}",
           "longitude = 9.1829": f"longitude = {longitude}",
           f'public_url = "http://localhost:{hub_port}"': f'public_url = "http://localhost:{city_port}"'}
    if index == 0:  # Mitte: red soon
        hub["green_max_min = 30\nyellow_max_min = 90"] = "green_max_min = 5\nyellow_max_min = 10"
    kiosk = {'office = "buergerbuero-mitte"': f'office = "{office}"', 'office_name = "Bürgerbüro Mitte"':
             f'office_name = "{name}"', f'state_dir = "{VAR / "kiosk-1"}"': f'state_dir = "{VAR / office / "kiosk"}"',
             f'path = "{VAR / "printed"}"': f'path = "{VAR / office / "printed"}"'}
    (VAR / office).mkdir(parents=True, exist_ok=True)
    return (_adapt(hub_config(port, hub_port), VAR / office / "hub.toml", hub),
            _adapt(kiosk_config(port, city_port), VAR / office / "kiosk.toml", kiosk),
            _adapt(display_config(port, window), VAR / office / "display.toml", {
                'office = "buergerbuero-mitte"': f'office = "{office}"'}), hub_port)


def replica_config(port: int, web_port: int, offices: list[str]) -> Path:
    return adapt("web.toml", {
        'offices = ["buergerbuero-mitte"]': "offices = [" + ", ".join(f'"{o}"' for o in offices) + "]",
        "port = 8080": f"port = {web_port}",
        'public_url = "https://warte.example.org"': f'public_url = "http://localhost:{web_port}"',
        'privacy_url = "https://www.example.org/datenschutz"\nimprint_url = "https://www.example.org/impressum"': "",
        "trust_forwarded = true ": "trust_forwarded = false",
        'host = "broker.example.org"': 'host = "127.0.0.1"',
        "port = 8883\ntls = true\nca_file = \"/etc/wartemarke/ca.pem\"\nusername = \"web-1\"\n"
        "password_file = \"/etc/wartemarke/broker-password\"": f"port = {port}",
    }, VAR / "web.toml")


def run_city(broker: Broker, children: list[subprocess.Popen[str]], count: int) -> list[MqttLink]:
    """Start `count` offices and the replica (into `children`) and drive them until stopped."""
    print(f"wartemarke {VERSION} demo of a city with {count} offices — broker on 127.0.0.1:{broker.port}, "
          f"state in {VAR}")
    env = {**os.environ, "WARTEMARKE_LOG_LEVEL": os.environ.get("WARTEMARKE_LOG_LEVEL", "WARNING")}
    city_port = int(os.environ.get("DEMO_WEB_PORT", "0")) or free_port()
    offices = [p[0] for p in PLACES[:count]]
    kiosks: dict[str, subprocess.Popen[str]] = {}
    for index, office in enumerate(offices):
        hub, kiosk, display, hub_port = office_configs(index, broker.port, city_port)
        subprocess.run([sys.executable, "-m", "hubprocess", "users", "--config", str(hub), "add", DEMO_USER, "--role",
                        "supervisor", "--password-stdin"], input=DEMO_PASSWORD + "\n", text=True, env=env,
                       check=True, stdout=subprocess.DEVNULL)
        children.append(start([sys.executable, "-m", "hubprocess", "run", "--config", str(hub)], env=env))
        kiosks[office] = start([sys.executable, "-m", "kiosk", "run", "--simulate", "--config", str(kiosk)],
                               stdin=subprocess.PIPE, env=env)
        children.append(kiosks[office])
        command = [sys.executable, "-m", "display", "run", "--config", str(display)]
        if not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
            command += ["--snapshot", str(VAR / office / "board.png")]
        children.append(start(command, env={**env, "SDL_AUDIODRIVER": os.environ.get("SDL_AUDIODRIVER", "dummy")}))
        print(f"{PLACES[index][1]}: office web http://localhost:{hub_port}/ (login {DEMO_USER} / {DEMO_PASSWORD}; "
              f"board: {VAR / office / 'board.png'}; tickets: {VAR / office / 'printed'})")
    children.append(start([sys.executable, "-m", "web", "run", "--config",
                           str(replica_config(broker.port, city_port, offices))], env=env))
    print(f"the city Ampel:  http://localhost:{city_port}/   (sort, filter; Mitte turns red within a minute or "
          f"two and the Ampel suggests the shorter wait nearby)\nembeddable:      http://localhost:{city_port}/embed")
    links = []
    stop = threading.Event()
    for index, office in enumerate(offices):
        link = MqttLink(BrokerSettings(port=broker.port), office, "demo-clerk", "demo", VERSION,
                        SystemClock(assume_synced=True), availability=False)
        link.start()
        links.append(link)
        slow = 6.0 if index == 0 else 1.0  # Mitte's clerks are slow
        threading.Thread(target=clerk, args=(link, stop, office, slow), daemon=True).start()
    seconds = float(os.environ.get("DEMO_SECONDS", "0")) or None
    if seconds:
        timer = threading.Timer(seconds, stop.set)
        timer.daemon = True
        timer.start()
    print("pressing kiosk buttons by itself every few seconds (Mitte's kiosk most often); Ctrl-C stops")
    try:
        while not stop.wait(random.uniform(0.7, 2.0)):
            office = offices[0] if random.random() < 0.5 else random.choice(offices)
            pipe = kiosks[office].stdin
            assert pipe is not None
            pipe.write(random.choice("AAAP") + "\n")
            pipe.flush()
    finally:
        stop.set()
    return links
