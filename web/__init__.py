"""The web tier: tracking page, Ampel, history, open data; clerk and technician pages in the hub."""
