"""Who may talk to us: Twilio signatures on webhooks and the media websocket, per-call tokens."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping

from twilio.request_validator import RequestValidator


class TwilioSignatureChecker:
    """Checks `X-Twilio-Signature` against the *public* URL Twilio called.

    Behind a proxy the URL the request arrives on differs from the one Twilio signed, so the URL
    is rebuilt from WEBHOOK_URL plus the request's path and query.
    """

    def __init__(self, auth_token: str | None, public_base_url: str | None) -> None:
        self._validator = RequestValidator(auth_token) if auth_token else None
        self._base = public_base_url.rstrip("/") if public_base_url else None

    @property
    def configured(self) -> bool:
        return self._validator is not None and self._base is not None

    def public_url(self, path: str, query: str = "", *, websocket: bool = False) -> str:
        assert self._base is not None
        base = self._base
        if websocket:
            base = "wss://" + base.split("://", 1)[1]
        return f"{base}{path}" + (f"?{query}" if query else "")

    def is_valid(
        self,
        signature: str | None,
        path: str,
        query: str,
        params: Mapping[str, str],
        *,
        websocket: bool = False,
    ) -> bool:
        if not signature or self._validator is None or self._base is None:
            return False
        url = self.public_url(path, query, websocket=websocket)
        return bool(self._validator.validate(url, dict(params), signature))


class CallTokens:
    """A per-call secret passed to Twilio as a stream `<Parameter>` and checked on the websocket.

    Stateless (an HMAC of the call id), so any server instance can check it.
    """

    def __init__(self, secret: str) -> None:
        self._key = hashlib.sha256(("carecall-call-token:" + secret).encode()).digest()

    def issue(self, call_id: int) -> str:
        return hmac.new(self._key, str(call_id).encode(), hashlib.sha256).hexdigest()

    def verify(self, call_id: int, token: str) -> bool:
        return hmac.compare_digest(self.issue(call_id), token)


class HandoverTokens:
    """The secret in the webhook URLs of a hand-over call to a caregiver (`calls.handover`):
    an HMAC of the person's call and the leg (which caregiver, in order), so that a signed
    request about one leg can't act on another call or leg. It also names the conference the
    two are joined in, which nobody can guess. Stateless, so any server instance can check it.
    """

    def __init__(self, secret: str) -> None:
        self._key = hashlib.sha256(("carecall-handover:" + secret).encode()).digest()

    def issue(self, call_id: int, leg: int) -> str:
        return self._mac(f"leg:{call_id}:{leg}")

    def verify(self, call_id: int, leg: int, token: str) -> bool:
        return hmac.compare_digest(self.issue(call_id, leg), token)

    def room(self, call_id: int) -> str:
        """The conference the person and the caregiver who accepted meet in."""
        return f"carecall-{call_id}-{self._mac(f'room:{call_id}')[:20]}"

    def _mac(self, message: str) -> str:
        return hmac.new(self._key, message.encode(), hashlib.sha256).hexdigest()
