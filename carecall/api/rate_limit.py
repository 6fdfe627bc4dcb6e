"""API rate limits: a token bucket per API key or operator session.

In memory, per process: behind a load balancer with N instances a client may make up to N times
the limit. Twilio webhooks and the media websocket are not limited here (Twilio proves itself by
its signatures, and a call's audio must never be refused for being busy).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from fastapi import HTTPException, status


class RateLimited(Exception):
    def __init__(self, retry_after: int) -> None:
        super().__init__(f"rate limited for {retry_after} s")
        self.retry_after = retry_after


@dataclass
class _Bucket:
    tokens: float
    updated: float


class TokenBucket:
    """`per_minute` requests a minute per key, in bursts of up to `per_minute`.

    Each key's bucket holds up to `per_minute` tokens and refills at `per_minute / 60` a second;
    a request takes one. Memory stays bounded: past `max_keys` keys, full buckets (keys idle for a
    minute or more) are forgotten."""

    def __init__(
        self,
        per_minute: int,
        *,
        clock: Callable[[], float] = time.monotonic,
        max_keys: int = 10_000,
    ) -> None:
        if per_minute < 1:
            raise ValueError("per_minute must be at least 1")
        self.per_minute = per_minute
        self._rate = per_minute / 60.0
        self._clock = clock
        self._max_keys = max_keys
        self._buckets: dict[str, _Bucket] = {}

    def take(self, key: str) -> None:
        """Take one token for `key`, or raise `RateLimited` with the seconds until one is
        back."""
        now = self._clock()
        bucket = self._buckets.get(key)
        if bucket is None:
            if len(self._buckets) >= self._max_keys:
                self._forget_full(now)
            bucket = self._buckets[key] = _Bucket(float(self.per_minute), now)
        else:
            elapsed = max(0.0, now - bucket.updated)
            bucket.tokens = min(float(self.per_minute), bucket.tokens + elapsed * self._rate)
            bucket.updated = now
        if bucket.tokens < 1.0:
            raise RateLimited(max(1, math.ceil((1.0 - bucket.tokens) / self._rate)))
        bucket.tokens -= 1.0

    def _forget_full(self, now: float) -> None:
        full_after = 60.0
        for key in [k for k, b in self._buckets.items() if now - b.updated >= full_after]:
            del self._buckets[key]


class ApiRateLimit:
    """The API's limit per caller (`API_RATE_LIMIT_PER_MINUTE`; 0 turns it off)."""

    def __init__(self, per_minute: int, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._bucket = TokenBucket(per_minute, clock=clock) if per_minute > 0 else None

    def check(self, caller: str) -> None:
        """Count one request by `caller` (e.g. `api_key:3`); HTTP 429 with Retry-After when it
        is over the limit."""
        if self._bucket is None:
            return
        try:
            self._bucket.take(caller)
        except RateLimited as exc:
            raise HTTPException(
                status.HTTP_429_TOO_MANY_REQUESTS,
                f"Too many requests: the API allows {self._bucket.per_minute} a minute per API "
                f"key or session. Try again in {exc.retry_after} seconds.",
                headers={"Retry-After": str(exc.retry_after)},
            ) from None
