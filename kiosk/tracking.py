"""Tracking tokens and links printed as QR codes.

A token is 128 random bits in upper-case base32 (26 characters, A–Z and 2–7), so the whole link can
be upper case and the QR code uses the compact alphanumeric mode. The web accepts the link in any
case; the hub only ever publishes sha256(token), so the broker never holds a usable link.
"""

from __future__ import annotations

import base64
import secrets


def new_token() -> str:
    return base64.b32encode(secrets.token_bytes(16)).decode("ascii").rstrip("=")


def qr_link(tracking_url: str, token: str) -> str:
    """The QR payload: upper case, so QR alphanumeric mode applies (hosts and schemes are case-blind)."""
    return (tracking_url + token).upper()


def short_link(tracking_url: str, token: str) -> str:
    """The link printed as text under the QR code, without the scheme."""
    return tracking_url.split("://", 1)[-1] + token
