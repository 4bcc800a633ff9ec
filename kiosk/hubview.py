"""What a kiosk knows of its hub: the day it says, whether it is live, its queue state and last ack.

Pure state, fed by the MQTT handlers with the time of receipt (monotonic seconds). "Live" means the hub
published while the kiosk was subscribed — not a retained message the broker handed over at
subscribing, which may be a dead hub's last word. A live hub's day is the office's day
(docs/protocol.md §6); its queue state counts as fresh by the time of receipt alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from protocol.businessday import next_business_day
from protocol.messages import Ack, QueueState


@dataclass
class HubView:
    max_age_s: float  # the kiosk's queue_max_age_s: how long a hub message counts as current
    queue: QueueState | None = None
    queue_received: float = 0.0
    queue_live: bool = False
    newest_day: date | None = None  # the newest day seen in any hub message, live or retained
    live: tuple[date, float] | None = None  # the day of the hub's last live message, and when
    ack: Ack | None = None  # the newest ack: its `last` numbers are a floor for allocating
    refused: int = 0  # this kiosk's events of another day the hub refused today (`ack.refused`)

    def heard(self, day: date, live: bool, mono: float) -> None:
        """Any message of the hub's (queue or ack) with its day."""
        if live:
            self.live = (day, mono)
        if self.newest_day is None or day > self.newest_day:
            self.newest_day = day

    def live_day(self, mono: float) -> date | None:
        live = self.live
        return live[0] if live is not None and mono - live[1] <= self.max_age_s else None

    def day(self, stored: date | None, candidate: date, clock_synced: bool, mono: float) -> date:
        """The kiosk's business day: the live hub's, else by the device rules (protocol/businessday.py)."""
        return next_business_day(stored, candidate, clock_synced, self.newest_day, self.live_day(mono))

    def take_queue(self, state: QueueState, live: bool, mono: float) -> None:
        self.queue, self.queue_received, self.queue_live = state, mono, live

    def fresh_queue(self, today: date, mono: float, now: datetime, clock_synced: bool) -> QueueState | None:
        """The hub's queue state if it is today's and recent; None means 'hub unreachable'. A retained
        state handed over at subscribing also needs a recent `at` by a synced clock."""
        state = self.queue
        if state is None or state.day != today or mono - self.queue_received > self.max_age_s:
            return None
        if not self.queue_live and clock_synced and (now - state.at).total_seconds() > self.max_age_s:
            return None
        return state

    def take_ack(self, ack: Ack, today: date) -> bool:
        """Keep the newest ack; True when it says the hub refused more of this kiosk's events today."""
        self.ack = ack
        if ack.day != today or ack.refused == self.refused:
            return False
        more, self.refused = ack.refused > self.refused, ack.refused
        return more

    def number_floor(self, service: str, day: date) -> int:
        """No number at or below the hub's `ack.last` for this day (docs/protocol.md §7)."""
        ack = self.ack
        return ack.last.get(service, 0) if ack is not None and ack.day == day else 0
