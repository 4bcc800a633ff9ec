"""German and English for the pages, chosen by `?lang=` or the browser's Accept-Language."""

from __future__ import annotations

from aiohttp import web

LANGS = ("de", "en")

T: dict[str, dict[str, str]] = {
    "ampel_title": {"de": "Wartezeiten in den Bürgerbüros", "en": "Waiting times in the citizens' offices"},
    "open": {"de": "geöffnet", "en": "open"},
    "closed": {"de": "geschlossen", "en": "closed"},
    "waiting_n": {"de": "{n} wartend", "en": "{n} waiting"},
    "approx_min": {"de": "ca. {n} Min.", "en": "approx. {n} min"},
    "no_tickets": {"de": "Heute keine Wartemarken mehr", "en": "No more tickets today"},
    "green": {"de": "kurze Wartezeit", "en": "short wait"},
    "yellow": {"de": "mittlere Wartezeit", "en": "moderate wait"},
    "red": {"de": "lange Wartezeit", "en": "long wait"},
    "when_to_come": {"de": "Wann kommen? Typische Wartezeit nach Wochentag und Uhrzeit",
                     "en": "When to come? Typical wait by weekday and hour"},
    "no_history": {"de": "Noch keine Daten der letzten Wochen.", "en": "No data from recent weeks yet."},
    "ticket_title": {"de": "Ihre Wartemarke", "en": "Your ticket"},
    "state_waiting": {"de": "Sie warten", "en": "You are waiting"},
    "ahead": {"de": "Vor Ihnen: {n}", "en": "Ahead of you: {n}"},
    "expected": {"de": "Voraussichtlich noch ca. {n} Minuten", "en": "Expected wait: approx. {n} minutes"},
    "expected_unknown": {"de": "Wartezeit derzeit unbekannt", "en": "Waiting time unknown at the moment"},
    "called": {"de": "Bitte jetzt zu {counter}", "en": "Please go to {counter} now"},
    "done": {"de": "Ihr Anliegen ist erledigt. Vielen Dank!", "en": "You have been served. Thank you!"},
    "no_show": {"de": "Sie wurden aufgerufen, waren aber nicht da. Bitte melden Sie sich bis {until} Uhr am Schalter.",
                "en": "You were called but not there. Please report to a counter by {until}."},
    "closed_ticket": {"de": "Das Bürgerbüro hat geschlossen. Ihre Wartemarke ist nicht mehr gültig.",
                      "en": "The office has closed. Your ticket is no longer valid."},
    "voided": {"de": "Diese Wartemarke ist ungültig.", "en": "This ticket is not valid."},
    "unknown_title": {"de": "Wartemarke nicht gefunden", "en": "Ticket not found"},
    "unknown": {"de": "Diese Wartemarke ist unbekannt oder abgelaufen. Wartemarken gelten nur am Tag ihrer Ausgabe.",
                "en": "This ticket is unknown or has expired. Tickets are valid on the day they are issued only."},
    "live": {"de": "Diese Seite aktualisiert sich von selbst.", "en": "This page updates by itself."},
    "privacy": {"de": "Datenschutz", "en": "Privacy"},
    "imprint": {"de": "Impressum", "en": "Imprint"},
    "accessibility": {"de": "Barrierefreiheit", "en": "Accessibility"},
    "switch": {"de": "English", "en": "Deutsch"},
}


def language(request: web.Request) -> str:
    chosen = request.query.get("lang")
    if chosen in LANGS:
        return chosen
    for part in request.headers.get("Accept-Language", "").split(","):
        code = part.split(";")[0].strip().lower()[:2]
        if code in LANGS:
            return code
    return "de"


def translator(lang: str):  # type: ignore[no-untyped-def]
    def t(key: str, **values: object) -> str:
        return T[key][lang].format(**values)
    return t
