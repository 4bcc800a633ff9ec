"""Shared fixtures: real mosquitto brokers, recording MQTT clients and unique office slugs.

Fixtures (see devtools/broker.py for the classes):

- `broker` -> Broker: a fresh, running, non-persistent broker per test; stop/kill/restart it freely.
- `broker_factory` -> Callable[..., Broker]: `broker_factory(persistence=True)` starts another broker
  (keyword arguments go to `Broker`); all are stopped at teardown.
- `shared_broker` -> Broker: one running broker per xdist worker (session scope); never stop it, and
  keep tests apart with `topic_office`.
- `topic_office` -> str: a unique office slug per test, e.g. "t-1a2b3c4d".
- `recorder_factory` -> Callable[[Broker, Iterable[str]], Recorder]: `recorder_factory(broker,
  ["wartemarke/v1/<office>/#"], retain_as_published=False)` returns a subscribed Recorder; all are
  closed at teardown.
- `web_hub` -> WebHub: a Hub with its web (plain HTTP on 127.0.0.1, two counters) on the shared broker,
  with the accounts of tests/staff_harness.py.

The SDL video and audio drivers are set to `dummy` at import, so display tests never open a window.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest

from devtools.broker import Broker, Recorder, free_port, make_recorder
from devtools.notifier_harness import SUBJECT
from devtools.push_service import PushService
from hubprocess.config import load_hub_process_config
from tests.staff_harness import add_users
from tests.web_harness import WebHub, write_web_hub_config

os.environ["SDL_VIDEODRIVER"] = "dummy"
os.environ["SDL_AUDIODRIVER"] = "dummy"


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Broker]:
    instance = Broker(tmp_path / "broker")
    instance.start()
    try:
        yield instance
    finally:
        instance.stop()


@pytest.fixture
def broker_factory(tmp_path: Path) -> Iterator[Callable[..., Broker]]:
    made: list[Broker] = []

    def make(**kwargs: Any) -> Broker:
        instance = Broker(tmp_path / f"broker-{len(made) + 1}", **kwargs)
        made.append(instance)
        instance.start()
        return instance

    try:
        yield make
    finally:
        for instance in made:
            instance.stop()


@pytest.fixture(scope="session")
def shared_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Broker]:
    # Session scope under pytest-xdist means one per worker: each gets its own port and directory.
    instance = Broker(tmp_path_factory.mktemp("shared-broker"))
    instance.start()
    try:
        yield instance
    finally:
        instance.stop()


@pytest.fixture
def topic_office() -> str:
    return "t-" + uuid.uuid4().hex[:8]


@pytest.fixture
def recorder_factory() -> Iterator[Callable[..., Recorder]]:
    made: list[Recorder] = []

    def make(broker: Broker, filters: Iterable[str], **kwargs: Any) -> Recorder:
        recorder = make_recorder(broker, filters, **kwargs)
        made.append(recorder)
        return recorder

    try:
        yield make
    finally:
        for recorder in made:
            recorder.close()


@pytest.fixture
def web_hub(shared_broker: Any, topic_office: str, tmp_path: Path) -> Iterator[WebHub]:
    config = write_web_hub_config(tmp_path, shared_broker.port, topic_office, free_port(), counters=2)
    add_users(load_hub_process_config(config).hub.state_dir / "hub.sqlite3")
    hub = WebHub.start(config, topic_office, shared_broker.port)
    try:
        yield hub
    finally:
        hub.stop()


@pytest.fixture
def push() -> Iterator[PushService]:
    """A local push service (and the browsers behind it) checking the notifier's VAPID subject."""
    service = PushService(subject=SUBJECT).start()
    try:
        yield service
    finally:
        service.stop()
