"""German and English for the pages, chosen by `?lang=` or the browser's Accept-Language."""

from __future__ import annotations

from collections.abc import Callable

from aiohttp import web

LANGS = ("de", "en")

T: dict[str, dict[str, str]] = {
    "ampel_title": {"de": "Wartezeiten in den Bürgerbüros", "en": "Waiting times in the citizens' offices"},
    "open": {"de": "geöffnet", "en": "open"},
    "closed": {"de": "geschlossen", "en": "closed"},
    "waiting_n": {"de": "{n} wartend", "en": "{n} waiting"},
    "approx_min": {"de": "ca. {n} Min.", "en": "approx. {n} min"},
    "approx_range": {"de": "ca. {low}–{high} Min.", "en": "approx. {low}–{high} min"},
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
    "expected_range": {"de": "Voraussichtlich noch ca. {low}–{high} Minuten",
                       "en": "Expected wait: approx. {low}–{high} minutes"},
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


def translator(lang: str) -> Callable[..., str]:
    def t(key: str, **values: object) -> str:
        return T[key][lang].format(**values)
    return t


# -- the office-network pages: login, counter, devices (web/internal.py) --------------------------------
T.update({
    "login_title": {"de": "Anmeldung für Mitarbeitende", "en": "Staff login"},
    "login_user": {"de": "Benutzername", "en": "User name"},
    "login_password": {"de": "Passwort", "en": "Password"},
    "login_submit": {"de": "Anmelden", "en": "Log in"},
    "login_failed": {"de": "Benutzername oder Passwort falsch.", "en": "Wrong user name or password."},
    "login_blocked": {"de": "Zu viele Fehlversuche. Bitte eine Minute warten.",
                      "en": "Too many failed attempts. Please wait a minute."},
    "login_form_expired": {"de": "Das Formular ist abgelaufen. Bitte noch einmal anmelden.",
                           "en": "The form has expired. Please log in again."},
    "logout": {"de": "Abmelden", "en": "Log out"},
    "account_title": {"de": "Eigenes Passwort ändern", "en": "Change your password"},
    "account_current": {"de": "Bisheriges Passwort", "en": "Current password"},
    "account_new": {"de": "Neues Passwort (mindestens {n} Zeichen)", "en": "New password (at least {n} characters)"},
    "account_repeat": {"de": "Neues Passwort wiederholen", "en": "Repeat the new password"},
    "account_submit": {"de": "Passwort ändern", "en": "Change password"},
    "account_changed": {"de": "Passwort geändert. Andere Anmeldungen mit dem alten Passwort sind beendet.",
                        "en": "Password changed. Other sessions with the old password have ended."},
    "account_wrong": {"de": "Das bisherige Passwort ist falsch.", "en": "The current password is wrong."},
    "account_mismatch": {"de": "Die beiden neuen Passwörter sind verschieden.",
                         "en": "The two new passwords differ."},
    "account_short": {"de": "Das neue Passwort ist zu kurz.", "en": "The new password is too short."},
    "logged_in_as": {"de": "Angemeldet: {user} ({role})", "en": "Logged in: {user} ({role})"},
    "role_clerk": {"de": "Sachbearbeitung", "en": "clerk"},
    "role_supervisor": {"de": "Leitung", "en": "supervisor"},
    "role_technician": {"de": "Technik", "en": "technician"},
    "forbidden_title": {"de": "Kein Zugriff", "en": "No access"},
    "forbidden": {"de": "Diese Seite ist für Ihre Rolle nicht freigegeben.",
                  "en": "This page is not available to your role."},
    "csrf_failed": {"de": "Die Anfrage wurde abgewiesen (Formular veraltet oder von fremder Seite). "
                          "Bitte die Seite neu laden.",
                    "en": "The request was refused (stale form or sent from another site). Please reload the page."},
    "counter_title": {"de": "Schalter", "en": "Counter"},
    "counter_pick": {"de": "Schalter wählen", "en": "Choose your counter"},
    "counter_pick_office": {"de": "Bürgerbüro", "en": "Office"},
    "counter_no_counters": {"de": "Noch keine Schalter bekannt (der Hub hat sich noch nicht gemeldet).",
                            "en": "No counters known yet (the hub has not reported)."},
    "counter_change": {"de": "Schalter wechseln", "en": "Change counter"},
    "counter_serving": {"de": "In Bearbeitung", "en": "Being served"},
    "counter_idle": {"de": "Frei – niemand in Bearbeitung", "en": "Free – nobody being served"},
    "counter_paused": {"de": "Pause", "en": "Paused"},
    "counter_unknown": {"de": "Zustand unbekannt", "en": "State unknown"},
    "counter_queue": {"de": "Warteschlange", "en": "Queue"},
    "counter_service": {"de": "Anliegen", "en": "Service"},
    "counter_waiting": {"de": "Wartend", "en": "Waiting"},
    "counter_expected": {"de": "Wartezeit neu", "en": "Wait for new tickets"},
    "counter_not_issuing": {"de": "keine Ausgabe", "en": "not issuing"},
    "counter_yours": {"de": "Ihr Schalter bedient dies", "en": "served by your counter"},
    "counter_commands": {"de": "Befehle", "en": "Commands"},
    "counter_shortcuts": {"de": "Tastatur: N nächste, R erneut, X nicht erschienen, D erledigt, P Pause/weiter",
                          "en": "Keys: N next, R recall, X no-show, D done, P pause/resume"},
    "counter_label": {"de": "Nummer", "en": "Number"},
    "counter_to_service": {"de": "Ziel-Anliegen", "en": "Target service"},
    "counter_no_broker": {"de": "Keine Verbindung zum Broker: Anzeige veraltet, Befehle gehen nicht durch.",
                          "en": "No connection to the broker: data stale, commands do not get through."},
    "counter_hub_offline": {"de": "Der Hub ist offline: Befehle werden nicht ausgeführt.",
                            "en": "The hub is offline: commands are not carried out."},
    "op_next": {"de": "Nächste", "en": "Next"},
    "op_recall": {"de": "Erneut aufrufen", "en": "Recall"},
    "op_no_show": {"de": "Nicht erschienen", "en": "No-show"},
    "op_reactivate": {"de": "Wieder aufnehmen", "en": "Reactivate"},
    "op_done": {"de": "Erledigt", "en": "Done"},
    "op_transfer": {"de": "Weiterleiten", "en": "Transfer"},
    "op_pause": {"de": "Pause", "en": "Pause"},
    "op_resume": {"de": "Weiter", "en": "Resume"},
    "msg_called": {"de": "{label} → {counter}", "en": "{label} → {counter}"},
    "msg_recalled": {"de": "{label} → {counter} (erneut aufgerufen)", "en": "{label} → {counter} (recalled)"},
    "msg_done": {"de": "{label} erledigt", "en": "{label} done"},
    "msg_no_show": {"de": "{label}: nicht erschienen", "en": "{label}: no-show"},
    "msg_transfer": {"de": "{label} → Warteschlange {service}", "en": "{label} → queue {service}"},
    "msg_pause": {"de": "{counter}: Pause", "en": "{counter}: paused"},
    "msg_resume": {"de": "{counter}: wieder besetzt", "en": "{counter}: back"},
    "msg_announce": {"de": "Ansage gesetzt", "en": "Announcement set"},
    "msg_announce_cleared": {"de": "Ansage gelöscht", "en": "Announcement cleared"},
    "msg_open_service": {"de": "{service}: Ausgabe läuft wieder", "en": "{service}: issuing tickets again"},
    "msg_close_service": {"de": "{service}: Ausgabe gestoppt", "en": "{service}: ticket issuing stopped"},
    "msg_refused": {"de": "Hub lehnt ab: {error}", "en": "Refused by the hub: {error}"},
    "msg_silent": {"de": "Hub antwortet nicht / hub does not answer. Nochmals versuchen ist sicher: "
                         "der Befehl wird nicht doppelt ausgeführt.",
                   "en": "Hub antwortet nicht / hub does not answer. Trying again is safe: "
                         "the command is not carried out twice."},
    "msg_missing_label": {"de": "Bitte die Nummer angeben (z. B. A042).", "en": "Please enter the number (e.g. A042)."},
    "msg_missing_service": {"de": "Bitte ein Anliegen wählen.", "en": "Please choose a service."},
    "msg_bad_text": {"de": "Dieser Text kann nicht angezeigt werden: {error}",
                     "en": "This text cannot be shown: {error}"},
    "sup_title": {"de": "Leitung", "en": "Supervisor"},
    "sup_announce": {"de": "Ansage (leer: keine)", "en": "Announcement (empty: none)"},
    "sup_announce_submit": {"de": "Ansage setzen", "en": "Set announcement"},
    "sup_close": {"de": "Ausgabe stoppen", "en": "Stop issuing"},
    "sup_open": {"de": "Ausgabe fortsetzen", "en": "Resume issuing"},
    "devices_title": {"de": "Geräte", "en": "Devices"},
    "devices_none": {"de": "Noch keine Geräte gemeldet.", "en": "No devices have reported yet."},
    "devices_device": {"de": "Gerät", "en": "Device"},
    "devices_role": {"de": "Art", "en": "Kind"},
    "devices_state": {"de": "Zustand", "en": "State"},
    "devices_online": {"de": "online", "en": "online"},
    "devices_offline": {"de": "OFFLINE", "en": "OFFLINE"},
    "devices_seen": {"de": "Zuletzt gemeldet", "en": "Last report"},
    "devices_version": {"de": "Version", "en": "Version"},
    "devices_clock": {"de": "Uhr synchron", "en": "Clock synced"},
    "devices_printer": {"de": "Drucker / Papier", "en": "Printer / paper"},
    "devices_outbox": {"de": "Ausstehend", "en": "Pending"},
    "devices_error": {"de": "Letzter Fehler / Hinweis", "en": "Last error / note"},
    "devices_yes": {"de": "ja", "en": "yes"},
    "devices_no": {"de": "NEIN", "en": "NO"},
    "devices_stale": {"de": "Anzeige veraltet: {reason}", "en": "display stale: {reason}"},
    "devices_hub_unreachable": {"de": "Hub nicht erreichbar", "en": "hub unreachable"},
    "devices_assumed_printed": {"de": "evtl. nicht gedruckt (Kiosk-Neustart beim Druck): {labels}",
                                "en": "maybe not printed (kiosk restarted mid-print): {labels}"},
    "devices_refused": {"de": "{count} Ticket(s) eines anderen Tages abgelehnt (Kiosk-Uhr prüfen)",
                        "en": "{count} ticket(s) of another day refused (check the kiosk's clock)"},
    "devices_printer_offline": {"de": "Drucker offline", "en": "printer offline"},
})
