"""`make demo`: a simulated office — a private mosquitto, the hub, a simulated kiosk printing into a
folder (raw ESC/POS plus PNG previews), a waiting-room display (a window where there is a screen,
else a PNG of the board after every change), a scripted clerk calling tickets at three counters, and
the notifier: the first ticket is subscribed to Web Push with a "phone" played by a local push service,
which prints every message it decrypts (`phone ← …`).

Type a service id (A or P) and Enter to press that kiosk button; `status` prints a technician status
ticket; Ctrl-C stops. Without a terminal it presses buttons by itself. `DEMO_SECONDS=N` stops after N s;
`DEMO_STATE_DIR` moves the state folder (default `var/demo`). SIGINT, SIGTERM and SIGHUP stop it and
everything it started — also in the background, where a shell starts it with SIGINT ignored — and its
processes die with it even when it is killed (`PR_SET_PDEATHSIG`).
"""

from __future__ import annotations

import logging
import os
import random
import re
import signal
import subprocess
import sys
import threading
import uuid
from pathlib import Path
from types import FrameType

from devtools.broker import Broker, free_port
from devtools.children import die_with_parent
from devtools.notifier_harness import NotifierProcess
from devtools.push_service import PushService
from hub.counter_cli import send_command
from process.clock import SystemClock
from protocol import VERSION, topics
from protocol.businessday import WEEKDAYS
from protocol.fields import decode_object
from protocol.link import BrokerSettings, MqttLink
from protocol.messages import CallsState, CommandRequest, TicketIssued, ticket_event_from_dict

ROOT = Path(__file__).resolve().parent.parent
VAR = Path(os.environ.get("DEMO_STATE_DIR") or ROOT / "var" / "demo")
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
EXAMPLES = ROOT / "deploy" / "examples"
OFFICE = "buergerbuero-mitte"
DEMO_USER, DEMO_PASSWORD = "demo", "demo-passwort"
ALL_DAY = "\n".join(f'{d} = ["00:00-23:59"]' for d in WEEKDAYS)


def adapt(example: str, replacements: dict[str, str], out: Path) -> Path:
    """A documented example, pointed at the demo's broker and folders."""
    text = (EXAMPLES / example).read_text(encoding="utf-8")
    for old, new in replacements.items():
        if old not in text:
            raise SystemExit(f"demo: {EXAMPLES / example} no longer contains {old!r}; update demo/__main__.py")
        text = text.replace(old, new)
    out.write_text(text, encoding="utf-8")
    return out


def broker_table(example: str, port: int) -> dict[str, str]:
    """The example's [broker] table (a deployed device's TLS connection) → the demo's plain local broker."""
    text = (EXAMPLES / example).read_text(encoding="utf-8")
    match = re.search(r"(?ms)^\[broker\]\n.*?(?=^# password)", text)
    if match is None:
        raise SystemExit(f"demo: no [broker] table in {EXAMPLES / example}; update demo/__main__.py")
    local = f'[broker]  # the demo\'s private broker: plain, on this machine only\nhost = "127.0.0.1"\nport = {port}\n'
    return {match.group(0): local}


def kiosk_config(port: int, web_port: int) -> Path:
    return adapt("kiosk.toml", {
        'state_dir = "/var/lib/wartemarke-kiosk"': f'state_dir = "{VAR / "kiosk-1"}"',
        **broker_table("kiosk.toml", port),
        'type = "usb"': f'type = "file"\npath = "{VAR / "printed"}"\npng_previews = true',
        "usb_vendor_id = 0x04b8\nusb_product_id = 0x0202\n": "",
        'tracking_url = "https://warte.example.org/t/"': f'tracking_url = "http://localhost:{web_port}/t/"',
        "min_interval_s = 3.0 ": "min_interval_s = 1.0 ",
    }, VAR / "kiosk.toml")


