"""The printer backends behind one interface: the `[printer]` table per type, a real ESC/POS printer's
status and paper sensor over a real serial line (a pseudo-terminal) and a real TCP socket, the folder
and the memory printer with its test hooks. The printer's far end is the only thing faked: it answers
the status queries (DLE EOT 1, DLE EOT 4) as an Epson TM printer does."""

from __future__ import annotations

import contextlib
import functools
import os
import socket
import threading
import tty
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from kiosk.config import load_kiosk_config
from kiosk.printer.base import PaperState, PrinterFault, PrinterSettings, TicketPrinter
from kiosk.printer.config import BACKENDS
from kiosk.printer.device import DevicePrinter, NetworkSettings, SerialSettings, UsbSettings
from kiosk.printer.folder import FolderPrinter
from kiosk.printer.memory import MemoryPrinter, MemorySettings
from kiosk.ticket import Cut, Document, Text
from process.config import ConfigError

ONLINE_QUERY, PAPER_QUERY = b"\x10\x04\x01", b"\x10\x04\x04"
PAPER_BYTES = {PaperState.OK: 0x12, PaperState.LOW: 0x1E, PaperState.OUT: 0x72}
def ticket(label: str) -> Document:
    return Document((Text(label, size=4), Cut()))

KIOSK_TOML = """
[kiosk]
office = "o"
device = "k"
office_name = "Bürgerbüro"
state_dir = "state"
tracking_url = "https://warte.example.org/t/"

[broker]
host = "127.0.0.1"

[printer]
{printer}

[led]
pin = 17

[[services]]
id = "A"
name_de = "Allgemein"
name_en = "General"
button_pin = 5
"""


def printer_config(tmp_path: Path, printer: str) -> PrinterSettings:
    path = tmp_path / "kiosk.toml"
    path.write_text(KIOSK_TOML.format(printer=printer), encoding="utf-8")
    return load_kiosk_config(path).printer


class FakePrinterEnd:
    """The printer's side of the line: keeps what it receives, answers status queries from its state."""

    def __init__(self, read: Callable[[], bytes], write: Callable[[bytes], object]) -> None:
        self.read, self.write = read, write
        self.online, self.paper = True, PaperState.OK
        self.received = bytearray()
        self.cond = threading.Condition()
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        pending = b""
        while chunk := self.read():
            pending += chunk
            for query in (ONLINE_QUERY, PAPER_QUERY):
                if pending.endswith(query):
                    pending = pending[: -len(query)]
                    answer = 0x12 if self.online else 0x1A  # bit 3: offline
                    with contextlib.suppress(OSError):  # the line went away meanwhile
                        self.write(bytes([answer if query == ONLINE_QUERY else PAPER_BYTES[self.paper]]))
            with self.cond:
                self.received += pending
                pending = b""
                self.cond.notify_all()

    def wait_for(self, data: bytes, timeout: float = 10) -> bool:
        with self.cond:
            return self.cond.wait_for(lambda: data in self.received, timeout)


@pytest.fixture
def serial_printer(tmp_path: Path) -> Iterator[tuple[FakePrinterEnd, TicketPrinter]]:
    master, slave = os.openpty()
    tty.setraw(master)
    tty.setraw(slave)
    end = FakePrinterEnd(lambda: _read_fd(master), lambda data: os.write(master, data))
    settings = printer_config(tmp_path, f'type = "serial"\nserial_device = "{os.ttyname(slave)}"\nbaudrate = 19200')
    printer = settings.open()
    yield end, printer
    printer.close()
    os.close(slave)
    os.close(master)


def _read_fd(fd: int) -> bytes:
    try:
        return os.read(fd, 4096)
    except OSError:  # the line is gone (the test is over)
        return b""


