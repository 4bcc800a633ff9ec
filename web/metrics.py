"""`/metrics`: Prometheus text format for the web tier, the offices and (in the hub's web) the devices.

The alert rules in deploy/prometheus/wartemarke-alerts.yml are written against these names. Label
values are escaped as the exposition format requires and a device's role comes from web/identity.py,
so no payload can forge a sample or relabel a device; a value that is not a number is left out.
"""

from __future__ import annotations

import math
from typing import Any

from aiohttp import web

from web.identity import device_role
from web.keys import MIRROR, SETTINGS
from web.streams import STREAMS


def label_value(value: object) -> str:
    """A label value in the text exposition format: backslash, double quote and line feed escaped."""
    return str(value).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def labels(**pairs: object) -> str:
    return ",".join(f'{name}="{label_value(value)}"' for name, value in pairs.items())


def sample(name: str, label_text: str, value: Any) -> list[str]:
    """One sample line, or none when `value` is not a finite number (`true` is not a number either, nor an
    integer too large for a float)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return []
    try:
        if not math.isfinite(value):
            return []
    except OverflowError:
        return []
    return [f"{name}{{{label_text}}} {value}" if label_text else f"{name} {value}"]


async def metrics(request: web.Request) -> web.Response:
    """Prometheus text format (0.0.4): each metric family's samples in one group after its TYPE line."""
    mirror = request.app[MIRROR]
    lines = [
        "# TYPE wartemarke_web_sse_clients gauge", f"wartemarke_web_sse_clients {request.app[STREAMS].clients}",
        "# TYPE wartemarke_web_mqtt_connected gauge", f"wartemarke_web_mqtt_connected {int(mirror.mqtt_connected)}",
        "# TYPE wartemarke_web_updates_total counter", f"wartemarke_web_updates_total {mirror.updates}",
        "# TYPE wartemarke_web_invalid_messages_total counter",
        f"wartemarke_web_invalid_messages_total {mirror.invalid}",
        "# TYPE wartemarke_tickets_tracked gauge", f"wartemarke_tickets_tracked {len(mirror.tickets)}",
    ]
    waiting, waits, calls = ["# TYPE wartemarke_waiting gauge"], ["# TYPE wartemarke_expected_wait_minutes gauge"], [
        "# TYPE wartemarke_calls_seq counter"]
    for office_id in request.app[SETTINGS].offices:
        office = mirror.office(office_id)
        for s in office.queue.services if office.queue is not None else ():
            service = labels(office=office_id, service=s.service)
            waiting += sample("wartemarke_waiting", service, s.waiting)
            waits += sample("wartemarke_expected_wait_minutes", service, s.expected_wait_min)
        if office.calls is not None:
            calls += sample("wartemarke_calls_seq", labels(office=office_id), office.calls.seq)
    return web.Response(text="\n".join(lines + waiting + waits + calls + device_metrics(request)
                                      + calibration_metrics(request)) + "\n",
                        headers={"Content-Type": "text/plain; version=0.0.4; charset=utf-8"})


