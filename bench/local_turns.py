"""Per-answer latency of the whole local stack, end of speech → the bot's first audio.

    .venv/bin/python -m bench.local_turns [--calls 1 2] [--json PATH]

Starts carecall in local mode (no keys: Whisper tiny.en, Piper, the guided check-in) and runs
its demo calls, N at a time: the scripted senior says its lines over the real media-stream
protocol on loopback, each as soon as the bot has finished speaking. For every answer it prints
what carecall itself stores as the turn's latency: from the moment the senior's voice ended (as
the VAD heard it) to the bot's first audio. That includes the turn-taking pause (the VAD's 0.5 s
of silence and a further 0.9 s, `VAD_STOP_SECONDS` and `USER_TURN_PAUSE_SECONDS`), Whisper on
the turn's audio, and Piper's first sentence; the line "after the pause" takes the pause out.
Also prints the server's CPU. Needs the extras: `uv sync --extra local --extra piper`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import httpx

from bench.calls import (
    REPO_ROOT,
    Service,
    create_api_key,
    free_port,
    percentile,
    start_server,
)
from bench.compare import machine

PAUSE_MS = 1400
"""VAD_STOP_SECONDS + USER_TURN_PAUSE_SECONDS at their defaults."""


@dataclass
class LocalRun:
    calls: int
    completed: int = 0
    latencies_ms: list[int] = field(default_factory=list)
    answers: int = 0
    wall_s: float = 0.0
    server_cpu_s: float = 0.0

    def p(self, q: float) -> float | None:
        return percentile([float(x) for x in self.latencies_ms], q)


def local_env(database_url: str) -> dict[str, str]:
    """Our environment without any OpenAI settings (so: local mode), a fresh SQLite file."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENAI_")}
    env.update(
        PYTHONPATH=str(REPO_ROOT), SERVICES="local", DATABASE_URL=database_url, LOG_LEVEL="INFO"
    )
    return env


async def demo_call(http: httpx.AsyncClient, timeout: float = 240.0) -> dict[str, object]:
    """Start one demo call and return its stored record once it has ended."""
    started = await http.post("/api/demo-calls")
    started.raise_for_status()
    call_id = started.json()["id"]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        await asyncio.sleep(1.0)
        call = (await http.get(f"/api/calls/{call_id}")).json()
        if call["status"] in ("completed", "failed", "canceled"):
            await asyncio.sleep(1.0)  # the last turns are written just after the end
            detail: dict[str, object] = (await http.get(f"/api/calls/{call_id}")).json()
            return detail
    raise TimeoutError(f"demo call {call_id} did not end within {timeout:.0f} s")


async def run(n: int, server: Service, key: str) -> LocalRun:
    result = LocalRun(n)
    headers = {"Authorization": f"Bearer {key}"}
    async with httpx.AsyncClient(base_url=server.url, headers=headers, timeout=30) as http:
        cpu_before = server.cpu_seconds()
        began = time.monotonic()
        calls = await asyncio.gather(*(demo_call(http) for _ in range(n)))
        result.wall_s = time.monotonic() - began
        result.server_cpu_s = server.cpu_seconds() - cpu_before
    for call in calls:
        result.completed += call["status"] == "completed"
        turns = call.get("turns")
        assert isinstance(turns, list)
        for turn in turns:
            if turn["role"] == "assistant" and turn.get("latency_ms") is not None:
                result.answers += 1
                result.latencies_ms.append(int(turn["latency_ms"]))
    return result


def report(runs: Sequence[LocalRun]) -> None:
    print(f"\n{machine()}")
    print(
        "| N | calls ended | answers | latency p50/p95/max ms | after the pause p50 ms | "
        "server CPU-s/call-min |"
    )
    print("|--:|--:|--:|--:|--:|--:|")
    for r in runs:
        p50, p95 = r.p(50), r.p(95)
        worst = max(r.latencies_ms, default=None)
        call_minutes = r.calls * r.wall_s / 60
        cpu = r.server_cpu_s / call_minutes if call_minutes else None
        print(
            f"| {r.calls} | {r.completed}/{r.calls} | {r.answers} | "
            f"{_f(p50)}/{_f(p95)}/{_f(worst)} | "
            f"{_f(None if p50 is None else p50 - PAUSE_MS)} | {_f(cpu, 2)} |"
        )
    for r in runs:
        if r.latencies_ms:
            print(
                f"N = {r.calls}: each answer (ms): {sorted(r.latencies_ms)}; "
                f"mean {statistics.fmean(r.latencies_ms):.0f}"
            )


def _f(value: float | None, digits: int = 0) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


async def main_async(args: argparse.Namespace, workdir: Path) -> int:
    database_url = f"sqlite+aiosqlite:///{workdir / 'local-turns.db'}"
    key = await create_api_key(database_url)
    async with contextlib.AsyncExitStack() as exits:
        server = await start_server(
            "carecall-local", "server:app", free_port(), local_env(database_url), workdir, "local"
        )
        exits.push_async_callback(server.stop)
        runs = []
        for n in args.calls:
            print(f"… {n} demo call(s) at once", flush=True)
            runs.append(await run(n, server, key))
    report(runs)
    if args.json:
        args.json.write_text(json.dumps([asdict(r) for r in runs], indent=2))
    return 0 if all(r.completed == r.calls and r.answers for r in runs) else 1


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, nargs="+", default=[1, 2], metavar="N")
    parser.add_argument("--json", type=Path, metavar="PATH")
    args = parser.parse_args(argv)
    workdir = Path(tempfile.mkdtemp(prefix="carecall-local-turns-"))
    code = asyncio.run(main_async(args, workdir))
    print(f"logs in {workdir}", file=sys.stderr)
    return code


if __name__ == "__main__":
    sys.exit(main())