class TcpPrinter:
    """A raw-printing port (9100) that accepts one connection at a time; `stop()` pulls the cable."""

    def __init__(self, port: int = 0) -> None:
        self.server = socket.create_server(("127.0.0.1", port))
        self.port = self.server.getsockname()[1]
        self.ends: list[FakePrinterEnd] = []
        self.connections: list[socket.socket] = []
        self.cond = threading.Condition()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.server.accept()
            except OSError:
                return
            with self.cond:
                self.connections.append(conn)
                self.ends.append(FakePrinterEnd(functools.partial(_recv, conn), conn.sendall))
                self.cond.notify_all()

    def end(self, index: int = 0, timeout: float = 10) -> FakePrinterEnd:
        with self.cond:
            assert self.cond.wait_for(lambda: len(self.ends) > index, timeout)
            return self.ends[index]

    def stop(self) -> None:
        """Shut down first: a plain close() would leave the socket listening under the blocked accept()."""
        for sock in (self.server, *self.connections):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()


def _recv(conn: socket.socket) -> bytes:
    try:
        return conn.recv(4096)
    except OSError:
        return b""


def test_each_type_reads_its_own_keys_into_its_own_settings(tmp_path: Path) -> None:
    usb = printer_config(tmp_path, 'type = "usb"\nusb_vendor_id = 0x04b8\nusb_product_id = 0x0202\n'
                                   'profile = "TM-T20II"')
    assert usb.backend == UsbSettings(vendor_id=0x04B8, product_id=0x0202) and usb.profile == "TM-T20II"
    serial = printer_config(tmp_path, 'type = "serial"\nserial_device = "/dev/ttyS0"\nbaudrate = 38400')
    assert serial.backend == SerialSettings(device="/dev/ttyS0", baudrate=38400)
    network = printer_config(tmp_path, 'type = "network"\nhost = "192.0.2.7"')
    assert network.backend == NetworkSettings(host="192.0.2.7", port=9100)
    assert network.open().describe() == "network printer 192.0.2.7:9100 (TM-T88V)"
    folder = printer_config(tmp_path, 'type = "file"\npath = "out"\npng_previews = true')
    printer = folder.open()
    assert isinstance(printer, FolderPrinter) and printer.folder == tmp_path / "out" and printer.png_previews
    assert printer_config(tmp_path, 'type = "dummy"').backend == MemorySettings()


@pytest.mark.parametrize(("kind", "extra", "foreign"), [
    ("file", 'path = "out"\nusb_vendor_id = 0x04b8', "usb"),  # only `type` switched from usb to file
    ("usb", 'host = "192.0.2.7"', "network"),
    ("dummy", 'png_previews = true', "file"),
    ("network", 'host = "192.0.2.7"\nbaudrate = 9600', "serial"),
])
def test_a_key_of_another_printer_type_is_an_error_naming_key_type_and_file(tmp_path: Path, kind: str, extra: str,
                                                                           foreign: str) -> None:
    with pytest.raises(ConfigError) as exc:
        printer_config(tmp_path, f'type = "{kind}"\n{extra}')
    key = extra.splitlines()[-1].split(" = ")[0]
    assert str(exc.value) == (f"{tmp_path / 'kiosk.toml'}: key 'printer.{key}': belongs to type = \"{foreign}\", "
                              f"not to type = \"{kind}\": delete it or comment it out")


def test_every_backend_key_is_read_by_its_backend(tmp_path: Path) -> None:
    """KEYS (what the other types refuse) is exactly what the backend's reader accepts."""
    values = {"usb_vendor_id": "1", "usb_product_id": "2", "serial_device": '"/dev/ttyS1"', "baudrate": "9600",
              "host": '"h"', "port": "9100", "path": '"out"', "png_previews": "false"}
    for kind, backend in BACKENDS.items():
        printer_config(tmp_path, f'type = "{kind}"\n' + "\n".join(f"{k} = {values[k]}" for k in backend.KEYS))


def test_the_folder_type_needs_its_path(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"key 'printer\.path': is required for type = \"file\""):
        printer_config(tmp_path, 'type = "file"')


