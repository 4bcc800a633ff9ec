"""A believable board without a broker: for `snapshot --sample`, layout checks and the benchmarks."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from protocol.businessday import WEEKDAYS
from protocol.messages import Call, CallsState, CounterInfo, OfficeInfo, QueueState, ServiceInfo, ServiceQueue

ALL_DAY = ("00:00-23:59",)


def sample_info(day: date) -> OfficeInfo:
    return OfficeInfo(
        day=day, name="Bürgerbüro Mitte", timezone="Europe/Berlin",
        hours={d: ALL_DAY for d in WEEKDAYS},
        services=(ServiceInfo("A", "Allgemeine Anliegen", "General concerns"),
                  ServiceInfo("P", "Abholung Ausweis / Pass", "ID card / passport pickup")),
        counters=tuple(CounterInfo(f"platz-{i}", f"Platz {i}") for i in range(1, 7)),
        announcement="Heute bis 18 Uhr geöffnet · Open until 6 pm today")


def sample_calls(day: date, now: datetime, seq: int = 7) -> CallsState:
    labels = [("A042", "platz-3"), ("P017", "platz-6"), ("A041", "platz-1"), ("A040", "platz-2"),
              ("P016", "platz-6"), ("A039", "platz-4"), ("A038", "platz-5")]
    return CallsState(day=day, seq=seq, calls=tuple(
        Call(label, label[0], counter, f"Platz {counter[-1]}", now - timedelta(minutes=3 * i), 0)
        for i, (label, counter) in enumerate(labels)))


def sample_queue(day: date, now: datetime) -> QueueState:
    return QueueState(day=day, at=now, services=(
        ServiceQueue("A", 14, 38, True, None, "yellow"), ServiceQueue("P", 3, 6, True, None, "green")))
