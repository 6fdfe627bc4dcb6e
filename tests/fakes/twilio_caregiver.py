"""A simulated caregiver on a hand-over call (`carecall.calls.handover`): their phone, and what
Twilio does around carecall's call to it, over the same fake Twilio REST API that recorded the
call being placed (`tests.fakes.twilio_http.FakeTwilioApi`).

Twilio runs the call's inline TwiML (a `<Gather>` reading the offer), so the caregiver "hears"
its `<Say>`s; every step is posted to carecall as Twilio posts it, signed over the public URL:
the status callbacks (``ringing``, ``in-progress``, and how the call ended: ``no-answer``,
``busy``, ``completed``), and a key press to the `<Gather>`'s action (``Digits``). The TwiML a
key press gets back is followed as Twilio would: `<Dial><Conference>` puts the caregiver in
that room (`FakeTwilioApi.join_conference`)::

    tom = SimulatedCaregiver(fake_twilio, "+14155550191", http, auth_token=TOKEN)
    await tom.wait_for_call()
    await tom.ring()
    offer = await tom.answer()         # what the caregiver hears
    answer = await tom.press("1")      # carecall's TwiML back; tom.room is where they are now
"""

from __future__ import annotations

import asyncio
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx
from twilio.request_validator import RequestValidator

from tests.fakes.twilio_http import FakeTwilioApi, conference_room


@dataclass
class PlacedCall:
    """carecall's call to the caregiver, as the fake Twilio recorded its creation."""

    sid: str
    twiml: str
    status_url: str


class SimulatedCaregiver:
    """One caregiver's phone. ``http`` posts to carecall (its base URL is where Twilio's public
    URLs are delivered: the path and query of each are kept)."""

    def __init__(
        self, api: FakeTwilioApi, number: str, http: httpx.AsyncClient, *, auth_token: str
    ) -> None:
        self.api = api
        self.number = number
        self._http = http
        self._validator = RequestValidator(auth_token)
        self._seen = 0
        self._sequence = 0
        self.call: PlacedCall | None = None
        self.room: str | None = None
        """The conference room they were put in, once a key press's answer put them there."""

    # --- being called ------------------------------------------------------------------------

    def calls_placed(self) -> list[PlacedCall]:
        """Every call carecall placed to this number so far, oldest first."""
        placed: list[PlacedCall] = []
        for request in list(self.api.requests):
            data = request.data
            if request.method != "POST" or not request.url.endswith("/Calls.json"):
                continue
            if data.get("To") != self.number or "Twiml" not in data:
                continue
            sid = next(
                (
                    sid
                    for sid, call in list(self.api.calls.items())
                    if call["to"] == self.number and sid not in {p.sid for p in placed}
                ),
                None,
            )
            if sid is not None:
                placed.append(PlacedCall(sid, str(data["Twiml"]), str(data["StatusCallback"])))
        return placed

    async def wait_for_call(self, timeout: float = 20.0) -> PlacedCall:
        """Until carecall places a (further) call to this number."""
        deadline = time.monotonic() + timeout
        while True:
            placed = self.calls_placed()
            if len(placed) > self._seen:
                self._seen = len(placed)
                self.call = placed[-1]
                self._sequence = 0
                self.room = None
                return self.call
            if time.monotonic() > deadline:
                raise AssertionError(f"carecall never called {self.number}")
            await asyncio.sleep(0.05)

    async def ring(self) -> None:
        for status in ("initiated", "ringing"):
            self.api.set_call_status(self._placed.sid, status)
            await self._status(status)

    async def answer(self) -> list[str]:
        """Pick up: returns what the caregiver hears (the offer's `<Say>`s, in order)."""
        self.api.set_call_status(self._placed.sid, "in-progress")
        await self._status("in-progress")
        return [say.text or "" for say in ET.fromstring(self._placed.twiml).iter("Say")]

    async def press(self, digits: str) -> ET.Element:
        """Press ``digits`` during the offer: Twilio posts them to the `<Gather>`'s action.
        Returns carecall's TwiML; a `<Dial><Conference>` in it puts them in that room."""
        gather = ET.fromstring(self._placed.twiml).find("Gather")
        assert gather is not None, "the offer has no <Gather>"
        params = self._params("in-progress", Digits=digits, FinishedOnKey="", msg="Gather End")
        response = await self._post(gather.get("action", ""), params)
        assert response.status_code == 200, response.text
        twiml = ET.fromstring(response.text)
        room = conference_room(response.text)
        if room is not None:
            self.room = room
            self.api.join_conference(room, self._placed.sid)
        return twiml

    async def hang_up(self, duration: int = 10) -> None:
        """Hang up (after answering: without a key press, or after talking)."""
        self.api.set_call_status(self._placed.sid, "completed")
        await self._status("completed", CallDuration=str(duration))

    async def miss(self, status: str = "no-answer") -> None:
        """The call ends unanswered: ``no-answer``, ``busy`` or ``failed``."""
        self.api.set_call_status(self._placed.sid, status)
        await self._status(status, CallDuration="0")

    @property
    def cancelled(self) -> bool:
        """Whether carecall ended this call itself (the REST update `Status=completed`)."""
        sid = self._placed.sid
        return any(
            r.method == "POST" and r.url.endswith(f"/Calls/{sid}.json") and "Status" in r.data
            for r in list(self.api.requests)
        )

    # --- Twilio's webhooks -------------------------------------------------------------------

    @property
    def _placed(self) -> PlacedCall:
        assert self.call is not None, "wait_for_call() first"
        return self.call

    def _params(self, status: str, **extra: str) -> dict[str, str]:
        call = self.api.calls[self._placed.sid]
        return {
            "AccountSid": str(call["account_sid"]),
            "ApiVersion": "2010-04-01",
            "CallSid": self._placed.sid,
            "CallStatus": status,
            "Direction": "outbound-api",
            "From": str(call["from"]),
            "To": self.number,
            "Called": self.number,
            "Caller": str(call["from"]),
            **extra,
        }

    async def _status(self, status: str, **extra: str) -> None:
        self._sequence += 1
        params = self._params(status, SequenceNumber=str(self._sequence), **extra)
        response = await self._post(self._placed.status_url, params)
        assert response.status_code == 204, response.text

    async def _post(self, url: str, params: dict[str, str]) -> httpx.Response:
        signature = self._validator.compute_signature(url, params)
        parts = urlsplit(url)
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        return await self._http.post(path, data=params, headers={"X-Twilio-Signature": signature})
