"""Helpers for the dashboard tests: an app with a signed-in operator, and stored calls."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient

from carecall.core.events import InProcessEventBus
from carecall.persistence.database import create_session_factory
from carecall.persistence.models import Call, CallStatus, ConversationTurn, TurnRole
from carecall.settings import Settings
from tests.api.support import add_operator, app_state, log_in, make_client, on_app_loop
from tests.fakes.twilio_http import FakeAsyncTwilioHttpClient


def signed_in_client(
    settings: Settings,
    fake_twilio: FakeAsyncTwilioHttpClient | None = None,
    bus: InProcessEventBus | None = None,
) -> Iterator[TestClient]:
    """A browser: no API key, signed in as an operator; `client.headers` carries the CSRF
    token for POSTs, as the pages' scripts send it."""
    for client in make_client(
        settings, fake_twilio or FakeAsyncTwilioHttpClient(), bus, api_key=False
    ):
        add_operator(client)
        client.headers["X-CSRF-Token"] = log_in(client)
        yield client


def store_call(
    client: TestClient,
    to_number: str = "+14155550100",
    status: CallStatus = CallStatus.COMPLETED,
    *,
    created_at: datetime | None = None,
    turns: Sequence[tuple[TurnRole, str, int | None, bool]] = (),
    **fields: object,
) -> int:
    """A call stored as if it had happened (and its turns: role, text, latency, interrupted)."""
    created = created_at or datetime.now(UTC)

    async def add() -> int:
        sessions = create_session_factory(app_state(client).engine)
        async with sessions.begin() as session:
            call = Call(to_number=to_number, status=status, created_at=created, **fields)
            session.add(call)
            await session.flush()
            for sequence, (role, text, latency, interrupted) in enumerate(turns, start=1):
                started = created + timedelta(seconds=5 * sequence)
                session.add(
                    ConversationTurn(
                        call_id=call.id,
                        sequence=sequence,
                        role=role,
                        text=text,
                        started_at=started,
                        ended_at=started + timedelta(seconds=3),
                        interrupted=interrupted,
                        latency_ms=latency,
                    )
                )
            return call.id

    return on_app_loop(client, add)
