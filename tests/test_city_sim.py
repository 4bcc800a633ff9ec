"""The simulated city (tests/city_sim.py: 23 offices with their own mosquitto and `wartemarke-hub`, bridged
to one central mosquitto; two replicas and the daily archive behind nginx), asserted through the whole
chain and under faults:
the central broker restarted, one office's bridge cut for a while, one replica killed under a citizen's
open page, and office work while the central tier is down.

One test builds the city once and runs the checks in order (each leaves the city running with every
office shown as it is): one test, so that pytest-xdist never splits them over two workers and builds the
city twice (`xdist_group` does not group them with the installed pytest-xdist 3.8).
"""

from __future__ import annotations

import csv
import io
import json
import re
import statistics
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from protocol import topics
from tests.city_harness import bridge_state_topic, wait_bridge_state
from tests.city_sim import CUT, SimCity, office_id, poll, replica_holding_one_stream, start_city, waiting
from tests.test_city_web import HttpsSse
from tests.test_web_browser import browser  # noqa: F401 (the module's Chromium, a fixture)

OFFICES = 23
LIVE_S = 20  # how long a change may take to reach a page through the whole chain (it takes well under 1 s)


@pytest.fixture
def city(tmp_path: Path) -> Iterator[SimCity]:
    instance = start_city(tmp_path / "city-sim", OFFICES)
    print(f"\ncity of {OFFICES} offices up: " + ", ".join(f"{k} after {v:.1f} s" for k, v in instance.timings.items()))
    try:
        yield instance
    finally:
        instance.stop()


@contextmanager
def phone(chromium: Any) -> Iterator[Any]:
    """A citizen's phone that trusts nginx's self-signed certificate."""
    context = chromium.new_context(locale="de-DE", viewport={"width": 412, "height": 860}, ignore_https_errors=True)
    context.set_default_timeout(LIVE_S * 1000)
    try:
        yield context.new_page()
    finally:
        context.close()


def ampel(city: SimCity) -> dict[str, dict[str, Any]]:
    """/api/v1/offices through nginx, by office id."""
    status, body = city.fetch("/api/v1/offices")
    assert status == 200, body
    return {o["id"]: o for o in json.loads(body)["offices"]}


def office_section(page: str, office: str) -> str:
    """The Ampel page's part for one office (from its heading to the next office's)."""
    match = re.search(rf'<h2 id="name-{re.escape(office)}">(.*?)(?=<h2 id="name-|\Z)', page, re.DOTALL)
    assert match, f"{office} is not on the Ampel page"
    return match.group(1)


# -- through the whole chain --------------------------------------------------------------------------

def check_every_office_is_on_the_city_ampel_through_nginx(city: SimCity) -> None:
    listed = poll(lambda: len(ampel(city)) == OFFICES and ampel(city), timeout=LIVE_S, what="every office")
    assert sorted(listed) == sorted(city.offices)
    for office in city.offices.values():
        assert listed[office.id]["name"] == office.name and listed[office.id]["open"] is True
    status, page = city.fetch("/")
    assert status == 200
    assert all(office.name in office_section(page, office.id) for office in city.offices.values())


def check_a_ticket_in_office_17_shows_on_the_ampel_and_on_its_tracking_page(city: SimCity) -> None:
    office = city.office(17)
    before = waiting(ampel(city)[office.id])
    with HttpsSse(f"{city.base}/events/offices", city.context, timeout=LIVE_S) as stream:  # the live Ampel
        assert stream.status == 200
        token, _ = office.issue()
        event = stream.wait_for(lambda d: d["id"] == office.id and f"{before + 1} wartend" in d["html"], limit=200)
        assert office.name in event["html"]
    poll(lambda: waiting(ampel(city)[office.id]) == before + 1, timeout=LIVE_S,
         what="office 17's new ticket on /api/v1/offices through nginx (cached there for up to 5 s)")
    status, page = city.fetch("/")
    assert status == 200 and f"{before + 1} wartend" in office_section(page, office.id)
    status, page = city.fetch(f"/t/{token}")
    assert status == 200 and "A001" in page and office.name in page
    others = ampel(city)
    assert all(waiting(others[o]) == 0 for o in city.offices if o != office.id)  # nothing leaked elsewhere


