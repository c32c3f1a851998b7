"""Seed-matched differences between two variants and a paired t-test.
"""
from __future__ import annotations

import math
import warnings
from typing import Sequence

import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure
from scipy.stats import ttest_rel

from elmo.ablations.grid import PAIR_LABELS, PAIRS
from elmo.ynat.metrics import mean_std
from elmo.ynat.report import framed_limits


def paired(results_a: Sequence[dict], results_b: Sequence[dict], key: str = "macro_f1") -> dict:
    """Seed-matched comparison of two variants: differences A − B and a paired t-test.

    Runs are matched by their "seed"; seeds present on one side only are ignored (listed under
    "unmatched"). With n seeds the test has n − 1 degrees of freedom: at n = 3 only a large,
    consistent difference reaches p < 0.05, and a large p says little.

    # Returns
    {"seeds", "a", "b", "diffs" (lists, by seed), "mean", "std" (ddof=1; 0 for n = 1) of the
    diffs, "n", "t", "p" (scipy.stats.ttest_rel, two-sided; NaN when n < 2 or the diffs are
    all equal), "unmatched"}.
    """
    a, b = _by_seed(results_a, key), _by_seed(results_b, key)
    seeds = sorted(set(a) & set(b))
    if not seeds:
        raise ValueError(f"no common seeds: {sorted(a)} vs {sorted(b)}")
    xa, xb = np.array([a[s] for s in seeds]), np.array([b[s] for s in seeds])
    diffs = xa - xb
    t = p = math.nan
    if len(seeds) > 1 and np.ptp(diffs) > 0:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            t, p = (float(v) for v in ttest_rel(xa, xb))
    summary = mean_std(diffs)
    unmatched = sorted(set(a) ^ set(b))
    return {
        "seeds": seeds, "a": xa.tolist(), "b": xb.tolist(), "diffs": diffs.tolist(),
        "mean": summary["mean"], "std": summary["std"], "n": len(seeds), "t": t, "p": p,
        "unmatched": unmatched,
    }  # fmt: skip


def _by_seed(results: Sequence[dict], key: str) -> dict[int, float]:
    out: dict[int, float] = {}
    for r in results:
        if r["seed"] in out:
            raise ValueError(f"seed {r['seed']} appears twice")
        out[r["seed"]] = float(r[key])
    return out


def paired_table(
    results: dict[str, list[dict]], pairs: dict[str, tuple[str, str]] = PAIRS, key: str = "macro_f1"
) -> pd.DataFrame:
    """One row per pair present in `results`: per-seed differences, mean ± std, t and p."""
    rows = []
    for pair, (a, b) in pairs.items():
        if a in results and b in results:
            c = paired(results[a], results[b], key)
            diffs = ", ".join(f"{d:+.2f}" for d in c["diffs"])
            rows.append({
                "comparison (A − B)": PAIR_LABELS.get(pair, pair), "n seeds": c["n"], "per-seed diffs": diffs,
                "mean diff": c["mean"], "std": c["std"], "t": c["t"], "p (paired t)": c["p"],
            })  # fmt: skip
    return pd.DataFrame(rows).set_index("comparison (A − B)").round(3)


def paired_figure(results: dict[str, list[dict]], pairs: dict[str, tuple[str, str]] = PAIRS, key: str = "macro_f1",
                  title: str = "Paired differences, seed by seed") -> Figure:
    """The claims of the grid as differences: per comparison, each seed's A − B as a dot, their
    mean ± std as a black diamond and bar, the paired-t p beside it, and 0 (no difference) marked."""
    rows, notes = [], {}
    for pair, (a, b) in pairs.items():
        if a in results and b in results:
            # NanumGothic has no U+2212 minus: an en dash reads the same in the figure.
            c, label = paired(results[a], results[b], key), PAIR_LABELS.get(pair, pair).replace("−", "–")
            rows += [{"comparison": label, "seed": s, "diff": d} for s, d in zip(c["seeds"], c["diffs"])]
            p = "" if math.isnan(c["p"]) else f", p = {c['p']:.3f}"
            spread = f" ± {c['std']:.2f}" if c["n"] > 1 else f" ({c['n']} seed)"
            notes[label] = (c["mean"], c["std"], f"{c['mean']:+.2f}{spread}{p}")
    if not rows:
        raise ValueError("no pair of variants to compare in these results")
    data, order = pd.DataFrame(rows), list(notes)
    fig = Figure(figsize=(8.2, 0.45 * len(order) + 1.6), constrained_layout=True)
    ax = fig.subplots()
    ax.axvline(0, color="#555555", lw=1, ls="--", zorder=0)
    sns.stripplot(data=data, x="diff", y="comparison", order=order, ax=ax, color="#3b6ea8", size=5, jitter=0.12,
                  alpha=0.75, zorder=2)  # fmt: skip
    sns.pointplot(data=data, x="diff", y="comparison", order=order, ax=ax, errorbar="sd", linestyle="none",
                  markers="D", color="black", markersize=4, capsize=0.3, err_kws={"linewidth": 1.2}, zorder=3)  # fmt: skip
    lo, hi = framed_limits([*data["diff"], 0.0])
    ax.set_xlim(lo, hi + 0.35 * (hi - lo))  # room for the labels on the right
    for y, label in enumerate(order):
        mean, std, text = notes[label]
        ax.annotate(text, (max(mean + std, *data.loc[data["comparison"] == label, "diff"]), y), xytext=(6, -3),
                    textcoords="offset points", fontsize=8)  # fmt: skip
    ax.annotate("no difference", (0, 1.0), xycoords=("data", "axes fraction"), xytext=(0, 3),
                textcoords="offset points", ha="center", va="bottom", fontsize=7.5, color="#555555")  # fmt: skip
    ax.set(xlabel=f"A – B, dev {key.replace('_', '-')} points: dots are seeds, ◆ mean ± std", ylabel="")
    ax.set_title(title, pad=14)
    ax.grid(axis="x", alpha=0.3)
    ax.grid(axis="y", visible=False)
    return fig
