"""The office's retained queue summary (`…/queue`), docs/protocol.md §3.4."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from protocol.fields import SERVICE_RE, Fields

AMPEL_LEVELS = ("green", "yellow", "red", "closed")


@dataclass(frozen=True)
class WaitCalibration:
    """How the waits told today for one service held against the actual waits (hub/calibration.py)."""

    called: int
    median_abs_error_min: float | None = None
    bias_min: float | None = None
    called_before_share: float | None = None
    late_share: float | None = None
    below_range_share: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> WaitCalibration:
        f = Fields(data, "queue.services[].calibration")
        return cls(
            called=f.integer("called"),
            median_abs_error_min=f.opt_number("median_abs_error_min", 0.0, 1e4),
            bias_min=f.opt_number("bias_min", -1e4, 1e4),
            called_before_share=f.opt_number("called_before_share", 0.0, 1.0),
            late_share=f.opt_number("late_share", 0.0, 1.0),
            below_range_share=f.opt_number("below_range_share", 0.0, 1.0),
        )


@dataclass(frozen=True)
class Ratings:
    """Today's ratings after the visit for one service (docs/protocol.md §3.12): how many gave each score
    1–5, and how many said their concern was settled or not. Counts only: never a ticket or a counter."""

    scores: tuple[int, int, int, int, int]
    settled_yes: int = 0
    settled_no: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {"scores": list(self.scores), "settled_yes": self.settled_yes, "settled_no": self.settled_no}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Ratings:
        f = Fields(data, "queue.services[].ratings")
        scores = f.array("scores")
        if len(scores) != 5 or any(isinstance(n, bool) or not isinstance(n, int) or n < 0 for n in scores):
            raise f.fail("scores", "must be 5 counts (of the scores 1 to 5)")
        return cls((scores[0], scores[1], scores[2], scores[3], scores[4]), f.integer("settled_yes"),
                   f.integer("settled_no"))


@dataclass(frozen=True)
class ServiceQueue:
    """One service's load as the hub sees it."""

    service: str
    waiting: int
    expected_wait_min: int | None
    issuing: bool
    reason: str | None = None
    ampel: str = "green"
    wait_range_min: tuple[int, int] | None = None  # 10 % and 90 % quantiles of a new ticket's wait
    calibration: WaitCalibration | None = None  # today's told waits against the actual ones
    ratings: Ratings | None = None  # today's ratings after the visit, once there is one

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "service": self.service, "waiting": self.waiting, "expected_wait_min": self.expected_wait_min,
            "issuing": self.issuing, "reason": self.reason, "ampel": self.ampel,
        }
        if self.wait_range_min is not None:
            data["wait_range_min"] = list(self.wait_range_min)
        if self.calibration is not None:
            data["calibration"] = self.calibration.to_dict()
        if self.ratings is not None:
            data["ratings"] = self.ratings.to_dict()
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ServiceQueue:
        f = Fields(data, "queue.services[]")
        ampel = f.text("ampel")
        if ampel not in AMPEL_LEVELS:
            raise f.fail("ampel", f"must be one of {', '.join(AMPEL_LEVELS)}")
        calibration, ratings = data.get("calibration"), data.get("ratings")
        for name, value in (("calibration", calibration), ("ratings", ratings)):
            if value is not None and not isinstance(value, dict):
                raise f.fail(name, "must be an object")
        expected = f.opt_integer("expected_wait_min")
        return cls(
            service=f.text("service", SERVICE_RE), waiting=f.integer("waiting"),
            expected_wait_min=expected, issuing=f.flag("issuing"),
            reason=f.opt_human("reason", 200), ampel=ampel, wait_range_min=f.opt_wait_range("wait_range_min", expected),
            calibration=None if calibration is None else WaitCalibration.from_dict(calibration),
            ratings=None if ratings is None else Ratings.from_dict(ratings),
        )


@dataclass(frozen=True)
class QueueState:
    """The office's retained queue summary, republished on every change and at least every minute."""

    day: date
    at: datetime
    services: tuple[ServiceQueue, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"day": self.day.isoformat(), "at": self.at.isoformat(),
                "services": [s.to_dict() for s in self.services]}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> QueueState:
        f = Fields(data, "queue")
        services = []
        for item in f.array("services"):
            if not isinstance(item, dict):
                raise f.fail("services", "must be a list of objects")
            services.append(ServiceQueue.from_dict(item))
        return cls(day=f.day(), at=f.time("at"), services=tuple(services))

    def service(self, service_id: str) -> ServiceQueue | None:
        return next((s for s in self.services if s.service == service_id), None)
