"""The time role's chrony configurations parse with chrony itself: `chronyd -p` prints the parsed
configuration and fails on any error."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from jinja2 import Environment, FileSystemLoader, StrictUndefined

TEMPLATES = Path(__file__).resolve().parents[1] / "deploy" / "roles" / "time" / "templates"


def render(name: str, **variables) -> str:
    env = Environment(loader=FileSystemLoader(TEMPLATES), undefined=StrictUndefined, keep_trailing_newline=True)
    return env.get_template(name).render(**variables)


@pytest.mark.parametrize(("template", "variables", "expected"), [
    ("chrony-hub.conf.j2", {"time_upstream_servers": ["ntp1.example.org", "ntp2.example.org"],
                            "time_office_subnets": ["192.168.10.0/24"]},
     ["server ntp1.example.org iburst", "allow 192.168.10.0/24", "local stratum 10 orphan"]),
    ("chrony-device.conf.j2", {"time_hub": "hub.local"}, ["server hub.local iburst prefer", "makestep 1.0 -1"]),
])
def test_chrony_accepts_the_rendered_config(tmp_path, template, variables, expected):
    config = tmp_path / "chrony.conf"
    config.write_text(render(template, **variables))
    parsed = subprocess.run(["chronyd", "-p", "-f", str(config)], capture_output=True, text=True, timeout=30)
    assert parsed.returncode == 0, parsed.stderr
    for line in expected:
        assert line in parsed.stdout
