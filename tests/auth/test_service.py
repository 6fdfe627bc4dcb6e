"""`AuthService` on a real database (SQLite, then PostgreSQL): argon2 password hashes, operator
validation, sign-in and its throttle, and API keys that are shown once and stored hashed."""

from __future__ import annotations

import asyncio
import hashlib

import pytest
from argon2 import PasswordHasher
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from carecall.auth import service as auth_service
from carecall.auth.service import (
    AuthService,
    InvalidCredentials,
    LoginThrottle,
    TooManyAttempts,
    WeakPassword,
)
from carecall.persistence.accounts import ApiKeyRepository, OperatorRepository
from carecall.persistence.database import create_session_factory
from carecall.persistence.models import ApiKey, Operator

EMAIL = "nurse@example.org"
PASSWORD = "correct horse battery staple"
ADDRESS = "192.0.2.10"


@pytest.fixture
def auth(engine: AsyncEngine) -> AuthService:
    sessions = create_session_factory(engine)
    return AuthService(OperatorRepository(sessions), ApiKeyRepository(sessions))


async def _stored_operators(engine: AsyncEngine) -> list[Operator]:
    async with create_session_factory(engine)() as session:
        return list((await session.execute(select(Operator))).scalars())


async def _stored_keys(engine: AsyncEngine) -> list[ApiKey]:
    async with create_session_factory(engine)() as session:
        return list((await session.execute(select(ApiKey))).scalars())


