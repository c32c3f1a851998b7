"""Seed-matched differences between two variants and a paired t-test.
"""
from __future__ import annotations

import math
import warnings
from typing import Sequence

import numpy as np
import pandas as pd
from scipy.stats import ttest_rel

from elmo.ablations.grid import PAIR_LABELS, PAIRS
from elmo.ynat.metrics import mean_std


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
