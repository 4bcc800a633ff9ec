"""The rule for human text: what may be shown on a screen, printed on a ticket or spoken.

Every field a person reads (the announcement, office, service and counter names, reasons, versions)
follows it at every boundary: the hub's config, the commands the hub accepts, the messages every
consumer parses. One line of text, at most `max_len` characters, and none of these:

- control characters (Unicode category Cc: NUL, ESC, BEL, tab, newline, DEL, C1 controls),
- lone surrogates (Cs: not encodable as UTF-8; pygame and espeak refuse them),
- line and paragraph separators (Zl, Zp),
- bidirectional embeddings, overrides and isolates (U+202A–U+202E, U+2066–U+2069), which reorder
  what follows on the screen;

and a text that is not empty must show something: one made only of invisible characters (format
characters, Cf: zero-width space and joiner, BOM, soft hyphen; and white space) is refused — it would
look empty while not being empty, and draws as nothing.

Emoji, accents, ß and every script are fine.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable

BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
FORBIDDEN_CATEGORIES = frozenset(("Cc", "Cs", "Zl", "Zp"))


def forbidden_character(text: str) -> str | None:
    """The first character the rule refuses, or None. Fast for plain text (`isprintable`)."""
    if text.isprintable():
        return None  # isprintable() is False for every forbidden character (and for a few fine ones)
    for char in text:
        if char in BIDI_CONTROLS or unicodedata.category(char) in FORBIDDEN_CATEGORIES:
            return char
    return None


def text_problem(value: object, max_len: int) -> str | None:
    """Why `value` is not human text of at most `max_len` characters (None: it is)."""
    if not isinstance(value, str):
        return f"must be a text of at most {max_len} characters"
    if len(value) > max_len:
        return f"must be at most {max_len} characters long; got {len(value)}"
    char = forbidden_character(value)
    if char is not None:
        return (f"must not contain control, separator or bidi-override characters; found U+{ord(char):04X} at "
                f"position {value.index(char)}")
    if value and invisible(value):
        return "must show something: it has only invisible characters (zero-width, format or white space)"
    return None


def invisible(text: str) -> bool:
    """True when every character of `text` is white space or a format character (Cf)."""
    return all(c.isspace() or unicodedata.category(c) == "Cf" for c in text)


def human_text(max_len: int) -> Callable[[str], str | None]:
    """The rule as a config check: `section.get_str("name", check=human_text(120))`."""
    return lambda value: text_problem(value, max_len)


def printable(text: str) -> str:
    """`text` without the characters the rule refuses: the last line of defence before a font."""
    if forbidden_character(text) is None:
        return text
    return "".join(c for c in text if c not in BIDI_CONTROLS and unicodedata.category(c) not in FORBIDDEN_CATEGORIES)


URL_RE = re.compile(r"https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?(/[\x21-\x7e]*)?")


def url_problem(value: object, max_len: int = 200) -> str | None:
    """Why `value` is not a web address to print or link (None: it is): http(s), an ASCII host (an
    internationalised name in its xn-- form), then only visible ASCII — no space, no control character
    that could reach a printer or a page as a command."""
    problem = text_problem(value, max_len)
    if problem is not None:
        return problem
    assert isinstance(value, str)
    if not URL_RE.fullmatch(value):
        return (f"must be an http(s) URL of visible ASCII characters (no spaces or control characters; an "
                f"internationalised host in its xn-- form), e.g. https://termin.example.org/; got {value!r}")
    return None
