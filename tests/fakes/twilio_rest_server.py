"""The fake Twilio REST API (``tests.fakes.twilio_http.FakeTwilioApi``) over real HTTP.

For a carecall server in another process (the benchmark, manual runs): point it here with
``TWILIO_API_BASE_URL`` and the real SDK's ``AsyncTwilioHttpClient`` talks plain HTTP to it::

    python -m tests.fakes.twilio_rest_server --port 0

prints ``READY http://127.0.0.1:PORT`` once listening. It answers the Calls resource exactly
like the in-process fakes (create ``POST /2010-04-01/Accounts/{AC}/Calls.json``, fetch and
update ``/Calls/{CA}.json``; anything else is Twilio's 404), because it hands every request to
the same ``FakeTwilioApi``. Control endpoints: ``GET /control/requests`` (everything recorded)
and ``POST /control/queue_error {"status", "code", "message"}`` (fail the next request).
"""

from __future__ import annotations

import argparse
import asyncio
import binascii
import signal
from base64 import b64decode
from dataclasses import asdict
from typing import Any

from aiohttp import web

from tests.fakes.twilio_http import FakeTwilioApi

# Headers aiohttp sets itself from the body; copying Twilio's would contradict it.
_HOP_BY_HOP = frozenset({"content-length", "transfer-encoding", "connection", "content-type"})


def _basic_auth(header: str | None) -> tuple[str, str] | None:
    """``Authorization: Basic …`` → (user, password), as the SDK passed ``auth``."""
    if not header or not header.lower().startswith("basic "):
        return None
    try:
        user, _, password = b64decode(header[6:].strip()).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return user, password


def _form_fields(form: Any) -> dict[str, Any]:
    """A multidict form → the SDK's ``data`` shape: repeated keys become lists."""
    fields: dict[str, Any] = {}
    for key in form:
        if key in fields:
            continue
        values = [str(value) for value in form.getall(key)]
        fields[key] = values if len(values) > 1 else values[0]
    return fields


class FakeTwilioRestServer:
    """An aiohttp server in front of one ``FakeTwilioApi`` (``api``, for inspection)."""

    def __init__(
        self, *, host: str = "127.0.0.1", port: int = 0, api: FakeTwilioApi | None = None
    ) -> None:
        self.api = api or FakeTwilioApi()
        self.base_url = ""
        self._host = host
        self._port = port
        self._runner: web.AppRunner | None = None

    async def start(self) -> str:
        """Start listening; return the base URL, e.g. ``http://127.0.0.1:43123``."""
        if self._runner is not None:
            raise RuntimeError("the fake Twilio REST server is already started")
        app = web.Application()
        app.router.add_get("/control/requests", self._control_requests)
        app.router.add_post("/control/queue_error", self._control_queue_error)
        app.router.add_route("*", "/{tail:.*}", self._twilio)
        runner = web.AppRunner(app, handle_signals=False, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, self._host, self._port).start()
        self._runner = runner
        host, port = runner.addresses[0][:2]
        self.base_url = f"http://{host}:{port}"
        return self.base_url

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _twilio(self, request: web.Request) -> web.Response:
        form = _form_fields(await request.post()) if request.method == "POST" else {}
        answer = self.api.handle(
            request.method,
            str(request.url),
            dict(request.query),
            form,
            dict(request.headers),
            _basic_auth(request.headers.get("Authorization")),
        )
        headers = {
            key: value
            for key, value in dict(answer.headers or {}).items()
            if key.lower() not in _HOP_BY_HOP
        }
        return web.Response(
            status=answer.status_code,
            text=answer.text,
            content_type="application/json",
            headers=headers,
        )

    async def _control_requests(self, request: web.Request) -> web.Response:
        return web.json_response([asdict(recorded) for recorded in self.api.requests])

    async def _control_queue_error(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.api.queue_error(int(body["status"]), int(body["code"]), str(body["message"]))
        return web.json_response({"ok": True})


async def _serve(host: str, port: int) -> None:
    server = FakeTwilioRestServer(host=host, port=port)
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stopping.set)
    print(f"READY {await server.start()}", flush=True)
    try:
        await stopping.wait()
    finally:
        await server.stop()


def main(argv: list[str] | None = None) -> None:
    """Command-line entry point: ``python -m tests.fakes.twilio_rest_server``."""
    parser = argparse.ArgumentParser(description="A fake Twilio REST API (Calls) over HTTP.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    args = parser.parse_args(argv)
    asyncio.run(_serve(args.host, args.port))


if __name__ == "__main__":
    main()
