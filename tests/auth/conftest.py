"""Fixtures for the auth tests: the real app with no credentials (a browser before sign-in),
and the same app with an operator account."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from fastapi.testclient import TestClient

from carecall.settings import Settings
from tests.api.support import add_operator, make_client
from tests.fakes.twilio_http import FakeAsyncTwilioHttpClient


@pytest.fixture
def fake_twilio() -> FakeAsyncTwilioHttpClient:
    return FakeAsyncTwilioHttpClient()


@pytest.fixture
def anon(
    make_settings: Callable[..., Settings], fake_twilio: FakeAsyncTwilioHttpClient
) -> Iterator[TestClient]:
    """The app under a client that sends no API key and has no session."""
    yield from make_client(make_settings(), fake_twilio, api_key=False)


@pytest.fixture
def browser(anon: TestClient) -> TestClient:
    """An anonymous client of an app that has one operator (not signed in yet)."""
    add_operator(anon)
    return anon
