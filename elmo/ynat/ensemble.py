"""Seed ensembles: one prediction from the mean class probabilities of a variant's seeds.

The paper reports single models (and, separately, ensembles on SQuAD and SNLI). Here the three
seeds that every variant trains anyway are also averaged: no extra training, the same
holdout-selected checkpoints, and the same full dev set. An ensemble is a different (3x larger)
predictor, so it is reported on its own row, never as a single model's score.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from elmo.ynat.data import YnatData
from elmo.ynat.metrics import scores
from elmo.ynat.model import TopicClassifier
from elmo.ynat.train import best_checkpoint, probabilities


def mean_probabilities(models: Sequence[TopicClassifier], data: YnatData, split: str) -> np.ndarray:
    """(N_split, n_classes): the members' softmax probabilities, averaged."""
    return np.mean([probabilities(m, data, split) for m in models], axis=0)


def scored(data: YnatData, probs: dict[str, np.ndarray]) -> dict:
    """Dev `scores` of {"holdout": (N_h, C), "dev": (N_d, C)} probabilities, plus holdout macro-F1."""
    gold = {s: [data.labels[i] for i in data.split(s)] for s in ("holdout", "dev")}
    pred = {s: probs[s].argmax(axis=1).tolist() for s in gold}
    return {**scores(gold["dev"], pred["dev"]), "holdout_macro_f1": scores(gold["holdout"], pred["holdout"])["macro_f1"]}


def seed_probabilities(
    data: YnatData, run_root: Path, runs: Sequence[dict], splits: Sequence[str] = ("holdout", "dev")
) -> dict[str, np.ndarray]:
    """{split} -> the mean probabilities of `runs` over that split's rows, each run loaded from its
    best (holdout-selected) checkpoint under `run_root` (`runs/<profile>/ynat`)."""
    if not runs:
        raise ValueError("an ensemble needs at least one run")
    models = [TopicClassifier.load_from_checkpoint(best_checkpoint(run_root, r), map_location="cpu") for r in runs]
    return {s: mean_probabilities(models, data, s) for s in splits}


def seed_ensemble(data: YnatData, run_root: Path, runs: Sequence[dict]) -> dict:
    """Dev `scores` of the mean-probability ensemble of `runs`, plus its holdout macro-F1; it
    sees nothing of dev either."""
    return {**scored(data, seed_probabilities(data, run_root, runs)), "members": [f"{r['variant']}/seed{r['seed']}" for r in runs]}


def weighted_pair(data: YnatData, a: dict[str, np.ndarray], b: dict[str, np.ndarray], steps: int = 21) -> dict:
    """w * a + (1 - w) * b, with w on a grid of `steps` points in [0, 1] chosen by holdout
    macro-F1 (ties: the w nearest 0.5); -> `scored` of the blend plus "weight"."""
    gold = [data.labels[i] for i in data.holdout]

    def holdout_f1(w: float) -> float:
        return scores(gold, (w * a["holdout"] + (1 - w) * b["holdout"]).argmax(axis=1).tolist())["macro_f1"]

    w = float(max(np.linspace(0.0, 1.0, steps), key=lambda w: (holdout_f1(w), -abs(w - 0.5))))
    return {**scored(data, {s: w * a[s] + (1 - w) * b[s] for s in ("holdout", "dev")}), "weight": w}
