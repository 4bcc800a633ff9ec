"""The ticket document and its two renderers: ESC/POS bytes (parsed, not grepped) and the PNG preview."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import zxingcpp

from kiosk.escpos_render import native_qr_supported, render_escpos
from kiosk.escpos_setup import dummy_printer
from kiosk.png_render import render_png
from kiosk.ticket import (
    QR,
    Cut,
    Document,
    Feed,
    Text,
    TicketContent,
    label_size,
    no_tickets_slip,
    status_document,
    ticket_document,
)

REPO = Path(__file__).resolve().parents[1]
PROFILE = "TM-T88V"
BERLIN = ZoneInfo("Europe/Berlin")
WHEN = datetime(2026, 11, 25, 14, 32, tzinfo=BERLIN)
TOKEN = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"  # 32 base32 characters = 160 bits
TRACKING_URL = f"HTTPS://WARTE.STUTTGART.DE/T/{TOKEN}"

GS_2D = b"\x1d(k"
ESC_CODEPAGE = b"\x1bt"
CODEPAGE_CODECS = {0: "cp437", 2: "cp850", 16: "cp1252", 19: "cp858"}


def content(ahead: int | None = 3, wait_min: int | None = 12, label: str = "A042") -> TicketContent:
    return TicketContent(
        office_name="Bürgerbüro Stuttgart-Mitte",
        label=label,
        service_de="Allgemeine Anliegen",
        service_en="General concerns",
        issued_at=WHEN,
        ahead=ahead,
        wait_min=wait_min,
        tracking_url=TRACKING_URL,
        short_url=f"warte.stuttgart.de/t/{TOKEN}",
    )


def escpos_bytes(doc: Document, native_qr: bool = True, profile: str = PROFILE) -> bytes:
    printer = dummy_printer(profile)
    render_escpos(doc, printer, native_qr=native_qr)
    return bytes(printer.output)


def gs_2d_commands(data: bytes) -> list[tuple[bytes, bytes, bytes]]:
    """Every `GS ( k pL pH cn fn [m] d...` command as (cn, fn, parameters), using its length field."""
    commands = []
    start = data.find(GS_2D)
    while start != -1:
        length = data[start + 3] + 256 * data[start + 4]
        body = data[start + 5 : start + 5 + length]
        assert len(body) == length, "GS ( k command runs past the end of the output"
        commands.append((body[:1], body[1:2], body[2:]))
        start = data.find(GS_2D, start + 5 + length)
    return commands


def native_qr_payloads(data: bytes) -> list[bytes]:
    """Payloads of QR store commands (cn '1', fn 80 'P', m '0'), each checked to be followed by a print."""
    commands = gs_2d_commands(data)
    payloads = []
    for index, (cn, fn, params) in enumerate(commands):
        if cn == b"1" and fn == b"P":
            assert params[:1] == b"0"
            assert commands[index + 1][:2] == (b"1", b"Q"), "stored QR data is never printed"
            payloads.append(params[1:])
    return payloads


def decoded_text_runs(data: bytes) -> str:
    """The text after each ESC t n, decoded with that code page, up to the next control byte."""
    runs = []
    for segment in data.split(ESC_CODEPAGE)[1:]:
        codec = CODEPAGE_CODECS[segment[0]]
        text = bytearray()
        for byte in segment[1:]:
            if byte < 0x20:
                break
            text.append(byte)
        runs.append(text.decode(codec))
    return "".join(runs)


# --- the document model ---------------------------------------------------------------------


def test_ticket_document_lists_the_content_in_order():
    doc = ticket_document(content())
    texts = [block.text for block in doc.blocks if isinstance(block, Text)]
    assert texts[:7] == [
        "Bürgerbüro Stuttgart-Mitte",
        "A042",
        "Allgemeine Anliegen",
        "General concerns",
        "25.11.2026 14:32",
        "Vor Ihnen: 3 · ca. 12 Min.",
        "Ahead of you: 3 · approx. 12 min",
    ]
    assert [block for block in doc.blocks if isinstance(block, QR)] == [QR(TRACKING_URL)]
    assert isinstance(doc.blocks[-1], Cut)
    label = next(block for block in doc.blocks if isinstance(block, Text) and block.text == "A042")
    assert label.size == 4


def test_a_wait_range_is_printed_with_a_plain_hyphen():
    doc = ticket_document(dataclasses.replace(content(), wait_range=(10, 20)))
    texts = [block.text for block in doc.blocks if isinstance(block, Text)]
    assert "Vor Ihnen: 3 · ca. 10-20 Min." in texts and "Ahead of you: 3 · approx. 10-20 min" in texts
    assert "Vor Ihnen: 3 · ca. 10-20 Min.".encode("cp858") in escpos_bytes(doc)  # the code page has no dash


@pytest.mark.parametrize(("ahead", "wait_min"), [(None, None), (3, None), (None, 12)])
def test_unknown_wait_prints_a_neutral_line(ahead, wait_min):
    doc = ticket_document(content(ahead=ahead, wait_min=wait_min))
    texts = [block.text for block in doc.blocks if isinstance(block, Text)]
    assert "Wartezeit: siehe Anzeige im Wartebereich" in texts
    assert not any("Vor Ihnen" in text or "Ahead of you" in text for text in texts)
    data = escpos_bytes(doc)
    assert b"Wartezeit: siehe Anzeige im Wartebereich\n" in data
    assert b"Vor Ihnen" not in data


def test_label_size_fits_the_paper():
    assert label_size("A042") == 4
    assert label_size("ABC1234567") == 4
    assert label_size("ABC12345678") == 3
    assert all(size * len(label) <= 42 for label in ("P7", "AB1000", "X" * 21) for size in [label_size(label)])


def test_blocks_reject_values_the_printer_cannot_do():
    with pytest.raises(ValueError):
        Text("x", size=9)
    with pytest.raises(ValueError):
        QR("x", module_size=17)
    with pytest.raises(ValueError):
        QR("")
    with pytest.raises(ValueError):
        Feed(-1)


# --- ESC/POS --------------------------------------------------------------------------------


def test_ticket_bytes_hold_the_label_and_a_native_qr_of_the_tracking_url():
    data = escpos_bytes(ticket_document(content()))
    assert data.startswith(b"\x1b@")  # ESC @: each ticket starts from the printer's defaults
    assert b"\x1d!\x33A042\n" in data  # GS ! 4x4, then the label
    assert native_qr_payloads(data) == [TRACKING_URL.encode("ascii")]
    functions = [fn for _, fn, _ in gs_2d_commands(data)]
    assert functions == [b"A", b"C", b"E", b"P", b"Q"]  # model, module size, error correction, store, print
    assert (b"1", b"C", b"\x06") in gs_2d_commands(data)
    centre = data.rfind(b"\x1ba", 0, data.find(GS_2D))
    assert data[centre : centre + 3] == b"\x1ba\x01", "native QR must be preceded by ESC a 1"
    assert data.endswith(b"\x1dV\x00")  # full cut


def test_realistic_ticket_is_under_one_kilobyte():
    data = escpos_bytes(ticket_document(content(ahead=123, wait_min=245, label="AB123")))
    assert len(data) < 1024, len(data)


def test_the_extra_large_number_for_low_vision_is_twice_the_size_and_still_under_one_kilobyte():
    large = dataclasses.replace(content(ahead=123, wait_min=245, label="AB123"), large_label=True)
    doc = ticket_document(large)
    assert next(b for b in doc.blocks if isinstance(b, Text) and b.text == "AB123").size == 8  # 5 × 8 ≤ 42 columns
    data = escpos_bytes(doc)
    assert b"\x1d!\x77" in data and b"\x1d!\x33" not in data  # GS ! 8 × 8, never the usual 4 × 4
    assert len(data) < 1024, len(data)
    assert label_size("AB123456", 8) == 5  # a long label still fits one line
    assert render_png(doc).height > render_png(ticket_document(content(label="AB123"))).height


def test_rendering_twice_gives_identical_self_contained_bytes():
    printer = dummy_printer(PROFILE)
    doc = ticket_document(content())
    render_escpos(doc, printer)
    first = bytes(printer.output)
    printer.clear()
    render_escpos(doc, printer)
    assert bytes(printer.output) == first  # the code page is selected again, not assumed


def test_umlauts_are_encoded_through_code_pages_not_replaced():
    text = "Bürgerbüro Süd – Straße"
    data = escpos_bytes(Document((Text(text), Cut())))
    assert ESC_CODEPAGE in data
    assert b"?" not in data
    assert b"B\x81rgerb\x81ro S\x81d" in data  # cp437/cp850: ü = 0x81
    assert decoded_text_runs(data) == text


def test_image_qr_mode_sends_a_raster_image_and_no_native_qr():
    data = escpos_bytes(ticket_document(content()), native_qr=False)
    assert GS_2D not in data
    assert b"\x1dv0" in data  # GS v 0 raster bit image
    assert len(data) > 4 * len(escpos_bytes(ticket_document(content())))


def test_profile_without_native_qr_is_detected():
    assert native_qr_supported(dummy_printer(PROFILE))
    assert not native_qr_supported(dummy_printer("simple"))


def test_slip_and_status_documents_print():
    slip = no_tickets_slip("Bürgerbüro Süd", "Abholung", "Pickup", "https://termin.stuttgart.de", WHEN)
    slip_bytes = escpos_bytes(slip)
    assert b"Heute keine Wartemarken mehr f\x81r Abholung\n" in slip_bytes  # cp437 still selected
    assert b"No more tickets today for Pickup\n" in slip_bytes
    assert b"https://termin.stuttgart.de\n" in slip_bytes
    assert slip_bytes.endswith(b"\x1dV\x00")
    no_url = escpos_bytes(no_tickets_slip("Amt", "Abholung", "Pickup", None, WHEN))
    assert b"Termin" not in no_url

    status = status_document("Status K1", [("printer", "ok"), ("broker", "unreachable")], WHEN)
    status_bytes = escpos_bytes(status)
    assert b"\x1ba\x00printer: ok\nbroker: unreachable\n" in status_bytes  # left-aligned key/value lines
    assert status_bytes.endswith(b"\x1dV\x00")

    for doc in (slip, status):
        image = render_png(doc)
        assert image.width == 576
        assert image.height > 200
        assert image.getextrema()[0] == 0  # something was printed in black


def test_long_text_is_word_wrapped_to_the_printer_columns():
    words = "Scannen Sie den Code, um Ihre Wartezeit live zu verfolgen."
    data = escpos_bytes(Document((Text(words),)))
    assert b"Scannen Sie den Code, um Ihre Wartezeit\nlive zu verfolgen.\n" in data


# --- PNG preview ----------------------------------------------------------------------------


def test_png_preview_qr_decodes_to_the_tracking_url():
    image = render_png(ticket_document(content()))
    assert image.width == 576
    results = zxingcpp.read_barcodes(image)
    assert [result.text for result in results] == [TRACKING_URL]
    assert results[0].format == zxingcpp.BarcodeFormat.QRCode


def test_png_height_follows_content():
    short = render_png(Document((Text("A"),)))
    long = render_png(Document((Text("A"), Feed(5), Text("B"))))
    assert long.height > short.height
    assert render_png(ticket_document(content()), width_px=384).width == 384  # 58 mm paper


# --- importing escpos -----------------------------------------------------------------------


def _import_in_fresh_process(tmp_path: Path, cache: Path) -> subprocess.CompletedProcess[str]:
    scratch = tmp_path / "tmp"
    scratch.mkdir(exist_ok=True)
    env = {k: v for k, v in os.environ.items() if k != "ESCPOS_CAPABILITIES_PICKLE_DIR"}
    env |= {"TMPDIR": str(scratch), "CACHE_DIRECTORY": str(cache)}
    code = (
        "import logging, kiosk.escpos_render\n"
        "from kiosk.escpos_setup import dummy_printer\n"
        "dummy_printer('TM-T88V')\n"
        "print(len(logging.getLogger().handlers))\n"
    )
    return subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True, timeout=60)


def test_importing_escpos_leaves_no_temp_dir_and_no_log_handler(tmp_path):
    cache = tmp_path / "cache"
    for _ in range(2):  # first builds the pickle, second loads it
        result = _import_in_fresh_process(tmp_path, cache)
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip() == "0"
    assert list((tmp_path / "tmp").iterdir()) == []
    assert [p.name for p in cache.glob("*.capabilities.pickle")]


def test_a_truncated_capabilities_pickle_is_rebuilt(tmp_path):
    cache = tmp_path / "cache"
    assert _import_in_fresh_process(tmp_path, cache).returncode == 0
    (pickled,) = cache.glob("*.capabilities.pickle")
    pickled.write_bytes(pickled.read_bytes()[:1000])  # as if killed while escpos wrote it
    result = _import_in_fresh_process(tmp_path, cache)
    assert result.returncode == 0, result.stderr
    assert pickled.stat().st_size > 1000
