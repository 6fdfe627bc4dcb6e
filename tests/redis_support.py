"""The real Redis on loopback for tests, a channel of each test's own, and a TCP proxy in front
of Redis that a test can take down and bring back (a Redis that goes away and returns)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import socket
import threading
from urllib.parse import urlsplit

TEST_REDIS_URL = os.environ.get("CARECALL_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def unique_channel() -> str:
    """Pub/sub channels are server-wide: every test (and everyone's test run) gets its own."""
    return f"carecall-test:{secrets.token_hex(6)}"


def closed_port() -> int:
    """A loopback port nothing listens on (a Redis that is down)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def redis_url_via(port: int, client_name: str | None = None) -> str:
    """TEST_REDIS_URL's database, reached on 127.0.0.1:`port` instead."""
    parts = urlsplit(TEST_REDIS_URL)
    query = f"?client_name={client_name}" if client_name else ""
    return f"redis://127.0.0.1:{port}{parts.path}{query}"


class TcpProxy:
    """Forwards 127.0.0.1:`port` to Redis (or to ``target``, e.g. PostgreSQL). `stop()` drops
    every connection and stops listening, as a server that crashed would; `start()` again on
    the same port brings it back. `black_hole()` is a network that drops packets instead:
    nothing is refused or closed, every connection (open or new) just hangs, bytes in and none
    out; `restore()` ends it, and the connections that hung are reset, as their peers would
    have given up on them."""

    def __init__(self, target: tuple[str, int] | None = None) -> None:
        redis = urlsplit(TEST_REDIS_URL)
        self._target = target or (redis.hostname or "127.0.0.1", redis.port or 6379)
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._silent = False
        self.port = 0

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._connection, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        self._silent = False
        if self._server is not None:
            self._server.close()
        for writer in list(self._writers):
            writer.transport.abort()
        self._writers.clear()
        if self._server is not None:
            with contextlib.suppress(Exception):
                await self._server.wait_closed()
            self._server = None

    async def black_hole(self) -> None:
        self._silent = True

    async def restore(self) -> None:
        self._silent = False
        for writer in list(self._writers):
            writer.transport.abort()
        self._writers.clear()

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self._silent:
            self._writers.add(writer)
            try:
                while await reader.read(65536):
                    pass
            finally:
                writer.transport.abort()
                self._writers.discard(writer)
            return
        try:
            up_reader, up_writer = await asyncio.open_connection(*self._target)
        except OSError:
            writer.transport.abort()
            return
        self._writers.update((writer, up_writer))
        await asyncio.gather(
            self._pipe(reader, up_writer), self._pipe(up_reader, writer), return_exceptions=True
        )

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                if self._silent:
                    continue  # dropped on the way
                writer.write(data)
                await writer.drain()
        finally:
            writer.transport.abort()
            self._writers.discard(writer)


class ProxyThread:
    """A `TcpProxy` on an event loop of its own thread, for tests whose app runs under a
    TestClient (on the client's loop) or in another process."""

    def __init__(self, target: tuple[str, int] | None = None) -> None:
        self.proxy = TcpProxy(target)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)

    @property
    def port(self) -> int:
        return self.proxy.port

    def start(self) -> None:
        asyncio.run_coroutine_threadsafe(self.proxy.start(), self._loop).result(10)

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self.proxy.stop(), self._loop).result(10)

    def black_hole(self) -> None:
        asyncio.run_coroutine_threadsafe(self.proxy.black_hole(), self._loop).result(10)

    def restore(self) -> None:
        asyncio.run_coroutine_threadsafe(self.proxy.restore(), self._loop).result(10)

    def __enter__(self) -> ProxyThread:
        self._thread.start()
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()
