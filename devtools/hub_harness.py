"""Hub configs and helpers for tests: an office open all day, every day, unless told otherwise."""

from __future__ import annotations

import textwrap
import uuid
from datetime import UTC, date, datetime
from pathlib import Path

from protocol.businessday import WEEKDAYS
from protocol.fields import encode_object
from protocol.messages import TicketIssued

ALL_DAY = "\n".join(f'{d} = ["00:00-23:59"]' for d in WEEKDAYS)


def write_hub_config(directory: Path, port: int, office: str, counters: int = 3, hours: str = ALL_DAY,
                     tick_s: float = 0.2, extra_office: str = "") -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    counter_blocks = "\n".join(textwrap.dedent(f"""
        [[offices.counters]]
        id = "platz-{i}"
        name = "Platz {i}"
        services = ["A", "P"]
        weights = {{ P = 3.0 }}
    """) for i in range(1, counters + 1))
    text = textwrap.dedent(f"""
        [hub]
        device = "hub-test"
        state_dir = "hub-state"
        tick_s = {tick_s}

        [broker]
        host = "127.0.0.1"
        port = {port}
        reconnect_max_s = 1

        [[offices]]
        id = "{office}"
        name = "Bürgerbüro Test"
        timezone = "Europe/Berlin"
        {extra_office}

        [offices.hours]
    """) + hours + textwrap.dedent("""

        [[offices.services]]
        id = "A"
        name_de = "Allgemeine Anliegen"
        name_en = "General concerns"
        prior_handling_min = 10

        [[offices.services]]
        id = "P"
        name_de = "Abholung"
        name_en = "Pickup"
        prior_handling_min = 3
    """) + counter_blocks
    path = directory / "hub.toml"
    path.write_text(text, encoding="utf-8")
    return path


def issued(office_day: date, label: str, seq: int, device: str = "kiosk-1", at: datetime | None = None,
           token: str | None = None) -> TicketIssued:
    service, number = label[0], int(label[1:])
    return TicketIssued(id=str(uuid.uuid4()), token=token or ("A" * 20 + f"{seq:06d}".translate(
        str.maketrans("0123456789", "ABCDEFGHIJ"))), service=service, number=number, label=label,
        issued_at=at or datetime.now(UTC), day=office_day, device=device, seq=seq)


def payload(event: TicketIssued) -> bytes:
    return encode_object(event.to_dict())
