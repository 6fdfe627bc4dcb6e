"""Twilio REST, behind one small class with errors a caller can act on."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

# Twilio's resource classes load lazily on a client's first `calls`/`messages`: about a second
# of imports that would otherwise stall the event loop, and every live call's audio, at the
# first call the process places. Loaded here, at start-up, instead.
import twilio.rest.api.v2010.account  # noqa: F401
from loguru import logger
from twilio.base.exceptions import TwilioRestException
from twilio.http.async_http_client import AsyncHttpClient, AsyncTwilioHttpClient
from twilio.rest import Client

from carecall.settings import MissingConfiguration, Settings

T = TypeVar("T")

# Twilio error codes that mean "this number can't be called", with what to tell a person.
_UNCALLABLE_NUMBER = {
    21211: "This phone number is not valid. Check the number and its country code.",
    21214: "This phone number can't be reached. Check that it is a working phone number.",
    21215: "Calls to this country are not enabled for this Twilio account (geo permissions).",
    21216: "Calls to this phone number are blocked by Twilio.",
    21217: "This phone number doesn't appear to be valid.",
    21219: (
        "This Twilio trial account can only call verified numbers. "
        "Verify the number in Twilio first."
    ),
    13227: "Calls to this country are not enabled for this Twilio account (geo permissions).",
}
# The same for text messages (a caregiver's phone that can't get an SMS).
_UNTEXTABLE_NUMBER = {
    21211: "This phone number is not valid. Check the number and its country code.",
    21408: "Text messages to this country are not enabled for this Twilio account.",
    21610: (
        "This person has replied STOP to our texts, so Twilio won't send them any more "
        "until they reply START."
    ),
    21612: "This phone number can't receive text messages from our Twilio number.",
    21614: "This phone number can't receive text messages (it isn't a mobile number).",
}
_RATE_LIMITED_CODES = {20429}
REQUEST_ATTEMPTS = 4
_NOT_PROCESSED = {429, 503}
"""Statuses that say Twilio did not act on the request (rate limited, "temporarily unable to
service the request, try again"): any request may be sent again."""


class TwilioError(Exception):
    """Twilio refused or failed a request."""

    def __init__(self, message: str, *, code: int | None = None, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.status = status


class NumberNotCallable(TwilioError):
    """Twilio says the destination can't be called (bad number, geo permissions, trial limits)."""


@dataclass(frozen=True)
class PlacedCall:
    sid: str
    status: str


@dataclass(frozen=True)
class TwilioCallState:
    """A call as Twilio's REST API reports it now."""

    sid: str
    status: str
    duration_seconds: int | None
    answered_by: str | None


@dataclass(frozen=True)
class CallbackUrls:
    twiml_url: str
    status_url: str
    amd_url: str | None = None
    """Where Twilio posts its answering-machine verdict (asynchronous AMD); None: no AMD."""


class TwilioGateway:
    """Places and ends calls through the real Twilio SDK (async).

    Retries, with exponential backoff and jitter (4 tries, about 0.5 s, 1 s, 2 s apart):
    * 429 and 503 (Twilio did not act on the request) for every request;
    * other 5xx and network errors only for requests that can be repeated without effect:
      looking up a call and hanging up. Placing a call, texting and redirecting a call
      are not repeated then: a 500 or a lost answer may mean Twilio did place the call or
      queue the text, and the person would be rung or texted twice. The failure is
      reported instead; the check-in or escalation tries again at its next step.
    """

    def __init__(self, settings: Settings, http_client: AsyncHttpClient | None = None) -> None:
        self._settings = settings
        self._http_client = http_client
        self._client: Client | None = None
        self._retry_base_delay = 0.5
        self._error_listeners: list[Callable[[TwilioError], None]] = []

    def on_error(self, listener: Callable[[TwilioError], None]) -> None:
        """Have `listener(error)` told of every request that failed (Twilio refused it or was
        unreachable), e.g. to count them; it is called before the error is raised."""
        self._error_listeners.append(listener)

    def _require_client(self) -> Client:
        missing = [
            name
            for name, value in (
                ("TWILIO_ACCOUNT_SID", self._settings.twilio_account_sid),
                ("TWILIO_AUTH_TOKEN", self._settings.twilio_auth_token),
                ("TWILIO_PHONE_NUMBER", self._settings.twilio_phone_number),
            )
            if not value
        ]
        if missing:
            raise MissingConfiguration("Twilio", missing)
        if self._client is None:
            assert self._settings.twilio_auth_token is not None
            client = Client(
                self._settings.twilio_account_sid,
                self._settings.twilio_auth_token.get_secret_value(),
                http_client=self._http_client or AsyncTwilioHttpClient(timeout=15),
            )
            if self._settings.twilio_api_base_url:
                client.api.base_url = self._settings.twilio_api_base_url.rstrip("/")
            self._client = client
        return self._client

    async def place_call(
        self,
        to_number: str,
        urls: CallbackUrls,
        *,
        pace: Callable[[], Awaitable[None]] | None = None,
    ) -> PlacedCall:
        """Dial `to_number`. With `urls.amd_url`, Twilio also listens for an answering machine
        while the call goes on (asynchronous AMD, waiting for the end of the greeting's beep)
        and posts its verdict there. `pace` (a calls-per-second limit) is awaited last, just
        before the request."""
        client = self._require_client()
        if pace is not None:
            await pace()
        amd: dict[str, object] = (
            {
                "machine_detection": "DetectMessageEnd",
                "async_amd": "true",
                "async_amd_status_callback": urls.amd_url,
                "async_amd_status_callback_method": "POST",
            }
            if urls.amd_url
            else {}
        )
        call = await self._with_retries(
            "place a call",
            lambda: client.calls.create_async(
                to=to_number,
                from_=self._settings.twilio_phone_number,
                url=urls.twiml_url,
                method="POST",
                status_callback=urls.status_url,
                status_callback_event=["initiated", "ringing", "answered", "completed"],
                status_callback_method="POST",
                timeout=self._settings.ring_timeout_seconds,
                **amd,
            ),
        )
        return PlacedCall(sid=str(call.sid), status=str(call.status or "queued"))

    async def send_sms(self, to_number: str, body: str) -> str:
        """Text `body` to `to_number` from our Twilio number; returns the message SID (SM…).
        Twilio queues it: delivery happens (or fails) after this returns."""
        client = self._require_client()
        message = await self._with_retries(
            "send a text message",
            lambda: client.messages.create_async(
                to=to_number, from_=self._settings.twilio_phone_number, body=body
            ),
            uncallable=_UNTEXTABLE_NUMBER,
        )
        return str(message.sid)

    async def call_with_message(self, to_number: str, twiml: str) -> str:
        """Call `to_number` and run `twiml` when it is answered (inline, no webhook to fetch
        it from); returns the call SID (CA…). For short notices, not conversations."""
        client = self._require_client()
        call = await self._with_retries(
            "place a call",
            lambda: client.calls.create_async(
                to=to_number,
                from_=self._settings.twilio_phone_number,
                twiml=twiml,
                timeout=self._settings.ring_timeout_seconds,
            ),
        )
        return str(call.sid)

    async def fetch_call(self, call_sid: str) -> TwilioCallState | None:
        """Where a call stands on Twilio's side (None: Twilio doesn't know it)."""
        client = self._require_client()
        try:
            call = await self._with_retries(
                "look up a call", lambda: client.calls(call_sid).fetch_async(), idempotent=True
            )
        except TwilioError as exc:
            if exc.code == 20404 or exc.status == 404:
                return None
            raise
        duration = str(call.duration or "")
        return TwilioCallState(
            sid=call_sid,
            status=str(call.status),
            duration_seconds=int(duration) if duration.isdigit() else None,
            answered_by=str(call.answered_by) if call.answered_by else None,
        )

    async def call_caregiver(self, to_number: str, twiml: str, status_url: str) -> str:
        """Call a caregiver for a hand-over (`calls.handover`): ``twiml`` runs when they answer
        (inline, the offer and its key press); every step of the call (ringing, answered, and
        how it ended: no-answer, busy, completed, …) is posted to ``status_url``. Returns the
        call SID. Not repeated on a 500 (the caregiver could be rung twice)."""
        client = self._require_client()
        call = await self._with_retries(
            "call the caregiver",
            lambda: client.calls.create_async(
                to=to_number,
                from_=self._settings.twilio_phone_number,
                twiml=twiml,
                status_callback=status_url,
                status_callback_event=["initiated", "ringing", "answered", "completed"],
                status_callback_method="POST",
                timeout=self._settings.ring_timeout_seconds,
            ),
        )
        return str(call.sid)

    async def redirect(self, call_sid: str, twiml: str) -> None:
        """Have a live call run ``twiml`` now, leaving whatever it was doing (a media stream
        ends there: Twilio closes its websocket). Not repeated on a 500."""
        client = self._require_client()
        await self._with_retries(
            "redirect the call", lambda: client.calls(call_sid).update_async(twiml=twiml)
        )

    async def end_call(self, call_sid: str) -> None:
        """Hang up a live call. A call that already ended is not an error."""
        client = self._require_client()
        try:
            await self._with_retries(
                "end a call",
                lambda: client.calls(call_sid).update_async(status="completed"),
                idempotent=True,
            )
        except TwilioError as exc:
            if exc.code == 20404 or exc.status == 404:
                return
            raise

    async def _with_retries(
        self,
        what: str,
        request: Callable[[], Awaitable[T]],
        *,
        uncallable: dict[int, str] = _UNCALLABLE_NUMBER,
        idempotent: bool = False,
    ) -> T:
        """``request()``, retried as the class docstring says (``idempotent``: repeating it
        has no further effect)."""
        for attempt in range(1, REQUEST_ATTEMPTS + 1):
            try:
                return await request()
            except TwilioRestException as exc:
                not_processed = exc.status in _NOT_PROCESSED or exc.code in _RATE_LIMITED_CODES
                if attempt < REQUEST_ATTEMPTS and (
                    not_processed or (idempotent and exc.status >= 500)
                ):
                    await self._back_off(attempt, what, f"Twilio answered {exc.status}")
                    continue
                raise self._failed(_translate(exc, what, uncallable)) from exc
            except MissingConfiguration:
                raise
            except Exception as exc:  # network errors, timeouts
                if idempotent and attempt < REQUEST_ATTEMPTS:
                    await self._back_off(attempt, what, f"could not reach Twilio ({exc})")
                    continue
                raise self._failed(TwilioError(f"Could not reach Twilio to {what}: {exc}")) from exc
        raise AssertionError("unreachable")

    async def _back_off(self, attempt: int, what: str, why: str) -> None:
        delay = self._retry_base_delay * 2 ** (attempt - 1) * random.uniform(0.8, 1.2)
        logger.warning(f"{why} while trying to {what}; retry in {delay:.1f}s")
        await asyncio.sleep(delay)

    def _failed(self, error: TwilioError) -> TwilioError:
        for listener in self._error_listeners:
            listener(error)
        return error


def _translate(
    exc: TwilioRestException, what: str, uncallable: dict[int, str] = _UNCALLABLE_NUMBER
) -> TwilioError:
    code = exc.code if isinstance(exc.code, int) else None
    if code in uncallable:
        return NumberNotCallable(uncallable[code], code=code, status=exc.status)
    if exc.status == 429 or code in _RATE_LIMITED_CODES:
        return TwilioError(
            "Twilio is rate-limiting calls right now; try again in a moment.", code=code, status=429
        )
    detail = exc.msg or "unknown error"
    suffix = f" (Twilio error {code})" if code else ""
    return TwilioError(f"Twilio could not {what}: {detail}{suffix}", code=code, status=exc.status)
