"""The chime, synthesised in code: no sound file to ship or license."""

from __future__ import annotations

import array
import math
import sys
from functools import lru_cache


@lru_cache(maxsize=4)
def chime_pcm(sample_rate: int) -> bytes:
    """A two-tone "ding-dong" (660 Hz, then 550 Hz 0.45 s later), 16-bit signed mono little-endian.

    Each note: a 6 ms raised-cosine attack (no click), exponential decay, a few harmonics that fade
    faster than the fundamental (a soft bell, not a beep). The first note rings on under the second;
    the last 25 ms fade to silence, so the sound starts and ends at zero.
    """
    if sample_rate < 8000:
        raise ValueError(f"sample_rate {sample_rate} too low for the chime")
    note_s, tail_s, tau_s, attack_s, fade_s = 0.45, 0.25, 0.16, 0.006, 0.025
    harmonics = ((1, 1.0), (2, 0.35), (3, 0.12), (4, 0.05))
    total = round((2 * note_s + tail_s) * sample_rate)
    mix = [0.0] * total
    for freq, start_s in ((660.0, 0.0), (550.0, note_s)):
        start = round(start_s * sample_rate)
        for i in range(start, total):
            t = (i - start) / sample_rate
            envelope = math.exp(-t / tau_s)
            if t < attack_s:
                envelope *= 0.5 - 0.5 * math.cos(math.pi * t / attack_s)
            value = 0.0
            for n, amplitude in harmonics:
                value += amplitude * math.exp(-t * (n - 1) * 4.0) * math.sin(2.0 * math.pi * freq * n * t)
            mix[i] += envelope * value
    fade = round(fade_s * sample_rate)
    for k in range(fade):
        mix[total - 1 - k] *= 0.5 - 0.5 * math.cos(math.pi * k / fade)
    scale = 0.6 * 32767 / max(abs(v) for v in mix)
    samples = array.array("h", (round(v * scale) for v in mix))
    if sys.byteorder == "big":
        samples.byteswap()
    return samples.tobytes()
