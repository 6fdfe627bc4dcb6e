"""carecall against a plain pipecat bot, on the same machine in one run: capacity, CPU, memory,
pipeline overhead and first words, as ratios and against the performance targets.

    .venv/bin/python -m bench.compare [--soak-minutes 10] [--json results.json]

Both servers are called by the same simulated callers (`bench.calls`) against the same fake
OpenAI-compatible services at the same set latencies, one after the other. For each server it
steps the number of concurrent calls up (``--steps``) until a step fails: its capacity is the
largest N with 0 failed calls, 0 underruns (gaps over 100 ms in the bot's audio) and a turn
latency p95 within 1.2 × its own single-call p95. Then carecall alone holds ``--soak-calls``
calls for ``--soak-minutes``, one after another in each slot, while its memory is sampled.

It prints every run, then a table of the targets (see bench/README.md) with PASS/FAIL, and
exits 1 if any target is missed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import psutil

from bench.calls import (
    MB,
    REPO_ROOT,
    TARGETS,
    RunResult,
    bench_context,
    fmt,
    kill_leftovers,
    prepare_speech,
    print_run,
    run_call,
    run_n,
    summary_table,
)
from bench.calls import parse_args as calls_args

DEFAULT_STEPS = (1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 40, 48, 56, 64, 80, 96)
LATENCY_SLACK = 1.2
CPU_N = 8


@dataclass
class Capacity:
    target: str
    runs: list[RunResult] = field(default_factory=list)
    capacity: int = 0
    """The largest N that passed (0: not even one call)."""
    stopped_because: str = ""
    cpu_run: RunResult | None = None
    """The run at N = 8, for CPU per call-minute."""

    def run_at(self, n: int) -> RunResult | None:
        return next((r for r in self.runs if r.calls == n), None)


def why_not_sustained(run: RunResult, single_p95_ms: float | None) -> str | None:
    """None if the server sustained this N; otherwise the reason."""
    if run.failed:
        return f"{run.failed} failed calls"
    if run.transcript_mismatches or run.wrong_end_reasons:
        return f"{run.transcript_mismatches + run.wrong_end_reasons} calls stored wrongly"
    if run.underruns:
        return f"{run.underruns} underruns"
    if single_p95_ms is not None and run.turn_ms_p95 is not None:
        limit = LATENCY_SLACK * single_p95_ms
        if run.turn_ms_p95 > limit:
            return f"turn p95 {run.turn_ms_p95:.0f} ms > {limit:.0f} ms"
    return None


async def find_capacity(
    args: argparse.Namespace, target: str, workdir: Path, speech: dict[str, float]
) -> Capacity:
    found = Capacity(target)
    single_p95: float | None = None
    for n in args.steps:
        run = await run_n(_calls_args(args, target), n, workdir, speech)
        print_run(run, TARGETS[target])
        found.runs.append(run)
        if n == 1:
            single_p95 = run.turn_ms_p95
        reason = why_not_sustained(run, single_p95)
        if reason is not None:
            found.stopped_because = f"N = {n}: {reason}"
            print(f"  → {target} does not sustain {n} calls ({reason})", flush=True)
            break
        found.capacity = n
    found.cpu_run = found.run_at(args.cpu_calls)
    if found.cpu_run is None:
        print(f"\n… {target}: {args.cpu_calls} calls for the CPU figure", flush=True)
        found.cpu_run = await run_n(_calls_args(args, target), args.cpu_calls, workdir, speech)
        print_run(found.cpu_run, TARGETS[target])
    return found


def _calls_args(args: argparse.Namespace, target: str) -> argparse.Namespace:
    return calls_args(
        [
            *("--target", target),
            *("--turns", str(args.turns)),
            *("--stt-latency", str(args.stt_latency)),
            *("--llm-latency", str(args.llm_latency)),
            *("--tts-latency", str(args.tts_latency)),
        ]
    )


# ---------------------------------------------------------------------------------- soak


@dataclass
class Soak:
    calls: int
    minutes: float
    completed: int = 0
    failed: int = 0
    underruns: int = 0
    samples: list[tuple[float, float]] = field(default_factory=list)
    """(minutes since the start, RSS MB), every few seconds."""

    def rss_at(self, minute: float, window: float = 0.5) -> float | None:
        """Mean RSS over ``window`` minutes ending at ``minute``."""
        values = [mb for t, mb in self.samples if minute - window <= t <= minute]
        return sum(values) / len(values) if values else None

    @property
    def growth(self) -> float | None:
        """RSS growth from minute 2 to the end, as a fraction."""
        early, late = self.rss_at(2.0), self.rss_at(self.minutes)
        return None if early is None or late is None else late / early - 1


async def soak(args: argparse.Namespace, workdir: Path, speech: dict[str, float]) -> Soak:
    """``args.soak_calls`` call slots for ``args.soak_minutes``: each slot calls again as soon
    as its call ends (carecall), while the server's RSS is sampled every 5 s."""
    result = Soak(args.soak_calls, args.soak_minutes)
    calls_ns = _calls_args(args, "carecall")
    async with bench_context(calls_ns, workdir, "soak", speech) as ctx:
        server = ctx.stack.server
        started = time.monotonic()
        deadline = started + args.soak_minutes * 60
        counter = itertools.count()

        async def slot(first_delay: float) -> None:
            await asyncio.sleep(first_delay)
            while time.monotonic() < deadline:
                call = await run_call(ctx, next(counter), args.turns, 0.0)
                result.completed += call.ok
                result.failed += not call.ok
                result.underruns += call.underruns

        async def sample() -> None:
            with contextlib.suppress(psutil.Error):
                while True:
                    minutes = (time.monotonic() - started) / 60
                    result.samples.append((minutes, server.rss() / MB))
                    await asyncio.sleep(5)

        sampler = asyncio.create_task(sample())
        try:
            await asyncio.gather(*(slot(i * 5.0 / args.soak_calls) for i in range(args.soak_calls)))
        finally:
            sampler.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sampler
        with contextlib.suppress(psutil.Error):
            result.samples.append(((time.monotonic() - started) / 60, server.rss() / MB))
    return result


