"""How the web answers: rendered pages, JSON that is never cached, redirects and cookies.

Who is asking (the client key behind a proxy) is web/limits.py's; reading a request's body is
web/malformed.py's; sessions and CSRF are web/auth.py's.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from language.catalogue import COMPLETE_LANGUAGES, NATIVE_NAMES, RIGHT_TO_LEFT, machine_note
from web.i18n import chosen_language, language, switch_link, translator, wanted_language, with_language
from web.keys import SETTINGS
from web.templates_env import render

# The staff pages and their APIs are never framed by another site (clickjacking).
FRAME_HEADERS = {"X-Frame-Options": "DENY", "Content-Security-Policy": "frame-ancestors 'none'"}


def page(request: web.Request, template: str, status: int = 200, offered: tuple[str, ...] = COMPLETE_LANGUAGES,
         **context: Any) -> web.Response:
    """A rendered page. `Referrer-Policy: same-origin`: a tracking link never reaches another site (the privacy
    or imprint link may point to the operator's site), while our own forms still get a real `Origin` header;
    `no-referrer` would make browsers send `Origin: null` with every form POST, which the login refuses.
    `offered`: the languages the page has (web/i18n.py); asked for another, it says so in that language.
    `keep_lang(url, fallback)`: an internal link with the language the reader chose (`?lang=`), else with
    `fallback` (or none), so a chosen language holds from page to page."""
    lang, wanted, chosen = language(request, offered), wanted_language(request), chosen_language(request)
    settings = request.app[SETTINGS]
    html = render(template, lang=lang, t=translator(lang), operator=settings.operator,
                  languages=[(code, NATIVE_NAMES[code], switch_link(request, code)) for code in offered],
                  rtl=RIGHT_TO_LEFT, machine_note=machine_note(lang), wanted=wanted,
                  not_offered=None if wanted in offered else translator(wanted)("only_de_en"),
                  privacy_url=settings.privacy_url, imprint_url=settings.imprint_url,
                  sign_language_url=settings.statement.sign_language_url,
                  keep_lang=lambda url, fallback=None: with_language(url, chosen or fallback), **context)
    return web.Response(text=html, content_type="text/html", status=status,
                        headers={"Cache-Control": "no-store", "Referrer-Policy": "same-origin",
                                 "X-Content-Type-Options": "nosniff"})


def private_json(data: Any, status: int = 200) -> web.Response:
    """JSON for one logged-in user: never cached, never framed."""
    return web.json_response(data, status=status, headers={"Cache-Control": "no-store", **FRAME_HEADERS})


def redirect(location: str) -> web.Response:
    """303 See Other: after a POST the browser GETs `location` (Post/Redirect/Get)."""
    return web.Response(status=303, headers={"Location": location, "Cache-Control": "no-store"})


def is_https(request: web.Request) -> bool:
    """Over TLS here, or (behind our proxy, `trust_forwarded`) over TLS to the proxy."""
    if request.secure:
        return True
    proto = request.headers.get("X-Forwarded-Proto", "") if request.app[SETTINGS].trust_forwarded else ""
    return proto.split(",")[0].strip().lower() == "https"


def set_cookie(response: web.StreamResponse, request: web.Request, name: str, value: str, max_age: int,
               path: str = "/") -> None:
    """HttpOnly, SameSite=Strict, and Secure whenever the browser came over HTTPS."""
    response.set_cookie(name, value, max_age=max_age, path=path, httponly=True, samesite="Strict",
                        secure=is_https(request))


def clear_cookie(response: web.StreamResponse, request: web.Request, name: str, path: str = "/") -> None:
    response.del_cookie(name, path=path, httponly=True, samesite="Strict", secure=is_https(request))
