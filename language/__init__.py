"""The words people read and hear, in German and English: one table per language, keyed by message id.

A base package like `process`: it imports nothing of ours, and every app may import it
(tests/test_architecture.py checks both). The kiosk's ticket, the board and its announcements and the
web's pages all take their texts from here, so a text that two of them show is written once.
"""
