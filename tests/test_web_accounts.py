"""Staff accounts on the hub's web, for real (the hub's process with its web, real HTTP, real SQLite): the login
limit holds for concurrent guesses (per client and per account), a wrong name costs what a wrong
password costs, sessions end when the password or role changes or the account is removed, and staff
change their own password on /account."""

from __future__ import annotations

import io
import statistics
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from devtools.broker import free_port
from hub.accounts import HubAccounts
from hub.store import HubStore
from hubprocess.cli import main as hub_main
from hubprocess.config import load_hub_process_config
from tests.staff_harness import PASSWORD, Browser, add_users, counter_path
from tests.web_harness import WebHub, write_web_hub_config
from web.auth import ACCOUNT_FAILURES_PER_MIN, LOGIN_FAILURES_PER_MIN
from web.directory import ROLES

GUESSES = 30


def parallel_logins(web: WebHub, user: str, sources: list[str]) -> list[int]:
    """Wrong passwords for `user`, one per source address, all sent at the same moment."""
    browsers = [Browser(web.port, source=source) for source in sources]
    tokens = [b.get("/login").form_value("token") for b in browsers]
    start, statuses = threading.Barrier(len(browsers)), [0] * len(browsers)

    def guess(index: int) -> None:
        start.wait(30)
        statuses[index] = browsers[index].post("/login", {"token": tokens[index], "user": user,
                                                          "password": f"guess number {index}", "next": ""}).status

    threads = [threading.Thread(target=guess, args=(i,)) for i in range(len(browsers))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    return statuses


def test_parallel_guesses_are_counted_before_the_password_is_checked(web_hub: WebHub) -> None:
    one_address = parallel_logins(web_hub, "clara", ["127.0.0.1"] * GUESSES)
    assert sorted(set(one_address)) == [401, 429]
    assert one_address.count(401) == LOGIN_FAILURES_PER_MIN, one_address  # 5 checked, 25 refused unchecked
    many_addresses = parallel_logins(web_hub, "sven", [f"127.0.7.{i}" for i in range(1, GUESSES + 1)])
    assert many_addresses.count(401) == ACCOUNT_FAILURES_PER_MIN, many_addresses  # per account, from anywhere
    assert many_addresses.count(429) == GUESSES - ACCOUNT_FAILURES_PER_MIN
    blocked = Browser(web_hub.port, source="127.0.8.1").login("sven")  # even the right password waits now
    assert blocked.status == 429
    assert Browser(web_hub.port, source="127.0.8.2").login("tina").status == 303  # other accounts log in


def test_an_unknown_name_takes_as_long_as_a_wrong_password(tmp_path: Path) -> None:
    store = HubStore(tmp_path / "hub.sqlite3")
    try:
        accounts = HubAccounts(store, ROLES)
        accounts.add("clara", "clerk", PASSWORD)
        known: list[float] = []
        unknown: list[float] = []
        pair = [("clara", known), ("nobody", unknown)]
        for round_ in range(26):  # interleaved, each first in every other round: load hits both alike
            for name, samples in (pair if round_ % 2 else pair[::-1]):
                started = time.perf_counter()
                assert accounts.check_login(name, "wrong password!") is None
                samples.append(time.perf_counter() - started)
    finally:
        store.close()
    ratio = statistics.median(unknown) / statistics.median(known)
    assert 0.75 < ratio < 1.33, (ratio, statistics.median(known), statistics.median(unknown))


def users_cli(web: WebHub, monkeypatch: pytest.MonkeyPatch, *args: str, password: str = "") -> None:
    """`wartemarke-hub users …` as the operator runs it, on the running hub's database."""
    monkeypatch.setattr("sys.stdin", io.StringIO(password + "\n"))
    assert hub_main(["users", "--config", str(web.config), *args]) == 0


def logged_in(web: WebHub, user: str, source: str = "127.0.0.1") -> Browser:
    browser = Browser(web.port, source=source)
    assert browser.login(user).status == 303
    return browser


def test_sessions_end_when_the_password_or_role_changes_or_the_account_goes(web_hub: WebHub,
                                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    office = web_hub.office
    clerk, other = logged_in(web_hub, "clara"), logged_in(web_hub, "sven")
    assert clerk.get(counter_path(office)).status == 200
    users_cli(web_hub, monkeypatch, "add", "clara", "--role", "clerk", "--password-stdin", password="a new password!")
    assert clerk.get(counter_path(office)).status == 303  # the old session is over at once
    assert clerk.get("/api/internal/session").status == 401
    assert other.get(counter_path(office)).status == 200  # nobody else's
    assert Browser(web_hub.port).login("clara", "a new password!").status == 303

    technician = logged_in(web_hub, "tina", source="127.0.0.2")
    assert technician.get("/devices").status == 200
    users_cli(web_hub, monkeypatch, "add", "tina", "--role", "clerk", "--password-stdin", password=PASSWORD)
    assert technician.get("/devices").status == 303  # the role changed: log in again (as a clerk now)

    users_cli(web_hub, monkeypatch, "remove", "sven")
    assert other.get(counter_path(office)).status == 303


def test_staff_change_their_own_password(web_hub: WebHub) -> None:
    office = web_hub.office
    here, elsewhere = logged_in(web_hub, "clara"), logged_in(web_hub, "clara", source="127.0.0.3")
    page = here.get("/account")
    assert page.status == 200 and "Change your password" in page.text
    assert 'autocomplete="current-password"' in page.text and 'autocomplete="new-password"' in page.text
    csrf = page.form_value("csrf")
    change: dict[str, Any] = {"csrf": csrf, "current": PASSWORD, "new": "my own secret!", "repeat": "my own secret!"}
    assert here.post("/account", {k: v for k, v in change.items() if k != "csrf"}).status == 403  # CSRF
    assert here.post("/account", change, headers={"Origin": "http://evil.example"}).status == 403
    wrong = here.post("/account", {**change, "current": "not my password"})
    assert wrong.status == 403 and "The current password is wrong" in wrong.text
    mismatch = here.post("/account", {**change, "repeat": "something else"})
    assert mismatch.status == 400 and "differ" in mismatch.text
    short = here.post("/account", {**change, "new": "short", "repeat": "short"})
    assert short.status == 400 and "too short" in short.text
    assert Browser(web_hub.port).login("clara").status == 303  # nothing changed so far

    done = here.post("/account", change)
    assert done.status == 200 and "Password changed" in done.text
    assert here.get(counter_path(office)).status == 200  # this browser stays logged in (a new session)
    assert elsewhere.get(counter_path(office)).status == 303  # every other session has ended
    assert Browser(web_hub.port, source="127.0.0.4").login("clara").status == 401  # the old password is gone
    assert Browser(web_hub.port, source="127.0.0.5").login("clara", "my own secret!").status == 303
    assert 'href="/account' in here.get(counter_path(office)).text  # the counter page links to it


def test_wrong_current_passwords_count_as_failed_logins(web_hub: WebHub) -> None:
    clerk = logged_in(web_hub, "clara")
    csrf = clerk.get("/account").form_value("csrf")
    statuses = [clerk.post("/account", {"csrf": csrf, "current": f"guess {i}", "new": "0123456789",
                                        "repeat": "0123456789"}).status for i in range(LOGIN_FAILURES_PER_MIN + 1)]
    assert statuses == [403] * LOGIN_FAILURES_PER_MIN + [429]


def test_a_logout_survives_a_restart_of_the_hub(tmp_path: Path, shared_broker: Any, topic_office: str) -> None:
    """Logged out is logged out, also after a restart; other sessions survive it (review of issue 10, item 7)."""
    (tmp_path / "secret").write_bytes(b"s" * 32)
    config = write_web_hub_config(tmp_path, shared_broker.port, topic_office, free_port(),
                                  extra_web=f'session_secret_file = "{tmp_path / "secret"}"\n')
    add_users(load_hub_process_config(config).hub.state_dir / "hub.sqlite3")
    web = WebHub.start(config, topic_office, shared_broker.port)
    try:
        leaving, staying = logged_in(web, "clara"), logged_in(web, "sven")
        cookies = dict(leaving.cookies)
        csrf = leaving.get("/api/internal/session").json()["csrf"]
        assert leaving.post("/logout", {"csrf": csrf}).status == 303
        assert Browser(web.port, cookies=cookies).get("/api/internal/session").status == 401
    finally:
        web.stop()
    web = WebHub.start(config, topic_office, shared_broker.port)
    try:
        assert Browser(web.port, cookies=cookies).get("/api/internal/session").status == 401
        assert staying.get("/api/internal/session").status == 200
    finally:
        web.stop()


def test_guesses_from_elsewhere_do_not_lock_a_clerk_out_of_her_own_browser(web_hub: WebHub) -> None:
    """The per-account limit holds for strangers, not for a browser that logged in as the user before
    (its known-device cookie): anyone guessing cannot lock a named clerk out (review of issue 10, item 8)."""
    own = logged_in(web_hub, "clara", source="127.0.14.1")
    guesses = parallel_logins(web_hub, "clara", [f"127.0.15.{i}" for i in range(1, ACCOUNT_FAILURES_PER_MIN + 3)])
    assert guesses.count(401) == ACCOUNT_FAILURES_PER_MIN and 429 in guesses  # the account is locked for strangers
    assert Browser(web_hub.port, source="127.0.14.2").login("clara").status == 429  # a new browser waits
    assert own.login("clara").status == 303  # her own browser gets in
    assert "wm_device" in own.cookies and own.get("/api/internal/session").status == 200
    parallel_logins(web_hub, "sven", [f"127.0.16.{i}" for i in range(1, ACCOUNT_FAILURES_PER_MIN + 3)])
    other = Browser(web_hub.port, cookies={"wm_device": own.cookies["wm_device"]}, source="127.0.14.3")
    assert other.login("sven").status == 429  # clara's cookie does not pass for another account


def test_user_names_are_plain_and_short(web_hub: WebHub, monkeypatch: pytest.MonkeyPatch,
                                         capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture) -> None:
    """`users add` takes 1-64 letters, digits, '.', '_', '-' with a clear error; the login form follows the same
    rule, so no name can split a log line (review of issue 10, item 9)."""
    for bad in ("a\nb", "esc\x1bname", "\u202eevil", "x" * 65, "", "with space"):
        monkeypatch.setattr("sys.stdin", io.StringIO(PASSWORD + "\n"))
        assert hub_main(["users", "--config", str(web_hub.config), "add", bad, "--password-stdin"]) == 2, repr(bad)
        error = capsys.readouterr().err
        assert "a user name is 1–64 characters" in error or "a user name is needed" in error, error
    users_cli(web_hub, monkeypatch, "add", "anna.maria_k-2", "--password-stdin", password=PASSWORD)
    users_cli(web_hub, monkeypatch, "add", "x" * 64, "--password-stdin", password=PASSWORD)
    assert logged_in(web_hub, "anna.maria_k-2").get("/api/internal/session").status == 200
    assert logged_in(web_hub, "x" * 64, source="127.0.0.5").get("/api/internal/session").status == 200
    assert Browser(web_hub.port, source="127.0.0.6").login("clara\nforged", PASSWORD).status == 401
    assert not [r for r in caplog.records if "forged" in r.getMessage()]
