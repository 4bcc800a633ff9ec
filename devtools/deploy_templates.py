"""The playbook's templates rendered as Ansible renders them, and mosquitto password files — what the
tests of deploy/ and the city benchmark (bench/city/) both start real mosquittos and nginx from.

    config = render_role_template("central", "mosquitto.conf.j2", {"accounts": [...], ...})
    write_password_file(directory / "passwd", {"kiosk-1": "secret", ...})

Templates are rendered the way Ansible's `template` module does (trim_blocks, undefined variables are
errors), with the role's defaults/main.yml underneath the given variables.
"""

from __future__ import annotations

import importlib.util
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jinja2
import jinja2.nativetypes
import yaml  # type: ignore[import-untyped]

ROLES = Path(__file__).resolve().parents[1] / "deploy" / "roles"
FILTERS = ROLES.parent / "filter_plugins" / "wartemarke.py"


# -- templates ----------------------------------------------------------------------------------

def role_defaults(role: str) -> dict[str, Any]:
    data = yaml.safe_load((ROLES / role / "defaults" / "main.yml").read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def playbook_filters() -> dict[str, Any]:
    """The playbook's own Jinja filters (deploy/filter_plugins/wartemarke.py), as Ansible loads them."""
    spec = importlib.util.spec_from_file_location("wartemarke_filters", FILTERS)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    filters: dict[str, Any] = module.FilterModule().filters()
    return filters


def ansible_bool(value: Any) -> bool:
    """Ansible's core `bool` filter (role defaults use it)."""
    return value if isinstance(value, bool) else str(value).strip().lower() in ("yes", "on", "1", "true")


def _filters() -> dict[str, Any]:
    return {**playbook_filters(), "bool": ansible_bool}


def _environment(role: str = "broker") -> jinja2.Environment:
    # Ansible's template module: trim_blocks on, keep the trailing newline, undefined is an error.
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(ROLES / role / "templates"),
                             undefined=jinja2.StrictUndefined, trim_blocks=True,
                             keep_trailing_newline=True, autoescape=False)
    env.filters.update(_filters())
    return env


def role_variables(role: str, overrides: Mapping[str, Any]) -> dict[str, Any]:
    """The role's defaults with `overrides` on top; defaults that are Jinja expressions are evaluated the
    way Ansible does (one expression keeps its type: a list stays a list, a number a number)."""
    native = jinja2.nativetypes.NativeEnvironment(undefined=jinja2.StrictUndefined)
    native.filters.update(_filters())
    variables = {**role_defaults(role), **overrides}
    for key, value in list(variables.items()):
        if key not in overrides and isinstance(value, str) and "{{" in value:
            variables[key] = native.from_string(value).render(**variables)
    return variables


def render_role_template(role: str, name: str, overrides: Mapping[str, Any]) -> str:
    """deploy/roles/{role}/templates/{name} rendered with the role's defaults under `overrides`."""
    return _environment(role).get_template(name).render(**role_variables(role, overrides))


def write_password_file(path: Path, credentials: Mapping[str, str]) -> None:
    """A mosquitto password file made with `mosquitto_passwd -b` (hashed), one line per user."""
    path.unlink(missing_ok=True)
    for index, (user, password) in enumerate(credentials.items()):
        args = ["mosquitto_passwd", "-b", *(["-c"] if index == 0 else []), str(path), user, password]
        result = subprocess.run(args, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise RuntimeError(f"mosquitto_passwd failed for {user}: {result.stderr or result.stdout}")
    path.chmod(0o600)
