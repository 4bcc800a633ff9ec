"""Jinja2 with autoescaping: every value in a page is escaped unless a template says otherwise."""

from __future__ import annotations

from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape

_ENV = Environment(loader=PackageLoader("web", "templates"), autoescape=select_autoescape(["html"]),
                   trim_blocks=True, lstrip_blocks=True)


def render(template: str, **context: Any) -> str:
    return _ENV.get_template(template).render(**context)
