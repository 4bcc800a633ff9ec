"""The staff's side of the hub's web in tests: a browser with a cookie jar (and a source address of its
own, any of 127.0.0.0/8), the test accounts, and the paths the tests use. The `web_hub` fixture
(tests/conftest.py) is the hub's process (hub and web) with these accounts.

- `Browser(port, source="127.0.0.1")`: `get`, `post` (a form), `request` (JSON bodies), `login(user)`,
  `follow(page)` and `sse(path)`; cookies are kept like a browser keeps them.
- `PASSWORD`, `USERS` (clara: clerk, sven: supervisor, tina: technician), `add_users(store_path)`.
"""

from __future__ import annotations

import http.client
import json
import re
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from hub.accounts import HubAccounts
from hub.store import HubStore
from tests.web_harness import SseClient
from web.directory import ROLES

PASSWORD = "correct horse battery"
USERS = {"clara": "clerk", "sven": "supervisor", "tina": "technician"}


# -- an HTTP client with a cookie jar -------------------------------------------------------------------

@dataclass
class Page:
    status: int
    headers: dict[str, str]
    set_cookies: list[str]
    text: str

    @property
    def location(self) -> str:
        return self.headers.get("location", "")

    def json(self) -> Any:
        return json.loads(self.text)

    def form_value(self, name: str, form_id: str | None = None) -> str:
        scope = self.text
        if form_id is not None:
            found = re.search(rf'<form[^>]*id="{form_id}".*?</form>', self.text, re.S)
            assert found, f"no form {form_id} in the page"
            scope = found.group(0)
        match = re.search(rf'name="{name}" value="([^"]*)"', scope)
        assert match, f"no field {name} in {form_id or 'the page'}"
        return match.group(1)


@dataclass
class Browser:
    port: int
    cookies: dict[str, str] = field(default_factory=dict)
    source: str = "127.0.0.1"  # the client's own address (any of 127.0.0.0/8)

    def request(self, method: str, path: str, form: dict[str, str] | None = None, body: Any = None,
                headers: dict[str, str] | None = None) -> Page:
        sent = {"Accept-Language": "en", **(headers or {})}
        if self.cookies:
            sent["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        data = None
        if form is not None:
            data = urlencode(form).encode()
            sent["Content-Type"] = "application/x-www-form-urlencoded"
        elif body is not None:
            data = json.dumps(body).encode()
            sent["Content-Type"] = "application/json"
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30, source_address=(self.source, 0))
        try:
            conn.request(method, path, body=data, headers=sent)
            response = conn.getresponse()
            raw = response.getheaders()
            text = response.read().decode("utf-8")
        finally:
            conn.close()
        set_cookies = [v for k, v in raw if k.lower() == "set-cookie"]
        for header in set_cookies:
            for name, morsel in SimpleCookie(header).items():
                if morsel["max-age"] == "0":
                    self.cookies.pop(name, None)
                else:
                    self.cookies[name] = morsel.value
        return Page(response.status, {k.lower(): v for k, v in raw}, set_cookies, text)

    def get(self, path: str, **kwargs: Any) -> Page:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, form: dict[str, str] | None = None, **kwargs: Any) -> Page:
        return self.request("POST", path, form=form, **kwargs)

    def follow(self, page: Page) -> Page:
        assert page.status == 303, (page.status, page.text[:300])
        return self.get(page.location)

    def login(self, user: str, password: str = PASSWORD) -> Page:
        form = self.get("/login")
        assert form.status == 200
        return self.post("/login", {"token": form.form_value("token"), "user": user, "password": password,
                                    "next": ""})

    def sse(self, path: str) -> SseClient:
        cookie = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        return SseClient(f"http://127.0.0.1:{self.port}{path}", headers={"Cookie": cookie})


def add_users(store_path: Path) -> None:
    store = HubStore(store_path)
    try:
        accounts = HubAccounts(store, ROLES)
        for user, role in USERS.items():
            accounts.add(user, role, PASSWORD)
    finally:
        store.close()


def counter_path(office: str, counter: str = "platz-1") -> str:
    return "/counter?" + urlencode({"office": office, "counter": counter})
