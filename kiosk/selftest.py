"""`wartemarke-kiosk selftest`: a readable report a technician can act on; exit 0 only if all pass.

It checks what a kiosk needs: the printer answers (or its folder is writable), the broker accepts the
device's credentials, every configured pin can be claimed, the LED can be driven, and the clock is
synced. Run it with the kiosk service stopped (the service holds the pins).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from kiosk.config import KioskConfig
from kiosk.store import KioskStore
from process.clock import SystemClock
from protocol import VERSION
from protocol.link import MqttLink

log = logging.getLogger("wartemarke.kiosk.selftest")


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str


def run_selftest(config: KioskConfig, simulate: bool = False, broker_timeout_s: float = 10.0) -> int:
    pin_factory: Any = None
    if simulate:
        from gpiozero.pins.mock import MockFactory

        pin_factory = MockFactory()
    checks: list[Callable[[], Check]] = [
        lambda: _check_printer(config),
        lambda: _check_broker(config, broker_timeout_s),
        lambda: _check_pins(config, pin_factory),
        _check_clock,
    ]
    results = [_guard(check) for check in checks]
    print(f"wartemarke-kiosk {VERSION} selftest — {config.office}/{config.device} ({config.path})")
    for result in results:
        print(f"  [{'PASS' if result.ok else 'FAIL'}] {result.name}: {result.detail}")
    failed = [r.name for r in results if not r.ok]
    print("all checks passed" if not failed else f"{len(failed)} check(s) failed: {', '.join(failed)}")
    return 0 if not failed else 1


def _guard(check: Callable[[], Check]) -> Check:
    try:
        return check()
    except Exception as exc:
        return Check(getattr(check, "__name__", "check"), False, f"unexpected error: {exc}")


def _check_printer(config: KioskConfig) -> Check:
    printer = config.printer.open()
    try:
        store = KioskStore(config.state_dir / "kiosk.sqlite3")
        roll = store.roll_count()
        store.close()
        status = printer.status(roll)
    finally:
        printer.close()
    detail = f"{printer.describe()}: {'online' if status.online else 'OFFLINE'}, paper {status.paper.value}"
    if status.detail:
        detail += f" ({status.detail})"
    return Check("printer", status.can_print, detail)


def _check_broker(config: KioskConfig, timeout_s: float) -> Check:
    b = config.broker
    link = MqttLink(b, config.office, config.device, "kiosk", VERSION, SystemClock(), availability=False)
    link.start()
    try:
        ok = link.connected.wait(timeout_s)
    finally:
        link.stop()
    where = f"{b.host}:{b.port} as {b.username or 'anonymous'}{' with TLS' if b.tls else ''}"
    return Check("broker", ok, f"connected to {where}" if ok else f"no connection to {where} in {timeout_s:.0f} s")


def _check_pins(config: KioskConfig, pin_factory: Any) -> Check:
    from gpiozero import LED, Button

    devices: list[Any] = []
    try:
        buttons = {s.id: Button(s.button_pin, pin_factory=pin_factory) for s in config.services}
        devices.extend(buttons.values())
        devices.extend(LED(s.light_pin, pin_factory=pin_factory) for s in config.services if s.light_pin is not None)
        if config.technician_pin is not None:
            devices.append(Button(config.technician_pin, pin_factory=pin_factory))
        led = LED(config.status_led_pin, pin_factory=pin_factory)
        devices.append(led)
        led.on()
        led.off()
        stuck = [service for service, button in buttons.items() if button.is_pressed]
    except Exception as exc:
        return Check("buttons and LED", False, f"cannot claim pins: {exc} (is the kiosk service still running?)")
    finally:
        for device in devices:
            device.close()
    detail = f"{len(devices)} pins claimed"
    if stuck:
        return Check("buttons and LED", False, f"{detail}; buttons read as pressed (stuck or miswired): {stuck}")
    return Check("buttons and LED", True, detail)


def _check_clock() -> Check:
    synced = SystemClock().synced()
    return Check("clock", synced, "synchronised (NTP/chrony)" if synced else
                 "NOT synchronised: check chrony and the hub's time server")
