"""Linear probes, cross-validated over sentences.
"""
from __future__ import annotations

import time
import warnings
from typing import Mapping, Sequence

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score, make_scorer
from sklearn.model_selection import GroupKFold, cross_validate
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from elmo.core.config import ProbeConfig
from elmo.probing.tasks import ProbeTask
from elmo.ynat.metrics import mean_std


def sentence_folds(groups: Sequence[int], n_splits: int,
                   seed: int = 0) -> list[tuple[np.ndarray, np.ndarray]]:
    """(train, test) eojeol indices of each fold; a sentence's eojeols are all in one test fold.

    groups : (N,) sentence id of each eojeol. GroupKFold, shuffled with `seed`, balances folds by
    eojeol count.
    """
    groups = np.asarray(groups)
    if len(np.unique(groups)) < n_splits:
        raise ValueError(f"{len(np.unique(groups))} sentences cannot make {n_splits} folds")
    cv = GroupKFold(n_splits=n_splits, shuffle=True, random_state=seed)
    return list(cv.split(np.zeros(len(groups)), groups=groups))


def linear_probe(C: float = 1.0, max_iter: int = 1000, seed: int = 0):
    """Standardise each feature (on the training fold only), then multinomial logistic regression.

    Standardising makes the probe blind to a feature's overall scale, so gamma and the very
    different norms of the layers cannot favour one layer over another.
    """
    return make_pipeline(StandardScaler(), LogisticRegression(C=C, max_iter=max_iter, random_state=seed))


def probe_scores(X: np.ndarray, y: Sequence[str], groups: Sequence[int],
                 f1_labels: Mapping[str, Sequence[str]],
                 folds: int = 5, seed: int = 0, C: float = 1.0, max_iter: int = 1000) -> dict:
    """Cross-validated scores (x100) of a linear probe.

    X : (N, D) features; y : (N,) labels; groups : (N,) sentence ids.
    f1_labels : {metric name: classes averaged by that macro-F1}.
    Returns {"accuracy": [per fold], <each f1 name>: [per fold], "not_converged": folds whose
    lbfgs hit max_iter}.
    """
    X, y, groups = np.asarray(X), np.asarray(y, dtype=object), np.asarray(groups)
    if X.ndim != 2 or not len(X) == len(y) == len(groups):
        raise ValueError(f"X must be (N, D) with one label and one group per row: X {X.shape}, "
                         f"{len(y)} labels, {len(groups)} groups")
    scoring = {"accuracy": "accuracy"}
    for name, labels in f1_labels.items():
        scoring[name] = make_scorer(f1_score, average="macro", labels=list(labels), zero_division=0)
    # One BLAS/OpenMP thread: on a shared 2-core machine two threads that wait for each other made
    # each fit 10x slower (measured: 12.8 s vs 1.0 s for 100 lbfgs iterations on 9 k x 256).
    with warnings.catch_warnings(record=True) as caught, threadpool_limits(1):
        warnings.simplefilter("always", ConvergenceWarning)
        cv = cross_validate(linear_probe(C, max_iter, seed), X, y, cv=sentence_folds(groups, folds, seed),
                            scoring=scoring)
    out = {name: (100.0 * cv[f"test_{name}"]).tolist() for name in scoring}
    out["not_converged"] = sum(issubclass(w.category, ConvergenceWarning) for w in caught)
    return out


def probe_task(task: ProbeTask, features: Mapping[str, np.ndarray], settings: ProbeConfig) -> dict:
    """{feature: {metric: mean_std over folds, ..., "not_converged", "seconds"}} for one task."""
    out = {}
    for name, X in features.items():
        t0 = time.perf_counter()
        folds = probe_scores(X, task.labels, task.groups, task.f1_labels, settings.folds, settings.seed,
                             settings.C, settings.max_iter)
        nc = folds.pop("not_converged")
        out[name] = {m: mean_std(v) for m, v in folds.items()}
        out[name].update(not_converged=nc, seconds=time.perf_counter() - t0)
    return out
