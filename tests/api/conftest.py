"""Fixtures for the API tests: the real app, with a fake Twilio HTTP client and an event bus."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from fastapi.testclient import TestClient

from carecall.core.events import InProcessEventBus
from carecall.settings import Settings
from tests.api.support import make_client
from tests.fakes.twilio_http import FakeAsyncTwilioHttpClient


@pytest.fixture
def fake_twilio() -> FakeAsyncTwilioHttpClient:
    return FakeAsyncTwilioHttpClient()


@pytest.fixture
def bus() -> InProcessEventBus:
    return InProcessEventBus()


@pytest.fixture
def client(
    make_settings: Callable[..., Settings],
    fake_twilio: FakeAsyncTwilioHttpClient,
    bus: InProcessEventBus,
) -> Iterator[TestClient]:
    yield from make_client(make_settings(), fake_twilio, bus)


@pytest.fixture
def db_client(
    make_settings: Callable[..., Settings],
    database_url: str,
    fake_twilio: FakeAsyncTwilioHttpClient,
) -> Iterator[TestClient]:
    """An app on SQLite, then on PostgreSQL."""
    yield from make_client(make_settings(database_url=database_url), fake_twilio)
