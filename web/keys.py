"""Typed keys for what the web application shares between handlers (aiohttp AppKeys)."""

from __future__ import annotations

from aiohttp import web

from web.bridge import Bridge
from web.config import WebSettings
from web.mirror import Mirror

SETTINGS = web.AppKey("settings", WebSettings)
MIRROR = web.AppKey("mirror", Mirror)
BRIDGE: web.AppKey[Bridge | None] = web.AppKey("bridge")  # None in tests without MQTT
