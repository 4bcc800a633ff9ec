"""When an office's data on this web is stale — the rule the Ampel, open data and tracking pages apply
(docs/http.md §4, docs/operations.md §9.7).

An office is **stale** when any of these holds, checked in this order:

1. `no_broker` — this web has no broker connection now;
2. `not_confirmed` — since this web's last (re)connection the office's retained `queue` has not arrived
   again (every (re)connect subscribes anew and the broker hands every retained view over: an office
   whose views do not come back — its bridge was down while the central broker restarted — is not current);
3. `hub_offline` — the status of the office's hub (`device/{info.hub}/status`, bridged out of the office)
   says `online: false` (its last will, or a clean shutdown);
4. `bridge_down` — the office bridge's connection state at the central broker
   (`$SYS/broker/connection/{info.hub}-bridge/state`, mosquitto's notification, `0` is the bridge's will)
   is `0`.

Its "Stand" is the last moment this web knew the office's data to be current: when it noticed the cause;
if the office was never current here, the newest time the office wrote itself (its `queue`'s `at`, its
hub's status `at`). Pure: no MQTT, no clock.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from protocol.messages import DeviceStatus

BRIDGE_STATE_FILTER = "$SYS/broker/connection/+/state"


def bridge_client_id(hub: str) -> str:
    """The office bridge's client id at the central broker: the playbook names it `{hub}-bridge`
    (deploy/filter_plugins, `wartemarke_bridge_account`)."""
    return f"{hub}-bridge"


def bridge_of(topic: str) -> str | None:
    """The client id in `$SYS/broker/connection/{client id}/state`, or None for another topic."""
    parts = topic.split("/")
    if len(parts) == 5 and parts[:3] == ["$SYS", "broker", "connection"] and parts[4] == "state" and parts[3]:
        return parts[3]
    return None


@dataclass(frozen=True)
class Freshness:
    stale: bool
    reason: str | None = None  # no_broker, not_confirmed, hub_offline, bridge_down
    since: datetime | None = None  # stale: the data's "Stand"; None when unknown


FRESH = Freshness(False)


def stale_reason(connected: bool, confirmed: bool, hub_status: DeviceStatus | None,
                 bridge_up: bool | None) -> str | None:
    """Why an office's data is stale (the module's rule), or None when it is current."""
    if not connected:
        return "no_broker"
    if not confirmed:
        return "not_confirmed"
    if hub_status is not None and not hub_status.online:
        return "hub_offline"
    if bridge_up is False:
        return "bridge_down"
    return None


def own_time(queue_at: datetime | None, hub_status_at: datetime | None) -> datetime | None:
    """The newest time the office wrote itself: its queue's `at`, its hub's status `at`."""
    return max((at for at in (queue_at, hub_status_at) if at is not None), default=None)


def local_time(moment: datetime, timezone: str | None) -> str:
    """"HH:MM" in the office's time zone (UTC when it has none we know): the "Stand" a page shows."""
    try:
        zone = ZoneInfo(timezone or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        zone = ZoneInfo("UTC")
    return moment.astimezone(zone).strftime("%H:%M")