def hub_config(port: int, web_port: int, notifier_port: int | None = None) -> Path:
    """`notifier_port`: the demo's notifier, for the tracking page's notification button (the small
    city of `make demo OFFICES=3` runs none)."""
    hours = re.search(r"(?ms)^\[offices\.hours\].*?\n\n", (EXAMPLES / "hub.toml").read_text(encoding="utf-8"))
    assert hours is not None
    return adapt("hub.toml", {
        'state_dir = "/var/lib/wartemarke-hub"': f'state_dir = "{VAR / "hub"}"',
        'port = 1883\nusername = "hub-1"\npassword_file = "/etc/wartemarke/broker-password"': f"port = {port}",
        hours.group(0): "[offices.hours]  # the demo office never closes\n" + ALL_DAY + "\n\n",
        'hours = { mon = ["08:00-12:00"], tue = ["08:00-12:00"], thu = ["14:00-18:00"] }': "",
        "tick_s = 15": "tick_s = 2",
        'host = "0.0.0.0"': 'host = "127.0.0.1"',  # plain HTTP is allowed on loopback only
        'port = 8443': f"port = {web_port}",
        'tls_certificate = "/etc/wartemarke/tls/hub-web.crt"': "",
        'tls_key = "/etc/wartemarke/tls/hub-web.key"': "",
        "redirect_port = 8080": "",
        'public_url = "https://warte.example.org"': f'public_url = "http://localhost:{web_port}"',
        'session_secret_file = "/etc/wartemarke/web-session-secret"': "",
        'broker_username = "hub-1-web"': "",
        'broker_password_file = "/etc/wartemarke/web-broker-password"': "",
        'privacy_url = "https://www.example.org/datenschutz"\nimprint_url = "https://www.example.org/impressum"': "",
    } | ({} if notifier_port is None else {
        '# push_url = "/push/v1"': f'push_url = "http://localhost:{notifier_port}/push/v1"'}), VAR / "hub.toml")


def notifier_config(port: int, web_port: int, notifier_port: int) -> Path:
    return adapt("notifier.toml", {
        "port = 8091": f"port = {notifier_port}",
        'public_url = "https://warte.example.org"': f'public_url = "http://localhost:{web_port}"',
        'database = "/var/lib/wartemarke/notifier.sqlite"': f'database = "{VAR / "notifier.sqlite"}"',
        'vapid_key_file = "/etc/wartemarke/vapid.pem"': f'vapid_key_file = "{VAR / "vapid.pem"}"',
        '# push_hosts = ["fcm.googleapis.com",': 'push_hosts = ["127.0.0.1", "fcm.googleapis.com",',
        '#               "web.push.apple.com"': '              "web.push.apple.com"',
        "# allow_http_endpoints = false": "allow_http_endpoints = true",
        'host = "central.example.org"\nport = 8883\ntls = true\nca_file = "/etc/wartemarke/city-ca.crt"\n'
        'username = "notifier-1"\npassword_file = "/etc/wartemarke/broker-password"':
            f'host = "127.0.0.1"\nport = {port}',
    }, VAR / "notifier.toml")


def phone(push: PushService, notifier: NotifierProcess, token: str, label: str) -> None:
    """Subscribe one ticket with the local push service as its phone, and print what the phone receives."""
    stop = threading.Event()
    for _ in range(60):  # the notifier may still be starting, or not have seen the ticket yet
        try:
            status, body = notifier.subscribe(token, push.browsers["phone"].info, notify="5places")
        except OSError:
            status, body = 0, None
        if status in (200, 201):
            break
        if status == 409:  # called already: the next ticket gets the phone
            push.browsers.pop("phone", None)
            return
        stop.wait(0.5)
    else:
        print(f"  notifier: could not subscribe {label} ({status} {body})", flush=True)
        return
    print(f"  notifier: {label} subscribed to Web Push (5 places before)", flush=True)
    shown = 0
    while True:
        with push.changed:
            while len(push.posts) <= shown:
                push.changed.wait()
            new, shown = push.posts[shown:], len(push.posts)
        for post in new:
            print(f"  phone ← {post.message['title']} — {post.message['body']}", flush=True)


def display_config(port: int, window: bool) -> Path:
    return adapt("display.toml", {
        'video_driver = "kmsdrm"': f'video_driver = "{"window" if window else "dummy"}"',
        **broker_table("display.toml", port),
        "width = 1920 ": "width = 1280 ",
        "height = 1080": "height = 720",
    }, VAR / "display.toml")


