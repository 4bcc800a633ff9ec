"""The wartemarke message contract: topics, message types, validation and the MQTT link.

Every process (kiosk, display, hub, web) speaks through this package, so the contract lives in one
place. See docs/protocol.md for the written contract.
"""

VERSION = "0.1.0"
