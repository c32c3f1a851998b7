"""Tables, figures and verdicts of the probes; feature keys become display names only here."""
from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from elmo.core.figures import PALETTE
from elmo.probing.tasks import CONTROL, GLOVE, MIX, feature_label, layer_name
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
    table = table.loc[list(dict.fromkeys(df["feature"])), list(dict.fromkeys(df["column"]))]
    return table.rename(index=feature_label)


def best_layer(results: Mapping[str, Mapping], task: str, metric: str = "accuracy",
               candidates: Sequence[str] | None = None) -> tuple[str, float]:
    """(key, mean score) of the best of `candidates` (default: the biLSTM layers 1..L)."""
    feats = results[task]
    if candidates is None:
        candidates = [f for f in feats if f.startswith("layer") and f != layer_name(0)]
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
    axes[0].set_yticks(y, [feature_label(f) for f in features])
    fig.supxlabel("score ×100 (mean ± std over sentence folds)", fontsize=9)
    fig.suptitle(title or "Linear probes of each feature")
    fig.tight_layout()
    return fig


def is_clear(difference: dict) -> bool:
    """The rule 06 uses to call a per-fold `paired_difference` clear: the same sign in every fold
    and a mean larger than its std. Anything less is reported as "not a clear difference"."""
    return abs(difference["mean"]) > difference["std"] and difference["wins"] in (0, difference["n"])


def layer_verdict(results: Mapping[str, Mapping], task: str, metric: str, expected: str | None = None) -> dict:
    """Layer 1 against layer 2 on one task and metric, fold by fold, and what that says.

    Returns {"difference" (`paired_difference` of layer1 − layer2), "clear" (`is_clear`), "best"
    (the best biLSTM layer's key), "best_overall" (the best feature's key), "agrees" (best ==
    `expected`, or None without one), "text" (one sentence for the notebook)}.
    """
    d = paired_difference(results, task, metric, layer_name(1), layer_name(2))
    best, _ = best_layer(results, task, metric)
    overall = max(results[task], key=lambda f: results[task][f][metric]["mean"])
    clear = is_clear(d)
    text = (f"{task} {metric}: layer 1 - layer 2 = {d['mean']:+.1f} ± {d['std']:.1f} per fold, layer 1 higher in "
            f"{d['wins']}/{d['n']} folds -> best biLSTM layer {feature_label(best)} "
            f"({'consistent over folds' if clear else 'not a clear difference'}); "
            f"best feature overall: {feature_label(overall)}")  # fmt: skip
    agrees = None if expected is None else best == expected
    if expected is not None:
        text += (f". The paper's pattern expects {feature_label(expected)}: "
                 f"{'agrees' if agrees else 'disagrees'}{'' if clear else ', but the layers are not clearly apart'}")  # fmt: skip
    return {"difference": d, "clear": clear, "best": best, "best_overall": overall, "agrees": agrees, "text": text}