def check_the_daily_archive_holds_every_office_and_is_served_through_nginx(city: SimCity) -> None:
    """One archive for the city (web-1, its own read-only account on the central broker); every web host's
    nginx passes /api/v1/archive/ to it."""
    day = city.office(17).day()
    status, body = city.fetch("/api/v1/archive/")
    assert status == 200, body
    index = json.loads(body)
    assert index["licence"]["name"].startswith("Datenlizenz Deutschland") and index["attribution"] == "Teststadt"

    def rows() -> list[dict[str, str]] | None:
        """Today's file once it has every office and office 17's ticket (the file is rewritten every second)."""
        status, text = city.fetch(f"/api/v1/archive/{day.isoformat()}.csv")
        found = list(csv.DictReader(io.StringIO(text))) if status == 200 else []
        ticket = [r for r in found if r["office"] == office_id(17) and r["service"] == "A"]
        complete = {r["office"] for r in found} == set(city.offices) and ticket and ticket[-1]["waiting"] == "1"
        return found if complete else None

    found = poll(rows, timeout=LIVE_S, what="every office and office 17's ticket in today's archive through nginx",
                 every=1.0)
    row = [r for r in found if r["office"] == office_id(17) and r["service"] == "A"][-1]
    assert row["office_name"] == "Bürgerbüro Amt 17" and row["service_name"] == "Allgemeine Anliegen"
    assert row["ampel"] in ("green", "yellow", "red") and row["issuing"] == "true"


def check_a_call_in_office_3_switches_that_citizens_page_to_called(city: SimCity, chromium: Any) -> None:
    with phone(chromium) as page:
        office = city.office(3)
        token, _ = office.issue()
        poll(lambda: city.fetch(f"/t/{token}")[0] == 200, timeout=LIVE_S, what="the tracking page", every=1.0)
        page.goto(f"{city.base}/t/{token}")
        expect(page.locator("#status")).to_contain_text("Sie warten")
        replica_holding_one_stream(city)  # the page's event stream is open (through nginx to a replica)
        answer, _ = office.call_next()
        assert answer.ok, answer
        expect(page.locator("#status .called")).to_contain_text("Platz 1")
        assert page.title().startswith("▶")


# -- faults -------------------------------------------------------------------------------------------

def check_office_work_never_waits_on_the_central_tier_and_a_restarted_central_brings_every_office_back(
        city: SimCity) -> None:
    """Kiosk acks and clerks' commands take as long with the central broker stopped as with it running;
    after its restart (no persistence: it starts empty) every office is back on both replicas exactly as
    its own broker holds it — the changes made meanwhile included, none left at an older state."""
    office, other = city.office(5), city.office(6)
    up_issue = [office.issue()[1] for _ in range(5)]
    up_call = [office.call_next()[1] for _ in range(3)]
    city.central.broker.stop()
    try:
        down_issue = [office.issue()[1] for _ in range(5)]
        down_call = [office.call_next()[1] for _ in range(3)]
        other.issue()  # a change in another office while the city cannot see it
    finally:
        city.central.broker.start()
    print(f"\nkiosk ack median {statistics.median(up_issue) * 1000:.0f} ms with the central broker up, "
          f"{statistics.median(down_issue) * 1000:.0f} ms down; command {statistics.median(up_call) * 1000:.0f} ms "
          f"/ {statistics.median(down_call) * 1000:.0f} ms")
    for up, down in ((up_issue, down_issue), (up_call, down_call)):
        assert max(down) < 2.0  # nothing in the office waits for a bridge timeout
        assert statistics.median(down) <= 3 * statistics.median(up) + 0.25
    observer = city.observe()  # the restarted central broker started empty: what it holds came back
    try:
        for sim in city.offices.values():
            wait_bridge_state(observer, sim.hub, b"1", timeout=90)
            observer.wait_for(lambda t, p, o=sim: t == topics.queue(o.id) and bool(p), timeout=30)  # type: ignore[misc]
    finally:
        city.central.close_probes()
    for replica in city.replicas.values():
        poll(lambda r=replica: city.shows_truth(r), timeout=60,  # type: ignore[misc]
                   what=f"{replica.name} to show every office as it is after the central broker's restart")
    assert all(waiting(city.listed(r)[other.id]) == 1 for r in city.replicas.values())
    poll(lambda: waiting(ampel(city)[other.id]) == 1, timeout=LIVE_S, what="office 6's ticket through nginx "
         "(its API cache holds an answer for 5 s)", every=1.0)


