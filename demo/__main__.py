"""`make demo`: a simulated office — a private mosquitto, a simulated kiosk printing into a folder
(raw ESC/POS plus PNG previews) and the ticket events arriving at a stand-in hub.

Type a service id (A or P) and Enter to press that button; `status` prints a technician status
ticket; Ctrl-C stops. Without a terminal it presses buttons by itself. `DEMO_SECONDS=N` stops after N s.
"""

from __future__ import annotations

import logging
import os
import random
import subprocess
import sys
import threading
from pathlib import Path

from demo.hub_stand_in import HubStandIn
from protocol import VERSION
from protocol.clock import SystemClock
from protocol.link import BrokerSettings, MqttLink
from tests.broker import Broker

ROOT = Path(__file__).resolve().parent.parent
VAR = ROOT / "var" / "demo"
EXAMPLE = ROOT / "deploy" / "examples" / "kiosk.toml"


def kiosk_config(port: int) -> Path:
    """The documented example, pointed at the demo's broker, folders and a file printer."""
    text = EXAMPLE.read_text(encoding="utf-8")
    replacements = {
        'state_dir = "/var/lib/wartemarke-kiosk"': f'state_dir = "{VAR / "kiosk-1"}"',
        'host = "hub.local"\nport = 1883\nusername = "kiosk-1"                 # per-device credentials '
        '(deploy/ generates them)\npassword_file = "/etc/wartemarke/broker-password"':
            f'host = "127.0.0.1"\nport = {port}',
        'type = "usb"': f'type = "file"\npath = "{VAR / "printed"}"\npng_previews = true',
        "usb_vendor_id = 0x04b8\nusb_product_id = 0x0202\n": "",
        'tracking_url = "https://warte.example.org/t/"': 'tracking_url = "http://localhost:8080/t/"',
        "min_interval_s = 3.0 ": "min_interval_s = 1.0 ",
    }
    for old, new in replacements.items():
        if old not in text:
            raise SystemExit(f"demo: {EXAMPLE} no longer contains {old!r}; update demo/__main__.py")
        text = text.replace(old, new)
    path = VAR / "kiosk.toml"
    path.write_text(text, encoding="utf-8")
    return path


def main() -> int:
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    VAR.mkdir(parents=True, exist_ok=True)
    broker = Broker(VAR / "broker")
    broker.start()
    print(f"wartemarke {VERSION} demo — broker on 127.0.0.1:{broker.port}")
    link = MqttLink(BrokerSettings(port=broker.port), "buergerbuero-mitte", "hub-demo", "hub", VERSION,
                    SystemClock(assume_synced=True))
    hub = HubStandIn(link, ["A", "P"])
    link.start()
    link.connected.wait(10)
    hub.publish_queue(None)
    config = kiosk_config(broker.port)
    print(f"kiosk prints into {VAR / 'printed'} (.escpos = printer bytes, .png = what the citizen gets)")
    kiosk = subprocess.Popen([sys.executable, "-m", "kiosk", "run", "--simulate", "--config", str(config)],
                             stdin=subprocess.PIPE, text=True, cwd=ROOT)
    stop = threading.Event()
    seconds = float(os.environ.get("DEMO_SECONDS", "0")) or None
    if seconds:
        threading.Timer(seconds, stop.set).start()
    interactive = sys.stdin.isatty() and not seconds
    print("type A or P + Enter to press a button, 'status' for a status ticket, Ctrl-C to stop"
          if interactive else "pressing buttons by itself every few seconds")
    try:
        if interactive:
            for line in sys.stdin:
                assert kiosk.stdin is not None
                kiosk.stdin.write(line)
                kiosk.stdin.flush()
        else:
            while not stop.wait(random.uniform(1.5, 4.0)):
                assert kiosk.stdin is not None
                kiosk.stdin.write(random.choice("AAAP") + "\n")
                kiosk.stdin.flush()
    except KeyboardInterrupt:
        pass
    finally:
        kiosk.terminate()
        kiosk.wait(timeout=15)
        link.stop()
        broker.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
