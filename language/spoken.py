"""Text to be spoken by espeak-ng (the display's calls, the kiosk's voice): labels as letters and a
number ("A042" → "A 42"), and the SSML that makes espeak-ng spell single letters."""

from __future__ import annotations

import re
from typing import Final
from xml.sax.saxutils import escape

ESPEAK_TIMEOUT_S: Final = 10.0  # a synthesis that takes longer is killed and skipped
VOICES: Final[dict[str, str]] = {"de": "de", "en": "en", "tr": "tr", "uk": "uk"}  # espeak-ng's voice per language

_LABEL_TOKEN = re.compile(r"[^\W\d_]|\d+")
# A standalone single letter ("A" in "Nummer A 42"): spelled out via SSML, or English espeak says "uh".
_SINGLE_LETTER = re.compile(r"(?<!\w)([^\W\d_])(?!\w)")


def spoken_label(label: str) -> str:
    """"A042" -> "A 42": letters spaced (so they are spelled), leading zeros dropped, other signs dropped."""
    parts: list[str] = []
    for token in _LABEL_TOKEN.findall(label):
        if token[0].isdecimal():
            parts.append(token.lstrip("0") or "0")
        else:
            parts.append(token.upper())
    return " ".join(parts) if parts else label.strip()


def espeak_markup(text: str) -> str:
    """SSML for espeak-ng -m: XML-escaped, single letters spelled (English espeak reads "A 42" as "uh 42")."""
    return _SINGLE_LETTER.sub(r'<say-as interpret-as="characters">\1</say-as>', escape(text))
