"""A fake Twilio REST API behind the SDK's own HTTP-client interface.

Pass it to the real SDK and everything but the network runs for real::

    fake = FakeTwilioHttpClient()
    client = Client("AC...", "token", http_client=fake)
    call = client.calls.create(to="+14155550100", from_="+14155550199", url=...)
    assert fake.requests[-1].data["To"] == "+14155550100"

``FakeAsyncTwilioHttpClient`` does the same for the SDK's ``*_async`` methods. Both answer the
Calls resource (create, fetch, update) and the Messages resource (send an SMS, fetch it) with
realistic JSON, record every request and can be told to fail the next request with a Twilio
error. They are thread-safe: the server may call the sync client from a worker thread.

``FakeTwilioApi`` is the state and routing they share; ``tests.fakes.twilio_rest_server`` serves
the same object over real HTTP (for a server in another process, e.g. the benchmark).
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
import uuid
import xml.etree.ElementTree as ET
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

from twilio.http import AsyncHttpClient, HttpClient
from twilio.http.response import Response

API_VERSION = "2010-04-01"
TERMINAL_CALL_STATUSES = frozenset({"completed", "busy", "no-answer", "canceled", "failed"})

_logger = logging.getLogger("tests.fakes.twilio_http")
_CALLS_PATH = re.compile(
    rf"^/{API_VERSION}/Accounts/(?P<account>AC[0-9a-fA-F]{{32}})/Calls(?:/(?P<call>CA[0-9a-fA-F]{{32}}))?\.json$"
)
_MESSAGES_PATH = re.compile(
    rf"^/{API_VERSION}/Accounts/(?P<account>AC[0-9a-fA-F]{{32}})/Messages(?:/(?P<message>SM[0-9a-fA-F]{{32}}))?\.json$"
)
MAX_MESSAGE_BODY = 1600
"""Twilio refuses a longer body (error 21617)."""


@dataclass
class RecordedRequest:
    """One request the SDK made, exactly as it handed it to the HTTP client."""

    method: str
    url: str
    params: dict[str, Any]
    data: dict[str, Any]
    headers: dict[str, str]
    auth: tuple[str, str] | None
    at: float = field(default_factory=time.monotonic)
    """When it arrived (monotonic): for rates across processes sharing one fake."""


@dataclass(frozen=True)
class _QueuedError:
    status: int
    code: int
    message: str


def conference_room(twiml: str) -> str | None:
    """The room a piece of TwiML dials into (`<Dial><Conference>room</Conference></Dial>`)."""
    if "<Conference" not in twiml:
        return None
    try:
        conference = ET.fromstring(twiml).find("Dial/Conference")
    except ET.ParseError:
        return None
    return conference.text if conference is not None and conference.text else None


def _rfc2822_now() -> str:
    return datetime.now(UTC).strftime("%a, %d %b %Y %H:%M:%S +0000")


def _json_response(status: int, body: dict[str, Any]) -> Response:
    return Response(status, json.dumps(body), {"Content-Type": "application/json"})


def _segments(body: str) -> int:
    """How many SMS parts a GSM-7 body is sent as: one up to 160 characters, else 153 each."""
    return 1 if len(body) <= 160 else -(-len(body) // 153)


def _error_response(status: int, code: int, message: str) -> Response:
    return _json_response(
        status,
        {
            "code": code,
            "message": message,
            "more_info": f"https://www.twilio.com/docs/errors/{code}",
            "status": status,
        },
    )


class FakeTwilioApi:
    """Twilio's Calls and Messages resources: state and routing shared by the HTTP-client fakes
    and the HTTP server fake. One request in, one `twilio.http.response.Response` out."""

    def __init__(self) -> None:
        self.requests: list[RecordedRequest] = []
        self.calls: dict[str, dict[str, Any]] = {}
        """Call resources by SID, as the API would return them."""
        self.messages: dict[str, dict[str, Any]] = {}
        """Message resources (SMS sent) by SID, as the API would return them."""
        self.conferences: dict[str, list[str]] = {}
        """Who is in which conference room: the SIDs of the calls moved there by an update with
        `<Dial><Conference>` TwiML, and of those that joined from a webhook's TwiML
        (`join_conference`, e.g. a simulated caregiver), in the order they came in."""
        self._errors: deque[_QueuedError] = deque()
        self._lock = threading.Lock()

    def queue_error(self, status: int, code: int, message: str) -> None:
        """Make the next request (whatever it is) fail with this Twilio error."""
        with self._lock:
            self._errors.append(_QueuedError(status, code, message))

    def set_call_status(self, call_sid: str, status: str) -> None:
        """Move a call on as Twilio would (e.g. to "in-progress"), for later fetches."""
        with self._lock:
            self._set_status(self.calls[call_sid], status)

    def join_conference(self, room: str, call_sid: str) -> None:
        """A call runs `<Dial><Conference>room</Conference>` (TwiML from a webhook's answer)."""
        with self._lock:
            self.conferences.setdefault(room, []).append(call_sid)

    def handle(
        self,
        method: str,
        url: str,
        params: dict[str, Any] | None,
        data: dict[str, Any] | None,
        headers: dict[str, str] | None,
        auth: tuple[str, str] | None,
    ) -> Response:
        """Record one request and answer it as Twilio would (or with a queued error)."""
        method = method.upper()
        form = dict(data or {})
        with self._lock:
            self.requests.append(
                RecordedRequest(method, url, dict(params or {}), form, dict(headers or {}), auth)
            )
            if self._errors:
                error = self._errors.popleft()
                return _error_response(error.status, error.code, error.message)
            return self._route(method, url, form)

    def _route(self, method: str, url: str, form: dict[str, Any]) -> Response:
        message_match = _MESSAGES_PATH.match(urlsplit(url).path)
        if message_match is not None:
            return self._route_message(
                method, url, form, message_match["account"], message_match["message"]
            )
        match = _CALLS_PATH.match(urlsplit(url).path)
        if match is None:
            return self._not_found(url)
        account_sid, call_sid = match["account"], match["call"]
        if call_sid is None:
            if method == "POST":
                return self._create_call(account_sid, form)
            return self._not_found(url)
        call = self.calls.get(call_sid)
        if call is None or call["account_sid"] != account_sid:
            return self._not_found(url)
        if method == "GET":
            return _json_response(200, call)
        if method == "POST":
            if "Status" in form:
                self._set_status(call, str(form["Status"]))
            room = conference_room(str(form.get("Twiml", "")))
            if room is not None and call["status"] not in TERMINAL_CALL_STATUSES:
                self.conferences.setdefault(room, []).append(call_sid)
            call["date_updated"] = _rfc2822_now()
            return _json_response(200, call)
        return self._not_found(url)

    def _create_call(self, account_sid: str, form: dict[str, Any]) -> Response:
        if "To" not in form or "From" not in form:
            missing = "To" if "To" not in form else "From"
            return _error_response(400, 21201, f"Missing required parameter {missing}.")
        if not any(key in form for key in ("Url", "Twiml", "ApplicationSid")):
            return _error_response(
                400,
                21205,
                "A 'Url', 'Twiml', or 'ApplicationSid' parameter is required.",
            )
        call_sid = "CA" + uuid.uuid4().hex
        uri = f"/{API_VERSION}/Accounts/{account_sid}/Calls/{call_sid}"
        now = _rfc2822_now()
        call: dict[str, Any] = {
            "account_sid": account_sid,
            "annotation": None,
            "answered_by": None,
            "api_version": API_VERSION,
            "caller_name": None,
            "date_created": now,
            "date_updated": now,
            "direction": "outbound-api",
            "duration": None,
            "end_time": None,
            "forwarded_from": None,
            "from": form["From"],
            "from_formatted": form["From"],
            "group_sid": None,
            "parent_call_sid": None,
            "phone_number_sid": "PN" + uuid.uuid4().hex,
            "price": None,
            "price_unit": "USD",
            "queue_time": "0",
            "sid": call_sid,
            "start_time": None,
            "status": "queued",
            "stir_verstat": None,
            "to": form["To"],
            "to_formatted": form["To"],
            "trunk_sid": None,
            "uri": f"{uri}.json",
            "subresource_uris": {
                name: f"{uri}/{path}.json"
                for name, path in (
                    ("notifications", "Notifications"),
                    ("recordings", "Recordings"),
                    ("payments", "Payments"),
                    ("events", "Events"),
                    ("siprec", "Siprec"),
                    ("streams", "Streams"),
                    ("transcriptions", "Transcriptions"),
                    (
                        "user_defined_message_subscriptions",
                        "UserDefinedMessageSubscriptions",
                    ),
                    ("user_defined_messages", "UserDefinedMessages"),
                )
            },
        }
        self.calls[call_sid] = call
        return _json_response(201, call)

    def _route_message(
        self,
        method: str,
        url: str,
        form: dict[str, Any],
        account_sid: str,
        message_sid: str | None,
    ) -> Response:
        if message_sid is None:
            if method == "POST":
                return self._create_message(account_sid, form)
            return self._not_found(url)
        message = self.messages.get(message_sid)
        if method != "GET" or message is None or message["account_sid"] != account_sid:
            return self._not_found(url)
        return _json_response(200, message)

    def _create_message(self, account_sid: str, form: dict[str, Any]) -> Response:
        # The checks Twilio makes before accepting a message, with its codes and wording.
        if not form.get("To"):
            return _error_response(400, 21604, "A 'To' phone number is required.")
        if not form.get("From") and not form.get("MessagingServiceSid"):
            return _error_response(400, 21603, "A 'From' phone number is required.")
        body = str(form.get("Body", ""))
        if not body and not form.get("MediaUrl") and not form.get("ContentSid"):
            return _error_response(400, 21602, "Message body is required.")
        if len(body) > MAX_MESSAGE_BODY:
            return _error_response(
                400, 21617, "The concatenated message body exceeds the 1600 character limit."
            )
        message_sid = "SM" + uuid.uuid4().hex
        uri = f"/{API_VERSION}/Accounts/{account_sid}/Messages/{message_sid}"
        now = _rfc2822_now()
        message: dict[str, Any] = {
            "account_sid": account_sid,
            "api_version": API_VERSION,
            "body": body,
            "date_created": now,
            "date_sent": None,
            "date_updated": now,
            "direction": "outbound-api",
            "error_code": None,
            "error_message": None,
            "from": form.get("From"),
            "messaging_service_sid": form.get("MessagingServiceSid"),
            "num_media": "0",
            "num_segments": str(_segments(body)),
            "price": None,
            "price_unit": "USD",
            "sid": message_sid,
            "status": "queued",
            "subresource_uris": {"media": f"{uri}/Media.json", "feedback": f"{uri}/Feedback.json"},
            "to": form["To"],
            "uri": f"{uri}.json",
        }
        self.messages[message_sid] = message
        return _json_response(201, message)

    @staticmethod
    def _set_status(call: dict[str, Any], status: str) -> None:
        if call["status"] in TERMINAL_CALL_STATUSES:
            return  # an ended call stays ended, as on Twilio
        now = _rfc2822_now()
        if status == "in-progress" and call["start_time"] is None:
            call["start_time"] = now
        if status in TERMINAL_CALL_STATUSES:
            call["end_time"] = now
            # Twilio's duration: whole seconds from answer to end (0 if never answered).
            started = call["start_time"]
            seconds = (
                (parsedate_to_datetime(now) - parsedate_to_datetime(started)).total_seconds()
                if started is not None
                else 0
            )
            call["duration"] = str(int(seconds))
        call["status"] = status
        call["date_updated"] = now

    @staticmethod
    def _not_found(url: str) -> Response:
        return _error_response(
            404, 20404, f"The requested resource {urlsplit(url).path} was not found"
        )


class FakeTwilioHttpClient(FakeTwilioApi, HttpClient):
    """Sync fake: ``Client(sid, token, http_client=FakeTwilioHttpClient())``."""

    def __init__(self) -> None:
        FakeTwilioApi.__init__(self)
        HttpClient.__init__(self, _logger, is_async=False)

    def request(
        self,
        method: str,
        url: str,
        params: dict[str, Any] | None = None,
        data: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        timeout: float | None = None,
        allow_redirects: bool = False,
    ) -> Response:
        return self.handle(method, url, params, data, headers, auth)


class FakeAsyncTwilioHttpClient(FakeTwilioApi, AsyncHttpClient):
    """Async fake for the SDK's ``*_async`` methods (``calls.create_async`` etc.)."""

    def __init__(self) -> None:
        FakeTwilioApi.__init__(self)
        AsyncHttpClient.__init__(self, _logger, is_async=True)

    async def request(
        self,
        method: str,
        url: str,
        params: dict[str, Any] | None = None,
        data: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        timeout: float | None = None,
        allow_redirects: bool = False,
    ) -> Response:
        return self.handle(method, url, params, data, headers, auth)

    async def close(self) -> None:
        """Nothing to release; present because the real async client has it."""
