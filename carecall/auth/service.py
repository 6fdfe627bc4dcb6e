"""`AuthService`: passwords (argon2), operators' sessions (kept on the server), API keys (stored
hashed), and login throttling.

A session is a random token in the (signed) session cookie; only its hash is stored
(`persistence.models.OperatorSession`). Signing out ends it, a password change or deleting the
operator ends all of theirs, and one unused for `session_idle` expires: each at once, in every
process, since every request looks the token up.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import re
import secrets
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from carecall.persistence.accounts import ApiKeyRepository, OperatorRepository
from carecall.persistence.models import ApiKey, Operator

API_KEY_PREFIX = "cc"
MIN_PASSWORD_LENGTH = 10
DEFAULT_SESSION_IDLE = timedelta(hours=8)
SESSION_TOUCH_EVERY = timedelta(minutes=1)
"""A session's last use is written at most this often (not on every request)."""
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


class InvalidCredentials(Exception):
    """Wrong email or password (deliberately not saying which)."""


class TooManyAttempts(Exception):
    def __init__(self, retry_after: int) -> None:
        super().__init__(f"Too many failed sign-in attempts. Try again in {retry_after} seconds.")
        self.retry_after = retry_after


class SetupClosed(PermissionError):
    """The first-run setup is over, or its code is wrong; the message says which."""


class WeakPassword(ValueError):
    pass


class UnknownOperator(LookupError):
    """No operator has this email."""

    def __init__(self, email: str) -> None:
        super().__init__(f"There is no operator with the email {email}.")


@dataclass(frozen=True)
class NewApiKey:
    record: ApiKey
    secret: str  # shown once, never stored


class LoginThrottle:
    """At most `max_failures` failed sign-ins per email and per address in `window` seconds.

    Memory stays bounded: each key keeps its last `max_failures` times, and keys whose failures
    have all left the window are dropped once there are more than `max_keys`."""

    def __init__(
        self,
        max_failures: int = 5,
        window: float = 900.0,
        max_keys: int = 10_000,
        clock: Callable[[], float] | None = None,
    ) -> None:
        self._clock = clock
        self._max = max_failures
        self._window = window
        self._max_keys = max_keys
        self._failures: dict[str, deque[float]] = {}

    def check(self, *keys: str) -> None:
        now = self._clock() if self._clock else time.monotonic()
        for key in keys:
            failures = self._failures.get(key)
            if not failures:
                continue
            while failures and now - failures[0] > self._window:
                failures.popleft()
            if len(failures) >= self._max:
                raise TooManyAttempts(int(self._window - (now - failures[0])) + 1)

    def fail(self, *keys: str) -> None:
        now = self._clock() if self._clock else time.monotonic()
        for key in keys:
            self._failures.setdefault(key, deque(maxlen=self._max)).append(now)
        if len(self._failures) > self._max_keys:
            self._forget_before(now - self._window)

    def succeed(self, *keys: str) -> None:
        for key in keys:
            self._failures.pop(key, None)

    def _forget_before(self, oldest: float) -> None:
        for key in [k for k, times in self._failures.items() if not times or times[-1] < oldest]:
            del self._failures[key]


def normalize_email(email: str) -> str:
    return email.strip().lower()


