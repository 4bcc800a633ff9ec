"""What the kiosk prints, as a small document model with no printer in it.

The ticket is built once, here, and rendered twice: to ESC/POS bytes for the printer
(`kiosk.escpos_render`) and to a PNG preview (`kiosk.png_render`). Keeping the content in one
place means the preview shows exactly what a visitor gets, and the tests can check the
content without parsing printer bytes. The texts are deliberately short: a ticket with a
native QR code must stay under 1 KB so it prints in about a second even over 9600 baud.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from language.catalogue import COMPLETE_LANGUAGES, LANGUAGES, RIGHT_TO_LEFT, translate, translator

Align = Literal["left", "center", "right"]

#: Columns of printer font A on 80 mm paper at 180 dpi (48 at 203 dpi); the big label must fit.
LABEL_COLUMNS = 42
#: The biggest size used for the label; larger sizes waste paper and look odd …
LABEL_MAX_SIZE = 4
#: … except for low vision (`[kiosk] large_label`): the printer's largest size, 8 × 8 (no more bytes).
LABEL_LARGE_SIZE = 8

DATE_FORMAT = "%d.%m.%Y %H:%M"

#: A ticket is German and English, plus one of these (`[kiosk] ticket_language`). python-escpos switches the
#: printer's code page per character (Turkish: CP857, Ukrainian: CP866 and CP855 for its і — ESC t). Not Arabic:
#: its letters must be shaped (joined) and set right to left, which a thermal printer's code page does not do.
EXTRA_LANGUAGES = tuple(lang for lang in LANGUAGES if lang not in COMPLETE_LANGUAGES and lang not in RIGHT_TO_LEFT)


def extra_language_problem(lang: str) -> str | None:
    """Why `lang` cannot be the ticket's third language (None: it can), for the kiosk's config."""
    if lang in EXTRA_LANGUAGES:
        return None
    if lang in RIGHT_TO_LEFT:
        return (f"{lang!r} cannot be printed: the printer's code pages have no right-to-left, shaped (joined) "
                f"letters; choose from {', '.join(EXTRA_LANGUAGES)} or leave it empty")
    return f"choose from {', '.join(EXTRA_LANGUAGES)} (German and English are always printed); got {lang!r}"


@dataclass(frozen=True)
class Text:
    """One paragraph; renderers wrap it to the paper width."""

    text: str
    size: int = 1  # width and height multiplier, 1..8 (ESC/POS GS !)
    align: Align = "center"
    bold: bool = False

    def __post_init__(self) -> None:
        if not 1 <= self.size <= 8:
            raise ValueError(f"Text.size must be 1..8, got {self.size}")


@dataclass(frozen=True)
class QR:
    """A QR code, always centred; module_size is printer dots per module (ESC/POS 1..16)."""

    data: str
    module_size: int = 6

    def __post_init__(self) -> None:
        if not self.data:
            raise ValueError("QR.data must not be empty")
        if not 1 <= self.module_size <= 16:
            raise ValueError(f"QR.module_size must be 1..16, got {self.module_size}")


@dataclass(frozen=True)
class Feed:
    """Empty lines of normal text height."""

    lines: int = 1

    def __post_init__(self) -> None:
        if not 0 <= self.lines <= 255:
            raise ValueError(f"Feed.lines must be 0..255, got {self.lines}")


@dataclass(frozen=True)
class Cut:
    """Feed past the cutter and cut the paper."""


Block = Text | QR | Feed | Cut


@dataclass(frozen=True)
class Document:
    blocks: tuple[Block, ...]


@dataclass(frozen=True)
class TicketContent:
    """Everything a ticket shows; `ahead`/`wait_min` are None when the hub's state is stale or offline."""

    office_name: str
    label: str
    service_de: str
    service_en: str
    issued_at: datetime  # aware, already in the office's local time zone
    ahead: int | None
    wait_min: int | None
    tracking_url: str  # upper case, so the QR code can use alphanumeric mode
    short_url: str  # human-readable form, printed under the QR code
    wait_range: tuple[int, int] | None = None  # shown instead of wait_min (protocol/wait_range.py)
    large_label: bool = False  # the number twice as large, for low vision
    extra_language: str | None = None  # a third language for the wait and scan lines (EXTRA_LANGUAGES)


