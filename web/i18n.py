"""German or English for the pages, chosen by `?lang=` or the browser's Accept-Language.

The texts themselves are in the `language` package (one table per language, shared with the kiosk's
ticket and the board); this module only picks the language of a request.
"""

from __future__ import annotations

from aiohttp import web

from language.catalogue import LANGUAGES, Translate
from language.catalogue import translator as catalogue_translator

LANGS = LANGUAGES


def language(request: web.Request) -> str:
    chosen = request.query.get("lang")
    if chosen in LANGUAGES:
        return chosen
    for part in request.headers.get("Accept-Language", "").split(","):
        code = part.split(";")[0].strip().lower()[:2]
        if code in LANGUAGES:
            return code
    return LANGUAGES[0]


def translator(lang: str) -> Translate:
    """`t(message_id, **params)`, as the templates call it."""
    return catalogue_translator(lang)
