"""Tables and figures of YNAT results: mean ± std over seeds, per-class F1, confusions, curves."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd
import seaborn as sns
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


def markdown_row(name: str, summary: dict, holdout: bool = False) -> str:
    """One README table row from a row's `score_summary` (elmo.ynat.results): runs, dev
    macro-F1 and accuracy, with "± std" only when there is more than one run; with `holdout`,
    a last column of the mean holdout macro-F1 (what selection sees; "–" when there is none)."""
    f1, acc, n = summary["macro_f1"], summary["accuracy"], summary["n"]
    pm = f" ± {f1['std']:.1f}" if n > 1 else ""
    pa = f" ± {acc['std']:.1f}" if n > 1 else ""
    row = f"| {name} | {n} | {f1['mean']:.1f}{pm} | {acc['mean']:.1f}{pa} |"
    if holdout:
        h = summary.get("holdout_macro_f1")
        row += f" {h:.1f} |" if h is not None else " – |"
    return row


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


MIXES = (("input", ""), ("output", "_output"))  # a run's mixes and the suffix of their result keys


def run_mixes(run: dict) -> list[tuple[str, list[float], float]]:
    """(where, s_j, gamma) of each ScalarMix a run learned ("input", then "output" for an input +
    output model), from its `mix_summary` keys; [] for a model without ELMo."""
    return [(where, run[f"mix_weights{suffix}"], run[f"gamma{suffix}"])
            for where, suffix in MIXES if run.get(f"mix_weights{suffix}") is not None]  # fmt: skip


def mix_table(runs: Sequence[dict]) -> pd.DataFrame:
    """The learned s_0..s_L and gamma of every mix of every run: rows (seed, mix)."""
    rows = [{"seed": r["seed"], "mix": where, **{f"s_{j}": s for j, s in enumerate(weights)}, "γ": gamma}
            for r in runs for where, weights, gamma in run_mixes(r)]  # fmt: skip
    return pd.DataFrame(rows).set_index(["seed", "mix"]).round(3)


def per_class_table(results: dict[str, Sequence[dict]]) -> pd.DataFrame:
    """Mean per-class F1 on dev, one column per model."""
    return pd.DataFrame(
        {name: np.mean([[r["per_class_f1"][c] for c in YNAT_LABELS] for r in runs], axis=0) for name, runs in results.items()},
        index=list(YNAT_LABELS),
    ).round(1)


def seed_points(results: dict[str, Sequence[dict]], key: str = "macro_f1") -> pd.DataFrame:
    """Every run as a row (model, seed, value): the long form the seed-point figures draw."""
    rows = [{"model": name, "seed": r.get("seed"), key: float(r[key])} for name, runs in results.items() for r in runs]
    return pd.DataFrame(rows, columns=["model", "seed", key])


def framed_limits(values: Sequence[float], pad: float = 0.08) -> tuple[float, float]:
    """Axis limits around `values` with `pad` of their span either side (at least 0.5 points):
    an axis framed on the data, not on 0-100, so differences of a point or two are visible."""
    lo, hi = float(np.nanmin(values)), float(np.nanmax(values))
    margin = max(pad * (hi - lo), 0.5)
    return lo - margin, hi + margin


def reference_lines(ax, lines: dict[str, tuple[float, str, str]]) -> None:
    """Vertical reference lines, each labelled with its name and value above the axes; labels
    sit on their own tier (in order of value) so that close lines' labels never overlap.

    lines : name -> (value, line style, colour). Call after the x limits are set.
    """
    lo, hi = ax.get_xlim()
    for tier, (name, (value, style, colour)) in enumerate(sorted(lines.items(), key=lambda kv: kv[1][0])):
        ax.axvline(value, color=colour, ls=style, lw=1.1, zorder=0)
        where = (value - lo) / (hi - lo)
        ha = "left" if where < 0.25 else "right" if where > 0.75 else "center"
        ax.annotate(f"{name}: {value:.4g}", (value, 1.0), xycoords=("data", "axes fraction"),
                    xytext=(0, 3 + 11 * tier), textcoords="offset points", ha=ha, va="bottom", fontsize=7.5,
                    color=colour, arrowprops=dict(arrowstyle="-", color=colour, lw=0.6, ls=style))  # fmt: skip


def results_figure(results: dict[str, Sequence[dict]], reference: dict[str, float] | None = None,
                   baseline: str | None = None, omit: Sequence[str] = (), title: str = "YNAT dev",
                   key: str = "macro_f1", xlabel: str = "dev macro-F1 (full dev set)") -> Figure:
    """One row per model: each run (seed) as a dot, their mean ± std as a black diamond and bar.

    reference : external numbers drawn as labelled dotted lines (e.g. KLUE's, with their split).
    baseline : a model of `results` (e.g. "TF-IDF + LR") drawn as a labelled dashed line at its mean.
    omit : models left out of the plot (e.g. the majority class, far below the rest), named in a note.
    The axis is framed on the runs and lines shown (`framed_limits`), so small differences show.
    """
    shown = {k: v for k, v in results.items() if k not in omit}
    data, order = seed_points(shown, key), list(shown)
    fig = Figure(figsize=(8.2, 0.42 * len(order) + 1.9), constrained_layout=True)
    ax = fig.subplots()
    sns.stripplot(data=data, x=key, y="model", order=order, ax=ax, color="#3b6ea8", size=5, jitter=0.15,
                  alpha=0.75, zorder=2)  # fmt: skip
    sns.pointplot(data=data, x=key, y="model", order=order, ax=ax, errorbar="sd", linestyle="none", markers="D",
                  color="black", markersize=4, capsize=0.3, err_kws={"linewidth": 1.2}, zorder=3)  # fmt: skip
    means = data.groupby("model", sort=False)[key].agg(["mean", "std", "count"])
    for y, name in enumerate(order):
        m = means.loc[name]
        sd = 0.0 if m["count"] < 2 or np.isnan(m["std"]) else m["std"]
        label = f"{m['mean']:.1f}" + (f" ± {sd:.1f}" if m["count"] > 1 else "")
        ax.annotate(label, (m["mean"] + sd, y), xytext=(6, -3), textcoords="offset points", fontsize=8)
    lines = {name: (float(v), ":", "#d1495b") for name, v in (reference or {}).items()}
    if baseline is not None:
        lines[baseline] = (float(means.loc[baseline, "mean"]), "--", "#555555")
    lo, hi = framed_limits([*data[key], *(v for v, _, _ in lines.values())])
    ax.set_xlim(lo, hi + 0.12 * (hi - lo))  # room for the value labels on the right
    reference_lines(ax, lines)
    ax.set(xlabel=f"{xlabel}: dots are seeds, ◆ mean ± std", ylabel="")
    ax.set_title(title, pad=12 + 11 * len(lines))
    ax.grid(axis="x", alpha=0.3)
    ax.grid(axis="y", visible=False)
    skipped = [f"{k} ({np.mean([r[key] for r in results[k]]):.1f})" for k in omit if k in results]
    if skipped:
        ax.text(0, -0.16, "not shown: " + ", ".join(skipped), transform=ax.transAxes, fontsize=7.5,
                va="top", color="#555555")  # fmt: skip
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