# ---------------------------------------------------------------------------------- report


@dataclass
class Target:
    name: str
    goal: str
    value: str
    met: bool | None


def ratio(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None or b == 0 else a / b


def targets(reference: Capacity, carecall: Capacity, soaked: Soak | None) -> list[Target]:
    rows: list[Target] = []
    cap_ratio = carecall.capacity / reference.capacity if reference.capacity else None
    rows.append(
        Target(
            "1. capacity (calls per process)",
            "≥ 3 × reference",
            f"{carecall.capacity} vs {reference.capacity} = "
            + (f"{cap_ratio:.1f} ×" if cap_ratio is not None else "reference sustained none"),
            (cap_ratio is not None and cap_ratio >= 3)
            or (reference.capacity == 0 and carecall.capacity > 0),
        )
    )
    args_cpu = carecall.cpu_run.calls if carecall.cpu_run else "-"
    cc_cpu = carecall.cpu_run.server_cpu_s_per_call_minute if carecall.cpu_run else None
    ref_cpu = reference.cpu_run.server_cpu_s_per_call_minute if reference.cpu_run else None
    cpu_ratio = ratio(cc_cpu, ref_cpu)
    rows.append(
        Target(
            f"2. server CPU-s per call-minute at N = {args_cpu}",
            "≤ 0.5 × reference",
            f"{fmt(cc_cpu, 2)} vs {fmt(ref_cpu, 2)} = {fmt(cpu_ratio, 2)} ×",
            cpu_ratio is not None and cpu_ratio <= 0.5,
        )
    )
    at_capacity = carecall.run_at(carecall.capacity)
    mb = at_capacity.server_mb_per_call if at_capacity else None
    rows.append(
        Target(
            f"3a. memory per call (N = {carecall.capacity})",
            "≤ 10 MB",
            f"{fmt(mb, 1)} MB (reference {fmt(_mb(reference), 1)} MB)",
            mb is not None and mb <= 10,
        )
    )
    if soaked is not None:
        growth = soaked.growth
        rows.append(
            Target(
                f"3b. memory over a {soaked.minutes:g}-minute soak ({soaked.calls} calls)",
                "≤ 5 % growth after minute 2",
                f"{fmt(soaked.rss_at(2.0))} → {fmt(soaked.rss_at(soaked.minutes))} MB = "
                f"{fmt(growth * 100 if growth is not None else None, 1)} %, "
                f"{soaked.completed} calls, {soaked.failed} failed",
                growth is not None and growth <= 0.05 and soaked.failed == 0,
            )
        )
    single = carecall.run_at(1)
    for label, run, limit in (("N = 1", single, 30), (f"N = {carecall.capacity}", at_capacity, 60)):
        p95 = run.overhead_ms_p95 if run else None
        rows.append(
            Target(
                f"4. pipeline overhead p95 at {label}",
                f"≤ {limit} ms",
                f"{fmt(p95)} ms",
                p95 is not None and p95 <= limit,
            )
        )
    for label, run in (("N = 1", single), (f"N = {carecall.capacity}", at_capacity)):
        p95 = run.greeting_ms_p95 if run else None
        ref_run = reference.run_at(1)
        rows.append(
            Target(
                f"5. first words p95 at {label}",
                "≤ 300 ms",
                f"{fmt(p95)} ms (reference at N = 1: "
                f"{fmt(ref_run.greeting_ms_p95 if ref_run else None)} ms)",
                p95 is not None and p95 <= 300,
            )
        )
    return rows


def _mb(found: Capacity) -> float | None:
    run = found.run_at(found.capacity) if found.capacity else found.run_at(1)
    return run.server_mb_per_call if run else None


def print_report(
    args: argparse.Namespace, reference: Capacity, carecall: Capacity, soaked: Soak | None
) -> list[Target]:
    print(f"\n{'=' * 100}\n{machine()}\n{command_line()}\n")
    for found in (reference, carecall):
        why = found.stopped_because or "every step passed"
        print(f"{found.target}: sustains {found.capacity} calls ({why})")
        runs = list(found.runs)
        if found.cpu_run is not None and found.cpu_run not in runs:
            runs.append(found.cpu_run)
        print(summary_table(sorted(runs, key=lambda r: r.calls)))
        print()
    rows = targets(reference, carecall, soaked)
    width = max(len(r.name) for r in rows)
    goal_width = max(len(r.goal) for r in rows)
    print("| target | goal | carecall vs reference | met |")
    print("|---|---|---|---|")
    for row in rows:
        met = "PASS" if row.met else "FAIL"
        print(f"| {row.name:<{width}} | {row.goal:<{goal_width}} | {row.value} | {met} |")
    return rows


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    memory = psutil.virtual_memory().total / 1024**3
    commit = "unknown"
    with contextlib.suppress(OSError, subprocess.CalledProcessError):
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    return (
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, commit {commit}, {os.cpu_count()} × {cpu}, "
        f"{memory:.0f} GB, Linux {platform.release()}, Python {platform.python_version()}"
    )


def command_line() -> str:
    return "python -m bench.compare " + " ".join(sys.argv[1:])


# ---------------------------------------------------------------------------------- main


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.compare",
        description="carecall vs a plain pipecat bot: capacity, CPU, memory, latency.",
    )
    parser.add_argument("--steps", type=int, nargs="+", default=list(DEFAULT_STEPS), metavar="N")
    parser.add_argument("--turns", type=int, default=3, help="answers per call before goodbye")
    parser.add_argument("--stt-latency", type=float, default=0.15, metavar="S")
    parser.add_argument("--llm-latency", type=float, default=0.3, metavar="S")
    parser.add_argument("--tts-latency", type=float, default=0.15, metavar="S")
    parser.add_argument(
        "--targets",
        nargs="+",
        choices=sorted(TARGETS),
        default=["reference", "carecall"],
        help="which servers to step (the report needs both)",
    )
    parser.add_argument(
        "--cpu-calls", type=int, default=CPU_N, metavar="N", help="N for the CPU comparison"
    )
    parser.add_argument("--soak-minutes", type=float, default=10.0, metavar="M", help="0: none")
    parser.add_argument("--soak-calls", type=int, default=8, metavar="N")
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write every figure here")
    args = parser.parse_args(argv)
    if sorted(args.steps) != args.steps or args.steps[0] != 1:
        parser.error("--steps must start at 1 and go up")
    return args


