"""Per-client counters over a minute (`MissLimiter`) and who the client is behind our reverse proxy
(`forwarded_client`): the rule the public replicas and the notifier share for unknown tracking tokens,
so that guessing tokens costs a client a minute per `per_minute` guesses wherever it guesses."""

from __future__ import annotations

import ipaddress
import time
from collections import defaultdict, deque
from collections.abc import Callable


class MissLimiter:
    """Events per client and minute (unknown tracking tokens, login attempts): cheap to count, and a
    blocked client costs nothing more."""

    def __init__(self, per_minute: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.per_minute = per_minute
        self.clock = clock
        self._misses: dict[str, deque[float]] = defaultdict(deque)

    def blocked(self, client: str) -> bool:
        misses, now = self._misses.get(client), self.clock()
        if misses is None:
            return False
        while misses and now - misses[0] > 60:
            misses.popleft()
        if not misses:  # forget clients without recent misses: the table must not grow for ever
            del self._misses[client]
        return len(misses) >= self.per_minute

    def miss(self, client: str) -> None:
        self._misses[client].append(self.clock())

    def take(self, client: str) -> bool:
        """Count one attempt now, before the work it costs; False (and nothing counted) when blocked."""
        if self.blocked(client):
            return False
        self.miss(client)
        return True

    def give_back(self, client: str) -> None:
        """Un-count the latest attempt (a successful login is not a failure)."""
        misses = self._misses.get(client)
        if misses:
            misses.pop()


def forwarded_client(forwarded_for: str | None, remote: str | None) -> str:
    """Who is asking, for rate limits only (never logged). `forwarded_for` is the X-Forwarded-For header
    when the service sits behind our proxy (else None): its LAST entry is the one the proxy appended;
    earlier entries are whatever the client sent."""
    return client_network((forwarded_for or remote or "?").split(",")[-1].strip())


def client_network(address: str) -> str:
    """An IPv6 client is its /64: a phone or a household gets a whole /64 and may use any address in it,
    so counting per address would give one client 2^64 allowances; an IPv6 /64 is what an IPv4 address
    behind a home router is. IPv4 (also IPv4-mapped IPv6) and anything unparsable: as given."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return address
