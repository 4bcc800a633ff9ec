"""The baseline for the display's idle costs, in its own process: `python -m bench.display.floor`."""

from __future__ import annotations

import signal
import sys
import threading


def floor_main() -> int:
    """The baseline for idle costs: pygame-ce with the same screen and mixer, waiting for events."""
    import pygame

    from display.sound.audio import MIXER_BUFFER, MIXER_CHANNELS, MIXER_FREQUENCY, MIXER_SIZE

    pygame.display.init()
    pygame.font.init()
    pygame.display.set_mode((1920, 1080))
    pygame.mixer.init(MIXER_FREQUENCY, MIXER_SIZE, MIXER_CHANNELS, MIXER_BUFFER, allowedchanges=0)
    tick = pygame.event.custom_type()
    pygame.time.set_timer(tick, 1000)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    print("ready", flush=True)
    while not stop.is_set():
        pygame.event.wait(1000)
    pygame.quit()
    return 0



if __name__ == "__main__":
    sys.exit(floor_main())
