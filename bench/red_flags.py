"""Red-flag detection on the labelled caller lines: recall per category, precision, time per line.

    python -m bench.red_flags [--split heldout2|heldout3|held_out|tuning|tuning2|tuning3|tuning4]
                              [--show-lines] [--llm-base-url URL] [--llm-model NAME]

Seconds, one core. The lines are `bench/data/red_flag_lines.csv` (see `bench.red_flag_data`):
the ``heldout2`` set (the default) was never used to write a rule or fit the classifier, so its
figures are the honest ones for unseen wording, and so are ``heldout3``'s (a third blind set,
written later); ``tuning``, ``held_out`` (the first held-out quarter, since trained on),
``tuning2``, ``tuning3`` and ``tuning4`` show what they were fitted on. Missed lines and false
alarms are listed for those; for the blind sets only with ``--show-lines``, so that they are
not read line by line while rules are being written.
Three detectors are scored on the same lines: the phrase rules alone, the classifier alone,
and what runs on every call (`wellbeing.red_flags.detect_all`: rules, then the classifier).
Recall per category: the urgent lines of that category flagged in it. Precision: of the lines
flagged at all, those that are urgent. The time is `detect_all` per line, the work the
real-time path does for each finished transcription.

With ``--llm-base-url`` (an OpenAI-compatible server) and ``--llm-model``, each line is also
put to the model's check (`wellbeing.red_flags.llm_check`, the second layer) and how often it
disagrees with `detect_all` is printed.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from collections import Counter
from collections.abc import Callable, Sequence

from bench.red_flag_data import BLIND_SPLITS, FRESH_HELD_OUT, Line, load
from carecall.wellbeing.red_flag_model import load_model
from carecall.wellbeing.red_flags import detect_all, detect_all_rules, llm_check, normalize

ROUNDS = 20

Detector = Callable[[str], set[str]]


def _rules(text: str) -> set[str]:
    return {flag.category.value for flag in detect_all_rules(text)}


def _classifier(text: str) -> set[str]:
    return {name for name, _ in load_model().categories(normalize(text))}


def _both(text: str) -> set[str]:
    return {flag.category.value for flag in detect_all(text)}


DETECTORS: dict[str, Detector] = {
    "rules": _rules,
    "classifier": _classifier,
    "rules + classifier": _both,
}


def score(lines: Sequence[Line], detector: Detector) -> tuple[dict[str, tuple[int, int]], float]:
    """Per category (found, urgent lines), and the precision over all flagged lines."""
    found: Counter[str] = Counter()
    total: Counter[str] = Counter()
    flagged = correct = 0
    for line in lines:
        categories = detector(line.text)
        if line.urgent:
            total[line.category] += 1
            found[line.category] += line.category in categories
        if categories:
            flagged += 1
            correct += line.urgent
    per_category = {category: (found[category], total[category]) for category in sorted(total)}
    return per_category, correct / flagged if flagged else 1.0


def print_table(lines: Sequence[Line], *, show_lines: bool = True) -> None:
    results = {name: score(lines, detector) for name, detector in DETECTORS.items()}
    names = list(DETECTORS)
    print(f"| category | lines | {' | '.join(f'recall, {name}' for name in names)} |")
    print(f"|---|---:|{'---:|' * len(names)}")
    categories = next(iter(results.values()))[0]
    for category, (_, total) in categories.items():
        cells = []
        for name in names:
            hit, _ = results[name][0][category]
            cells.append(f"{hit / total:.2f}")
        print(f"| {category} | {total} | {' | '.join(cells)} |")
    overall = []
    for name in names:
        per_category = results[name][0]
        hits = sum(hit for hit, _ in per_category.values())
        total = sum(total for _, total in per_category.values())
        overall.append(f"**{hits / total:.2f}**")
    urgent = sum(line.urgent for line in lines)
    print(f"| all urgent | {urgent} | {' | '.join(overall)} |")
    precision = " | ".join(f"**{results[name][1]:.2f}**" for name in names)
    print(f"| precision (+ {len(lines) - urgent} look-alikes) | {len(lines)} | {precision} |")
    for line in lines if show_lines else ():
        flagged = _both(line.text)
        if line.urgent and line.category not in flagged:
            print(f"  missed ({line.category}): {line.text}")
        elif not line.urgent and flagged:
            print(f"  false alarm ({', '.join(sorted(flagged))}): {line.text}")


def print_times(lines: Sequence[Line]) -> None:
    """Wall time per call (a busy machine stretches its tail) and CPU time per line (what the
    work costs: the mean, and the costliest line's)."""
    times = []
    for _ in range(ROUNDS):
        for line in lines:
            started = time.perf_counter()
            detect_all(line.text)
            times.append(time.perf_counter() - started)
    times.sort()
    p95 = times[int(0.95 * (len(times) - 1))]
    cpu = []
    for line in lines:
        started = time.process_time()
        for _ in range(ROUNDS):
            detect_all(line.text)
        cpu.append((time.process_time() - started) / ROUNDS)
    print(
        f"detect_all() per line: wall median {statistics.median(times) * 1e6:.0f} µs, "
        f"p95 {p95 * 1e6:.0f} µs, max {times[-1] * 1e6:.0f} µs ({len(times)} runs); "
        f"CPU mean {statistics.mean(cpu) * 1e6:.0f} µs, costliest line {max(cpu) * 1e6:.0f} µs"
    )


async def print_model_disagreement(lines: Sequence[Line], base_url: str, model: str) -> None:
    from openai import AsyncOpenAI

    client = AsyncOpenAI(base_url=base_url, api_key="bench", max_retries=0)
    both = model_only = ours_only = neither = 0
    for line in lines:
        ours = bool(_both(line.text))
        theirs = await llm_check(line.text, client, model=model, timeout=20)
        both += ours and theirs is not None
        ours_only += ours and theirs is None
        model_only += not ours and theirs is not None
        neither += not ours and theirs is None
    await client.close()
    print(
        f"the model's check vs detect_all on {len(lines)} lines: both flag {both}, neither "
        f"{neither}; only ours {ours_only}, only the model {model_only} "
        f"(disagree on {(ours_only + model_only) / len(lines):.0%})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--split",
        choices=[
            "heldout2",
            "heldout3",
            "heldout4",
            "held_out",
            "tuning",
            "tuning2",
            "tuning3",
            "tuning4",
        ],
        default=FRESH_HELD_OUT,
    )
    parser.add_argument(
        "--show-lines",
        action="store_true",
        help="list each missed line and false alarm (always shown for the training splits)",
    )
    parser.add_argument("--llm-base-url")
    parser.add_argument("--llm-model", default="gpt-4o")
    args = parser.parse_args()
    lines = [line for line in load() if line.split == args.split]
    print(f"{args.split}: {len(lines)} lines")
    print_table(lines, show_lines=args.show_lines or args.split not in BLIND_SPLITS)
    print_times(lines)
    if args.llm_base_url:
        asyncio.run(print_model_disagreement(lines, args.llm_base_url, args.llm_model))


if __name__ == "__main__":
    main()
