"""Ticket numbers and labels: which number a kiosk issues next, without asking anyone.

Each kiosk of an office has an index i (0-based) of K kiosks. It issues, per service and day, only
numbers n with n ≡ i+1 (mod K): kiosk 0 of 2 issues 1, 3, 5 …, kiosk 1 issues 2, 4, 6 …. Labels can
therefore never collide, even while the network is down; with one kiosk they count 1, 2, 3 … without
gaps. The hub serves tickets by arrival time, not by number, so interleaving is harmless.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class NumberingScheme:
    kiosk_index: int = 0
    kiosk_count: int = 1
    digits: int = 3

    def next_number(self, last: int) -> int:
        """The smallest number above `last` (0 = none yet) that belongs to this kiosk."""
        candidate = last + 1
        return candidate + (self.kiosk_index + 1 - candidate) % self.kiosk_count

    def label(self, service: str, number: int) -> str:
        """`A` and 42 → `A042`; numbers beyond the digits just grow (`A1000`), never wrap."""
        return f"{service}{number:0{self.digits}d}"
