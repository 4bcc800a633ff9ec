"""The kiosk's hardware panel: one button (and optional light) per service, a technician button, the
status LED — all gpiozero devices built from one pin factory — and the voice (kiosk/voice.py): a
service button held `[speech] hold_s` says its service's name.

Like gpiozero itself, the panel never knows whether pins are real (lgpio on the Pi) or mock pins
(tests, `--simulate`): the factory is injected. Button callbacks run on gpiozero's thread, so they
only hand the press on; the kiosk's worker does the printing.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from enum import Enum
from typing import Any

from gpiozero import LED, Button

from kiosk.config import Pin, ServiceButton
from kiosk.voice import KioskVoice, SpeechSettings

log = logging.getLogger("wartemarke.kiosk.panel")


class LedPattern(Enum):
    """Status LED patterns, (on seconds, off seconds); None = steady."""

    READY = None  # steady on: press a button
    PRINTING = (0.1, 0.1)  # fast flicker
    OFFLINE = (0.1, 1.9)  # short flash every 2 s: prints, but broker or hub unreachable
    STARTING = (0.5, 0.5)  # waiting to resume numbering from the hub
    PRINTER_FAULT = (1.5, 0.3)  # mostly on with a gap: printer error or paper out
    OFF = (0.0, 0.0)


class Panel:
    """Buttons, button lights and the status LED of one kiosk."""

    def __init__(self, services: tuple[ServiceButton, ...], status_led_pin: Pin, technician_pin: Pin | None,
                 technician_hold_s: float, on_press: Callable[[str], None],
                 on_technician: Callable[[], None], pin_factory: Any = None,
                 speech: SpeechSettings | None = None) -> None:
        """A held button has printed its ticket already: printing never waits to see whether a press is a hold."""
        self.voice = KioskVoice(speech or SpeechSettings(), {s.id: (s.name_de, s.name_en) for s in services})
        hold_s = self.voice.settings.hold_s if self.voice.settings.enabled else 0.0
        self.pattern: LedPattern | None = None
        self._lock = threading.Lock()  # the print worker and the monitor both set the LED
        self.buttons: dict[str, Button] = {}
        self.lights: dict[str, LED] = {}
        for service in services:
            button = Button(service.button_pin, pull_up=True, bounce_time=None, hold_time=hold_s or 1.0,
                            pin_factory=pin_factory)
            button.when_pressed = _press(self.voice, on_press, service.id)
            if hold_s > 0:
                button.when_held = _bind(self.voice.service, service.id)
            self.buttons[service.id] = button
            if service.light_pin is not None:
                self.lights[service.id] = LED(service.light_pin, pin_factory=pin_factory)
        self.status_led = LED(status_led_pin, pin_factory=pin_factory)
        self.technician: Button | None = None
        if technician_pin is not None:
            self.technician = Button(technician_pin, pull_up=True, hold_time=technician_hold_s,
                                     pin_factory=pin_factory)
            self.technician.when_held = on_technician

    def show(self, pattern: LedPattern) -> None:
        """Switch the status LED pattern (no-op when unchanged, so blinking is not restarted)."""
        with self._lock:
            if pattern == self.pattern:
                return
            self.pattern = pattern
            log.info("status LED: %s", pattern.name.lower().replace("_", " "))
            if pattern is LedPattern.READY:
                self.status_led.on()
            elif pattern is LedPattern.OFF:
                self.status_led.off()
            else:
                on_time, off_time = pattern.value
                self.status_led.blink(on_time=on_time, off_time=off_time)

    def set_light(self, service: str, issuing: bool) -> None:
        """A lit button issues tickets; a dark one means "no tickets left today"."""
        light = self.lights.get(service)
        if light is not None and bool(light.value) != issuing:
            light.value = issuing

    def close(self) -> None:
        for device in [*self.buttons.values(), *self.lights.values(), self.status_led, self.technician]:
            if device is not None:
                device.close()
        self.voice.stop()


def _bind(callback: Callable[[str], None], service: str) -> Callable[[], None]:
    return lambda: callback(service)


def _press(voice: KioskVoice, on_press: Callable[[str], None], service: str) -> Callable[[], None]:
    def pressed() -> None:
        voice.pause()  # a sentence still being made waits until this press's ticket is out
        on_press(service)

    return pressed
