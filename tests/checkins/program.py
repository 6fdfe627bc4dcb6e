"""A check-in program under test: the real server objects on a real database, the real Twilio
SDK over the fake HTTP client (each request stamped with the test clock's time), and a clock
the test moves. Rounds of the dispatcher are run by the test, one at a time."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from fastapi.testclient import TestClient

from carecall.app_state import AppState
from carecall.checkins.dispatcher import Round
from carecall.checkins.roster import (
    CaregiverInput,
    ConsentInput,
    PlanInput,
    RosterService,
    SeniorInput,
)
from carecall.core.clock import Clock
from carecall.persistence.models import Checkin, Senior
from carecall.server import create_app
from carecall.settings import Settings
from tests.api.support import add_api_key, app_state, on_app_loop, signed_post, status_params
from tests.checkins.clocks import FakeClock
from tests.fakes.twilio_http import FakeAsyncTwilioHttpClient, RecordedRequest


@dataclass
class StampedRequest:
    at: datetime
    request: RecordedRequest

    @property
    def form(self) -> dict[str, Any]:
        return self.request.data

    @property
    def kind(self) -> str:
        """`call`, `sms` or the URL's last part."""
        if self.request.url.endswith("/Calls.json"):
            return "call"
        if self.request.url.endswith("/Messages.json"):
            return "sms"
        return self.request.url.rsplit("/", 1)[-1]


class ClockedTwilio(FakeAsyncTwilioHttpClient):
    """The fake Twilio REST API, noting the test clock's time of each request."""

    def __init__(self, clock: Clock) -> None:
        super().__init__()
        self.clock = clock
        self.stamped: list[StampedRequest] = []
        self.call_ids: dict[str, int] = {}
        """Our call id of each call Twilio created (from the TwiML URL it was given)."""
        self.placed_at: dict[str, datetime] = {}
        """When (on the test clock) each call was created, in order."""

    async def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Any:
        response = await super().request(method, url, *args, **kwargs)
        stamped = StampedRequest(self.clock.now(), self.requests[-1])
        self.stamped.append(stamped)
        twiml_url = str(stamped.form.get("Url", ""))
        if stamped.kind == "call" and response.status_code == 201 and "call_id=" in twiml_url:
            sid = json.loads(response.text)["sid"]
            self.call_ids[sid] = int(twiml_url.rsplit("call_id=", 1)[1])
            self.placed_at[sid] = stamped.at
        return response

    def sent(self, kind: str) -> list[StampedRequest]:
        return [r for r in self.stamped if r.request.method == "POST" and r.kind == kind]


@dataclass
class Program:
    client: TestClient
    twilio: ClockedTwilio
    clock: FakeClock
    sequence: dict[str, int] = field(default_factory=dict)

    @property
    def state(self) -> AppState:
        return app_state(self.client)

    def run_round(self) -> Round:
        return on_app_loop(self.client, self.state.dispatcher.run_round)

    def add_senior(
        self,
        *,
        name: str = "Mary Smith",
        phone: str = "+13125550101",
        timezone: str = "America/Chicago",
        plan: PlanInput | None = None,
        caregivers: tuple[CaregiverInput, ...] = (),
        consent: bool = True,
        language: str = "en",
    ) -> Senior:
        roster = RosterService(self.state.seniors, self.clock)

        async def add() -> Senior:
            senior = await roster.create(
                SeniorInput(
                    name=name,
                    phone_number=phone,
                    timezone=timezone,
                    caregivers=caregivers,
                    language=language,
                )
            )
            if plan is not None:
                await roster.add_plan(senior.id, plan)
            if consent:
                await roster.record_consent(
                    senior.id, ConsentInput(given_by=name, method="verbal"), recorded_by="tests"
                )
            return await roster.get(senior.id)

        return on_app_loop(self.client, add)

    def checkins(self) -> list[Checkin]:
        async def all_checkins() -> list[Checkin]:
            from sqlalchemy import select

            from carecall.persistence.database import create_session_factory

            async with create_session_factory(self.state.engine)() as session:
                rows = await session.execute(select(Checkin).order_by(Checkin.id))
                return list(rows.scalars().all())

        return on_app_loop(self.client, all_checkins)

    def twilio_says(self, call_sid: str, status: str, **extra: str) -> None:
        """Twilio's status callback for one of our calls, signed, over HTTP."""
        call = self.twilio.calls[call_sid]
        self.sequence[call_sid] = self.sequence.get(call_sid, 0) + 1
        call_id = self.twilio.call_ids[call_sid]
        response = signed_post(
            self.client,
            f"/twilio/status?call_id={call_id}",
            status_params(call_sid, status, self.sequence[call_sid], To=call["to"], **extra),
        )
        assert response.status_code == 204, response.text
        if status in ("completed", "busy", "no-answer", "failed", "canceled"):
            self.twilio.set_call_status(call_sid, status)


def midday_zone(now: datetime) -> str:
    """An IANA zone where it is 11:30–12:29 at `now`, so a daily window around midday is open
    whatever the time a test runs at, and stays open for an hour of the test's clock.
    (`Etc/GMT-3` is UTC+3: the sign is POSIX's.)"""
    offset = 12 - round(now.hour + now.minute / 60 + 1e-9)  # xx:30 rounds up
    return "Etc/GMT" if offset == 0 else f"Etc/GMT{-offset:+d}"


@contextmanager
def running_program(settings: Settings, clock: FakeClock) -> Iterator[Program]:
    twilio = ClockedTwilio(clock)
    app = create_app(settings, twilio_http_client=twilio, clock=clock)
    with TestClient(app) as client:
        app.state.carecall.twilio._retry_base_delay = 0.01
        client.headers["Authorization"] = f"Bearer {add_api_key(client)}"
        yield Program(client, twilio, clock)
