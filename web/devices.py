"""The technician's device page: every kiosk, display and hub with its health, live."""

from __future__ import annotations

import json
import logging
from datetime import datetime
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from aiohttp import web

from protocol.messages import DeviceStatus
from web.auth import guarded, staff_page
from web.i18n import language, translator
from web.identity import device_role
from web.keys import MIRROR, SETTINGS
from web.mirror import Mirror, as_published, office_name
from web.responses import private_json
from web.sessions import Session
from web.streams import merged_stream
from web.templates_env import render

log = logging.getLogger("wartemarke.web.devices")

DEVICE_ROLES = ("technician", "supervisor")
ROLE_ORDER = {"hub": 0, "web": 1, "kiosk": 2, "display": 3}


# -- devices ----------------------------------------------------------------------------------------------

def _local_time(moment: datetime | None, tz: str | None) -> str:
    if moment is None:
        return ""
    try:
        if tz:
            moment = moment.astimezone(ZoneInfo(tz))
    except (ValueError, ZoneInfoNotFoundError):
        return moment.isoformat()
    return moment.strftime("%Y-%m-%d %H:%M:%S")


def device_row(device_id: str, role: str, device: DeviceStatus, tz: str | None, lang: str) -> dict[str, Any]:
    t = translator(lang)
    notes: list[str] = []
    status = device.health  # what a device reports beyond the contract's fields: read with care
    printer = status.get("printer") if isinstance(status.get("printer"), dict) else None
    printer_text, printer_problem = None, False
    if printer is not None:
        paper = str(printer.get("paper", "?"))
        printer_problem = not printer.get("online", True) or paper in ("out", "low")
        printer_text = ("online" if printer.get("online", True) else t("devices_printer_offline")) + f", {paper}"
        if printer.get("detail"):
            printer_text += f" ({printer['detail']})"
    if status.get("last_error"):
        notes.append(str(status["last_error"]))
    if role == "display" and status.get("stale"):
        notes.append(t("devices_stale", reason=status["stale"]))
    if role == "kiosk" and status.get("hub_reachable") is False:
        notes.append(t("devices_hub_unreachable"))
    assumed = status.get("assumed_printed")
    if role == "hub" and isinstance(assumed, list) and assumed:
        notes.append(t("devices_assumed_printed", labels=", ".join(str(label) for label in assumed[-20:])))
    duplicates = status.get("duplicate_labels")
    if role == "hub" and isinstance(duplicates, list) and duplicates:
        notes.append(t("devices_duplicate_labels", labels=", ".join(str(label) for label in duplicates[-20:])))
    skewed = status.get("kiosk_clock_skew_s")
    if role == "hub" and isinstance(skewed, dict) and skewed:
        notes.append(t("devices_clock_skew", kiosks=", ".join(f"{k} {v:+}s" for k, v in list(skewed.items())[:20])))
    refused = status.get("refused_events") if role == "hub" else status.get("hub_refused")
    if isinstance(refused, int) and refused > 0:
        notes.append(t("devices_refused", count=refused))
    outbox = status.get("outbox_pending")
    return {"id": device_id, "role": role,
            "online": device.online, "seen": _local_time(device.at, tz),
            "version": device.version or "", "clock_synced": device.clock_synced,
            "printer": printer_text, "printer_problem": printer_problem,
            "outbox": outbox if isinstance(outbox, int) else None, "notes": notes}


def _devices_office(mirror: Mirror, office: str, inventory: dict[str, str], lang: str) -> dict[str, Any]:
    office_mirror = mirror.office(office)
    info = office_mirror.info
    timezone = info.timezone if info is not None else None
    rows = [device_row(d, device_role(d, s, info, inventory), s, timezone, lang)
            for d, s in office_mirror.devices.items()]
    rows.sort(key=lambda r: (ROLE_ORDER.get(r["role"], 9), r["id"]))
    return {"id": office, "name": office_name(mirror, office), "devices": rows}


@guarded(DEVICE_ROLES)
async def devices_page(request: web.Request, session: Session) -> web.StreamResponse:
    lang, mirror = language(request), request.app[MIRROR]
    inventory = request.app[SETTINGS].device_roles
    offices = [_devices_office(mirror, o, inventory, lang) for o in request.app[SETTINGS].offices]
    return staff_page(request, "devices.html", session, offices=offices,
                      events_url="/devices/events?" + urlencode({"lang": lang}))


@guarded(DEVICE_ROLES, "stream")
async def devices_events(request: web.Request, session: Session) -> web.StreamResponse:
    lang, mirror, offices = language(request), request.app[MIRROR], request.app[SETTINGS].offices
    inventory = request.app[SETTINGS].device_roles
    t = translator(lang)
    sent: dict[str, str] = {}

    def event(changed: str | None) -> str | None:
        changes = {}
        for office in offices:
            office_view = _devices_office(mirror, office, inventory, lang)
            html = render("devices_office.html", lang=lang, t=t, office=office_view)
            if sent.get(office) != html:
                changes[office] = sent[office] = html
        return json.dumps({"offices": changes}) if changes else None

    return await merged_stream(request, [("devices", o) for o in offices], "devices", event)


@guarded(DEVICE_ROLES, "api")
async def devices_api(request: web.Request, session: Session) -> web.StreamResponse:
    mirror = request.app[MIRROR]
    return private_json({"offices": [{"id": o, "name": office_name(mirror, o),
                                      "devices": {d: as_published(s) for d, s in mirror.office(o).devices.items()}}
                                     for o in request.app[SETTINGS].offices]})
