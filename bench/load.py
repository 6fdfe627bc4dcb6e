"""Load run of a carecall cluster: many concurrent simulated phone calls for minutes, against
several instances on one PostgreSQL database and Redis; then every turn is checked in the database.

    .venv/bin/python -m bench.load --calls 50 --minutes 2 --instances 2

It starts the fake OpenAI (STT, LLM, TTS with set latencies) and the fake Twilio REST API as
processes, K carecall instances (`uvicorn server:app`, each a process of its own) sharing a new
PostgreSQL database (made on ``--postgres`` and dropped afterwards) and a Redis channel of their
own, and one public WEBHOOK_URL, as behind a load balancer. Each call is placed through one
instance's API; Twilio's callbacks and the media stream land on the next instance, as they may
behind a load balancer. A simulated caller greets, then answers in real time until the call has
lasted ``--minutes``, says goodbye, and the bot hangs up.

Then, for every call, what the database holds is compared with what happened: each sentence the
caller said stored once as its own user turn, in order; a bot turn for the greeting and for each
answer; sequence numbers 1…n with no gap or repeat; the call completed and ended by the bot.
Exit status 1 on any failed call, lost or duplicated turn, or error in a server's log.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import os
import secrets
import shutil
import sys
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import httpx
from twilio.request_validator import RequestValidator

from bench.calls import (
    FROM_NUMBER,
    GOODBYE,
    MB,
    TO_NUMBER,
    PeakRss,
    Secrets,
    Service,
    SpeechEndSpacer,
    Voices,
    add_simulation_options,
    connect_caller,
    count_log_lines,
    create_api_key,
    fake_openai_args,
    free_port,
    kill_leftovers,
    own_cpu_seconds,
    percentile,
    pick_up,
    prepare_speech,
    sentence,
    server_env,
    start_fake,
    start_server,
)
from carecall.persistence.database import create_engine, create_session_factory
from carecall.persistence.models import Call, CallStatus, TurnRole
from carecall.persistence.repositories import CallRepository
from tests.fakes.twilio_caller import SimulatedCaller

DEFAULT_POSTGRES = os.environ.get(
    "CARECALL_BENCH_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
)
DEFAULT_REDIS = os.environ.get("CARECALL_BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")


# ---------------------------------------------------------------------------------- results


@dataclass
class LoadCall:
    """One simulated call, as its caller experienced it and as the database stored it."""

    index: int
    placed_on: int
    """The instance whose API placed it."""
    served_by: int
    """The instance Twilio's callbacks and the media stream reached."""
    ok: bool = False
    error: str | None = None
    call_id: int | None = None
    said: list[str] = field(default_factory=list)
    answers_heard: int = 0
    """Bot utterances heard after the greeting: one per caller line (the goodbye's included)."""
    latencies_s: list[float] = field(default_factory=list)
    duration_s: float = 0.0
    underruns: int = 0
    protocol_errors: int = 0
    lost: list[str] = field(default_factory=list)
    """What was said or answered but is not in the database."""
    duplicated: list[str] = field(default_factory=list)
    """What the database holds more often than it happened."""
    problems: list[str] = field(default_factory=list)
    """Anything else the database holds wrongly (status, end reason, sequence numbers)."""


# ---------------------------------------------------------------------------------- cluster


@dataclass
class Cluster:
    """The processes of one load run and what a caller needs to reach them."""

    instances: list[Service]
    openai: Service
    twilio: Service
    public_url: str
    """Every instance's WEBHOOK_URL: what Twilio signs for (the load balancer's address)."""
    keys: Secrets
    api_key: str
    database_url: str


def _admin_dsn(url: str) -> str:
    parts = urlsplit(url.replace("postgresql+asyncpg://", "postgresql://"))
    return urlunsplit(parts._replace(path="/postgres"))


@contextlib.asynccontextmanager
async def own_database(server_url: str) -> AsyncIterator[str]:
    """A new PostgreSQL database on ``server_url``'s server; yields its DATABASE_URL; dropped
    at the end."""
    name = f"carecall_load_{secrets.token_hex(4)}"
    admin = await asyncpg.connect(_admin_dsn(server_url))
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        yield urlunsplit(urlsplit(server_url)._replace(path=f"/{name}"))
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


