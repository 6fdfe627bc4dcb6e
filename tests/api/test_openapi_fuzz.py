"""Schemathesis against the OpenAPI spec: every operation, with data that fits the spec and data
that does not, sent with an API key to the real server on loopback (Twilio's HTTP API faked),
on both databases (PostgreSQL's 32-bit ids and 64-bit offsets fail where SQLite's don't).
No answer may be a server error, and documented answers must match their schemas."""

from __future__ import annotations

from collections.abc import Callable

import hypothesis
import hypothesis.errors
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Ok
from schemathesis.specs.openapi.checks import response_schema_conformance

from carecall.settings import Settings
from tests.e2e.harness import LiveServer, create_api_key, free_port
from tests.fakes.twilio_http import FakeAsyncTwilioHttpClient

EXAMPLES_PER_OPERATION = 20
"""Per operation and mode (data that fits the spec, data that does not): 40 an operation, about
800 requests in all, in about 30 s."""

pytestmark = pytest.mark.filterwarnings(
    "ignore::hypothesis.errors.HypothesisDeprecationWarning"  # schemathesis's own strategies
)


async def test_no_operation_answers_with_a_server_error(
    make_settings: Callable[..., Settings], database_url: str
) -> None:
    api_key = await create_api_key(database_url)
    port = free_port()
    settings = make_settings(
        database_url=database_url,
        webhook_url=f"http://127.0.0.1:{port}",
        api_rate_limit_per_minute=0,  # the fuzzer is one key sending as fast as it can
        log_level="ERROR",
    )
    with LiveServer(settings, FakeAsyncTwilioHttpClient(), port) as server:
        failures = _fuzz(server.base_url, api_key)
    assert not failures, "\n\n".join(failures)


def _fuzz(base_url: str, api_key: str) -> list[str]:
    schema = schemathesis.openapi.from_url(base_url + "/openapi.json")
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {api_key}"
    failures: list[str] = []
    operations = []
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), f"the spec has an invalid operation: {result.err()}"
        operations.append(result.ok())
    assert len(operations) >= 20, [op.label for op in operations]
    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @hypothesis.settings(
                max_examples=EXAMPLES_PER_OPERATION,
                derandomize=True,
                deadline=None,
                database=None,
                phases=[Phase.explicit, Phase.generate],
                suppress_health_check=list(HealthCheck),
            )
            @hypothesis.given(case=operation.as_strategy(generation_mode=mode))
            def check(case: schemathesis.Case) -> None:
                case.call_and_validate(
                    session=session,
                    timeout=10,
                    checks=[not_a_server_error, response_schema_conformance],
                )

            try:
                check()
            except hypothesis.errors.Unsatisfiable:
                # Nothing in this operation can be made invalid (a form Twilio posts, a body of
                # optional fields): its positive run covered it.
                assert mode is GenerationMode.NEGATIVE, operation.label
            except (Exception, ExceptionGroup) as exc:  # reported, then the next operation runs
                failures.append(f"{operation.label} ({mode.value}): {exc}")
    return failures
