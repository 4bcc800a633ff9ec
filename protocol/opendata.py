"""The licence the city's open data is published under unless a config names another — the Ampel's JSON
and the "when to come" history of every web (`[web]`, docs/http.md §2) and the daily archive
(`[archive]`, §5) — so that one default holds for all three."""

DEFAULT_LICENCE = "Datenlizenz Deutschland – Namensnennung – Version 2.0"
DEFAULT_LICENCE_URL = "https://www.govdata.de/dl-de/by-2-0"
