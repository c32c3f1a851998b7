"""Scores of a YNAT classifier, always over the whole evaluated set.

The seed averaged per-batch macro-F1s (fault 5 in KNOWN.md): a class missing from a batch drags
that batch's F1 down, so the mean depends on the batch size and order. Here predictions of all
rows are gathered first and scored once, with the fixed KLUE label order (ids 0..6).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score

from elmo.data.readers import YNAT_LABELS


def scores(y_true: Sequence[int], y_pred: Sequence[int], labels: Sequence[str] = YNAT_LABELS) -> dict:
    """Macro-F1, accuracy (both in %), per-class F1 (%) and the confusion matrix of all rows.

    # Parameters
    y_true, y_pred : (N,) label ids in 0 .. len(labels) - 1.
    labels : names of the ids; every id is scored, even one absent from y_true (its F1 is 0
        then, as sklearn's zero_division=0), so the macro average is always over all classes.

    # Returns
    {"macro_f1", "accuracy", "per_class_f1": {name: f1}, "confusion": K x K list
    (rows = true, columns = predicted), "n": N}.
    """
    y_true, y_pred = np.asarray(y_true, dtype=int), np.asarray(y_pred, dtype=int)
    if y_true.shape != y_pred.shape or y_true.ndim != 1 or len(y_true) == 0:
        raise ValueError(f"need two equal, non-empty 1-d label arrays, got {y_true.shape} and {y_pred.shape}")
    ids = list(range(len(labels)))
    per_class = f1_score(y_true, y_pred, labels=ids, average=None, zero_division=0)
    return {
        "macro_f1": 100.0 * float(np.mean(per_class)),
        "accuracy": 100.0 * float(accuracy_score(y_true, y_pred)),
        "per_class_f1": {name: 100.0 * float(f) for name, f in zip(labels, per_class)},
        "confusion": confusion_matrix(y_true, y_pred, labels=ids).tolist(),
        "n": int(len(y_true)),
    }


def mean_std(values: Sequence[float]) -> dict:
    """Mean and sample standard deviation (ddof=1; 0 for a single value) of per-seed scores."""
    v = np.asarray(list(values), dtype=float)
    if len(v) == 0:
        raise ValueError("nothing to summarize")
    std = float(v.std(ddof=1)) if len(v) > 1 else 0.0
    return {"mean": float(v.mean()), "std": std, "n": int(len(v)), "values": v.tolist()}