def check_an_office_cut_off_the_city_stops_advancing_and_catches_up(city: SimCity) -> None:
    """Office 9's bridge is cut (its proxy refuses and drops connections): the central broker publishes the
    bridge's will; the Ampel keeps office 9 at its last state (its `updated_at` stops) while another
    office's advances; when the bridge is back, office 9 catches up with what happened meanwhile."""
    cut, live = city.office(CUT), city.office(10)
    assert cut.proxy is not None
    replicas = list(city.replicas.values())
    before = {r.name: city.listed(r)[cut.id] for r in replicas}
    observer = city.observe()
    try:
        cut.proxy.accepting = False
        cut.proxy.drop_all()
        since = observer.mark()
        observer.wait_for(lambda t, p: t == bridge_state_topic(cut.hub) and p == b"0", since, timeout=30)
        token, _ = cut.issue()  # the office works on: its own broker and hub have the ticket
        live_before = {r.name: city.listed(r)[live.id]["updated_at"] for r in replicas}
        live.issue()
        for replica in replicas:
            poll(lambda r=replica: city.shows_truth(r, {live.id}), timeout=LIVE_S,  # type: ignore[misc]
                       what=f"{replica.name} to show office 10's change")
            shown = city.listed(replica)
            assert shown[live.id]["updated_at"] > live_before[replica.name]
            # frozen: no update, nothing shown as newer — and said to be stale ("Stand HH:MM", http.md §4.1)
            assert figures(shown[cut.id]) == figures(before[replica.name])
            assert before[replica.name]["stale"] is False
            assert shown[cut.id]["stale"] is True and shown[cut.id]["stale_since"] is not None
            assert shown[live.id]["stale"] is False
        assert city.fetch(f"/t/{token}")[0] == 404  # its view never reached the city
        cut.proxy.accepting = True
        wait_bridge_state(observer, cut.hub, b"1", since, timeout=90)
        for replica in replicas:
            poll(lambda r=replica: city.shows_truth(r, {cut.id}), timeout=LIVE_S,  # type: ignore[misc]
                       what=f"{replica.name} to show office 9 caught up")
            poll(lambda r=replica: city.listed(r)[cut.id]["stale"] is False, timeout=LIVE_S,  # type: ignore[misc]
                 what=f"{replica.name} to show office 9 as current again")
        assert waiting(city.listed(replicas[0])[cut.id]) == waiting(before[replicas[0].name]) + 1
        poll(lambda: city.fetch(f"/t/{token}")[0] == 200, timeout=LIVE_S, what="the cut office's ticket", every=1.0)
    finally:
        cut.proxy.accepting = True
        city.central.close_probes()


def check_when_a_replica_dies_the_citizens_page_is_live_again_within_5_s(city: SimCity, chromium: Any) -> None:
    with phone(chromium) as page:
        office = city.office(12)
        token, _ = office.issue()
        poll(lambda: city.fetch(f"/t/{token}")[0] == 200, timeout=LIVE_S, what="the tracking page", every=1.0)
        page.goto(f"{city.base}/t/{token}")
        expect(page.locator("#status")).to_contain_text("Sie warten")
        holder = replica_holding_one_stream(city)
        try:
            holder.kill()
            killed = time.monotonic()
            answer, _ = office.call_next()  # at once: only a reconnected stream can bring it to the page
            assert answer.ok, answer
            expect(page.locator("#status .called")).to_contain_text("Platz 1", timeout=LIVE_S * 1000)
            live_after = time.monotonic() - killed
            print(f"\nthe page showed the call {live_after:.2f} s after its replica was killed")
            assert live_after <= 5.0
            survivor = next(r for r in city.replicas.values() if r is not holder)
            assert survivor.streams() == 1
        finally:
            holder.start()
            poll(lambda: city.shows_truth(holder), timeout=60, what=f"{holder.name} to be back")


def check_no_hub_died_in_the_faults(city: SimCity) -> None:
    """Every office's own `wartemarke-hub` process is still running after all of the above."""
    running = {sim.id for sim in city.offices.values() if sim.process is not None and sim.process.poll() is None}
    assert running == {office_id(n) for n in range(1, OFFICES + 1)}


def figures(entry: dict[str, Any]) -> dict[str, Any]:
    """An /api/v1/offices entry without its staleness (`stale`, `stale_since`): what the office said."""
    return {key: value for key, value in entry.items() if key not in ("stale", "stale_since")}


def test_the_simulated_city(city: SimCity, browser: Any) -> None:  # noqa: F811 (the imported fixture)
    started = time.monotonic()
    check_every_office_is_on_the_city_ampel_through_nginx(city)
    check_a_ticket_in_office_17_shows_on_the_ampel_and_on_its_tracking_page(city)
    check_the_daily_archive_holds_every_office_and_is_served_through_nginx(city)
    check_a_call_in_office_3_switches_that_citizens_page_to_called(city, browser)
    check_office_work_never_waits_on_the_central_tier_and_a_restarted_central_brings_every_office_back(city)
    check_an_office_cut_off_the_city_stops_advancing_and_catches_up(city)
    check_when_a_replica_dies_the_citizens_page_is_live_again_within_5_s(city, browser)
    check_no_hub_died_in_the_faults(city)
    print(f"\nthe checks took {time.monotonic() - started:.1f} s after the city was up")
