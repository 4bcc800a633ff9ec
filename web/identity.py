"""Who a device is, for the device page, the clerk's hub warning and `/metrics`.

A device's id comes from its status topic (`…/device/{id}/status`): the broker's ACL lets a device
write only its own. Its role never comes from what the device says about itself (a kiosk could claim
to be the hub): the hub is the device the hub's own retained `info` names (`hub`), every other role
comes from the inventory the playbook writes into `[web] device_roles`. Without that table (a public
replica, whose /metrics show the central broker's devices; the demo; a hand-written config) a device's own
claim is shown if it is one of ROLES — every role a wartemarke process reports — but never "hub".
"""

from __future__ import annotations

from collections.abc import Mapping

from protocol.messages import DeviceStatus, OfficeInfo

ROLES = ("hub", "web", "kiosk", "display", "replica", "counter", "notifier", "archive")
UNKNOWN = "unknown"


def device_role(device: str, status: DeviceStatus, info: OfficeInfo | None,
                inventory: Mapping[str, str]) -> str:
    if inventory:
        return inventory.get(device, UNKNOWN)
    if info is not None and info.hub == device:
        return "hub"
    claimed = status.role
    return claimed if claimed in ROLES and claimed != "hub" else UNKNOWN


def hub_online(devices: Mapping[str, DeviceStatus], info: OfficeInfo | None) -> bool | None:
    """The office hub's availability from its own status topic; None when unknown."""
    hub = info.hub if info is not None else None
    status = devices.get(hub) if hub is not None else None
    return None if status is None else status.online
