"""The injectable clock: wall time, monotonic time and whether the wall time can be trusted.

A Raspberry Pi has no real-time clock: after a power cut it boots with an old time until chrony
syncs. Every process asks `synced()` before trusting the date, and tests use `FakeClock`.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Protocol

TIME_ERROR = 5  # adjtimex(2): "clock not synchronized"


class Clock(Protocol):
    def now(self) -> datetime: ...

    def monotonic(self) -> float: ...

    def synced(self) -> bool: ...


class _Timex(ctypes.Structure):
    # struct timex is 208 bytes on 64-bit Linux; modes=0 only reads, so a generous buffer suffices.
    _fields_ = [("modes", ctypes.c_uint), ("_rest", ctypes.c_byte * 252)]


def kernel_clock_synced() -> bool:
    """True when the kernel says NTP (chrony) has synchronised the clock (adjtimex != TIME_ERROR)."""
    libc_name = ctypes.util.find_library("c")
    if libc_name is None:
        return False
    try:
        libc = ctypes.CDLL(libc_name, use_errno=True)
        result = libc.adjtimex(ctypes.byref(_Timex()))
    except (OSError, AttributeError):
        return False
    return bool(result >= 0 and result != TIME_ERROR)


class SystemClock:
    """The real clock. `assume_synced` is for machines where chrony is not ours to check (the demo)."""

    def __init__(self, assume_synced: bool = False) -> None:
        self.assume_synced = assume_synced

    def now(self) -> datetime:
        return datetime.now(UTC)

    def monotonic(self) -> float:
        return time.monotonic()

    def synced(self) -> bool:
        return self.assume_synced or kernel_clock_synced()


class FakeClock:
    """A settable clock for tests and simulations; thread-safe."""

    def __init__(self, start: datetime, synced: bool = True) -> None:
        self._now = start
        self._mono = 1000.0
        self._synced = synced
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def monotonic(self) -> float:
        with self._lock:
            return self._mono

    def synced(self) -> bool:
        return self._synced

    def set_synced(self, synced: bool) -> None:
        self._synced = synced

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._now += timedelta(seconds=seconds)
            self._mono += seconds

    def set(self, when: datetime) -> None:
        with self._lock:
            self._now = when