def _check_strength(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise WeakPassword(f"The password must have at least {MIN_PASSWORD_LENGTH} characters.")


def _key_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class AuthService:
    def __init__(
        self,
        operators: OperatorRepository,
        api_keys: ApiKeyRepository,
        throttle: LoginThrottle | None = None,
        *,
        session_idle: timedelta = DEFAULT_SESSION_IDLE,
        now: Callable[[], datetime] | None = None,
    ) -> None:
        self.operators = operators
        self.api_keys = api_keys
        self._throttle = throttle or LoginThrottle()
        self._session_idle = session_idle
        self._now = now or (lambda: datetime.now(UTC))
        self._hasher = PasswordHasher()
        # Verified against when the email is unknown, so both cases take the same time.
        self._dummy_hash = self._hasher.hash(secrets.token_urlsafe(16))
        self.setup_code = secrets.token_urlsafe(18)
        """While there is no operator, whoever has this (it is only in the server's log) may
        create the first, administrator account at `/setup`. A new one each start."""
        self._setup_lock = asyncio.Lock()

    async def needs_setup(self) -> bool:
        return await self.operators.count() == 0

    def is_setup_code(self, code: str) -> bool:
        return hmac.compare_digest(code.encode(), self.setup_code.encode())

    async def create_first_admin(self, code: str, email: str, password: str) -> Operator:
        """The first operator, an administrator, from the setup link's code.

        Raises `SetupClosed` once any operator exists or for a wrong code, `ValueError` /
        `WeakPassword` for the account's details.
        """
        if not self.is_setup_code(code):
            raise SetupClosed("This setup link is not valid: use the one in the server's log.")
        async with self._setup_lock:
            if not await self.needs_setup():
                raise SetupClosed("carecall already has an account: sign in instead.")
            return await self.create_operator(email, password, is_admin=True)

    async def create_operator(self, email: str, password: str, *, is_admin: bool) -> Operator:
        email = normalize_email(email)
        if not _EMAIL.fullmatch(email) or len(email) > 254:
            raise ValueError("Enter a valid email address.")
        _check_strength(password)
        if await self.operators.by_email(email) is not None:
            raise ValueError(f"An operator with the email {email} already exists.")
        password_hash = await asyncio.to_thread(self._hasher.hash, password)
        return await self.operators.create(email, password_hash, is_admin=is_admin)

    async def change_password(self, email: str, password: str) -> Operator:
        """Set the operator's new password and end all their sessions (every browser signs in
        again). Raises `UnknownOperator` or `WeakPassword`."""
        _check_strength(password)
        operator = await self.operators.by_email(normalize_email(email))
        if operator is None:
            raise UnknownOperator(normalize_email(email))
        password_hash = await asyncio.to_thread(self._hasher.hash, password)
        await self.operators.set_password_hash(operator.id, password_hash)
        await self.operators.end_sessions(operator.id)
        return operator

    async def delete_operator(self, email: str) -> None:
        """Delete the operator; their sessions end with them. Raises `UnknownOperator`."""
        operator = await self.operators.by_email(normalize_email(email))
        if operator is None or not await self.operators.delete(operator.id):
            raise UnknownOperator(normalize_email(email))

    # --- sessions --------------------------------------------------------------------------------

    async def start_session(self, operator: Operator) -> str:
        """A new session for the operator (they have just signed in): the token for the cookie."""
        token = secrets.token_urlsafe(32)
        now = self._now()
        await self.operators.start_session(
            operator.id, _key_hash(token), now, idle_since=now - self._session_idle
        )
        return token

    async def session_operator(self, token: str) -> Operator | None:
        """The operator whose live session ``token`` is, else None (signed out, ended by a
        password change or deletion, or idle longer than `session_idle`)."""
        if not token:
            return None
        now = self._now()
        return await self.operators.session_operator(
            _key_hash(token),
            idle_since=now - self._session_idle,
            touch_before=now - SESSION_TOUCH_EVERY,
            now=now,
        )

    async def end_session(self, token: str) -> None:
        if token:
            await self.operators.end_session(_key_hash(token))

    async def _verify(self, password_hash: str, password: str) -> bool:
        """argon2 takes tens of milliseconds of CPU: off the event loop, where calls' audio is."""
        try:
            return await asyncio.to_thread(self._hasher.verify, password_hash, password)
        except (VerificationError, InvalidHashError):
            return False

    async def authenticate(self, email: str, password: str, client_address: str) -> Operator:
        email = normalize_email(email)
        keys = (f"email:{email[:254]}", f"address:{client_address}")
        self._throttle.check(*keys)
        # Counted as a failure until it succeeds: attempts sent all at once can't each pass the
        # check before the others are counted.
        self._throttle.fail(*keys)
        operator = await self.operators.by_email(email)
        stored_hash = operator.password_hash if operator else self._dummy_hash
        if not await self._verify(stored_hash, password) or operator is None:
            raise InvalidCredentials
        self._throttle.succeed(*keys)
        if self._hasher.check_needs_rehash(operator.password_hash):
            new_hash = await asyncio.to_thread(self._hasher.hash, password)
            await self.operators.set_password_hash(operator.id, new_hash)
        await self.operators.note_login(operator.id)
        return operator

    async def create_api_key(self, name: str) -> NewApiKey:
        name = name.strip()
        if not name or len(name) > 100:
            raise ValueError("Give the key a name of 1 to 100 characters.")
        prefix = secrets.token_hex(6)
        secret = secrets.token_urlsafe(32)
        record = await self.api_keys.create(name, prefix, _key_hash(secret))
        return NewApiKey(record, f"{API_KEY_PREFIX}_{prefix}_{secret}")

    async def api_key_for(self, presented: str) -> ApiKey | None:
        """The active key matching `presented` (`cc_<prefix>_<secret>`), or None."""
        parts = presented.split("_", 2)
        if len(parts) != 3 or parts[0] != API_KEY_PREFIX:
            return None
        key = await self.api_keys.active_by_prefix(parts[1])
        if key is None or not hmac.compare_digest(key.key_hash, _key_hash(parts[2])):
            return None
        await self.api_keys.note_use(key.id)
        return key