def device_metrics(request: web.Request) -> list[str]:
    """Office and device health for the alert rules (deploy/prometheus): the hub's web has its office's
    devices (roles from `[web] device_roles`); a replica those its broker lets it read — at a city's central
    broker the hubs, the replicas, the archive and the notifier, by the roles they report (web/identity.py)."""
    mirror = request.app[MIRROR]
    inventory = request.app[SETTINGS].device_roles
    families: dict[str, tuple[str, list[str]]] = {
        "wartemarke_office_open": ("gauge", []), "wartemarke_device_online": ("gauge", []),
        "wartemarke_device_clock_synced": ("gauge", []), "wartemarke_kiosk_paper_state": ("gauge", []),
        "wartemarke_kiosk_outbox_pending": ("gauge", []), "wartemarke_kiosk_tickets_acked": ("counter", []),
        "wartemarke_hub_duplicate_labels": ("gauge", []), "wartemarke_kiosk_clock_skew_seconds": ("gauge", []),
    }
    for office_id in request.app[SETTINGS].offices:
        office = mirror.office(office_id)
        services = office.queue.services if office.queue is not None else ()
        is_open = any(s.ampel != "closed" for s in services)
        families["wartemarke_office_open"][1].extend(sample("wartemarke_office_open", labels(office=office_id),
                                                            int(is_open)))
        for device, status in sorted(office.devices.items()):
            role = device_role(device, status, office.info, inventory)
            device_labels = labels(office=office_id, device=device, role=role)
            families["wartemarke_device_online"][1].extend(
                sample("wartemarke_device_online", device_labels, int(status.online)))
            if status.clock_synced is not None:
                families["wartemarke_device_clock_synced"][1].extend(
                    sample("wartemarke_device_clock_synced", device_labels, int(status.clock_synced)))
            if role == "hub":
                for family, lines in hub_samples(office_id, device, status.health).items():
                    families[family][1].extend(lines)
            if role != "kiosk":
                continue
            printer = status.health.get("printer")
            paper = printer.get("paper") if isinstance(printer, dict) else None
            if paper in ("ok", "low", "out", "unknown"):
                families["wartemarke_kiosk_paper_state"][1].extend(
                    sample("wartemarke_kiosk_paper_state", f'{device_labels},{labels(state=paper)}', 1))
            for key, family in (("outbox_pending", "wartemarke_kiosk_outbox_pending"),
                                ("acked_seq", "wartemarke_kiosk_tickets_acked")):
                families[family][1].extend(sample(family, device_labels, status.health.get(key)))
    out: list[str] = []
    for name, (kind, samples) in families.items():
        out.append(f"# TYPE {name} {kind}")
        out.extend(samples)
    return out


def hub_samples(office_id: str, device: str, health: dict[str, Any]) -> dict[str, list[str]]:
    """From the hub's own status: how many labels were issued twice today (two kiosks with one
    kiosk_index) and each kiosk whose clock is off beyond the tolerance, by how many seconds."""
    duplicates = health.get("duplicate_labels")
    skews = health.get("kiosk_clock_skew_s")
    out: dict[str, list[str]] = {"wartemarke_hub_duplicate_labels": [], "wartemarke_kiosk_clock_skew_seconds": []}
    if isinstance(duplicates, list):
        out["wartemarke_hub_duplicate_labels"] = sample("wartemarke_hub_duplicate_labels",
                                                        labels(office=office_id, device=device), len(duplicates))
    if isinstance(skews, dict):
        for kiosk, seconds in sorted(skews.items()):
            out["wartemarke_kiosk_clock_skew_seconds"] += sample(
                "wartemarke_kiosk_clock_skew_seconds", labels(office=office_id, device=kiosk), seconds)
    return out


#: The hub's check of its own wait estimates, today per service (`queue.services[].calibration`).
CALIBRATION = (("called", "wartemarke_eta_called_tickets"),
               ("median_abs_error_min", "wartemarke_eta_median_abs_error_minutes"),
               ("bias_min", "wartemarke_eta_bias_minutes"),
               ("called_before_share", "wartemarke_eta_called_before_told_ratio"),
               ("late_share", "wartemarke_eta_late_ratio"),
               ("below_range_share", "wartemarke_eta_called_below_range_ratio"))


def calibration_metrics(request: web.Request) -> list[str]:
    """Today's told waits against the actual ones, per office and service (hub/calibration.py)."""
    mirror = request.app[MIRROR]
    families: dict[str, list[str]] = {name: [] for _, name in CALIBRATION}
    for office_id in request.app[SETTINGS].offices:
        queue = mirror.office(office_id).queue
        for s in queue.services if queue is not None else ():
            service = labels(office=office_id, service=s.service)
            for key, name in CALIBRATION:
                families[name] += sample(name, service, getattr(s.calibration, key, None))
    out: list[str] = []
    for name, samples in families.items():
        out += [f"# TYPE {name} gauge", *samples]
    return out
