"""What the board shows, as pure state: today's calls, queue and office info, and whether to trust them.

No pygame and no MQTT here: messages arrive already parsed, time is passed in, so the rules (which
calls are new, what is highlighted, when the board says it may be out of date, when it goes dark)
are tested exactly.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from protocol.businessday import WEEKDAYS
from protocol.messages import Call, CallsState, OfficeInfo, QueueState

log = logging.getLogger("wartemarke.display.board")
DARK_MARGIN = timedelta(minutes=30)  # lit this long before opening and after closing
MAX_DEVICES = 1000  # statuses remembered; an office has a few dozen devices


@dataclass
class Board:
    """The display's view of its office. Mutated only by the render thread."""

    office: str
    timezone: ZoneInfo
    services: tuple[str, ...] = ()  # shown services (empty: all)
    counters: tuple[str, ...] = ()
    info: OfficeInfo | None = None
    calls: tuple[Call, ...] = ()
    calls_seq: int = -1
    queue: QueueState | None = None
    broker_connected: bool = False
    device_online: dict[str, bool] = field(default_factory=dict)  # device id (from the topic) → online
    last_update: float | None = None  # monotonic time of the last message from the hub
    connected_at: float | None = None  # monotonic time of the broker connection, the clock for "silent"
    highlight_until: float = 0.0
    day: date | None = None
    pending: list[Call] = field(default_factory=list)  # new calls to announce, oldest first
    held_calls: CallsState | None = None  # the last calls of a day the board did not take for today
    held_queue: QueueState | None = None  # the same for the queue

    # -- inputs --------------------------------------------------------------------------------

    def today(self, now: datetime) -> date:
        """The office's day as docs/protocol.md §6 has devices decide it: while the hub is online its day
        (`info.day`) is the day, whatever this display's clock says, backwards too; without it, the newer
        of the hub's last known day and the own clock's calendar date (for a board the same thing as the
        business day during opening hours)."""
        own = now.astimezone(self.timezone).date()
        if self.info is None:
            return own
        return self.info.day if self.hub_online else max(own, self.info.day)

    def recheck_day(self, now: datetime, mono: float, highlight_s: float) -> None:
        """The day may have changed with the hub's info or status: take held calls and queue of it now."""
        today = self.today(now)
        if self.held_calls is not None and self.held_calls.day == today:
            calls, self.held_calls = self.held_calls, None
            self.set_calls(calls, now, mono, highlight_s)
        if self.held_queue is not None and self.held_queue.day == today:
            queue, self.held_queue = self.held_queue, None
            self.set_queue(queue, now, mono)

    def set_info(self, info: OfficeInfo, mono: float) -> None:
        try:
            self.timezone = ZoneInfo(info.timezone)
        except Exception:  # not found, not a valid key, an unreadable file: the time zone stays
            log.warning("info names an unknown time zone %r; keeping %s", info.timezone, self.timezone)
        self.info = info
        self.last_update = mono

    def set_status(self, device: str, online: bool) -> None:
        """A device's retained status; which device is the hub, only the hub's own `info` says."""
        if device in self.device_online or len(self.device_online) < MAX_DEVICES:
            self.device_online[device] = online

    @property
    def hub_online(self) -> bool | None:
        """The hub's availability from `device/{info.hub}/status`: no other device speaks for it."""
        hub = self.info.hub if self.info is not None else None
        return self.device_online.get(hub) if hub is not None else None

    def set_queue(self, queue: QueueState, now: datetime, mono: float) -> bool:
        if queue.day != self.today(now):
            log.info("ignoring queue state of %s (today is %s)", queue.day, self.today(now))
            self.queue, self.held_queue = None, queue
            return False
        self.queue, self.last_update, self.held_queue = queue, mono, None
        return True

    def set_calls(self, state: CallsState, now: datetime, mono: float, highlight_s: float) -> list[Call]:
        """Take the retained calls; returns the calls that are new since the last state (oldest first)."""
        if state.day != self.today(now):
            log.info("ignoring calls of %s (today is %s)", state.day, self.today(now))
            self.calls, self.calls_seq, self.held_calls = (), -1, state
            return []
        self.held_calls = None
        shown = tuple(c for c in state.calls if self._shows(c))
        first = self.calls_seq < 0  # a (re)start: what is retained is not news
        new: list[Call] = []
        if not first and state.seq > self.calls_seq:
            fresh = min(state.seq - self.calls_seq, len(state.calls))
            new = [c for c in reversed(state.calls[:fresh]) if self._shows(c)]
        self.calls, self.calls_seq, self.last_update = shown, state.seq, mono
        if new:
            self.highlight_until = mono + highlight_s
            self.pending.extend(new)
        return new

    def _shows(self, call: Call) -> bool:
        return (not self.services or call.service in self.services) and (
            not self.counters or call.counter in self.counters)

    # -- what to show --------------------------------------------------------------------------

    def highlighted(self, mono: float) -> bool:
        return bool(self.calls) and mono < self.highlight_until

    def stale_reason(self, now: datetime, mono: float, stale_after_s: float) -> str | None:
        """Why the board may be out of date (None: it is current)."""
        if not self.broker_connected:
            return "broker"
        if self.hub_online is False:
            return "hub"
        heard = self.last_update if self.last_update is not None else self.connected_at
        if self.is_open(now) and heard is not None and mono - heard > stale_after_s:
            return "silent"
        return None

    def is_open(self, now: datetime) -> bool:
        """Within opening hours (from `info`); without info, assume open rather than go dark."""
        if self.info is None:
            return True
        local = now.astimezone(self.timezone)
        for interval in self.info.hours.get(WEEKDAYS[local.weekday()], ()):
            start_s, end_s = interval.split("-")
            start = datetime.combine(local.date(), time.fromisoformat(start_s), self.timezone)
            end = datetime.combine(local.date(), time.fromisoformat(end_s), self.timezone)
            if start <= local < end:
                return True
        return False

    def is_dark(self, now: datetime) -> bool:
        """Outside opening hours (with a margin) the screen goes black, so panels do not burn in."""
        return not (self.is_open(now) or self.is_open(now + DARK_MARGIN) or self.is_open(now - DARK_MARGIN))

    def take_pending(self) -> list[Call]:
        pending, self.pending = self.pending, []
        return pending
