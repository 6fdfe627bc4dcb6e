"""`/metrics`: Prometheus' text format, open without sign-in but outside the API schema; the
series move with what happens (turn latency, errors by kind, final statuses, dispatcher lag),
and an instance counts only its own events when Redis brings it everyone's."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from carecall.core.events import CallEvent
from carecall.persistence.models import TurnRole
from carecall.pipeline.events import CallNote, TurnRecord
from carecall.pipeline.redis_bus import RedisEventBus
from carecall.settings import Settings
from tests.api.support import (
    app_state,
    make_client,
    on_app_loop,
    place_call,
    signed_post,
    status_params,
)
from tests.checkins.clocks import FakeClock
from tests.checkins.program import running_program
from tests.checkins.test_dispatcher import chicago, weekday_plan
from tests.fakes.twilio_http import FakeAsyncTwilioHttpClient
from tests.redis_support import TEST_REDIS_URL, unique_channel

Labels = dict[str, str]


def scrape(client: TestClient) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of `/metrics`, by (name, sorted labels)."""
    response = client.get("/metrics")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def value(client: TestClient, name: str, **labels: str) -> float:
    return scrape(client)[(name, tuple(sorted(labels.items())))]


def until_value(client: TestClient, expected: float, name: str, **labels: str) -> None:
    deadline = time.monotonic() + 5
    while value(client, name, **labels) != expected:
        assert time.monotonic() < deadline, f"{name}{labels} never became {expected}"
        time.sleep(0.02)


@pytest.fixture
def fake_twilio() -> FakeAsyncTwilioHttpClient:
    return FakeAsyncTwilioHttpClient()


@pytest.fixture
def client(
    make_settings: Callable[..., Settings], fake_twilio: FakeAsyncTwilioHttpClient
) -> Iterator[TestClient]:
    yield from make_client(make_settings(), fake_twilio)


def test_every_series_is_there_without_sign_in_and_outside_the_api_schema(
    make_settings: Callable[..., Settings],
) -> None:
    for anonymous in make_client(make_settings(), FakeAsyncTwilioHttpClient(), api_key=False):
        samples = scrape(anonymous)
        assert samples[("carecall_active_calls", ())] == 0
        assert samples[("carecall_turn_latency_seconds_count", ())] == 0
        assert ("carecall_turn_latency_seconds_bucket", (("le", "1.0"),)) in samples
        for kind in ("call", "twilio", "webhook_rejected"):
            assert samples[("carecall_errors_total", (("kind", kind),))] == 0
        for status in ("completed", "busy", "no-answer", "canceled", "failed"):
            assert samples[("carecall_calls_total", (("status", status),))] == 0
        assert samples[("carecall_dispatcher_lag_seconds", ())] == 0
        paths = anonymous.get("/openapi.json").json()["paths"]
        assert not {"/metrics", "/readyz", "/healthz"} & set(paths)


def test_active_calls_are_the_conversations_running_here(client: TestClient) -> None:
    state = app_state(client)

    async def start_two() -> list[asyncio.Task[None]]:
        tasks = [asyncio.create_task(asyncio.sleep(60)) for _ in range(2)]
        for call_id, task in enumerate(tasks, start=1):
            state.active_calls.started(call_id, task)
        return tasks

    tasks = on_app_loop(client, start_two)
    assert value(client, "carecall_active_calls") == 2

    async def end_one() -> None:
        state.active_calls.ended(1)
        tasks[0].cancel()

    on_app_loop(client, end_one)
    assert value(client, "carecall_active_calls") == 1


def test_the_bots_answer_latency_is_a_histogram(client: TestClient) -> None:
    call = place_call(client)
    now = datetime.now(UTC)
    writer = app_state(client).writer
    for record in (
        TurnRecord(call["id"], 1, TurnRole.ASSISTANT, "Hello!", now, now, False, None),
        TurnRecord(call["id"], 2, TurnRole.USER, "Hi", now, now, False, None),
        TurnRecord(call["id"], 3, TurnRole.ASSISTANT, "Lovely.", now, now, False, 640),
        TurnRecord(call["id"], 4, TurnRole.USER, "Yes", now, now, False, None),
        TurnRecord(call["id"], 5, TurnRole.ASSISTANT, "Goodbye.", now, now, False, 1900),
    ):
        writer.submit(record)
    until_value(client, 2, "carecall_turn_latency_seconds_count")
    assert value(client, "carecall_turn_latency_seconds_sum") == pytest.approx(2.54)
    assert value(client, "carecall_turn_latency_seconds_bucket", le="0.75") == 1
    assert value(client, "carecall_turn_latency_seconds_bucket", le="2.0") == 2


