"""`/metrics`: Prometheus text format for the web tier, the offices and (in the hub's web) the devices.

The alert rules in deploy/prometheus/wartemarke-alerts.yml are written against these names.
"""

from __future__ import annotations

from aiohttp import web

from web.keys import MIRROR, SETTINGS
from web.public import STREAMS


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
        for s in (office.queue or {}).get("services", []):
            labels = f'office="{office_id}",service="{s["service"]}"'
            waiting.append(f"wartemarke_waiting{{{labels}}} {s.get('waiting', 0)}")
            if s.get("expected_wait_min") is not None:
                waits.append(f"wartemarke_expected_wait_minutes{{{labels}}} {s['expected_wait_min']}")
        if office.calls:
            calls.append(f'wartemarke_calls_seq{{office="{office_id}"}} {office.calls.get("seq", 0)}')
    return web.Response(text="\n".join(lines + waiting + waits + calls + device_metrics(request)
                                      + calibration_metrics(request)) + "\n",
                        headers={"Content-Type": "text/plain; version=0.0.4; charset=utf-8"})


def device_metrics(request: web.Request) -> list[str]:
    """Office and device health for the alert rules (deploy/prometheus): device statuses are mirrored
    only by the hub's own web, so replicas export just the office lines."""
    mirror = request.app[MIRROR]
    families: dict[str, tuple[str, list[str]]] = {
        "wartemarke_office_open": ("gauge", []), "wartemarke_device_online": ("gauge", []),
        "wartemarke_device_clock_synced": ("gauge", []), "wartemarke_kiosk_paper_state": ("gauge", []),
        "wartemarke_kiosk_outbox_pending": ("gauge", []), "wartemarke_kiosk_tickets_acked": ("counter", []),
    }
    for office_id in request.app[SETTINGS].offices:
        office = mirror.office(office_id)
        services = (office.queue or {}).get("services", [])
        is_open = any(s.get("ampel") != "closed" for s in services)
        families["wartemarke_office_open"][1].append(f'wartemarke_office_open{{office="{office_id}"}} {int(is_open)}')
        for device, status in sorted(office.devices.items()):
            role = str(status.get("role", "unknown"))
            labels = f'office="{office_id}",device="{device}",role="{role}"'
            families["wartemarke_device_online"][1].append(
                f"wartemarke_device_online{{{labels}}} {int(bool(status.get('online')))}")
            if status.get("clock_synced") is not None:
                families["wartemarke_device_clock_synced"][1].append(
                    f"wartemarke_device_clock_synced{{{labels}}} {int(bool(status['clock_synced']))}")
            if role != "kiosk":
                continue
            paper = (status.get("printer") or {}).get("paper")
            if paper in ("ok", "low", "out", "unknown"):
                families["wartemarke_kiosk_paper_state"][1].append(
                    f'wartemarke_kiosk_paper_state{{{labels},state="{paper}"}} 1')
            for key, family in (("outbox_pending", "wartemarke_kiosk_outbox_pending"),
                                ("acked_seq", "wartemarke_kiosk_tickets_acked")):
                if isinstance(status.get(key), int):
                    families[family][1].append(f"{family}{{{labels}}} {status[key]}")
    out: list[str] = []
    for name, (kind, samples) in families.items():
        out.append(f"# TYPE {name} {kind}")
        out.extend(samples)
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
        for s in (mirror.office(office_id).queue or {}).get("services", []):
            figures = s.get("calibration") or {}
            for key, name in CALIBRATION:
                if isinstance(figures.get(key), int | float):
                    families[name].append(f'{name}{{office="{office_id}",service="{s["service"]}"}} {figures[key]}')
    out: list[str] = []
    for name, samples in families.items():
        out += [f"# TYPE {name} gauge", *samples]
    return out