def watch(link: MqttLink, web_port: int, push: PushService, notifier: NotifierProcess) -> None:
    """Print ticket events (with the tracking page's address) as they reach the broker, and every call;
    subscribe the first ticket to Web Push."""
    last_seq = -1

    def on_ticket(topic: str, payload: bytes) -> None:
        event = ticket_event_from_dict(decode_object(payload))
        print(f"  broker ← {event.type} {event.label} from {event.device} (seq {event.seq})", flush=True)
        if isinstance(event, TicketIssued):
            print(f"  tracking page of {event.label}: http://localhost:{web_port}/t/{event.token}", flush=True)
            if "phone" not in push.browsers:
                push.browsers["phone"] = push.subscription("phone")  # claimed now: one phone, the first ticket
                threading.Thread(target=phone, args=(push, notifier, event.token, event.label), daemon=True).start()

    def on_calls(topic: str, payload: bytes) -> None:
        nonlocal last_seq
        state = CallsState.from_dict(decode_object(payload))
        if state.calls and state.seq != last_seq:
            last_seq = state.seq
            call = state.calls[0]
            again = f" (recall {call.recall})" if call.recall else ""
            print(f"  display: {call.label} → {call.counter_name}{again}", flush=True)

    link.subscribe(topics.kiosk_tickets(OFFICE), on_ticket)
    link.subscribe(topics.calls(OFFICE), on_calls)


def clerk(link: MqttLink, stop: threading.Event, office: str = OFFICE, slow: float = 1.0) -> None:
    """Three clerks: call the next ticket, serve it a while, sometimes a no-show (`slow` times as long)."""
    counters = ["platz-1", "platz-2", "abholung"]
    while not stop.wait(random.uniform(2.0, 5.0) * slow):
        counter = random.choice(counters)
        op = "no_show" if random.random() < 0.1 else "next"
        answer = send_command(link, office, counter, CommandRequest(uuid.uuid4().hex, op), timeout_s=5)
        if answer is None:
            print("  clerk: the hub does not answer", flush=True)


class Stopped(Exception):
    """A stop signal arrived."""


def _stop(signum: int, frame: FrameType | None) -> None:
    for sig in STOP_SIGNALS:  # one is enough: clean up undisturbed
        signal.signal(sig, signal.SIG_IGN)
    raise Stopped(signal.Signals(signum).name)


def start(command: list[str], env: dict[str, str], stdin: int | None = None) -> subprocess.Popen[str]:
    """A child that gets SIGTERM when the demo dies, however it dies (as devtools/broker.py does for mosquitto).
    Children are started before the demo starts any thread, so `preexec_fn` is safe here."""
    return subprocess.Popen(command, cwd=ROOT, env=env, stdin=stdin, text=True,
                            preexec_fn=die_with_parent)  # noqa: PLW1509


def main() -> int:
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for sig in STOP_SIGNALS:  # also over an inherited "ignore" (a background job of a non-interactive shell)
        signal.signal(sig, _stop)
    VAR.mkdir(parents=True, exist_ok=True)
    broker = Broker(VAR / "broker")
    from demo.city import MAX_OFFICES, run_city  # a small city: `make demo OFFICES=3` (it imports this module)

    children: list[subprocess.Popen[str]] = []
    links: list[MqttLink] = []
    offices = os.environ.get("DEMO_OFFICES") or "1"
    if not offices.isdigit() or not 1 <= int(offices) <= MAX_OFFICES:
        raise SystemExit(f"demo: OFFICES must be 1 … {MAX_OFFICES}; got {offices!r}")
    try:
        broker.start()
        links = run_city(broker, children, int(offices)) if int(offices) > 1 else [run(broker, children)]
    except (Stopped, KeyboardInterrupt) as exc:
        print(f"demo: stopping ({exc or 'interrupted'})", flush=True)
    finally:
        for sig in STOP_SIGNALS:
            signal.signal(sig, signal.SIG_IGN)
        for process in children:
            process.terminate()
        for process in children:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)
        for link in links:
            link.stop()
        broker.stop()
    return 0


