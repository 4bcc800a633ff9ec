"""Looking texts up: `translator(lang)` gives `t(message_id, **params)`, gettext's shape.

The texts are gettext catalogues, one per language: `language/locale/<lang>/LC_MESSAGES/wartemarke.po`.
Message ids are stable names (`"approx_min"`), not the German text: msgid = the id, msgstr = the text with
named parameters (`"ca. {n} Min."`, flagged `python-brace-format`), so a translator sees what each one is
and may reorder them. A text that counts has plural forms (msgid_plural = the id again, one msgstr per form
of the language's `Plural-Forms`), chosen by its parameter `n`. The `.po` files are the source: they are
read with Babel when a language is first used and compiled to gettext's `.mo` form in memory, so nothing
generated is kept in git and the wheel needs only the `.po` files (package data).

German and English have every text (the staff pages stay in those two); the other languages have the
texts citizens read and hear (`staff_only` tells which are not). An entry flagged `#, fuzzy` has not been
reviewed by a native speaker: it is served all the same (otherwise nothing would show), and every page in a
language with such an entry says so (`machine_note`). README.md "Languages" says how to add an id or a
language; tests/test_language.py keeps the catalogues consistent.
"""

from __future__ import annotations

import functools
import gettext
import io
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

LANGUAGES: Final = ("de", "en", "tr", "uk", "ar")  # the first is the default
COMPLETE_LANGUAGES: Final = ("de", "en")  # every text, the staff pages' too
NATIVE_NAMES: Final = {"de": "Deutsch", "en": "English", "tr": "Türkçe", "uk": "Українська", "ar": "العربية"}
RIGHT_TO_LEFT: Final = frozenset({"ar"})
LOCALE_DIR: Final = Path(__file__).resolve().parent / "locale"
DOMAIN: Final = "wartemarke"
FALLBACK: Final = "en"  # a text another language lacks (a new id, not yet translated) is shown in English

# The texts only staff read: the login, account, counter, supervisor and devices pages.
_STAFF_ONLY = re.compile(r"(login|account|role|counter|op|msg|sup|devices)_.*|logout|logged_in_as|forbidden.*"
                         r"|csrf_failed")

Translate = Callable[..., str]  # t(message_id, **params) -> text


def staff_only(message_id: str) -> bool:
    """Whether only the staff pages show this text (so only COMPLETE_LANGUAGES have it)."""
    return _STAFF_ONLY.fullmatch(message_id) is not None


def catalogue_path(lang: str) -> Path:
    return LOCALE_DIR / lang / "LC_MESSAGES" / f"{DOMAIN}.po"


@dataclass(frozen=True)
class Catalogue:
    """One language's texts, compiled: gettext's lookup, and which ids it has, count, or are unreviewed."""

    lang: str
    texts: gettext.GNUTranslations
    ids: frozenset[str]  # the ids with a text (an empty msgstr is no text)
    plural_ids: frozenset[str]
    unreviewed: frozenset[str]  # flagged fuzzy: not (yet) reviewed by a native speaker


@functools.cache
def catalogue(lang: str) -> Catalogue:
    """`lang`'s catalogue, read from its `.po` file once."""
    problem = language_problem(lang)
    if problem is not None:
        raise ValueError(f"unsupported language: {problem}")
    with catalogue_path(lang).open("rb") as po:
        messages = read_po(po, locale=lang, domain=DOMAIN)
    mo = io.BytesIO()
    write_mo(mo, messages, use_fuzzy=True)  # unreviewed texts are served too (with the page's note)
    mo.seek(0)
    entries = [m for m in messages if m.id and m.string and all(m.string)]
    return Catalogue(
        lang=lang,
        texts=gettext.GNUTranslations(mo),
        ids=frozenset(_key(m.id) for m in entries),
        plural_ids=frozenset(_key(m.id) for m in entries if m.pluralizable),
        unreviewed=frozenset(_key(m.id) for m in entries if m.fuzzy),
    )


def _key(message_id: str | tuple[str, ...] | list[str]) -> str:
    return message_id if isinstance(message_id, str) else message_id[0]


def language_problem(lang: str) -> str | None:
    """Why `lang` is not a language we have texts in (None: we have), for config readers."""
    return None if lang in LANGUAGES else f"choose from {', '.join(LANGUAGES)}; got {lang!r}"


def translate(lang: str, message_id: str, /, **params: object) -> str:
    """The text of `message_id` in `lang` with its named parameters filled in."""
    return translator(lang)(message_id, **params)


def translator(lang: str) -> Translate:
    """`t(message_id, **params)` for one language (the pages' templates call it as `t`)."""
    texts = catalogue(lang)

    def t(message_id: str, /, **params: object) -> str:
        found = texts
        if message_id not in found.ids:
            found = catalogue(FALLBACK)
            if lang in COMPLETE_LANGUAGES or message_id not in found.ids:
                raise KeyError(f"no text {message_id!r} in {lang}")
        if message_id in found.plural_ids:
            count = params["n"]
            text = found.texts.ngettext(message_id, message_id, int(count) if isinstance(count, (int, float)) else 2)
        else:
            text = found.texts.gettext(message_id)
        return text.format(**params)

    return t


def machine_note(lang: str) -> str | None:
    """The line a page in `lang` shows while any of its texts is unreviewed (None: all reviewed)."""
    return translate(lang, "machine_note") if catalogue(lang).unreviewed else None