class FakeClock:
    """Stands in for `time.monotonic` in the throttle."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    fake = FakeClock()
    monkeypatch.setattr(auth_service.time, "monotonic", fake)
    return fake


# --- operators --------------------------------------------------------------------------------


async def test_only_an_argon2_hash_of_the_password_is_stored(
    auth: AuthService, engine: AsyncEngine
) -> None:
    created = await auth.create_operator("  Nurse@Example.ORG ", PASSWORD, is_admin=True)

    [stored] = await _stored_operators(engine)
    assert stored.id == created.id
    assert stored.email == EMAIL  # trimmed and lower-cased
    assert stored.is_admin
    assert PASSWORD not in stored.password_hash
    assert stored.password_hash.startswith("$argon2id$")
    assert PasswordHasher().verify(stored.password_hash, PASSWORD)


async def test_two_operators_with_one_password_get_different_hashes(
    auth: AuthService, engine: AsyncEngine
) -> None:
    await auth.create_operator("a@example.org", PASSWORD, is_admin=False)
    await auth.create_operator("b@example.org", PASSWORD, is_admin=False)

    first, second = await _stored_operators(engine)
    assert first.password_hash != second.password_hash  # salted


@pytest.mark.parametrize(
    ("email", "password", "error", "message"),
    [
        pytest.param(EMAIL, "too-short", WeakPassword, "at least 10 characters", id="short"),
        pytest.param(EMAIL, "", WeakPassword, "at least 10 characters", id="empty password"),
        pytest.param("not-an-email", PASSWORD, ValueError, "valid email", id="no at"),
        pytest.param("nurse@", PASSWORD, ValueError, "valid email", id="no domain"),
        pytest.param("nurse@localhost", PASSWORD, ValueError, "valid email", id="no dot"),
        pytest.param("a b@example.org", PASSWORD, ValueError, "valid email", id="space"),
        pytest.param("", PASSWORD, ValueError, "valid email", id="empty email"),
        pytest.param("x" * 250 + "@example.org", PASSWORD, ValueError, "valid email", id="long"),
    ],
)
async def test_invalid_operators_are_refused(
    auth: AuthService,
    engine: AsyncEngine,
    email: str,
    password: str,
    error: type[Exception],
    message: str,
) -> None:
    with pytest.raises(error, match=message):
        await auth.create_operator(email, password, is_admin=True)
    assert await _stored_operators(engine) == []


async def test_an_email_is_taken_once_whatever_its_case(
    auth: AuthService, engine: AsyncEngine
) -> None:
    await auth.create_operator(EMAIL, PASSWORD, is_admin=True)

    with pytest.raises(ValueError, match="already exists"):
        await auth.create_operator("NURSE@example.org", "another long password", is_admin=False)
    assert len(await _stored_operators(engine)) == 1


async def test_a_duplicate_the_check_misses_is_still_refused(auth: AuthService) -> None:
    """Two creations at once both pass the lookup; the unique index refuses the second."""
    await auth.create_operator(EMAIL, PASSWORD, is_admin=True)

    with pytest.raises(ValueError, match="already exists"):
        await auth.operators.create(EMAIL, "$argon2id$not-checked", is_admin=False)


# --- signing in -------------------------------------------------------------------------------


async def test_the_right_password_signs_in(auth: AuthService, engine: AsyncEngine) -> None:
    created = await auth.create_operator(EMAIL, PASSWORD, is_admin=True)

    operator = await auth.authenticate(" NURSE@example.org", PASSWORD, ADDRESS)

    assert operator.id == created.id
    [stored] = await _stored_operators(engine)
    assert stored.last_login_at is not None


@pytest.mark.parametrize(
    ("email", "password"),
    [
        pytest.param(EMAIL, PASSWORD + "!", id="wrong password"),
        pytest.param(EMAIL, "", id="empty password"),
        pytest.param("nobody@example.org", PASSWORD, id="unknown email"),
    ],
)
async def test_wrong_credentials_get_one_error_that_says_nothing_more(
    auth: AuthService, email: str, password: str
) -> None:
    await auth.create_operator(EMAIL, PASSWORD, is_admin=True)

    with pytest.raises(InvalidCredentials) as refused:
        await auth.authenticate(email, password, ADDRESS)
    assert str(refused.value) == ""  # neither "unknown email" nor "wrong password"


async def test_five_failures_lock_the_account_then_the_window_passes(
    auth: AuthService, clock: FakeClock
) -> None:
    await auth.create_operator(EMAIL, PASSWORD, is_admin=True)
    for _ in range(5):
        with pytest.raises(InvalidCredentials):
            await auth.authenticate(EMAIL, "wrong password", ADDRESS)
        clock.now += 1

    # Now even the right password is refused, with the time to wait.
    with pytest.raises(TooManyAttempts) as throttled:
        await auth.authenticate(EMAIL, PASSWORD, ADDRESS)
    assert 0 < throttled.value.retry_after <= 900
    assert str(throttled.value.retry_after) in str(throttled.value)

    # From another address, the account is still locked (attackers have many addresses).
    with pytest.raises(TooManyAttempts):
        await auth.authenticate(EMAIL, PASSWORD, "198.51.100.7")

    clock.now += throttled.value.retry_after
    assert (await auth.authenticate(EMAIL, PASSWORD, ADDRESS)).email == EMAIL


async def test_one_address_guessing_many_accounts_is_throttled(
    auth: AuthService, clock: FakeClock
) -> None:
    await auth.create_operator(EMAIL, PASSWORD, is_admin=True)
    for n in range(5):
        with pytest.raises(InvalidCredentials):
            await auth.authenticate(f"guess{n}@example.org", "wrong password", ADDRESS)

    with pytest.raises(TooManyAttempts):
        await auth.authenticate(EMAIL, PASSWORD, ADDRESS)
    # The operator, elsewhere, is not locked out by someone else's guessing.
    assert (await auth.authenticate(EMAIL, PASSWORD, "198.51.100.7")).email == EMAIL


async def test_a_successful_sign_in_resets_the_count(auth: AuthService, clock: FakeClock) -> None:
    await auth.create_operator(EMAIL, PASSWORD, is_admin=True)
    for _ in range(4):
        with pytest.raises(InvalidCredentials):
            await auth.authenticate(EMAIL, "wrong password", ADDRESS)
    await auth.authenticate(EMAIL, PASSWORD, ADDRESS)

    for _ in range(4):
        with pytest.raises(InvalidCredentials):
            await auth.authenticate(EMAIL, "wrong password", ADDRESS)
    assert (await auth.authenticate(EMAIL, PASSWORD, ADDRESS)).email == EMAIL


def test_throttle_forgets_failures_older_than_its_window(clock: FakeClock) -> None:
    throttle = LoginThrottle(max_failures=2, window=60)
    throttle.fail("k")
    clock.now += 30
    throttle.fail("k")
    with pytest.raises(TooManyAttempts) as throttled:
        throttle.check("k")
    assert throttled.value.retry_after == 31  # until the first failure is 60 s old

    clock.now += 31
    throttle.check("k")  # one failure left in the window
    throttle.check("other")


# --- API keys ---------------------------------------------------------------------------------


async def test_an_api_key_is_shown_once_and_stored_hashed(
    auth: AuthService, engine: AsyncEngine
) -> None:
    key = await auth.create_api_key("  nightly export ")

    assert key.record.name == "nightly export"
    assert key.secret.startswith(f"cc_{key.record.prefix}_")
    secret_part = key.secret.split("_", 2)[2]
    assert len(secret_part) >= 40

    [stored] = await _stored_keys(engine)
    assert stored.prefix == key.record.prefix
    assert stored.key_hash != secret_part and secret_part not in stored.key_hash
    assert key.secret not in (stored.key_hash, stored.prefix, stored.name)
    assert stored.key_hash == hashlib.sha256(secret_part.encode()).hexdigest()
    assert stored.revoked_at is None and stored.last_used_at is None


async def test_each_api_key_is_new(auth: AuthService) -> None:
    first = await auth.create_api_key("one")
    second = await auth.create_api_key("one")

    assert first.secret != second.secret
    assert first.record.prefix != second.record.prefix


async def test_a_valid_api_key_is_recognised_and_its_use_noted(
    auth: AuthService, engine: AsyncEngine
) -> None:
    key = await auth.create_api_key("export")

    found = await auth.api_key_for(key.secret)

    assert found is not None and found.id == key.record.id
    [stored] = await _stored_keys(engine)
    assert stored.last_used_at is not None


@pytest.mark.parametrize("name", ["", "   ", "x" * 101])
async def test_api_keys_need_a_name(auth: AuthService, engine: AsyncEngine, name: str) -> None:
    with pytest.raises(ValueError, match="name"):
        await auth.create_api_key(name)
    assert await _stored_keys(engine) == []


async def test_wrong_unknown_malformed_and_revoked_keys_are_refused(auth: AuthService) -> None:
    key = await auth.create_api_key("export")
    other = await auth.create_api_key("other")
    _, prefix, secret = key.secret.split("_", 2)
    other_secret = other.secret.split("_", 2)[2]

    refused = [
        f"cc_{prefix}_{secret[:-1]}",  # one character short
        f"cc_{prefix}_{secret}x",
        f"cc_{prefix}_{other_secret}",  # another key's secret
        f"cc_{'0' * 12}_{secret}",  # unknown prefix
        f"xx_{prefix}_{secret}",
        f"cc_{prefix}",
        secret,
        "",
    ]
    for presented in refused:
        assert await auth.api_key_for(presented) is None, presented

    assert await auth.api_keys.revoke(key.record.id)
    assert await auth.api_key_for(key.secret) is None
    assert not await auth.api_keys.revoke(key.record.id)  # once
    assert await auth.api_key_for(other.secret) is not None  # the others still work


async def test_attempts_sent_all_at_once_are_all_counted(auth: AuthService) -> None:
    await auth.create_operator(EMAIL, PASSWORD, is_admin=True)

    outcomes = await asyncio.gather(
        *(auth.authenticate(EMAIL, f"guess {n}", ADDRESS) for n in range(20)),
        return_exceptions=True,
    )

    assert sum(isinstance(o, InvalidCredentials) for o in outcomes) == 5
    assert sum(isinstance(o, TooManyAttempts) for o in outcomes) == 15


def test_throttle_memory_stays_bounded(clock: FakeClock) -> None:
    throttle = LoginThrottle(max_failures=3, window=60, max_keys=100)
    for n in range(100):
        throttle.fail(f"address:{n}")
    clock.now += 61
    for n in range(100, 150):
        throttle.fail(f"address:{n}")

    assert len(throttle._failures) <= 100
    for _ in range(10):
        throttle.fail("address:busy")
    assert len(throttle._failures["address:busy"]) == 3
    with pytest.raises(TooManyAttempts):
        throttle.check("address:busy")
