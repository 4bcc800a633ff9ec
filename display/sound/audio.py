"""The audio device: pygame's mixer, PCM in the mixer's format, and playing a sound to its end.

The announcer asks for 22050 Hz, signed 16-bit, mono (what espeak-ng produces); if someone else
opened the mixer in another format, sounds are converted to it. Without an audio device the display
runs silently.
"""

from __future__ import annotations

import array
import io
import logging
import sys
import threading
import time
import wave
from typing import Final

import pygame

log = logging.getLogger("wartemarke.display.sound")

MIXER_FREQUENCY: Final = 22050
MIXER_SIZE: Final = -16
MIXER_CHANNELS: Final = 1
MIXER_BUFFER: Final = 512

_POLL_S: Final = 0.02  # channel.get_busy() polling step, in the announcer's thread only
_PLAY_SLACK_S: Final = 2.0  # a sound that is "busy" this long past its length is abandoned


def convert_pcm16(pcm: bytes, rate: int, channels: int, to_rate: int, to_channels: int) -> bytes:
    """Signed 16-bit little-endian PCM -> signed 16-bit native-endian PCM at another rate/channel count.

    Down-mixes to mono, resamples by linear interpolation (good enough for speech and a chime), then
    copies the mono signal to every output channel. Trailing partial frames are dropped.
    """
    if rate <= 0 or to_rate <= 0 or channels <= 0 or to_channels <= 0:
        raise ValueError("rates and channel counts must be positive")
    frame = 2 * channels
    source = array.array("h")
    source.frombytes(pcm[: len(pcm) - len(pcm) % frame])
    if sys.byteorder == "big":
        source.byteswap()
    if channels > 1:
        source = array.array("h", (round(sum(source[i:i + channels]) / channels)
                                   for i in range(0, len(source), channels)))
    if rate != to_rate and len(source) > 1:
        count = len(source) * to_rate // rate
        last = len(source) - 1
        step = rate / to_rate
        resampled = array.array("h", bytes(2 * count))
        for j in range(count):
            position = j * step
            i = int(position)
            if i >= last:
                resampled[j] = source[last]
            else:
                frac = position - i
                resampled[j] = round(source[i] + (source[i + 1] - source[i]) * frac)
        source = resampled
    if to_channels == 1:
        return source.tobytes()
    out = array.array("h", bytes(2 * len(source) * to_channels))
    for c in range(to_channels):
        out[c::to_channels] = source
    return out.tobytes()


def _wav_bytes(pcm: bytes, rate: int) -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(pcm)
    return buffer.getvalue()


def read_wav(data: bytes) -> tuple[bytes, int, int]:
    """(16-bit little-endian PCM, sample rate, channels) from a WAV, including espeak-ng's streamed one.

    `espeak-ng --stdout` cannot seek back, so its header claims a data size of 0x7ffff000 bytes; the
    `wave` module reads what is actually there. Anything but 16-bit PCM raises `wave.Error`.
    """
    with wave.open(io.BytesIO(data), "rb") as reader:
        if reader.getsampwidth() != 2:
            raise wave.Error(f"expected 16-bit samples, got {8 * reader.getsampwidth()}-bit")
        channels, rate = reader.getnchannels(), reader.getframerate()
        pcm = reader.readframes(reader.getnframes())
    frame = 2 * channels
    return pcm[: len(pcm) - len(pcm) % frame], rate, channels


def make_sound(pcm: bytes, rate: int, channels: int = 1) -> pygame.mixer.Sound:
    """A Sound in the running mixer's format (which may differ if someone else initialised the mixer)."""
    init = pygame.mixer.get_init()
    if init is None:
        raise pygame.error("mixer not initialised")
    to_rate, size, to_channels = init
    if size == -16:
        if (rate, channels) == (to_rate, to_channels) and sys.byteorder == "little":
            return pygame.mixer.Sound(buffer=pcm)
        return pygame.mixer.Sound(buffer=convert_pcm16(pcm, rate, channels, to_rate, to_channels))
    # 8-bit, unsigned or float mixers: hand SDL_mixer a clean WAV and let it convert.
    mono = convert_pcm16(pcm, rate, channels, rate, 1)
    if sys.byteorder == "big":
        swapped = array.array("h", mono)
        swapped.byteswap()
        mono = swapped.tobytes()
    return pygame.mixer.Sound(file=io.BytesIO(_wav_bytes(mono, rate)))


class AudioDevice:
    """The mixer as the announcer uses it: opened if nobody has, closed only by whoever opened it."""

    def __init__(self, volume: float) -> None:
        self.volume = min(max(volume, 0.0), 1.0)
        self.silent = False  # no audio device could be opened: nothing is heard
        self._owns_mixer = False

    def open(self) -> None:
        """Open the mixer if nobody has (mono, 22050 Hz, 16-bit); without a device, be silent."""
        if pygame.mixer.get_init() is None:
            try:
                pygame.mixer.init(MIXER_FREQUENCY, MIXER_SIZE, MIXER_CHANNELS, MIXER_BUFFER, allowedchanges=0)
                self._owns_mixer = True
            except pygame.error as exc:
                self.silent = True
                log.warning("no audio (%s); the display runs silently", exc)
        if not self.silent:
            log.info("audio mixer: %s via %s", pygame.mixer.get_init(), pygame.mixer.get_driver())

    def close(self) -> None:
        if self._owns_mixer:
            self._owns_mixer = False
            pygame.mixer.quit()

    def play(self, sound: pygame.mixer.Sound, stop: threading.Event) -> None:
        """Play and wait for the end, polling the channel in 20 ms steps; `stop` cuts it short."""
        sound.set_volume(self.volume)
        length = sound.get_length()
        channel: pygame.mixer.Channel | None = sound.play()
        if channel is None:  # every channel busy: wait out the length instead
            stop.wait(length)
            return
        deadline = time.monotonic() + length + _PLAY_SLACK_S
        while channel.get_busy() and time.monotonic() < deadline:
            if stop.wait(_POLL_S):
                channel.stop()
                return
