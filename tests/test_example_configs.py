"""The example configs (deploy/examples/) document every key: each is loaded with its app's real loader
while process/config.py records every key asked, also those absent that fell back to a default, and
every key asked must be shown in the example.

The convention: a key counts as shown when it is set in the file, or when a commented-out line sets it
(`# ca_file = "/etc/wartemarke/office-ca.pem"`) in the table it belongs to (a commented-out table
header, `# [technician]`, opens that table). Indices of arrays of tables do not matter: a key shown in
one `[[services]]` table is shown for all. The weekday keys of an hours table (`mon` … `sun`) are shown
when one of them is: a day left out is closed, and the example says so.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from archive.config import load_archive_config
from devtools.office_ca import make_office_ca
from display.config import load_display_config
from hubprocess.config import load_hub_process_config
from kiosk.config import load_kiosk_config
from kiosk.printer.config import BACKENDS
from notifier.config import load_notifier_config
from process.config import ConfigError, recording_keys
from protocol.businessday import WEEKDAYS
from web.config import load_replica_config

EXAMPLES = Path(__file__).resolve().parent.parent / "deploy" / "examples"
LOADERS: dict[str, Callable[[Path], Any]] = {
    "kiosk.toml": load_kiosk_config,
    "hub.toml": load_hub_process_config,
    "display.toml": load_display_config,
    "web.toml": load_replica_config,
    "notifier.toml": load_notifier_config,
    "archive.toml": load_archive_config,
}

# Keys the loaders read that an example does not show yet (empty: every example shows every key; keep it so).
PENDING: dict[str, set[str]] = {}

HEADER = re.compile(r"^\s*#?\s*\[\[?\s*([A-Za-z0-9_.\-]+)\s*\]\]?\s*(#.*)?$")
COMMENTED_KEY = re.compile(r"^\s*#\s*([A-Za-z0-9_\-]+)\s*=")


def plain(key: str) -> str:
    """`services[1].light_pin` → `services.light_pin`: indices of arrays of tables do not matter."""
    return re.sub(r"\[\d+\]", "", key)


def set_keys(data: Any, prefix: str = "") -> Iterator[str]:
    """Every dotted key the TOML sets, tables included."""
    items = data if isinstance(data, list) else [data]
    for item in items:
        if isinstance(item, dict):
            for key, value in item.items():
                name = f"{prefix}.{key}" if prefix else key
                yield name
                if isinstance(value, dict) or (isinstance(value, list) and value and isinstance(value[0], dict)):
                    yield from set_keys(value, name)


def commented_keys(text: str) -> Iterator[str]:
    """Keys and tables shown only in commented-out lines, in the table they stand in."""
    table = ""
    for line in text.splitlines():
        header = HEADER.match(line)
        if header:
            table = header.group(1)
            if line.lstrip().startswith("#"):
                yield table
            continue
        key = COMMENTED_KEY.match(line)
        if key:
            yield f"{table}.{key.group(1)}" if table else key.group(1)


def shown_keys(text: str) -> set[str]:
    shown = set(set_keys(tomllib.loads(text))) | set(commented_keys(text))
    hours_tables = {key.rpartition(".")[0] for key in shown if key.rpartition(".")[2] in WEEKDAYS}
    return shown | {f"{table}.{day}" for table in hours_tables for day in WEEKDAYS}


@pytest.fixture(scope="module")
def office_ca(tmp_path_factory: pytest.TempPathFactory) -> Any:
    return make_office_ca(tmp_path_factory.mktemp("ca"))


def loadable(example: Path, folder: Path, office_ca: Any) -> Path:
    """The example with its absolute paths moved into `folder`, where the files it names are made."""
    text = example.read_text(encoding="utf-8")
    for absolute in sorted(set(re.findall(r'"(/(?:etc|var)/[^"]+)"', text))):
        target = folder / absolute.lstrip("/")
        text = text.replace(f'"{absolute}"', f'"{target}"')
        target.parent.mkdir(parents=True, exist_ok=True)
        if absolute.startswith("/etc/"):
            content = {".crt": office_ca.server_cert.read_bytes(), ".key": office_ca.server_key.read_bytes(),
                       ".pem": office_ca.ca_cert.read_bytes()}.get(target.suffix, b"an example secret of 32 bytes..")
            target.write_bytes(content)
    path = folder / example.name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize("name", sorted(LOADERS))
def test_the_example_shows_every_key_its_loader_reads(name: str, tmp_path: Path, office_ca: Any) -> None:
    path = loadable(EXAMPLES / name, tmp_path, office_ca)
    with recording_keys() as asked:
        LOADERS[name](path)
    assert asked, "the recorder saw no key: is the loader still reading through process/config.py?"
    shown = shown_keys(path.read_text(encoding="utf-8"))
    missing = sorted({plain(a.key) for a in asked} - shown - PENDING.get(name, set()))
    assert not missing, f"deploy/examples/{name} does not show these keys its loader reads: {missing}"
    stale = sorted(PENDING.get(name, set()) & shown)
    assert not stale, f"shown now, delete from PENDING[{name!r}]: {stale}"


def test_the_kiosk_example_shows_the_keys_of_every_printer_type() -> None:
    """The example runs one printer type; the others' keys are shown commented out."""
    shown = shown_keys((EXAMPLES / "kiosk.toml").read_text(encoding="utf-8"))
    missing = sorted(f"printer.{key}" for backend in BACKENDS.values() for key in backend.KEYS
                     if f"printer.{key}" not in shown)
    assert not missing, f"deploy/examples/kiosk.toml does not show: {missing}"


