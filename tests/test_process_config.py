"""The config reader's shared getters (process/config.py): time zone, time of day, paths, secret files.

Every app's config reads these keys through them, so a relative path or an error message means the same
in the kiosk's, the display's, the hub's and the web's files.
"""

from __future__ import annotations

from datetime import time
from pathlib import Path

import pytest

from process.config import ConfigError, load_toml
from protocol.businessday import reset_time_problem
from protocol.fields import slug_problem
from protocol.link import read_broker_settings
from protocol.text import human_text


def config(tmp_path: Path, text: str) -> Path:
    folder = tmp_path / "etc"
    folder.mkdir(exist_ok=True)
    path = folder / "app.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_zone_and_time_of_day(tmp_path: Path) -> None:
    root = load_toml(config(tmp_path, 'tz = "Europe/Vienna"\nbad_tz = "Europe/Stutgart"\nat = "05:30"\n'
                                      'reset = "02:30"\nnot_time = "half past"\n'))
    assert str(root.get_zone("tz")) == "Europe/Vienna"
    assert str(root.get_zone("missing")) == "Europe/Berlin"
    with pytest.raises(ConfigError, match=r"key 'bad_tz': unknown time zone 'Europe/Stutgart'"):
        root.get_zone("bad_tz")
    assert root.get_time("at", "04:00") == time(5, 30)
    assert root.get_time("missing", "04:00", check=reset_time_problem) == time(4, 0)
    with pytest.raises(ConfigError, match=r"key 'reset': the daily reset must lie outside 02:00–03:00"):
        root.get_time("reset", "04:00", check=reset_time_problem)
    with pytest.raises(ConfigError, match=r"key 'not_time': must be a time HH:MM; got 'half past'"):
        root.get_time("not_time", "04:00")


def test_contract_rules_as_checks(tmp_path: Path) -> None:
    root = load_toml(config(tmp_path, 'name = "Bürgeramt\\u202eMitte"\nid = "Amt_1"\nok = "mitte-1"\n'))
    with pytest.raises(ConfigError, match=r"key 'name': must not contain control, separator or bidi"):
        root.get_str("name", check=human_text(120))
    with pytest.raises(ConfigError, match=r"key 'id': must be a slug of a-z, 0-9 and '-'"):
        root.get_str("id", check=slug_problem)
    assert root.get_str("ok", check=slug_problem) == "mitte-1"
    assert root.get_str("missing", None, check=slug_problem) is None


def test_paths_are_relative_to_the_config_file(tmp_path: Path) -> None:
    path = config(tmp_path, f'state = "state"\nup = "../var"\nabsolute = "{tmp_path}/x"\nhome = "~/wm"\n')
    root = load_toml(path)
    assert root.get_path("state") == path.parent / "state"
    assert root.get_path("up") == tmp_path / "var"
    assert root.get_path("absolute") == tmp_path / "x"
    assert root.get_path("home") == Path.home() / "wm"
    assert root.get_path("missing", None) is None


def test_password_file_is_read_relative_to_the_config_file(tmp_path: Path) -> None:
    """Both `[broker] password_file` and the web's secret files: a relative path means next to the config
    (as the example configs say), not wherever the process was started from."""
    path = config(tmp_path, '[broker]\nusername = "kiosk"\npassword_file = "broker-password"\n'
                            '[latin1]\npassword_file = "latin1"\n')
    (path.parent / "broker-password").write_text("s3cret\n", encoding="utf-8")
    (path.parent / "latin1").write_bytes("geheim\xe4\n".encode("latin-1"))
    root = load_toml(path)
    assert read_broker_settings(root.get_section("broker")).password == "s3cret"
    assert root.get_section("broker").get_file_bytes("password_file") == b"s3cret"
    with pytest.raises(ConfigError, match=r"key 'latin1\.password_file': must hold UTF-8 text"):
        read_broker_settings(root.get_section("latin1"))