def run(broker: Broker, children: list[subprocess.Popen[str]]) -> MqttLink:
    """Start the office's processes (into `children`) and drive the demo until it is stopped."""
    print(f"wartemarke {VERSION} demo — broker on 127.0.0.1:{broker.port}, state in {VAR}")
    env = {**os.environ, "WARTEMARKE_LOG_LEVEL": os.environ.get("WARTEMARKE_LOG_LEVEL", "WARNING")}
    web_port = int(os.environ.get("DEMO_WEB_PORT", "0")) or free_port()
    notifier_port = free_port()
    hub_toml = hub_config(broker.port, web_port, notifier_port)
    subprocess.run([sys.executable, "-m", "hubprocess", "users", "--config", str(hub_toml), "add", DEMO_USER, "--role",
                    "supervisor", "--password-stdin"], input=DEMO_PASSWORD + "\n", text=True, cwd=ROOT, env=env,
                   check=True, stdout=subprocess.DEVNULL)
    children.append(start([sys.executable, "-m", "hubprocess", "run", "--config", str(hub_toml)], env=env))
    base = f"http://localhost:{web_port}"
    print(f"Ampel (public):   {base}/\ncounter (clerks):  {base}/counter?office={OFFICE}&counter=platz-1"
          f"   login: {DEMO_USER} / {DEMO_PASSWORD}\ndevices (techs):   {base}/devices   (same login)")
    kiosk = start([sys.executable, "-m", "kiosk", "run", "--simulate", "--config",
                   str(kiosk_config(broker.port, web_port))], stdin=subprocess.PIPE,
                  env={**env, "WARTEMARKE_LOG_LEVEL": os.environ.get("WARTEMARKE_LOG_LEVEL", "INFO")})
    children.append(kiosk)
    window = bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
    display_cmd = [sys.executable, "-m", "display", "run", "--config", str(display_config(broker.port, window))]
    board_png = VAR / "board.png"
    if not window:
        display_cmd += ["--snapshot", str(board_png)]
    children.append(start(display_cmd, env={**env, "SDL_AUDIODRIVER": os.environ.get(
        "SDL_AUDIODRIVER", "dummy" if not window else "")}))
    print("the waiting-room display opens in a window" if window else
          f"no screen here: the waiting-room display writes its board to {board_png} after every change")
    notifier_toml = notifier_config(broker.port, web_port, notifier_port)
    if not (VAR / "vapid.pem").exists():
        subprocess.run([sys.executable, "-m", "notifier", "generate-key", "--config", str(notifier_toml)], cwd=ROOT,
                       env=env, check=True, stdout=subprocess.DEVNULL)
    children.append(start([sys.executable, "-m", "notifier", "run", "--config", str(notifier_toml)], env=env))
    notifier = NotifierProcess(notifier_toml, notifier_port, VAR / "notifier.log")
    push = PushService().start()
    print(f"notifier (Web Push): http://localhost:{notifier_port}/push/v1; a local push service plays the phone")
    link = MqttLink(BrokerSettings(port=broker.port), OFFICE, "demo-clerk", "demo", VERSION,
                    SystemClock(assume_synced=True), availability=False)
    watch(link, web_port, push, notifier)
    link.start()
    try:
        interact(kiosk, link)
    except BaseException:
        link.stop()
        raise
    return link


def interact(kiosk: subprocess.Popen[str], link: MqttLink) -> None:
    """Presses from the terminal (or by themselves) and a scripted clerk, until stopped."""
    print(f"kiosk prints into {VAR / 'printed'} (.escpos = printer bytes, .png = what the citizen gets)")
    stop = threading.Event()
    threading.Thread(target=clerk, args=(link, stop), daemon=True).start()
    seconds = float(os.environ.get("DEMO_SECONDS", "0")) or None
    if seconds:
        timer = threading.Timer(seconds, stop.set)
        timer.daemon = True
        timer.start()
    interactive = sys.stdin.isatty() and not seconds
    print("type A or P + Enter to press a kiosk button, 'status' for a status ticket, Ctrl-C to stop"
          if interactive else "pressing kiosk buttons by itself every few seconds")
    assert kiosk.stdin is not None
    try:
        if interactive:
            for line in sys.stdin:
                kiosk.stdin.write(line)
                kiosk.stdin.flush()
        else:
            while not stop.wait(random.uniform(1.5, 4.0)):
                kiosk.stdin.write(random.choice("AAAP") + "\n")
                kiosk.stdin.flush()
    finally:
        stop.set()


if __name__ == "__main__":
    sys.exit(main())
