"""Train the red-flag classifier (`wellbeing.red_flag_model`) and write its weights.

    python -m bench.train_red_flags [--check] [--cross-validate]

Fitted on the training rows of `bench/data/red_flag_lines.csv` (``tuning``, the first
``held_out`` quarter, ``tuning2``, ``tuning3``, ``tuning4``) and the unit-test lines of
`tests/wellbeing/red_flag_lines.py`; the blind ``heldout2`` and ``heldout3`` rows are never
read. Softmax regression (a ``none`` class and one per category) on `features` present or not,
L2-regularised, by full-batch Adam from zeros for a fixed number of steps: the same data gives
the same weights (numpy, used here only, never at run time). Each category's flagging threshold
is chosen by cross-validation on the training rows, one fold per batch of lines (`GROUPS`: each
split, written at one time by one writer, is left out whole, as a new writer's lines would be
unseen; `choose_thresholds`). Weights under `PRUNE` are dropped, so the file stays small.
``--check`` trains and compares with the file shipped (exit 1 if it differs): the weights are
reproducible from the repository. ``--cross-validate`` also prints, for each batch left out,
what the classifier fitted without it finds there, alone and after the rules (as `detect_all`
runs them): the closest the training rows come to a blind figure. The rules themselves were
written on these rows, so "rules + classifier" there is flattering; the classifier's column is
not.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from collections.abc import Sequence

import numpy as np

from bench.red_flag_data import NOT_URGENT, TRAINING_SPLITS, load
from carecall.wellbeing.red_flag_model import MODEL_FILE, Model, features
from carecall.wellbeing.red_flags import RedFlagCategory, detect_all, normalize, out_of_scope
from tests.wellbeing.red_flag_lines import HELD_OUT_NOT_URGENT, HELD_OUT_URGENT
from tests.wellbeing.red_flag_lines import NOT_URGENT as TEST_NOT_URGENT
from tests.wellbeing.red_flag_lines import URGENT as TEST_URGENT

CLASSES = (NOT_URGENT, *(c.value for c in RedFlagCategory))
L2 = 1e-3
STEPS = 200
LEARNING_RATE = 0.05
MIN_COUNT = 2
"""A feature seen in fewer training lines than this is not learned."""
PRUNE = 0.02
MAX_FALSE_ALARM_RATE = 0.003
"""Per category: the share of training lines needing no alarm that it may flag out of fold."""
MIN_PRECISION = 0.9
"""Per category: of the lines it flags out of fold, the share that must be urgent."""
THRESHOLDS = [round(0.95 - 0.05 * k, 2) for k in range(14)]  # 0.95 down to 0.30
UNIT_TESTS = "unit tests"
GROUPS = {"held_out": "tuning"}
"""The batch (cross-validation fold) of a training row: its split, the first held-out quarter
with the ``tuning`` rows it was drawn from, and the unit-test lines as one more."""

Row = tuple[str, str, str]
"""(line, class, batch)."""


def training_rows() -> list[Row]:
    """The training rows (all but the blind ``heldout2`` and ``heldout3``), then the unit-test
    lines (each line once: a unit-test line taken from the rows keeps its row's batch)."""
    rows = [
        (line.text, line.category, GROUPS.get(line.split, line.split))
        for line in load()
        if line.split in TRAINING_SPLITS
    ]
    rows += [(text, c.value, UNIT_TESTS) for text, c in TEST_URGENT + HELD_OUT_URGENT]
    rows += [(text, NOT_URGENT, UNIT_TESTS) for text in TEST_NOT_URGENT + HELD_OUT_NOT_URGENT]
    seen: set[tuple[str, str]] = set()
    unique = []
    for text, label, group in rows:
        if (text, label) not in seen:
            seen.add((text, label))
            unique.append((text, label, group))
    return unique


def fit(rows: Sequence[Row]) -> tuple[list[str], np.ndarray, np.ndarray]:
    """The vocabulary, weights (features × classes) and biases fitted to ``rows``."""
    featured = [set(features(normalize(text))) for text, _, _ in rows]
    counts = Counter(f for found in featured for f in found)
    vocabulary = sorted(f for f, n in counts.items() if n >= MIN_COUNT)
    index = {f: i for i, f in enumerate(vocabulary)}
    # X is sparse and binary: each row's feature columns, end to end (CSR without scipy).
    columns = [sorted(index[f] for f in found if f in index) for found in featured]
    flat = np.array([c for row in columns for c in row], dtype=np.int64)
    row_of = np.repeat(np.arange(len(rows)), [len(row) for row in columns])
    row_starts = np.cumsum([0] + [len(row) for row in columns[:-1]])
    by_column = np.argsort(flat, kind="stable")
    present, column_starts = np.unique(flat[by_column], return_index=True)
    y = np.zeros((len(rows), len(CLASSES)))
    for row, (_, label, _) in enumerate(rows):
        y[row, CLASSES.index(label)] = 1.0
    w = np.zeros((len(vocabulary), len(CLASSES)))
    b = np.zeros(len(CLASSES))
    moments = [np.zeros_like(w), np.zeros_like(w), np.zeros_like(b), np.zeros_like(b)]
    beta1, beta2, eps = 0.9, 0.999, 1e-8
    for step in range(1, STEPS + 1):
        scores = np.add.reduceat(w[flat], row_starts) + b
        scores -= scores.max(axis=1, keepdims=True)
        p = np.exp(scores)
        p /= p.sum(axis=1, keepdims=True)
        error = (p - y) / len(rows)
        grad_w = L2 * w
        grad_w[present] += np.add.reduceat(error[row_of[by_column]], column_starts)
        grads = (grad_w, error.sum(axis=0))
        for k, (param, grad) in enumerate(((w, grads[0]), (b, grads[1]))):
            m, v = moments[2 * k], moments[2 * k + 1]
            m *= beta1
            m += (1 - beta1) * grad
            v *= beta2
            v += (1 - beta2) * grad**2
            m_hat = m / (1 - beta1**step)
            v_hat = v / (1 - beta2**step)
            param -= LEARNING_RATE * m_hat / (np.sqrt(v_hat) + eps)
    return vocabulary, w, b


def probabilities(
    vocabulary: list[str], w: np.ndarray, b: np.ndarray, texts: Sequence[str]
) -> np.ndarray:
    index = {f: i for i, f in enumerate(vocabulary)}
    out = np.zeros((len(texts), len(CLASSES)))
    for row, text in enumerate(texts):
        scores = b.copy()
        for f in set(features(normalize(text))):
            if f in index:
                scores += w[index[f]]
        scores -= scores.max()
        p = np.exp(scores)
        out[row] = p / p.sum()
    return out


Fitted = tuple[list[str], np.ndarray, np.ndarray]


def out_of_fold(rows: Sequence[Row]) -> tuple[np.ndarray, dict[str, Fitted]]:
    """Each row's class probabilities from a model fitted without its batch, and those
    models, by the batch they leave out."""
    oof = np.zeros((len(rows), len(CLASSES)))
    models = {}
    for group in sorted({group for _, _, group in rows}):
        held = [i for i, (_, _, g) in enumerate(rows) if g == group]
        models[group] = fit([row for row in rows if row[2] != group])
        oof[held] = probabilities(*models[group], [rows[i][0] for i in held])
    return oof, models


def choose_thresholds(rows: Sequence[Row], oof: np.ndarray) -> list[float]:
    """Per category, the lowest threshold at which the classifier's out-of-fold flags of it
    stay within `MAX_FALSE_ALARM_RATE` of the lines needing no alarm and `MIN_PRECISION`.
    Judged on the classifier alone, not with the rules: the rules were written on these rows
    and find nearly all of them, which would hide what the classifier adds on new wording."""
    cleared = [out_of_scope(normalize(text)) for text, _, _ in rows]
    calm = sum(label == NOT_URGENT for _, label, _ in rows)
    thresholds = [1.0]  # ``none`` is never flagged
    for k in range(1, len(CLASSES)):
        category = CLASSES[k]
        best, found, alarms = THRESHOLDS[0], 0, 0
        for threshold in THRESHOLDS:
            flagged = [
                label
                for row, (_, label, _) in enumerate(rows)
                if oof[row, k] >= threshold and category not in cleared[row]
            ]
            false_alarms = flagged.count(NOT_URGENT)
            hits = flagged.count(category)
            precision = 1 - false_alarms / len(flagged) if flagged else 1.0
            if false_alarms > MAX_FALSE_ALARM_RATE * calm or precision < MIN_PRECISION:
                break
            best, found, alarms = threshold, hits, false_alarms
        total = sum(label == category for _, label, _ in rows)
        print(
            f"  {category}: threshold {best:.2f}; out of fold, alone, it finds {found} of "
            f"{total} and flags {alarms} of {calm} lines needing no alarm",
            file=sys.stderr,
        )
        thresholds.append(best)
    return thresholds


def shipped(fitted: Fitted, thresholds: list[float], lines: int) -> dict[str, object]:
    """What the model file holds: weights rounded, those under `PRUNE` dropped."""
    vocabulary, w, b = fitted
    weights: dict[str, list[list[float]]] = {}
    for i, feature in enumerate(vocabulary):
        kept = [[k, round(float(w[i, k]), 3)] for k in range(len(CLASSES)) if abs(w[i, k]) >= PRUNE]
        if kept:
            weights[feature] = kept
    return {
        "classes": list(CLASSES),
        "bias": [round(float(v), 4) for v in b],
        "thresholds": thresholds,
        "trained_on": (
            f"{lines} lines: the training rows (all but the blind heldout2 and heldout3), "
            "unit-test lines"
        ),
        "weights": weights,
    }


def train(*, cross_validate: bool = False) -> dict[str, object]:
    rows = training_rows()
    oof, fold_models = out_of_fold(rows)
    thresholds = choose_thresholds(rows, oof)
    if cross_validate:
        print_cross_validation(rows, fold_models, thresholds)
    return shipped(fit(rows), thresholds, len(rows))


def print_cross_validation(
    rows: Sequence[Row], fold_models: dict[str, Fitted], thresholds: list[float]
) -> None:
    """Recall per category and precision, each line judged by the classifier fitted without
    its batch (with the thresholds chosen above): alone, and after the rules as on a call."""
    found: dict[str, Counter[str]] = {"classifier": Counter(), "rules + classifier": Counter()}
    flagged: dict[str, Counter[str]] = {name: Counter() for name in found}
    total: Counter[str] = Counter()
    by_batch: dict[str, list[str]] = {}
    for group, fitted in sorted(fold_models.items()):
        model = Model.from_json(shipped(fitted, thresholds, 0))
        batch = [row for row in rows if row[2] == group]
        cells = []
        for name in found:
            hits = alarms = urgent_flagged = 0
            for text, label, _ in batch:
                line = normalize(text)
                if name == "classifier":
                    categories = {c for c, _ in model.categories(line)} - out_of_scope(line)
                else:
                    categories = {flag.category.value for flag in detect_all(text, model)}
                if label != NOT_URGENT:
                    hits += label in categories
                    found[name][label] += label in categories
                if categories:
                    urgent_flagged += label != NOT_URGENT
                    alarms += label == NOT_URGENT
                    flagged[name]["urgent" if label != NOT_URGENT else "none"] += 1
            urgent = sum(label != NOT_URGENT for _, label, _ in batch)
            precision = urgent_flagged / (urgent_flagged + alarms) if urgent_flagged else 1.0
            cells.append(f"{hits / urgent:.2f} / {precision:.2f}")
        by_batch[group] = [str(len(batch)), *cells]
    for _, label, _ in rows:
        if label != NOT_URGENT:
            total[label] += 1
    names = list(found)
    print(f"| category | lines | {' | '.join(f'recall, {name}' for name in names)} |")
    print(f"|---|---:|{'---:|' * len(names)}")
    for category in sorted(total):
        cells = [f"{found[name][category] / total[category]:.2f}" for name in names]
        print(f"| {category} | {total[category]} | {' | '.join(cells)} |")
    overall = [f"**{sum(found[name].values()) / sum(total.values()):.2f}**" for name in names]
    print(f"| all urgent | {sum(total.values())} | {' | '.join(overall)} |")
    precisions = []
    for name in names:
        right, wrong = flagged[name]["urgent"], flagged[name]["none"]
        precisions.append(f"**{right / (right + wrong):.2f}**")
    print(
        f"| precision (+ {len(rows) - sum(total.values())} look-alikes) | {len(rows)} | "
        f"{' | '.join(precisions)} |"
    )
    print()
    print(f"| batch left out | lines | {' | '.join(f'recall / precision, {n}' for n in names)} |")
    print(f"|---|---:|{'---:|' * len(names)}")
    for group, cells in by_batch.items():
        print(f"| {group} | {' | '.join(cells)} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true", help="compare with the shipped file")
    parser.add_argument(
        "--cross-validate",
        action="store_true",
        help="print what each batch left out gets from a classifier fitted without it",
    )
    args = parser.parse_args()
    model = train(cross_validate=args.cross_validate)
    text = json.dumps(model, separators=(",", ":"), sort_keys=True) + "\n"
    if args.check:
        same = MODEL_FILE.read_text(encoding="utf-8") == text
        print("the shipped weights are reproduced" if same else "the shipped weights DIFFER")
        raise SystemExit(0 if same else 1)
    MODEL_FILE.parent.mkdir(exist_ok=True)
    MODEL_FILE.write_text(text, encoding="utf-8")
    print(
        f"{MODEL_FILE}: {len(model['weights'])} features, "  # type: ignore[arg-type]
        f"thresholds {model['thresholds']}, {MODEL_FILE.stat().st_size // 1024} KiB"
    )


if __name__ == "__main__":
    main()
