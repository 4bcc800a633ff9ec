"""One business day of open data: per office × service × interval, what the office's public `queue` said.

Pure: it gets parsed `queue`/`info` messages and gives CSV text; no MQTT, no files. Each interval row sums
up the distinct queue states published in it (a state is identified by its `at`; the hub republishes at
least every minute, so an interval without a row had no data reaching the city tier). A state is placed by
its own `at` in the office's time zone, so a retained state that arrives late (after a reconnect) lands in
the interval it describes, and one seen twice counts once. Nothing here is about persons: `queue` carries
counts and waits only (and the day's ratings after the visit as counts per service, never per counter).
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from protocol.messages.info import OfficeInfo
from protocol.messages.queue import QueueState, Ratings, ServiceQueue

# The columns of every daily file, in this order (docs/http.md documents each).
FIELDS = ("date", "office", "office_name", "service", "service_name", "interval_start", "interval_end",
          "samples", "waiting", "waiting_max", "expected_wait_min", "expected_wait_max_min", "ampel",
          "ampel_worst", "issuing", "not_issuing_reason", "updated_at", "rating_1", "rating_2", "rating_3",
          "rating_4", "rating_5", "settled_yes", "settled_no")
BEFORE_RATINGS = FIELDS[:17]  # the columns of files written before the ratings (still read back)
SEVERITY = {"closed": 0, "green": 1, "yellow": 2, "red": 3}


@dataclass
class Row:
    """One office × service × interval of one business day."""

    day: date
    office: str
    office_name: str
    service: str
    service_name: str
    start: datetime  # local, the interval's first minute
    end: datetime
    samples: int
    waiting: int  # the interval's last state
    waiting_max: int
    expected_wait_min: int | None
    expected_wait_max_min: int | None
    ampel: str
    ampel_worst: str
    issuing: bool
    not_issuing_reason: str
    updated_at: datetime  # the `at` of the interval's last state
    ratings: Ratings | None = None  # the day's ratings after the visit so far, as of the last state

    def add(self, service: ServiceQueue, at: datetime) -> None:
        """Another state in this interval (`at` newer than every one before it)."""
        self.samples += 1
        self.waiting, self.waiting_max = service.waiting, max(self.waiting_max, service.waiting)
        self.expected_wait_min = service.expected_wait_min
        if service.expected_wait_min is not None:
            self.expected_wait_max_min = max(self.expected_wait_max_min or 0, service.expected_wait_min)
        self.ampel = service.ampel
        if SEVERITY[service.ampel] > SEVERITY[self.ampel_worst]:
            self.ampel_worst = service.ampel
        self.issuing, self.not_issuing_reason = service.issuing, "" if service.issuing else (service.reason or "")
        self.updated_at = at
        self.ratings = service.ratings

    def values(self) -> list[str]:
        return [self.day.isoformat(), self.office, self.office_name, self.service, self.service_name,
                f"{self.start:%H:%M}", f"{self.end:%H:%M}", str(self.samples), str(self.waiting),
                str(self.waiting_max), _number(self.expected_wait_min), _number(self.expected_wait_max_min),
                self.ampel, self.ampel_worst, "true" if self.issuing else "false", self.not_issuing_reason,
                self.updated_at.isoformat(), *_rating_values(self.ratings)]


def _rating_values(ratings: Ratings | None) -> list[str]:
    """rating_1 … rating_5 (how many gave that score), settled_yes, settled_no: the day's so far."""
    if ratings is None:
        return ["0"] * 7
    return [str(n) for n in (*ratings.scores, ratings.settled_yes, ratings.settled_no)]


def _read_ratings(item: dict[str, str]) -> Ratings | None:
    counts = [int(item.get(name) or 0) for name in FIELDS[17:]]  # an older file has none of them: 0
    if not any(counts):
        return None
    return Ratings((counts[0], counts[1], counts[2], counts[3], counts[4]), counts[5], counts[6])


def _number(value: int | None) -> str:
    return "" if value is None else str(value)