@contextlib.asynccontextmanager
async def running_cluster(args: argparse.Namespace, workdir: Path) -> AsyncIterator[Cluster]:
    async with contextlib.AsyncExitStack() as exits:
        database_url = await exits.enter_async_context(own_database(args.postgres))
        api_key = await create_api_key(database_url)  # migrates before any instance starts
        openai = await start_fake(
            "fake-openai", "tests.fakes.openai_server", fake_openai_args(args), workdir
        )
        exits.push_async_callback(openai.stop)
        twilio = await start_fake("fake-twilio", "tests.fakes.twilio_rest_server", [], workdir)
        exits.push_async_callback(twilio.stop)
        keys = Secrets("AC" + secrets.token_hex(16), secrets.token_hex(16))
        ports = [free_port() for _ in range(args.instances)]
        public_url = f"http://127.0.0.1:{ports[0]}"
        env = server_env(
            openai.url,
            CARECALL_ENV="development",
            DATABASE_URL=database_url,
            REDIS_URL=args.redis,
            REDIS_CHANNEL=f"carecall-load:{secrets.token_hex(6)}",
            TWILIO_ACCOUNT_SID=keys.account_sid,
            TWILIO_AUTH_TOKEN=keys.auth_token,
            TWILIO_PHONE_NUMBER=FROM_NUMBER,
            TWILIO_API_BASE_URL=twilio.url,
            WEBHOOK_URL=public_url,
            SESSION_SECRET=secrets.token_urlsafe(36),
            LOG_LEVEL="INFO",
        )
        instances = list(
            await asyncio.gather(
                *(
                    start_server(f"carecall-{i}", "server:app", port, env, workdir, "load")
                    for i, port in enumerate(ports)
                )
            )
        )
        for instance in instances:
            exits.push_async_callback(instance.stop)
        yield Cluster(instances, openai, twilio, public_url, keys, api_key, database_url)


@dataclass
class Load:
    """What every call of the run shares."""

    cluster: Cluster
    api: list[httpx.AsyncClient]
    """Per instance, signed in with the API key."""
    webhooks: list[httpx.AsyncClient]
    """Per instance, for Twilio's requests (signed for the public URL, no API key)."""
    voices: Voices
    seconds: float
    wait_s: float

    async def twilio_post(self, instance: int, path: str, params: dict[str, str]) -> httpx.Response:
        validator = RequestValidator(self.cluster.keys.auth_token)
        signature = validator.compute_signature(self.cluster.public_url + path, params)
        response = await self.webhooks[instance].post(
            path, data=params, headers={"X-Twilio-Signature": signature}
        )
        if response.status_code >= 300:
            raise RuntimeError(f"{path} answered {response.status_code}: {response.text[:200]}")
        return response


# ---------------------------------------------------------------------------------- one call


async def run_call(load: Load, index: int, start_delay: float) -> LoadCall:
    """Greeting; a line and its answer until ``load.seconds`` have passed; goodbye; the bot
    hangs up; Twilio reports the end."""
    count = len(load.cluster.instances)
    result = LoadCall(index, placed_on=index % count, served_by=(index + 1) % count)
    await asyncio.sleep(start_delay)
    caller: SimulatedCaller | None = None
    try:
        placed = await load.api[result.placed_on].post("/api/calls", json={"to": TO_NUMBER})
        if placed.status_code != 201:
            raise RuntimeError(f"POST /api/calls answered {placed.status_code}: {placed.text}")
        result.call_id, call_sid = int(placed.json()["id"]), str(placed.json()["twilio_sid"])
        instance = result.served_by
        caller = await pick_up(
            functools.partial(load.twilio_post, instance),
            load.cluster.instances[instance].url.replace("http://", "ws://") + "/ws",
            result.call_id,
            call_sid,
            load.cluster.keys,
        )
        await connect_caller(caller)
        await caller.wait_for_bot_utterance(timeout=load.wait_s)
        while time.monotonic() - caller.connected_at < load.seconds:
            text = sentence(index, len(result.said))
            result.said.append(text)
            finished_at = await load.voices.speak(caller, text)
            reply = await caller.wait_for_bot_utterance(timeout=load.wait_s)
            result.answers_heard += 1
            result.latencies_s.append(reply.started_at - finished_at)
        result.said.append(GOODBYE)
        await load.voices.speak(caller, GOODBYE)
        await caller.wait_until_closed(timeout=load.wait_s)  # the bot says goodbye, hangs up
        result.answers_heard += 1
        result.duration_s = time.monotonic() - caller.connected_at
        await load.twilio_post(
            result.served_by,
            f"/twilio/status?call_id={result.call_id}",
            {
                "CallSid": call_sid,
                "CallStatus": "completed",
                "SequenceNumber": "3",
                "CallDuration": str(round(result.duration_s)),
            },
        )
        result.ok = True
    except Exception as exc:
        result.error = f"call {index}: {type(exc).__name__}: {exc}"
        if caller is not None:
            with contextlib.suppress(Exception):
                await caller.hang_up()
    finally:
        if caller is not None:
            result.underruns = sum(u.underruns for u in caller.utterances)
            result.protocol_errors = len(caller.protocol_errors)
    return result


