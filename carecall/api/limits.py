"""Size limits on what clients send: HTTP bodies (413) and websocket messages (1009), and a cap
on media websockets still waiting for their `start` message."""

from __future__ import annotations

import json

from loguru import logger
from starlette.types import ASGIApp, Message, Receive, Scope, Send


class BodySizeLimit:
    """Answer 413 to HTTP requests whose body is larger than `max_bytes`, declared or streamed.

    carecall's requests are small (JSON, Twilio forms), so the body is read up front, up to the
    limit, and handed to the app in one piece.
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_bytes):
            await self._reject(send)
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client went away
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await self._reject(send)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        delivered = False

        async def replay() -> Message:
            nonlocal delivered
            if not delivered:
                delivered = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _reject(self, send: Send) -> None:
        body = json.dumps(
            {"detail": f"Request body too large (the limit is {self.max_bytes // 1024} KiB)."}
        ).encode()
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
        ]
        await send({"type": "http.response.start", "status": 413, "headers": headers})
        await send({"type": "http.response.body", "body": body})


MESSAGE_TOO_BIG = 1009


class WebSocketMessageLimit:
    """Close websockets (1009, "message too big") that send a message over `max_bytes`.

    Applies to every websocket (`/ws`, `/ws/dashboard`, …): Twilio's media messages are a few
    hundred bytes and the dashboard sends nothing, so a larger message is not ours. The app sees
    the close as a disconnect; anything it sends afterwards is dropped.
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "websocket":
            await self.app(scope, receive, send)
            return
        closed = False

        async def limited_receive() -> Message:
            nonlocal closed
            if closed:
                return {"type": "websocket.disconnect", "code": MESSAGE_TOO_BIG}
            message = await receive()
            if message["type"] == "websocket.receive":
                data = message.get("text")
                size = len(data.encode()) if data is not None else len(message.get("bytes") or b"")
                if size > self.max_bytes:
                    closed = True
                    logger.warning(
                        f"Closed a websocket on {scope.get('path')}: a message of {size} bytes "
                        f"(the limit is {self.max_bytes // 1024} KiB)"
                    )
                    await send(
                        {"type": "websocket.close", "code": MESSAGE_TOO_BIG, "reason": "too big"}
                    )
                    return {"type": "websocket.disconnect", "code": MESSAGE_TOO_BIG}
            return message

        async def guarded_send(message: Message) -> None:
            if not closed:
                await send(message)

        await self.app(scope, limited_receive, guarded_send)


class PendingStreams:
    """Counts media websockets that passed the signature check but have not yet sent a valid
    `start`; past `limit`, new ones are turned away (1013, try again later), so a flood of idle
    connections can't hold the server's sockets and memory. Real Twilio streams send `start` within
    milliseconds of connecting, so each is pending only for a moment."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.count = 0

    def enter(self) -> bool:
        if self.count >= self.limit:
            return False
        self.count += 1
        return True

    def leave(self) -> None:
        self.count -= 1
