"""Sample efficiency: macro-F1 against the fraction of training rows, with and without ELMo,
and TF-IDF + LR on the same rows.
"""
from __future__ import annotations

import dataclasses
import math
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from elmo.ablations.grid import EFFICIENCY_LABELS, EFFICIENCY_MODELS, GRID, SAMPLE_SEED, TFIDF
from elmo.core.config import Config
from elmo.ynat.baselines import tfidf_on_fit
from elmo.ynat.data import YnatData
from elmo.ynat.jobs import Job, run_jobs


def subsample_fit(data: YnatData, fraction: float, seed: int = SAMPLE_SEED) -> YnatData:
    """A copy of `data` whose `fit` is a stratified `fraction` of its fit rows.

    Per class c, max(1, round(fraction * n_c)) rows are kept: the first ones of a permutation
    drawn with `seed`, so smaller fractions are subsets of larger ones and every class keeps at
    least one example. `holdout`, `dev`, the rows themselves and the LayerCache are unchanged.

    The task vocabulary stays the one built from the full fit set (labels play no part in it).
    This keeps every token id and cache row identical across fractions, so only the number of
    labelled examples varies. Its cost: words seen only in the dropped rows keep untrained
    (random) embeddings instead of mapping to <unk>; both arms, with and without ELMo, share it.
    """
    if not 0.0 < fraction <= 1.0:
        raise ValueError(f"fraction must be in (0, 1], not {fraction}")
    if fraction == 1.0:
        return dataclasses.replace(data)
    rng = np.random.default_rng(seed)
    fit = np.asarray(data.fit)
    labels = np.asarray([data.labels[i] for i in data.fit])
    kept: list[int] = []
    for c in np.unique(labels):  # sorted classes: the draws happen in a fixed order
        rows = fit[labels == c]
        kept += rng.permutation(rows)[: max(1, int(round(fraction * len(rows))))].tolist()
    return dataclasses.replace(data, fit=sorted(kept))


def sample_efficiency(
    cfg: Config,
    data: YnatData,
    fractions: Sequence[float],
    seeds: Sequence[int] | None = None,
    models: dict[str, str] = EFFICIENCY_MODELS,
    known: dict[float, dict[str, list[dict]]] | None = None,
    out_dir: Path | None = None,
    logger: bool = True,
    workers: int | None = None,
    equal_steps_as: float | None = None,
    tfidf: bool = True,
) -> pd.DataFrame:
    """Dev macro-F1 and accuracy per (model, fraction of fit rows, seed): one row per run.

    With `tfidf`, a third arm, "tfidf": TF-IDF + LR on the same rows (C chosen on the holdout;
    deterministic, so one run per fraction), the baseline each curve is read against.

    `models` maps an arm key ("elmo", "no_elmo") to a GRID key. `known` ({fraction: {GRID name or TFIDF: results}}) supplies
    runs trained elsewhere with the same rows, seeds and settings (the grid's, 03's), so they
    are not trained twice. With `equal_steps_as` (a fraction), every smaller fraction trains for
    as many optimizer steps as that one (see `step_schedule`) instead of as many epochs.
    """
    seeds = cfg.finetune.seeds if seeds is None else seeds
    arms, jobs = [], []  # (label, fraction, n_fit, runs or None); the jobs of the arms to train
    n_ref = len(subsample_fit(data, equal_steps_as).fit) if equal_steps_as else 0
    for fraction in fractions:
        sub = subsample_fit(data, fraction)
        schedule = tuple(step_schedule(cfg, len(sub.fit), n_ref).items())
        for label, grid_name in models.items():
            runs = (known or {}).get(fraction, {}).get(grid_name)
            arms.append((label, fraction, len(sub.fit), runs))
            if runs is None:
                variant = {**GRID[grid_name], "name": f"{GRID[grid_name]['name']}-frac{fraction:g}"}
                jobs += [Job(variant, s, tuple(sub.fit), schedule) for s in seeds]
        if tfidf:  # 03's at 1 (the same rows and C search), else fitted here: one deterministic run
            runs = (known or {}).get(fraction, {}).get(TFIDF) or [{**tfidf_on_fit(sub), "seed": 0}]
            arms.append((TFIDF, fraction, len(sub.fit), runs))
    trained = iter(run_jobs(cfg, data, jobs, out_dir, logger, workers))
    rows = []
    for label, fraction, n_fit, runs in arms:
        runs = runs if runs is not None else [next(trained) for _ in seeds]
        rows += [{"model": label, "fraction": fraction, "n_fit": n_fit, "seed": r.get("seed", 0),
                  "macro_f1": r["macro_f1"], "accuracy": r["accuracy"], "epochs": r.get("epochs")}
                 for r in runs]  # fmt: skip
    return pd.DataFrame(rows)


def step_schedule(cfg: Config, n_fit: int, n_ref: int) -> dict:
    """Trainer overrides that give a run on `n_fit` rows the optimizer steps of one on `n_ref`.

    With a fixed number of epochs, a small training set gets few steps (1 % of YNAT: 2 batches
    an epoch), which measures undertraining rather than how much data a model needs. Here k
    epochs of the small set count as one: max_epochs × k epochs, the holdout checked (and early
    stopping's patience counted) every k epochs, with k = ceil(steps per epoch on n_ref / on
    n_fit). {} when n_fit already has at least n_ref's steps per epoch.
    """
    bs = cfg.finetune.batch_size
    k = math.ceil(math.ceil(n_ref / bs) / max(1, math.ceil(n_fit / bs)))
    if k <= 1:
        return {}
    return {"max_epochs": cfg.finetune.max_epochs * k, "check_val_every_n_epoch": k}


def efficiency_table(df: pd.DataFrame) -> pd.DataFrame:
    """Mean ± std of dev macro-F1 per model and fraction (rows: fraction, n_fit; columns: model label)."""
    return efficiency_stats(df).unstack("model").rename(columns=EFFICIENCY_LABELS).round(2)


def efficiency_stats(df: pd.DataFrame) -> pd.DataFrame:
    """Mean, std (ddof=1; 0 for one run) and runs of dev macro-F1 per (fraction, n_fit, model)."""
    g = df.groupby(["fraction", "n_fit", "model"], sort=True)["macro_f1"]
    return pd.DataFrame({"mean": g.mean(), "std": g.std(ddof=1).fillna(0.0), "runs": g.size()})


def sample_efficiency_figure(df: pd.DataFrame, title: str = "YNAT dev macro-F1 vs training data") -> Figure:
    """x: fraction of fit rows (log scale), y: macro-F1 mean ± std over seeds; one line per model."""
    fig = Figure(figsize=(6.2, 4.0))
    ax = fig.subplots()
    for label, part in df.groupby("model", sort=False):
        g = part.groupby("fraction")["macro_f1"]
        mean, std = g.mean(), g.std(ddof=1).fillna(0.0)
        bar = ax.errorbar(mean.index, mean.values, yerr=std.values, marker="D", ms=4, capsize=3,
                          label=EFFICIENCY_LABELS.get(label, label))  # fmt: skip
        ax.scatter(part["fraction"], part["macro_f1"], s=12, color=bar[0].get_color(), alpha=0.45, linewidths=0)
    n_fit = df.drop_duplicates("fraction").set_index("fraction")["n_fit"]
    ax.set_xscale("log")
    ax.set_xticks(list(n_fit.index), [f"{f:g}\n({n:,})" for f, n in n_fit.items()])
    ax.set(xlabel="fraction of the fit rows (labelled headlines)", ylabel="dev macro-F1 (dots: seeds; mean ± std)")
    ax.set_title(title)
    ax.legend(frameon=False)
    return fig