# ---------------------------------------------------------------------------------- checks


def compare(result: LoadCall, call: Call | None) -> None:
    """Fill ``result.lost``, ``duplicated`` and ``problems`` from what the database holds."""
    if call is None:
        result.lost = [f"user: {text}" for text in result.said]
        result.problems.append("the call is not in the database")
        return
    turns = sorted(call.turns, key=lambda t: t.sequence)
    sequences = [t.sequence for t in turns]
    if sequences != list(range(1, len(turns) + 1)):
        result.problems.append(f"sequence numbers {sequences}")
    stored = Counter(f"user: {t.text}" for t in turns if t.role is TurnRole.USER)
    said = Counter(f"user: {text}" for text in result.said)
    result.lost = list((said - stored).elements())
    result.duplicated = list((stored - said).elements())
    user_order = [t.text for t in turns if t.role is TurnRole.USER]
    if not result.lost and not result.duplicated and user_order != result.said:
        result.problems.append(f"user turns out of order: {user_order}")
    bot = sum(t.role is TurnRole.ASSISTANT for t in turns)
    heard = 1 + result.answers_heard  # the greeting, then one answer per line
    if bot < heard:
        result.lost += [f"assistant: {heard - bot} of {heard} answers"]
    elif bot > heard:
        result.duplicated += [f"assistant: {bot - heard} more than the {heard} answers"]
    if result.ok:
        if call.status is not CallStatus.COMPLETED:
            result.problems.append(f"status {call.status.value}")
        if not (call.end_reason or "").startswith("bot-hangup"):
            result.problems.append(f"end reason {call.end_reason!r}")


async def check_database(database_url: str, results: Sequence[LoadCall]) -> None:
    """Compare each call that was placed with what the database holds, once the records have
    landed (they are written in the background: give them a few seconds)."""
    engine = create_engine(database_url)
    try:
        calls = CallRepository(create_session_factory(engine))
        deadline = time.monotonic() + 15
        for result in results:
            if result.call_id is None:
                continue
            while True:
                result.lost, result.duplicated, result.problems = [], [], []
                compare(result, await calls.get(result.call_id, with_turns=True))
                settled = not (result.lost or result.duplicated or result.problems)
                if settled or time.monotonic() > deadline:
                    break
                await asyncio.sleep(0.5)
    finally:
        await engine.dispose()


# ---------------------------------------------------------------------------------- report


def report(cluster: Cluster, results: Sequence[LoadCall], figures: dict[str, float]) -> int:
    """Print the figures; return how many functional errors there were."""
    ok = [r for r in results if r.ok]
    latencies = [t for r in results for t in r.latencies_s]
    said = sum(len(r.said) for r in results)
    answered = sum(1 + r.answers_heard for r in results if r.call_id is not None)
    lost = sum(len(r.lost) for r in results)
    duplicated = sum(len(r.duplicated) for r in results)
    problems = sum(len(r.problems) for r in results)
    durations = [r.duration_s for r in ok]

    def p(q: float) -> str:
        value = percentile(latencies, q)
        return "-" if value is None else f"{value * 1000:.0f}"

    print(
        f"\n== {len(results)} calls on {len(cluster.instances)} instance(s): {len(ok)} ok, "
        f"{len(results) - len(ok)} failed, {figures['wall']:.0f} s wall"
    )
    if durations:
        print(
            f"  call length    {min(durations):.0f}-{max(durations):.0f} s, "
            f"{sum(durations) / 60:.1f} call-minutes"
        )
    print(f"  turn latency   p50 {p(50)} ms, p95 {p(95)} ms, max {p(100)} ms")
    print(
        f"  audio          {sum(r.underruns for r in results)} underruns, "
        f"{sum(r.protocol_errors for r in results)} protocol errors"
    )
    print(
        f"  database       {said} caller lines and {answered} bot turns; {lost} lost, "
        f"{duplicated} duplicated, {problems} other problems"
    )
    log_errors = 0
    for i, instance in enumerate(cluster.instances):
        errors, warnings = count_log_lines(instance)
        log_errors += errors
        calls = sum(r.served_by == i for r in results)
        print(
            f"  instance {i}     {calls} media streams, CPU {figures[f'cpu{i}']:.1f} s, RSS peak "
            f"{figures[f'rss{i}'] / MB:.0f} MB, log {errors} errors, {warnings} warnings"
        )
    print(
        f"  other CPU      callers {figures['callers']:.1f} s, fake OpenAI "
        f"{figures['openai']:.1f} s, fake Twilio {figures['twilio']:.1f} s"
    )
    for result in results:
        for what, items in (
            ("FAILED", [result.error] if result.error else []),
            ("LOST", result.lost),
            ("DUPLICATED", result.duplicated),
            ("WRONG", result.problems),
        ):
            for item in items:
                print(f"  {what} call {result.index} (id {result.call_id}): {item}")
    return len(results) - len(ok) + lost + duplicated + problems + log_errors


