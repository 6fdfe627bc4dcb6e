"""The red-flag phrase rules on the labelled caller lines: precision, recall, F1, and time per line.

    python -m bench.red_flags

Seconds, one core. The lines are `tests/wellbeing/red_flag_lines.py`: those the rules were
improved on, and a held-out set written afterwards that never changed them (how the rules do
on wording they have not seen). The time is `wellbeing.red_flags.detect_all` per line, the work the
real-time path does for each finished transcription.
"""

from __future__ import annotations

import statistics
import time

from tests.wellbeing.red_flag_lines import (
    HELD_OUT_NOT_URGENT,
    HELD_OUT_URGENT,
    NOT_URGENT,
    URGENT,
    Score,
    score,
)
from wellbeing.red_flags import detect_all

ROUNDS = 200


def _report(name: str, urgent: int, not_urgent: int, result: Score) -> None:
    print(
        f"{name}: {urgent} urgent + {not_urgent} not urgent lines: "
        f"precision {result.precision:.2f}, recall {result.recall:.2f}, F1 {result.f1:.2f} "
        f"(TP {result.true_positives}, FN {result.false_negatives}, "
        f"FP {result.false_positives})"
    )
    for line in result.missed:
        print(f"  missed: {line}")
    for line in result.false_alarms:
        print(f"  false alarm: {line}")


def _times_per_line() -> list[float]:
    lines = [line for line, _ in URGENT + HELD_OUT_URGENT] + NOT_URGENT + HELD_OUT_NOT_URGENT
    times = []
    for _ in range(ROUNDS):
        for line in lines:
            started = time.perf_counter()
            detect_all(line)
            times.append(time.perf_counter() - started)
    return times


def main() -> None:
    _report("Improved on", len(URGENT), len(NOT_URGENT), score(URGENT, NOT_URGENT))
    _report(
        "Held out",
        len(HELD_OUT_URGENT),
        len(HELD_OUT_NOT_URGENT),
        score(HELD_OUT_URGENT, HELD_OUT_NOT_URGENT),
    )
    times = sorted(_times_per_line())
    p95 = times[int(0.95 * (len(times) - 1))]
    print(
        f"detect_all() per line: median {statistics.median(times) * 1e6:.0f} µs, "
        f"p95 {p95 * 1e6:.0f} µs, max {times[-1] * 1e6:.0f} µs ({len(times)} runs)"
    )


if __name__ == "__main__":
    main()
