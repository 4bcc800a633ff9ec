"""The accessibility statement (`/barrierefreiheit`) and the explanation in Leichte Sprache (`/leichte-sprache`).

A public body's statement follows the EU model statement (Implementing Decision (EU) 2018/1523) as BITV 2.0
§ 7 asks: the compliance status, how and when it was assessed, a direct feedback contact and the arbitration
body. What only the operator knows is configured in `[web.accessibility]` (web/config.py's `Statement`).
"""

from __future__ import annotations

from aiohttp import web

from web.keys import SETTINGS
from web.responses import page


def contact_href(contact: str) -> str:
    return contact if "@" not in contact or contact.startswith(("http://", "https://")) else f"mailto:{contact}"


async def statement_page(request: web.Request) -> web.Response:
    statement = request.app[SETTINGS].statement
    return page(request, "accessibility.html", statement=statement, contact_href=contact_href(statement.contact))


async def easy_read_page(request: web.Request) -> web.Response:
    return page(request, "easy_read.html", statement=request.app[SETTINGS].statement)