# ---------------------------------------------------------------------------------- main


async def load_run(args: argparse.Namespace, workdir: Path) -> int:
    seconds = await asyncio.to_thread(prepare_speech)
    async with running_cluster(args, workdir) as cluster, contextlib.AsyncExitStack() as clients:
        auth = {"Authorization": f"Bearer {cluster.api_key}"}
        api = [
            await clients.enter_async_context(
                httpx.AsyncClient(base_url=s.url, timeout=30, headers=auth)
            )
            for s in cluster.instances
        ]
        webhooks = [
            await clients.enter_async_context(httpx.AsyncClient(base_url=s.url, timeout=30))
            for s in cluster.instances
        ]
        control = await clients.enter_async_context(
            httpx.AsyncClient(base_url=cluster.openai.url.removesuffix("/v1"), timeout=30)
        )
        load = Load(
            cluster,
            api,
            webhooks,
            Voices(seconds, SpeechEndSpacer(args.speech_gap), control),
            seconds=args.minutes * 60,
            wait_s=args.wait,
        )
        print(
            f"… {args.calls} calls for {args.minutes:g} min on {args.instances} instance(s), "
            f"started over {args.ramp:g} s",
            flush=True,
        )
        services = [*cluster.instances, cluster.openai, cluster.twilio]
        cpu_before = [s.cpu_seconds() for s in services]
        own_before = own_cpu_seconds()
        samplers = [PeakRss(s) for s in cluster.instances]
        started = time.monotonic()
        try:
            results = list(
                await asyncio.gather(
                    *(run_call(load, i, i * args.ramp / args.calls) for i in range(args.calls))
                )
            )
        finally:
            peaks = [await sampler.stop() for sampler in samplers]
        figures = {"wall": time.monotonic() - started, "callers": own_cpu_seconds() - own_before}
        cpu = [s.cpu_seconds() - before for s, before in zip(services, cpu_before, strict=True)]
        for i in range(args.instances):
            figures[f"cpu{i}"], figures[f"rss{i}"] = cpu[i], peaks[i]
        figures["openai"], figures["twilio"] = cpu[-2], cpu[-1]
        await check_database(cluster.database_url, results)
        return report(cluster, results, figures)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.load",
        description="Concurrent simulated calls for minutes against several carecall instances "
        "on PostgreSQL and Redis; every turn is then checked in the database.",
    )
    parser.add_argument("--calls", type=int, default=50, metavar="N")
    parser.add_argument("--minutes", type=float, default=2.0, help="how long each call lasts")
    parser.add_argument("--instances", type=int, default=2, metavar="K")
    parser.add_argument(
        "--ramp", type=float, default=10.0, metavar="S", help="spread call starts over S"
    )
    parser.add_argument(
        "--postgres",
        default=DEFAULT_POSTGRES,
        metavar="URL",
        help="a PostgreSQL server to make the run's database on (dropped afterwards)",
    )
    parser.add_argument("--redis", default=DEFAULT_REDIS, metavar="URL")
    add_simulation_options(parser)
    parser.add_argument("--keep-logs", action="store_true", help="keep the servers' logs")
    args = parser.parse_args(argv)
    if args.calls < 1 or args.instances < 1 or args.minutes < 0:
        parser.error("--calls and --instances must be ≥ 1, --minutes ≥ 0")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    workdir = Path(tempfile.mkdtemp(prefix="carecall-load-"))
    try:
        failures = asyncio.run(load_run(args, workdir))
    except KeyboardInterrupt:
        print(f"\ninterrupted; servers stopped; logs in {workdir}", file=sys.stderr)
        return 130
    except Exception as exc:
        print(f"\nload run error: {exc}\nlogs in {workdir}", file=sys.stderr)
        return 1
    finally:
        kill_leftovers()
    if failures:
        print(f"\n{failures} functional error(s); logs in {workdir}", file=sys.stderr)
        return 1
    if args.keep_logs:
        print(f"\nlogs in {workdir}", file=sys.stderr)
    else:
        shutil.rmtree(workdir, ignore_errors=True)
    print("\nevery turn of every call is in the database once: 0 lost, 0 duplicated")
    return 0


if __name__ == "__main__":
    sys.exit(main())
