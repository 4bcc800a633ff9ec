"""The words people read and hear: gettext catalogues (language/locale/<lang>/LC_MESSAGES/wartemarke.po),
keyed by message id, and how spoken text is prepared.

A base package like `process`: it imports nothing of ours, and every app may import it
(tests/test_architecture.py checks both). The kiosk's ticket, the board and its announcements and the
web's pages all take their texts from here, so a text that two of them show is written once.
"""
