"""The labelled caller lines for red flags (`bench/data/red_flag_lines.csv`), and their split.

Each row: ``split`` (``tuning`` or ``held_out``), ``category`` (a `RedFlagCategory` value, or
``none`` for a line that needs no alarm), ``like`` (for ``none``: the category whose words it
borrows, "I fell asleep" is like a fall; for an urgent line its own category) and ``text``.

The split was made once, before any rule or model was fitted: within each group of rows with
the same ``category`` and ``like`` (each category's urgent lines; each one's look-alikes), the
rows in the order written were shuffled with ``random.Random(SPLIT_SEED)`` (seeded per group)
and the first quarter (rounded) became ``held_out`` (`assign_splits`). Lines added later get a
split the same way, by running ``python -m bench.red_flag_data --split`` (rows that have one
keep it). Nothing may be tuned on held-out rows: rules and the classifier are fitted on
``tuning`` rows only.

That first ``held_out`` quarter was looked at while the rules were tuned, so it stopped being
an honest test: it is now trained on like the ``tuning`` rows. The honest test is ``heldout2``
(236 rows: 118 urgent in every category, 118 look-alikes), a second held-out set written later
by someone who had not read the rules' phrase lists or the classifier, and committed before any
rule or weight was changed. ``tuning2`` rows (368) were written after it, to train on, for the
wording the first set lacked. ``heldout3`` (270 rows: 135 urgent, 12 or 13 in every category,
and 135 look-alikes) is a third blind set, written after ``heldout2``'s figures were out by
someone who had read neither the rules, the classifier nor any row of this file, and committed
before it was scored. ``tuning3`` rows (716: 322 urgent in every category, more of them in
the categories ``heldout3`` found weakest, and 394 look-alikes) were written after
``heldout3``'s aggregate figures (recall per category, never its rows) to train on: euphemism,
regional idiom, learnt medical jargon, plans and farewells, fainting and "came round",
hallucinations, missed vital medicines, scams and coercion. ``tuning4`` rows (862: 474 urgent
in every category, most in self-harm and hopelessness, sudden confusion, stroke's lost words,
abuse and coercion over money, medication mix-ups, not eating or drinking, and someone who
cannot be woken; 388 look-alikes: idioms, negations, past and settled, other people, hobbies)
were written after ``heldout3``'s aggregates too, again without reading a row of either blind
set; lines of it that came out within a word overlap of 0.5 of a blind row were dropped
unread, so that no blind line is trained on by accident. None of these is split by
`assign_splits` (their rows have a split).
"""

from __future__ import annotations

import argparse
import csv
import random
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

DATA = Path(__file__).parent / "data" / "red_flag_lines.csv"
SPLIT_SEED = 18
HELD_OUT_SHARE = 0.25
NOT_URGENT = "none"

Split = Literal[
    "tuning", "held_out", "tuning2", "tuning3", "tuning4", "heldout2", "heldout3", "heldout4", ""
]
TRAINING_SPLITS = frozenset({"tuning", "held_out", "tuning2", "tuning3", "tuning4"})
"""The rows rules and the classifier are fitted on: everything but the blind sets."""
FRESH_HELD_OUT = "heldout2"
BLIND_SPLITS = ("heldout2", "heldout3", "heldout4")
"""Never fitted on, and not listed line by line unless asked (``bench.red_flags``)."""


@dataclass(frozen=True)
class Line:
    split: Split
    category: str
    """A `RedFlagCategory` value, or ``"none"``."""
    like: str
    text: str

    @property
    def urgent(self) -> bool:
        return self.category != NOT_URGENT


def load(path: Path = DATA) -> list[Line]:
    with path.open(newline="", encoding="utf-8") as file:
        return [
            Line(row["split"], row["category"], row["like"], row["text"])  # type: ignore[arg-type]
            for row in csv.DictReader(file)
        ]


def save(lines: list[Line], path: Path = DATA) -> None:
    with path.open("w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file, lineterminator="\n")
        writer.writerow(["split", "category", "like", "text"])
        for line in lines:
            writer.writerow([line.split, line.category, line.like, line.text])


def assign_splits(lines: list[Line], seed: int = SPLIT_SEED) -> list[Line]:
    """Give each row without a split one: a seeded quarter of each group held out."""
    unsplit: dict[tuple[str, str], list[int]] = defaultdict(list)
    for index, line in enumerate(lines):
        if not line.split:
            unsplit[(line.category, line.like)].append(index)
    result = list(lines)
    for category, like in sorted(unsplit):
        indices = unsplit[(category, like)]
        random.Random(f"{seed}:{category}:{like}").shuffle(indices)
        held = round(len(indices) * HELD_OUT_SHARE)
        for position, index in enumerate(indices):
            line = lines[index]
            split: Split = "held_out" if position < held else "tuning"
            result[index] = Line(split, line.category, line.like, line.text)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--split", action="store_true", help="give new rows a split, in place")
    args = parser.parse_args()
    lines = load()
    if args.split:
        save(assign_splits(lines))
        lines = load()
    counts: dict[tuple[str, str], int] = defaultdict(int)
    for line in lines:
        counts[(line.like if line.urgent else f"none ({line.like})", line.split)] += 1
    for group in sorted({group for group, _ in counts}):
        tuning, held_out = counts[(group, "tuning")], counts[(group, "held_out")]
        added, fresh = counts[(group, "tuning2")], counts[(group, FRESH_HELD_OUT)]
        added3, third = counts[(group, "tuning3")], counts[(group, "heldout3")]
        added4 = counts[(group, "tuning4")]
        print(
            f"{group:40} tuning {tuning:3}  held out {held_out:3}  tuning2 {added:3}  "
            f"tuning3 {added3:3}  tuning4 {added4:3}  heldout2 {fresh:3}  heldout3 {third:3}"
        )


if __name__ == "__main__":
    main()