def label_size(label: str, largest: int = LABEL_MAX_SIZE) -> int:
    """The largest text size (up to `largest`) at which the label fits on one line."""
    fitting = [s for s in range(1, largest + 1) if s * len(label) <= LABEL_COLUMNS]
    return fitting[-1] if fitting else 1


def format_when(when: datetime) -> str:
    return when.strftime(DATE_FORMAT)


def waiting_lines(ahead: int | None, wait_min: int | None,
                  wait_range: tuple[int, int] | None = None, extra: str | None = None) -> tuple[str, ...]:
    """The wait line in German, English (and `extra`); a neutral line when the hub's numbers are unknown. A
    range is printed with a plain hyphen (the printer's code page has no dash)."""
    if ahead is None or wait_min is None:
        return bilingual("ticket_wait_unknown", extra=extra)

    def line(lang: str) -> str:
        t = translator(lang)
        wait = t("approx_range", low=wait_range[0], high=wait_range[1]).replace("–", "-") if wait_range is not None \
            else t("approx_min", n=wait_min)
        return f"{t('ahead', n=ahead)} · {wait}"

    return tuple(line(lang) for lang in _languages(extra))


def bilingual(message_id: str, extra: str | None = None, **params: object) -> tuple[str, ...]:
    """A text in German and in English (and the kiosk's third language): a ticket carries each, one line each."""
    return tuple(translate(lang, message_id, **params) for lang in _languages(extra))


def _languages(extra: str | None) -> tuple[str, ...]:
    return COMPLETE_LANGUAGES + ((extra,) if extra else ())


def ticket_document(c: TicketContent) -> Document:
    """The numbered ticket a visitor takes from the kiosk."""
    wait_de, wait_en, *wait_extra = waiting_lines(c.ahead, c.wait_min, c.wait_range, c.extra_language)
    scan_de, scan_en, *scan_extra = bilingual("ticket_scan", extra=c.extra_language)
    return Document(
        (
            Text(c.office_name, bold=True),
            Feed(),
            Text(c.label, size=label_size(c.label, LABEL_LARGE_SIZE if c.large_label else LABEL_MAX_SIZE), bold=True),
            Feed(),
            Text(c.service_de),
            Text(c.service_en),
            Text(format_when(c.issued_at)),
            Text(wait_de),
            Text(wait_en),
            *(Text(line) for line in wait_extra),
            Feed(),
            QR(c.tracking_url),
            Text(c.short_url),
            Text(scan_de),
            Text(scan_en),
            *(Text(line) for line in scan_extra),
            Feed(),
            Cut(),
        )
    )


def no_tickets_slip(
    office_name: str, service_de: str, service_en: str, booking_url: str | None, when: datetime,
    extra_language: str | None = None,
) -> Document:
    """The slip printed instead of a ticket when a service issues no more numbers today."""
    booking: tuple[Block, ...] = ()
    if booking_url:
        booking = (Feed(), *(Text(line) for line in bilingual("slip_book", extra=extra_language)), Text(booking_url))
    extra = (Text(translate(extra_language, "slip_no_tickets", service=service_de)),) if extra_language else ()
    return Document(
        (
            Text(office_name, bold=True),
            Feed(),
            Text(translate("de", "slip_no_tickets", service=service_de), bold=True),
            Text(translate("en", "slip_no_tickets", service=service_en)),
            *extra,
            *booking,
            Feed(),
            Text(format_when(when)),
            Cut(),
        )
    )


def status_document(title: str, lines: list[tuple[str, str]], when: datetime) -> Document:
    """The technician's status ticket: a title, then one left-aligned `key: value` line per item."""
    return Document(
        (
            Text(title, bold=True),
            Text(format_when(when)),
            Feed(),
            *(Text(f"{key}: {value}", align="left") for key, value in lines),
            Feed(),
            Cut(),
        )
    )
