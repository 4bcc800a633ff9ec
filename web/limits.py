"""Rate limits and their bookkeeping: who is asking (`client_key`), per-client counters over a minute
(`MissLimiter`, from process/ratelimit.py: the notifier counts by the same rule), and a `Tally` of what
happens too often to log one by one (refused connections,
throttled requests, left-out access-log lines): the first case of each reason is logged at once, the
rest as one summary line a minute. An attack must not be able to fill the journal."""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable

from aiohttp import web

from process.ratelimit import MissLimiter, forwarded_client
from web.keys import SETTINGS

# MissLimiter (process/ratelimit.py) is re-exported: web's modules take their limits from here.
__all__ = ["INTERVAL_S", "TALLY", "THROTTLED", "MissLimiter", "Tally", "client_key", "throttled"]

INTERVAL_S = 60.0


class Tally:
    """The first case of each reason in an interval is logged at once; the rest of the interval's cases
    as one summary line when it ends. The reasons are a small fixed set, so the lines are bounded."""

    def __init__(self, log: logging.Logger, interval_s: float = INTERVAL_S,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.log, self.interval_s, self.clock = log, interval_s, clock
        self._counts: Counter[str] = Counter()  # cases after the first of their reason
        self._seen: set[str] = set()
        self._since: float | None = None  # when the current interval began; None: quiet

    def count(self, reason: str, n: int = 1) -> None:
        now = self.clock()
        self.flush(now)
        if self._since is None:
            self._since = now
        if reason not in self._seen:
            self._seen.add(reason)
            self.log.warning("%s (further cases are counted: a summary every %.0f s)", reason, self.interval_s)
            n -= 1
        if n > 0:
            self._counts[reason] += n

    def flush(self, now: float | None = None) -> None:
        """Write the summary when the interval is over (called by count() and by a periodic timer)."""
        now = self.clock() if now is None else now
        if self._since is None or now - self._since < self.interval_s:
            return
        if self._counts:
            summary = "; ".join(f"{reason}: {n}" for reason, n in self._counts.most_common())
            self.log.warning("in the last %.0f s, besides the cases logged: %s", now - self._since, summary)
            self._counts.clear()
        self._seen.clear()
        self._since = None


THROTTLED = web.RequestKey("throttled", str)  # set on a request refused by a limit: counted, not access-logged
TALLY = web.AppKey("tally", Tally)


def throttled(request: web.Request, status: int, reason: str, text: str, retry_after_s: int) -> web.Response:
    """A refusal by a rate or size limit: a clear status with Retry-After, counted in the app's Tally
    instead of an access-log line each (a flood of them is the point of an attack)."""
    request[THROTTLED] = reason
    request.app[TALLY].count(reason)
    return web.Response(status=status, text=text + "\n", headers={"Retry-After": str(retry_after_s),
                                                                   "Cache-Control": "no-store"})


def client_key(request: web.Request) -> str:
    """Who is asking, for rate limits only (never logged). Behind our proxy, the LAST X-Forwarded-For
    entry is the one the proxy appended; earlier entries are whatever the client sent."""
    forwarded = request.headers.get("X-Forwarded-For") if request.app[SETTINGS].trust_forwarded else None
    return forwarded_client(forwarded, request.remote)
