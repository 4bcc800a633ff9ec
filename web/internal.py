"""The office-network pages (clerk counter page, technician device page): served only by the hub."""

from __future__ import annotations

from aiohttp import web

from hub.store import HubStore


def add_internal_routes(app: web.Application, store: HubStore) -> None:
    """Placeholder wiring point; the pages are added by the web issue's internal-pages work."""
    app["store"] = store
