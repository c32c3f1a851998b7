"""Tables and figures of the probes, and the results file of notebook 06.
"""
from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from elmo.core.figures import PALETTE
from elmo.probing.features import layer_name
from elmo.probing.tasks import CONTROL, GLOVE, MIX
from elmo.ynat.metrics import mean_std


def metric_names(results: Mapping[str, Mapping]) -> dict[str, list[str]]:
    """{task: [its metrics]} in the order they were scored."""
    return {task: [m for m, v in next(iter(feats.values())).items() if isinstance(v, dict)]
            for task, feats in results.items()}


def scores_frame(results: Mapping[str, Mapping]) -> pd.DataFrame:
    """Long table: one row per (task, feature, metric) with mean, std and number of folds."""
    metrics = metric_names(results)
    rows = [{"task": task, "feature": feat, "metric": m, "mean": s[m]["mean"], "std": s[m]["std"],
             "folds": s[m]["n"]}
            for task, feats in results.items() for feat, s in feats.items() for m in metrics[task]]
    return pd.DataFrame(rows)


def results_table(results: Mapping[str, Mapping]) -> pd.DataFrame:
    """One row per feature, one column per task and metric: "mean ± std" over folds (x100)."""
    df = scores_frame(results)
    df["score"] = [f"{m:.1f} ± {s:.1f}" for m, s in zip(df["mean"], df["std"])]
    df["column"] = df["task"] + " " + df["metric"]
    table = df.pivot(index="feature", columns="column", values="score")
    return table.loc[list(dict.fromkeys(df["feature"])), list(dict.fromkeys(df["column"]))]


def best_layer(results: Mapping[str, Mapping], task: str, metric: str = "accuracy",
               candidates: Sequence[str] | None = None) -> tuple[str, float]:
    """(name, mean score) of the best of `candidates` (default: the biLSTM layers 1..L)."""
    feats = results[task]
    if candidates is None:
        candidates = [f for f in feats if f.startswith("layer ") and f != layer_name(0)]
    name = max(candidates, key=lambda f: feats[f][metric]["mean"])
    return name, feats[name][metric]["mean"]


def paired_difference(results: Mapping[str, Mapping], task: str, metric: str, a: str, b: str) -> dict:
    """Feature a minus feature b, fold by fold (every feature is probed on the same folds).

    Returns {"mean", "std" (ddof=1), "n", "values"} of the per-fold differences and "wins", the
    folds where a scored higher: a sharper comparison than two separate fold stds, because the
    fold-to-fold variation that both features share cancels out.
    """
    va, vb = (np.asarray(results[task][f][metric]["values"]) for f in (a, b))
    diff = va - vb
    return {**mean_std(diff), "wins": int((diff > 0).sum())}


def results_figure(results: Mapping[str, Mapping], title: str | None = None) -> Figure:
    """One panel per task and metric: each feature's mean score, fold std as error bars.

    Panels have their own x range (a shared 0-100 axis would flatten the few-point differences
    between layers that the probe is about); the mix, GloVe and the control are coloured apart
    from the biLM's single layers.
    """
    df = scores_frame(results)
    panels = [(task, m) for task, ms in metric_names(results).items() for m in ms]
    features = list(dict.fromkeys(df["feature"]))
    special = {CONTROL: PALETTE[6], GLOVE: PALETTE[2], MIX: PALETTE[4]}
    colors = [special.get(f, PALETTE[0]) for f in features]
    fig = Figure(figsize=(2.6 * len(panels) + 1.2, 0.42 * len(features) + 1.6))
    axes = fig.subplots(1, len(panels), sharey=True, squeeze=False)[0]
    y = np.arange(len(features))[::-1]
    for ax, (task, m) in zip(axes, panels):
        sub = df[(df.task == task) & (df.metric == m)].set_index("feature").loc[features]
        # Points, not bars: the x axis does not start at 0, and a bar's length would lie.
        for yi, c, mean, std in zip(y, colors, sub["mean"], sub["std"]):
            ax.errorbar(mean, yi, xerr=std, fmt="o", color=c, ms=6, capsize=3)
            ax.annotate(f"{mean:.1f}", (mean + std, yi), xytext=(4, 4), textcoords="offset points",
                        fontsize=8)
        lo, hi = float((sub["mean"] - sub["std"]).min()), float((sub["mean"] + sub["std"]).max())
        pad = max(1.5, 0.1 * (hi - lo))
        ax.set_xlim(max(0.0, lo - pad), min(100.0, hi + 2.5 * pad) if hi + pad < 100 else 100.5)
        ax.set_title(f"{task}: {m}", fontsize=10)
        ax.grid(axis="y", visible=False)
    axes[0].set_yticks(y, features)
    fig.supxlabel("score ×100 (mean ± std over sentence folds)", fontsize=9)
    fig.suptitle(title or "Linear probes of each feature")
    fig.tight_layout()
    return fig


def write_results(path: Path, results: Mapping, **extra) -> Path:
    """`results` ({task: {feature: scores}}) and any extra facts, as JSON."""
    extra = {k: asdict(v) if hasattr(v, "__dataclass_fields__") else v for k, v in extra.items()}
    payload = {"results": results, **extra}
    Path(path).write_text(json.dumps(payload, indent=1, ensure_ascii=False, default=float))
    return Path(path)
