"""The Twilio gateway over the fake HTTP client (the real SDK), retrying without waiting."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from carecall.settings import Settings
from carecall.telephony.twilio_client import TwilioGateway
from tests.fakes.twilio_http import FakeAsyncTwilioHttpClient


@pytest.fixture
def fake() -> FakeAsyncTwilioHttpClient:
    return FakeAsyncTwilioHttpClient()


@pytest.fixture
def gateway(
    make_settings: Callable[..., Settings], fake: FakeAsyncTwilioHttpClient
) -> TwilioGateway:
    gateway = TwilioGateway(make_settings(), fake)
    gateway._retry_base_delay = 0.001
    return gateway