class Archive:
    """The rows of the days still being written, by day. `record` the offices' messages, `csv(day)` a file."""

    def __init__(self, interval_min: int, default_zone: ZoneInfo) -> None:
        if not 1 <= interval_min <= 60 or 60 % interval_min:
            raise ValueError("interval_min must divide an hour (1, 5, 10, 15, 20, 30 or 60)")
        self.interval = timedelta(minutes=interval_min)
        self.default_zone = default_zone
        self.rows: dict[date, dict[tuple[str, str, datetime], Row]] = {}
        self.info: dict[str, OfficeInfo] = {}
        self.last_at: dict[str, datetime] = {}  # office → the newest state recorded
        self.changed: set[date] = set()  # days with rows not yet written

    def record_info(self, office: str, info: OfficeInfo) -> None:
        self.info[office] = info

    def record(self, office: str, queue: QueueState) -> bool:
        """Add a queue state; False when it is not newer than the office's last one (a repeat, or older)."""
        last = self.last_at.get(office)
        if last is not None and queue.at <= last:
            return False
        self.last_at[office] = queue.at
        info = self.info.get(office)
        zone = ZoneInfo(info.timezone) if info is not None else self.default_zone
        local = queue.at.astimezone(zone)
        start = local.replace(minute=local.minute - local.minute % (self.interval.seconds // 60), second=0,
                              microsecond=0)
        day = self.rows.setdefault(queue.day, {})
        for service in queue.services:
            key = (office, service.service, start)
            row = day.get(key)
            if row is None:  # names: see _name
                row = day[key] = Row(queue.day, office, office, service.service, service.service, start,
                                     start + self.interval, 0, service.waiting, service.waiting, None, None,
                                     service.ampel, service.ampel, service.issuing, "", queue.at)
            row.add(service, queue.at)
        self.changed.add(queue.day)
        return True

    def csv(self, day: date) -> str:
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(FIELDS)
        rows = sorted(self.rows.get(day, {}).values(), key=lambda r: (r.office, r.service, r.start))
        for row in rows:  # a state may have come before the office's info (retained messages come in any order)
            self._name(row)
        writer.writerows(row.values() for row in rows)
        return out.getvalue()

    def _name(self, row: Row) -> None:
        """The office's and the service's names from the office's newest info."""
        info = self.info.get(row.office)
        if info is not None:
            service = info.service(row.service)
            row.office_name = info.name
            row.service_name = service.name_de if service is not None else row.service_name

    def load(self, day: date, text: str) -> None:
        """The rows of a file written before a restart, so that rewriting it keeps them."""
        rows = self.rows.setdefault(day, {})
        for item in csv.DictReader(io.StringIO(text)):
            if list(item) not in (list(FIELDS), list(BEFORE_RATINGS)):
                raise ValueError(f"not an archive file of this version (columns {list(item)})")
            updated = datetime.fromisoformat(item["updated_at"])
            zone = ZoneInfo(self.info[item["office"]].timezone) if item["office"] in self.info else self.default_zone
            # The interval's date is that of its last state (after midnight, before the day reset, it is
            # not the business day's).
            start = datetime.combine(updated.astimezone(zone).date(),
                                     datetime.strptime(item["interval_start"], "%H:%M").time(), zone)
            rows[(item["office"], item["service"], start)] = Row(
                day, item["office"], item["office_name"], item["service"], item["service_name"], start,
                start + self.interval, int(item["samples"]), int(item["waiting"]), int(item["waiting_max"]),
                _optional(item["expected_wait_min"]), _optional(item["expected_wait_max_min"]), item["ampel"],
                item["ampel_worst"], item["issuing"] == "true", item["not_issuing_reason"], updated,
                _read_ratings(item))
            office = item["office"]
            if office not in self.last_at or updated > self.last_at[office]:
                self.last_at[office] = updated

    def forget_before(self, day: date) -> None:
        """Drop the rows of days before `day` that are written (they stay in their files)."""
        for old in [d for d in self.rows if d < day and d not in self.changed]:
            del self.rows[old]


def _optional(text: str) -> int | None:
    return int(text) if text else None
