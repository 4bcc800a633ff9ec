"""What every wartemarke process shares: its config file reader, clock, systemd notify/watchdog,
logging and start-up, the CLI scaffolding, SQLite transactions.

Plumbing, not contract: nothing here knows MQTT, topics or messages, and this package imports nothing
else of wartemarke (`protocol` and the apps build on it; tests/test_architecture.py checks it).
"""
