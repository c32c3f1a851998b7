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

from elmo.classify import TopicClassifier, YnatData, probabilities
from elmo.metrics import scores


def best_checkpoint(run_root: Path, result: dict) -> Path:
    """The holdout-selected checkpoint of one run (`train_and_evaluate`'s result dict)."""
    return Path(run_root) / result["variant"] / f"seed{result['seed']}" / "checkpoints" / "best.ckpt"


def mean_probabilities(models: Sequence[TopicClassifier], data: YnatData, split: str) -> np.ndarray:
    """(N_split, n_classes): the members' softmax probabilities, averaged."""
    return np.mean([probabilities(m, data, split) for m in models], axis=0)


def seed_ensemble(data: YnatData, run_root: Path, runs: Sequence[dict]) -> dict:
    """Dev `scores` of the mean-probability ensemble of `runs`, plus its holdout macro-F1.

    `run_root` is the folder the runs wrote to (`runs/<profile>/ynat`); each member is loaded
    from its best (holdout-selected) checkpoint, so the ensemble sees nothing of dev either.
    """
    if not runs:
        raise ValueError("an ensemble needs at least one run")
    models = [TopicClassifier.load_from_checkpoint(best_checkpoint(run_root, r), map_location="cpu") for r in runs]
    gold = {s: [data.labels[i] for i in data.split(s)] for s in ("holdout", "dev")}
    pred = {s: mean_probabilities(models, data, s).argmax(axis=1).tolist() for s in gold}
    return {
        **scores(gold["dev"], pred["dev"]),
        "holdout_macro_f1": scores(gold["holdout"], pred["holdout"])["macro_f1"],
        "members": [f"{r['variant']}/seed{r['seed']}" for r in runs],
    }
