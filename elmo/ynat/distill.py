"""Knowledge distillation: one task model that learns from a seed ensemble's class probabilities.

Hinton et al. (2015) train a single "student" on the soft predictions of a larger "teacher" (here
the mean probabilities of one model's seeds, `elmo.ynat.ensemble`), which carry what the
ensemble learned about which topics a headline is close to. The student is one model of the same
size as each teacher, so it predicts at a single model's cost. The teachers are trained on the
fit rows and read them only: the holdout (which selects the student's epochs) and dev (which
scores it) are never targets, and `YnatData.with_targets` refuses targets on them.

    target_i = w * p_teacher(x_i) + (1 - w) * onehot(y_i)      for every fit row i

with w = `FinetuneConfig.distill_weight`; the training loss is the cross-entropy against it
(label smoothing, if any, then applies to the mix). `elmo.ynat.jobs.run_models` trains the
teachers first, then every model whose `TaskVariant.teacher` names one; by default each seed of
the student starts from the same seed's teacher weights and trains only a few more epochs
(`FinetuneConfig.distill_init`, `distill_epochs`), not a whole run from a random start.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from elmo.ynat.data import N_CLASSES, YnatData
from elmo.ynat.ensemble import seed_probabilities


def distillation_targets(labels: Sequence[int], teacher: np.ndarray, weight: float) -> np.ndarray:
    """(n,) labels and (n, n_classes) teacher probabilities -> (n, n_classes) float32 targets,
    weight * teacher + (1 - weight) * one-hot; each row sums to 1."""
    if not 0.0 <= weight <= 1.0:
        raise ValueError(f"distill_weight must be in [0, 1], not {weight!r}")
    teacher = np.asarray(teacher, dtype=np.float64)
    if teacher.shape != (len(labels), N_CLASSES):
        raise ValueError(f"teacher probabilities must be ({len(labels)}, {N_CLASSES}), not {teacher.shape}")
    onehot = np.eye(N_CLASSES)[np.asarray(labels, dtype=np.int64)]
    return (weight * teacher + (1.0 - weight) * onehot).astype(np.float32)


def teacher_targets(data: YnatData, teacher_data: YnatData, run_root: Path, runs: Sequence[dict], weight: float) -> np.ndarray:
    """(N, n_classes) targets for `data.with_targets`: on its fit rows, the labels mixed with the
    seed ensemble of `runs` (the teacher's results, checkpoints under `run_root`) computed on
    `teacher_data` (the same rows, the layers of the teacher's biLM); NaN on every other row."""
    if teacher_data.fit != data.fit:
        raise ValueError("the teacher must predict the student's own fit rows")
    probs = seed_probabilities(teacher_data, run_root, runs, splits=("fit",))["fit"]  # (n_fit, C)
    targets = np.full((len(data.tokens), N_CLASSES), np.nan, dtype=np.float32)
    targets[data.fit] = distillation_targets([data.labels[i] for i in data.fit], probs, weight)
    return targets
