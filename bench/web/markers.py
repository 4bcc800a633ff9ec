"""How the web benchmark marks and times updates: marker k (900000 + k) travels in a queue's waiting count
or a ticket's `recall`, and every time is CLOCK_REALTIME, the clock of the kernel's receive stamps."""

from __future__ import annotations

import re
import time

MARK_BASE = 900000  # marker k is MARK_BASE + k: six digits, in the event's HTML or JSON
MARKER = re.compile(rb'"recall": (9\d{5})\b|\b(9\d{5}) (?:wartend|waiting)\b')
PAYLOAD_MARKER = re.compile(rb'"(?:waiting|recall)":(9\d{5})\b')


def realtime_ns() -> int:
    return time.clock_gettime_ns(time.CLOCK_REALTIME)
