"""A light and a buzzer per counter, for counters without a screen and for people who cannot see the
board: a call to that counter makes its light blink for `highlight_s` and its buzzer beep twice.

Optional (`[[signals]]` in display.toml). gpiozero drives the pins from its own background threads, so
a call never waits for a blink or a beep; tests use gpiozero's MockFactory as for the kiosk's panel.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from gpiozero import LED, Buzzer

from process.config import ConfigSection
from protocol.fields import SLUG_RE

log = logging.getLogger("wartemarke.display.signals")

Pin = int | str
BLINK_S = 0.5  # on and off time of a counter's light while its call is new
BEEPS = 2


@dataclass(frozen=True)
class CounterSignal:
    counter: str  # the counter id, as in the hub's config
    light_pin: Pin | None
    buzzer_pin: Pin | None


def read_signals(sections: list[ConfigSection]) -> tuple[CounterSignal, ...]:
    signals = []
    for section in sections:
        counter = section.get_str("counter")
        if not SLUG_RE.match(counter):
            raise section.error("counter", f"is not a counter id (a slug of a-z, 0-9 and '-'); got {counter!r}")
        pins = {key: _pin(section, key) for key in ("light_pin", "buzzer_pin")}
        if pins["light_pin"] is None and pins["buzzer_pin"] is None:
            raise section.error("counter", "needs a light_pin, a buzzer_pin or both")
        signals.append(CounterSignal(counter, pins["light_pin"], pins["buzzer_pin"]))
    if len({s.counter for s in signals}) != len(signals):
        raise sections[0].error("counter", "each counter may have one [[signals]] table only")
    return tuple(signals)


def _pin(section: ConfigSection, key: str) -> Pin | None:
    value = section.get_value(key, None)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | str) or (isinstance(value, int) and not 0 <= value <= 27):
        raise section.error(key, f"must be a BCM GPIO number 0..27 or a pin name (e.g. 'BOARD11'); got {value!r}")
    return value


class CounterSignals:
    """The lights and buzzers of the configured counters."""

    def __init__(self, signals: tuple[CounterSignal, ...], highlight_s: float, pin_factory: Any = None) -> None:
        self.highlight_s = highlight_s
        self.lights = {s.counter: LED(s.light_pin, pin_factory=pin_factory) for s in signals
                       if s.light_pin is not None}
        self.buzzers = {s.counter: Buzzer(s.buzzer_pin, pin_factory=pin_factory) for s in signals
                        if s.buzzer_pin is not None}

    def call(self, counter: str) -> None:
        """A ticket was called to `counter`: blink its light and beep its buzzer (both in the background)."""
        light, buzzer = self.lights.get(counter), self.buzzers.get(counter)
        if light is not None:
            light.blink(on_time=BLINK_S, off_time=BLINK_S, n=max(1, round(self.highlight_s / (2 * BLINK_S))))
        if buzzer is not None:
            buzzer.beep(on_time=0.2, off_time=0.2, n=BEEPS)
        if light is not None or buzzer is not None:
            log.debug("signalled a call to %s", counter)

    def close(self) -> None:
        for device in [*self.lights.values(), *self.buzzers.values()]:
            device.close()
