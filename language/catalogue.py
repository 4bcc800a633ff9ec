"""Looking texts up: `translator(lang)` gives `t(message_id, **params)`, gettext's shape.

Message ids are stable names (`"approx_min"`), not the German text, and parameters are named
(`"ca. {n} Min."`), so a translator sees what each one is and may reorder them. That is also what
moving to gettext catalogues needs: each table becomes a `.po` file (msgid = the id, msgstr = the
text, flagged `python-brace-format`), and `t` becomes `gettext(message_id).format(**params)`; no
caller changes. Both tables must have the same ids with the same parameters (tests/test_language.py).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from language import de, en

LANGUAGES = ("de", "en")  # the first is the default
CATALOGUES: Mapping[str, Mapping[str, str]] = {"de": de.MESSAGES, "en": en.MESSAGES}

Translate = Callable[..., str]  # t(message_id, **params) -> text


def language_problem(lang: str) -> str | None:
    """Why `lang` is not a language we have texts in (None: we have), for config readers."""
    return None if lang in CATALOGUES else f"choose from {', '.join(LANGUAGES)}; got {lang!r}"


def translate(lang: str, message_id: str, /, **params: object) -> str:
    """The text of `message_id` in `lang` with its named parameters filled in."""
    return translator(lang)(message_id, **params)


def translator(lang: str) -> Translate:
    """`t(message_id, **params)` for one language (the pages' templates call it as `t`)."""
    problem = language_problem(lang)
    if problem is not None:
        raise ValueError(f"unsupported language: {problem}")
    catalogue = CATALOGUES[lang]

    def t(message_id: str, /, **params: object) -> str:
        return catalogue[message_id].format(**params)

    return t
