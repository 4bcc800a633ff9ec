"""Jinja2 with autoescaping: every value in a page is escaped unless a template says otherwise."""

from __future__ import annotations

from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape

from protocol.wait_range import shown_range

_ENV = Environment(loader=PackageLoader("web", "templates"), autoescape=select_autoescape(["html"]),
                   trim_blocks=True, lstrip_blocks=True)
_ENV.globals["shown_range"] = shown_range  # "ca. 25–40 Min." from a published wait_range_min


def render(template: str, **context: Any) -> str:
    return _ENV.get_template(template).render(**context)
