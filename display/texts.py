"""The board's words in German and English."""

from __future__ import annotations

WEEKDAYS = {"de": ("Mo", "Di", "Mi", "Do", "Fr", "Sa", "So"), "en": ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")}

TEXTS: dict[str, dict[str, str]] = {
    "now_calling": {"de": "Aufruf", "en": "Now calling"},
    "called_again": {"de": "Erneuter Aufruf", "en": "Called again"},
    "recent": {"de": "Zuletzt aufgerufen", "en": "Recent calls"},
    "waiting": {"de": "Wartende", "en": "Waiting"},
    "nobody_called": {"de": "Noch kein Aufruf", "en": "No calls yet"},
    "no_tickets": {"de": "keine Wartemarken mehr", "en": "no tickets left"},
    "hint": {"de": "Bitte achten Sie auf Ihre Nummer", "en": "Please watch for your number"},
    "stale": {"de": "Anzeige evtl. nicht aktuell – Verbindung gestört",
              "en": "Board may be out of date – connection lost"},
    "minutes": {"de": "ca. {n} Min.", "en": "approx. {n} min"},
    "people": {"de": "{n} wartend", "en": "{n} waiting"},
}


def text(key: str, lang: str, **values: object) -> str:
    return TEXTS[key][lang].format(**values)


def both(key: str, languages: tuple[str, ...], **values: object) -> str:
    return " · ".join(text(key, lang, **values) for lang in languages)