def test_the_recorder_counts_keys_that_fell_back_to_their_default(tmp_path: Path) -> None:
    """What makes the test above able to fail: a key the example leaves out is still recorded."""
    path = tmp_path / "display.toml"
    path.write_text('[display]\noffice = "o"\ndevice = "d"\n[broker]\n', encoding="utf-8")
    with recording_keys() as asked:
        load_display_config(path)
    absent = {plain(a.key) for a in asked if not a.present}
    assert {"display.highlight_s", "sound.chime", "broker.keepalive_s", "screen.snapshot_dir"} <= absent
    assert shown_keys(path.read_text(encoding="utf-8")) & absent == set()


@pytest.mark.parametrize(("name", "before", "after", "key"), [
    ("kiosk.toml", 'id = "A"', 'id = "a"', "services[0].id"),
    ("hub.toml", 'id = "A"', 'id = "a"', "offices[0].services[0].id"),
    ("display.toml", "services = []", 'services = ["A", "a1"]', "display.services"),
])
def test_every_reader_refuses_a_service_id_by_the_one_rule(name: str, before: str, after: str, key: str,
                                                           tmp_path: Path, office_ca: Any) -> None:
    """The kiosk's, the hub's and the display's config name a service the same way (the label prefix):
    one check (protocol.fields.service_problem), one message, naming file and key."""
    path = loadable(EXAMPLES / name, tmp_path, office_ca)
    text = path.read_text(encoding="utf-8")
    assert before in text
    path.write_text(text.replace(before, after, 1), encoding="utf-8")
    with pytest.raises(ConfigError) as error:
        LOADERS[name](path)
    assert str(path) in str(error.value) and key in str(error.value)
    assert "must be 1–3 capital letters (the service's label prefix" in str(error.value)


def test_the_display_refuses_a_counter_that_is_no_counter_id(tmp_path: Path, office_ca: Any) -> None:
    """`counters` names counters of the hub's config: one that is no counter id (a slug) could never match a
    call, so the screen would silently show none of its calls; it stops the display at start-up instead."""
    path = loadable(EXAMPLES / "display.toml", tmp_path, office_ca)
    text = path.read_text(encoding="utf-8")
    assert "counters = []" in text
    path.write_text(text.replace("counters = []", 'counters = ["platz-1", "Platz 2"]', 1), encoding="utf-8")
    with pytest.raises(ConfigError) as error:
        load_display_config(path)
    assert str(path) in str(error.value) and "display.counters" in str(error.value)
    assert "must be a slug" in str(error.value)
