"""The language of a page: `?lang=`, else the browser's Accept-Language (q-values honoured), else German.

The texts themselves are in the `language` package (gettext catalogues, shared with the kiosk's ticket
and the board); this module only picks the language of a request. A page offers the languages it has
texts in: the citizens' pages (tracking page, Ampel, not-found) every language, the others German and
English. Accept-Language is matched by language only (`tr-TR` → tr); a language we do not have is never
replaced by a different one we think is close (`ru` does not give Ukrainian): the next preference counts.
A language chosen with `?lang=` is kept on the way through the site: every internal link of a page carries
it (`with_language`); a page whose language came from the browser links without it.
"""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from aiohttp import web
from babel.core import negotiate_locale

from language.catalogue import COMPLETE_LANGUAGES, LANGUAGES, Translate
from language.catalogue import translator as catalogue_translator

_MAX_PREFERENCES = 20  # a longer Accept-Language is cut (nobody reads 20 languages)


def preferences(request: web.Request) -> list[str]:
    """Our languages the reader asked for, best first: `?lang=`, then Accept-Language by q-value."""
    wanted: list[str] = []
    chosen = chosen_language(request)
    if chosen is not None:
        wanted.append(chosen)
    for tag in accepted(request.headers.get("Accept-Language", "")):
        found = negotiate_locale([tag], LANGUAGES, sep="-", aliases={})  # no aliases: never a guess
        if found is not None and found.lower() not in wanted:
            wanted.append(found.lower())
    return wanted


def chosen_language(request: web.Request) -> str | None:
    """The language the reader chose with `?lang=` (one of ours); None when none was chosen."""
    chosen = request.query.get("lang")
    return chosen if chosen in LANGUAGES else None


def with_language(url: str, lang: str | None) -> str:
    """An internal link (`/path…`) that carries `lang`, its other parameters and fragment kept; a link to
    another site (the operator's privacy page) or no language: the link as it is."""
    if lang is None or not url.startswith("/") or url.startswith("//"):
        return url
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "lang"]
    return urlunsplit(("", "", parts.path, urlencode([*query, ("lang", lang)]), parts.fragment))


def accepted(header: str) -> list[str]:
    """An Accept-Language header's tags by descending q-value (equal q: in header order); q=0 and `*` left out."""
    weighted: list[tuple[float, str]] = []
    for part in header.split(",")[:_MAX_PREFERENCES]:
        tag, _, params = part.strip().partition(";")
        q = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        tag = tag.strip()
        if tag and tag != "*" and 0 < q <= 1:
            weighted.append((q, tag))
    return [tag for _, tag in sorted(weighted, key=lambda item: -item[0])]


def language(request: web.Request, offered: tuple[str, ...] = COMPLETE_LANGUAGES) -> str:
    """The page's language among `offered`: the reader's first preference we have there, else German."""
    return next((lang for lang in preferences(request) if lang in offered), LANGUAGES[0])


def wanted_language(request: web.Request) -> str:
    """The language the reader asked for first, among all of ours (a page may not have it)."""
    return next(iter(preferences(request)), LANGUAGES[0])


def switch_link(request: web.Request, lang: str) -> str:
    """The language switch's link to `lang`: this page with its other parameters (`?service=`, `?sort=`) kept."""
    return "?" + urlencode({**request.query, "lang": lang})


def translator(lang: str) -> Translate:
    """`t(message_id, **params)`, as the templates call it."""
    return catalogue_translator(lang)
