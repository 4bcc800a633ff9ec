"""What the tests, the benchmarks and the demo share: a private mosquitto (`broker.py`), harnesses that
start real kiosks and hubs (`kiosk_harness.py`, `hub_harness.py`, `flood_harness.py`), an office CA
(`office_ca.py`), the simulated office days of the wait-estimate evaluation (`eta/`) and small statistics
(`stats.py`).

Not shipped in the wheel. tests/, bench/ and demo/ import this package, never each other
(tests/test_architecture.py checks it).
"""