async def compare(args: argparse.Namespace, workdir: Path) -> int:
    speech = await asyncio.to_thread(prepare_speech)
    found: dict[str, Capacity] = {}
    for target in args.targets:
        print(f"\n##### {target}: stepping up {args.steps}", flush=True)
        found[target] = await find_capacity(args, target, workdir, speech)
    soaked = None
    if args.soak_minutes > 0 and "carecall" in args.targets:
        print(
            f"\n##### carecall: {args.soak_calls} calls for {args.soak_minutes:g} minutes",
            flush=True,
        )
        soaked = await soak(args, workdir, speech)
    reference = found.get("reference", Capacity("reference"))
    carecall = found.get("carecall", Capacity("carecall"))
    rows = print_report(args, reference, carecall, soaked)
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "machine": machine(),
                    "command": command_line(),
                    "capacity": {name: asdict(c) for name, c in found.items()},
                    "soak": asdict(soaked) if soaked else None,
                    "targets": [asdict(r) for r in rows],
                },
                indent=2,
                default=str,
            )
        )
    return 0 if all(r.met for r in rows) else 1


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    workdir = Path(tempfile.mkdtemp(prefix="carecall-compare-"))
    try:
        code = asyncio.run(compare(args, workdir))
    except (KeyboardInterrupt, asyncio.CancelledError):
        print(f"\ninterrupted; servers stopped; logs in {workdir}", file=sys.stderr)
        return 130
    finally:
        kill_leftovers()
    print(f"\nlogs in {workdir}" if code else "", file=sys.stderr)
    if not code:
        shutil.rmtree(workdir, ignore_errors=True)
    return code


if __name__ == "__main__":
    sys.exit(main())