def test_a_serial_printer_gets_the_ticket_and_reports_its_paper_sensor(serial_printer) -> None:
    end, printer = serial_printer
    assert isinstance(printer, DevicePrinter)
    size = printer.print_document(ticket("A042"), "A042")
    assert end.wait_for(b"A042") and size > 0
    end.paper = PaperState.LOW  # python-escpos waits out its 2 s read timeout per query on a serial line
    status = printer.status(roll_count=0)
    assert (status.online, status.paper, status.sensor) == (True, PaperState.LOW, True)


def test_a_network_printer_that_goes_away_is_offline_and_found_again(tmp_path: Path) -> None:
    tcp = TcpPrinter()
    printer = printer_config(tmp_path, f'type = "network"\nhost = "127.0.0.1"\nport = {tcp.port}').open()
    try:
        printer.print_document(ticket("A001"), "A001")
        assert tcp.end().wait_for(b"A001")
        for paper in (PaperState.OK, PaperState.LOW, PaperState.OUT):
            tcp.end().paper = paper
            status = printer.status(roll_count=0)
            assert (status.online, status.paper, status.sensor) == (True, paper, True)
        assert not printer.status(0).can_print  # paper out, whatever the roll count says
        tcp.end().online = False
        status = printer.status(0)
        assert (status.online, status.detail) == (False, "printer reports offline")
        tcp.stop()  # the cable is pulled: within a few polls the printer is offline, and a print fails
        polls = [printer.status(0)]  # the first query may still go out and find the line closed: no answer
        while polls[-1].online and len(polls) < 5:
            polls.append(printer.status(0))
        assert not polls[-1].online and polls[-1].detail.startswith("printer not answering"), polls
        with pytest.raises(PrinterFault, match="network printer error"):
            printer.print_document(ticket("A002"), "A002")
        again = TcpPrinter(tcp.port)  # plugged in again: the same printer object connects anew
        assert printer.status(0).online
        printer.print_document(ticket("A003"), "A003")
        assert again.end().wait_for(b"A003")
        again.stop()
    finally:
        printer.close()


def test_the_folder_printer_writes_in_print_order_across_restarts(tmp_path: Path) -> None:
    settings = printer_config(tmp_path, 'type = "file"\npath = "printed"\npng_previews = true')
    first = settings.open()
    first.print_document(ticket("A001"), "A001")
    first.print_document(ticket("A002"), "A002")
    again = settings.open()  # a restart: numbering continues after the newest file
    again.print_document(ticket("A003"), "A003")
    names = sorted(p.name for p in (tmp_path / "printed").iterdir())
    assert names == ["00000001-A001.escpos", "00000001-A001.png", "00000002-A002.escpos", "00000002-A002.png",
                     "00000003-A003.escpos", "00000003-A003.png"]
    assert b"A003" in (tmp_path / "printed" / "00000003-A003.escpos").read_bytes()


def test_paper_is_estimated_against_the_roll_where_no_sensor_answers(tmp_path: Path) -> None:
    settings = printer_config(tmp_path, 'type = "dummy"\nroll_length_tickets = 100\npaper_low_fraction = 0.8')
    printer = settings.open()
    assert [printer.status(n).paper for n in (0, 79, 80, 99, 100)] == [
        PaperState.OK, PaperState.OK, PaperState.LOW, PaperState.LOW, PaperState.OUT]
    assert not printer.status(100).sensor


def test_the_memory_printer_carries_the_test_hooks(tmp_path: Path) -> None:
    printer = printer_config(tmp_path, 'type = "dummy"').open()
    assert isinstance(printer, MemoryPrinter)
    printer.fail_next = "paper jam"
    with pytest.raises(PrinterFault, match="paper jam"):
        printer.print_document(ticket("A001"), "A001")
    printer.print_document(ticket("A002"), "A002")  # one failure only, as a jam that was cleared
    assert len(printer.printed) == 1 and b"A002" in printer.printed[0]
    folder = printer_config(tmp_path, 'type = "file"\npath = "out"').open()
    assert not hasattr(folder, "fail_next") and not hasattr(folder, "printed")  # production backends carry none