def test_errors_are_counted_by_kind(
    client: TestClient, fake_twilio: FakeAsyncTwilioHttpClient
) -> None:
    call = place_call(client)
    app_state(client).writer.submit(CallNote(call["id"], error="Speech-to-text timed out"))
    until_value(client, 1, "carecall_errors_total", kind="call")

    fake_twilio.queue_error(400, 21215, "Geo permission not enabled")
    refused = client.post("/api/calls", json={"to": "+14155550100"})
    assert refused.status_code >= 400
    assert value(client, "carecall_errors_total", kind="twilio") == 1
    assert value(client, "carecall_calls_total", status="failed") == 1

    forged = signed_post(
        client,
        f"/twilio/status?call_id={call['id']}",
        status_params(call["twilio_sid"], "completed", 9),
        headers={"X-Twilio-Signature": "forged"},
    )
    assert forged.status_code == 403
    assert value(client, "carecall_errors_total", kind="webhook_rejected") == 1
    assert value(client, "carecall_errors_total", kind="call") == 1


def test_a_final_status_is_counted_once(client: TestClient) -> None:
    call = place_call(client)
    path = f"/twilio/status?call_id={call['id']}"
    for sequence, status in enumerate(("ringing", "in-progress", "completed")):
        signed_post(client, path, status_params(call["twilio_sid"], status, sequence))
    late = status_params(call["twilio_sid"], "completed", 3, CallDuration="42")
    assert signed_post(client, path, late).status_code == 204  # changes the call: told again
    samples = scrape(client)
    assert samples[("carecall_calls_total", (("status", "completed"),))] == 1
    assert samples[("carecall_calls_total", (("status", "failed"),))] == 0


def test_dispatcher_lag_is_how_long_the_oldest_due_checkin_has_waited(
    make_settings: Callable[..., Settings], database_url: str
) -> None:
    clock = FakeClock(chicago(2, 9, 0))
    with running_program(make_settings(database_url=database_url), clock) as program:
        program.add_senior(plan=weekday_plan())  # window 10:00-11:00 Chicago
        program.run_round()  # check-ins made; none is due
        assert value(program.client, "carecall_dispatcher_lag_seconds") == 0

        clock.set(chicago(2, 10, 1) + timedelta(seconds=30))  # due since 10:00, no round since
        assert value(program.client, "carecall_dispatcher_lag_seconds") == 90

        program.run_round()  # dialed: nothing due waits any more
        assert len(program.twilio.sent("call")) == 1
        assert value(program.client, "carecall_dispatcher_lag_seconds") == 0


def test_with_redis_an_instance_counts_only_its_own_events(
    make_settings: Callable[..., Settings],
) -> None:
    channel = unique_channel()
    settings = make_settings(redis_url=TEST_REDIS_URL, redis_channel=channel)
    for client in make_client(settings, FakeAsyncTwilioHttpClient()):
        state = app_state(client)
        assert isinstance(state.bus, RedisEventBus)
        now = datetime.now(UTC)
        elsewhere = [
            CallEvent("call.error", 77, {"error": "on another instance"}),
            TurnRecord(77, 1, TurnRole.ASSISTANT, "Hi", now, now, False, 500).to_event(),
        ]

        async def other_instance_publishes(events: list[CallEvent]) -> None:
            other = RedisEventBus(TEST_REDIS_URL, channel=channel)
            await other.start()
            for event in events:
                await other.publish(event)
            await other.stop()

        on_app_loop(client, other_instance_publishes, elsewhere)
        deadline = time.monotonic() + 5
        while [item.event for item in state.feed.buffered()][-2:] != elsewhere:
            assert time.monotonic() < deadline, "the other instance's events never arrived"
            time.sleep(0.02)
        assert value(client, "carecall_errors_total", kind="call") == 0  # heard, not counted
        assert value(client, "carecall_turn_latency_seconds_count") == 0

        call = place_call(client)
        state.writer.submit(CallNote(call["id"], error="here"))
        until_value(client, 1, "carecall_errors_total", kind="call")


def test_each_services_circuit_state_is_a_gauge(client: TestClient) -> None:
    breakers = app_state(client).service_clients.breakers
    services = ("speech-to-text", "language model", "text-to-speech")
    for service in services:
        assert value(client, "carecall_circuit_open", service=service) == 0
    for _ in range(breakers.llm.threshold):
        breakers.llm.record_failure()
    assert value(client, "carecall_circuit_open", service="language model") == 1
    assert value(client, "carecall_circuit_open", service="text-to-speech") == 0
    breakers.llm.record_success()
    assert value(client, "carecall_circuit_open", service="language model") == 0
