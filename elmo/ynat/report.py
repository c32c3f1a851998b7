"""Tables and figures of YNAT results: mean ± std over seeds, per-class F1, confusions, curves."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from elmo.data.readers import YNAT_LABELS
from elmo.ynat.metrics import mean_std


def results_table(results: dict[str, Sequence[dict]]) -> pd.DataFrame:
    """One row per model: dev macro-F1 and accuracy as mean ± std over its runs (seeds)."""
    rows = []
    for name, runs in results.items():
        f1, acc = mean_std([r["macro_f1"] for r in runs]), mean_std([r["accuracy"] for r in runs])
        hold = [r["holdout_macro_f1"] for r in runs if r.get("holdout_macro_f1") is not None]
        rows.append({
            "model": name, "runs": len(runs), "dev macro-F1": f1["mean"], "± (std)": f1["std"],
            "dev accuracy": acc["mean"], "± std": acc["std"],
            "holdout macro-F1": float(np.mean(hold)) if hold else np.nan,
        })  # fmt: skip
    return pd.DataFrame(rows).set_index("model").round(2)


def markdown_row(name: str, summary: dict) -> str:
    """One README table row from a row's `score_summary` (elmo.ynat.results): runs, dev
    macro-F1 and accuracy, with "± std" only when there is more than one run."""
    f1, acc, n = summary["macro_f1"], summary["accuracy"], summary["n"]
    pm = f" ± {f1['std']:.1f}" if n > 1 else ""
    pa = f" ± {acc['std']:.1f}" if n > 1 else ""
    return f"| {name} | {n} | {f1['mean']:.1f}{pm} | {acc['mean']:.1f}{pa} |"


def goal_table(results: dict[str, Sequence[dict]], goal: float, baseline: str) -> pd.DataFrame:
    """Per model: mean holdout and dev macro-F1, the dev − holdout drop, and the distance of dev
    macro-F1 from `goal` and from the `baseline` model's dev score (negative: below it)."""
    table = results_table(results)
    base = table.loc[baseline, "dev macro-F1"]
    out = pd.DataFrame({
        "holdout macro-F1": table["holdout macro-F1"],
        "dev macro-F1": table["dev macro-F1"],
        "dev − holdout": table["dev macro-F1"] - table["holdout macro-F1"],
        f"dev − goal {goal:g}": table["dev macro-F1"] - goal,
        f"dev − {baseline}": table["dev macro-F1"] - base,
    })  # fmt: skip
    return out.round(2)


def per_class_table(results: dict[str, Sequence[dict]]) -> pd.DataFrame:
    """Mean per-class F1 on dev, one column per model."""
    return pd.DataFrame(
        {name: np.mean([[r["per_class_f1"][c] for c in YNAT_LABELS] for r in runs], axis=0) for name, runs in results.items()},
        index=list(YNAT_LABELS),
    ).round(1)


def results_figure(table: pd.DataFrame, reference: dict[str, float] | None = None, title: str = "YNAT dev") -> Figure:
    """Horizontal bars of macro-F1 with std error bars; optional reference lines (e.g. KLUE-BERT)."""
    fig = Figure(figsize=(7.5, 0.5 * len(table) + 1.6))
    ax = fig.subplots()
    y = np.arange(len(table))[::-1]
    ax.barh(y, table["dev macro-F1"], xerr=table["± (std)"], color="#3b6ea8", alpha=0.85, capsize=3)
    for yi, v, sd in zip(y, table["dev macro-F1"], table["± (std)"].fillna(0.0)):
        # Past the error bar's cap, so the bar end, its whisker and the label never overlap.
        ax.annotate(f"{v:.1f}", (v + sd, yi), xytext=(5, -4), textcoords="offset points", fontsize=9)
    for i, (name, value) in enumerate((reference or {}).items()):
        ax.axvline(value, color="#d1495b", ls="--" if i == 0 else ":", lw=1, label=f"{name} {value:.1f}")
    ax.set_yticks(y, table.index)
    lo = max(0.0, float(np.nanmin(table["dev macro-F1"])) - 15)
    ax.set(xlim=(lo, 100), xlabel="macro-F1 (full dev set, mean ± std over seeds)", title=title)
    if reference:  # below the axis: inside, it would sit on the bars that reach the lines
        ax.legend(frameon=False, loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=len(reference), fontsize=8)
    return fig


def confusion_figure(confusion: Sequence[Sequence[int]], title: str) -> Figure:
    """Row-normalised confusion matrix (rows: true label), counts annotated."""
    cm = np.asarray(confusion, dtype=float)
    share = cm / cm.sum(axis=1, keepdims=True).clip(min=1)
    fig = Figure(figsize=(6.4, 5.4))
    ax = fig.subplots()
    im = ax.imshow(share, cmap="Blues", vmin=0, vmax=1)
    for i in range(len(cm)):
        for j in range(len(cm)):
            ax.text(j, i, f"{int(cm[i, j])}", ha="center", va="center", fontsize=8,
                    color="white" if share[i, j] > 0.5 else "black")  # fmt: skip
    ax.set_xticks(range(len(YNAT_LABELS)), YNAT_LABELS, rotation=45, ha="right")
    ax.set_yticks(range(len(YNAT_LABELS)), YNAT_LABELS)
    ax.set(xlabel="predicted", ylabel="true", title=title)
    ax.grid(False)
    fig.colorbar(im, ax=ax, fraction=0.046, label="share of the true class")
    return fig


def holdout_curves(run_root: Path, variants: Sequence[str]) -> pd.DataFrame:
    """Holdout macro-F1 per epoch for each variant and seed, from the CSV logs."""
    frames = []
    for v in variants:
        for path in sorted(Path(run_root, v).glob("seed*/logs/version_*/metrics.csv")):
            df = pd.read_csv(path).dropna(subset=["holdout_macro_f1"])[["epoch", "holdout_macro_f1"]]
            frames.append(df.assign(variant=v, seed=path.parts[-4]))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def curves_figure(curves: pd.DataFrame) -> Figure:
    fig = Figure(figsize=(6.5, 3.8))
    ax = fig.subplots()
    for i, (variant, df) in enumerate(curves.groupby("variant", sort=False)):
        color = f"C{i}"
        for j, (_, seed_df) in enumerate(df.groupby("seed")):
            ax.plot(seed_df["epoch"] + 1, seed_df["holdout_macro_f1"], marker="o", color=color, alpha=0.8,
                    label=variant if j == 0 else None)  # fmt: skip
    ax.set(xlabel="epoch", ylabel="holdout macro-F1 (10 % of train)", title="Model selection curves")
    ax.legend(frameon=False)
    return fig
