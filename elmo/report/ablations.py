"""The README tables of notebook 04 (ablations), from `ablation_results.json`.
"""
from __future__ import annotations

import pandas as pd

from elmo.ablations.efficiency import efficiency_stats
from elmo.ablations.grid import EFFICIENCY_LABELS, PAIR_LABELS, grid_label
from elmo.ynat.report import markdown_row


def ablation_markdown(summary: dict) -> str:
    """The README tables from `AblationResults.to_dict()` (for `elmo.results`): mean ± std per
    variant, then the paired differences, sample efficiency and domain adaptation when present."""
    rows = []
    if summary.get("grid_fit_rows"):
        rows += [f"Grid trained on {summary['grid_fit_rows']:,} fit headlines (a stratified "
                 f"{summary['grid_fraction']:g} of them); selection and scoring as in 03.", ""]  # fmt: skip
    rows += ["| variant | runs | dev macro-F1 | dev accuracy |", "|---|---:|---:|---:|"]
    rows += [markdown_row(grid_label(key), t) for key, t in summary["summary"].items()]
    if summary.get("paired"):
        rows += ["", "| paired comparison (A − B), dev macro-F1 | per-seed differences | mean ± std | p (paired t) |",
                 "|---|---|---:|---:|"]  # fmt: skip
        for key, c in summary["paired"].items():
            diffs = ", ".join(f"{d:+.2f}" for d in c["diffs"])
            rows.append(f"| {PAIR_LABELS.get(key, key)} | {diffs} | {c['mean']:+.2f} ± {c['std']:.2f} | {c['p']:.3f} |")
    if summary.get("sample_efficiency"):
        stats = efficiency_stats(pd.DataFrame(summary["sample_efficiency"]))
        spread = (" ± " + stats["std"].round(1).astype(str)).where(stats["runs"] > 1, "")  # one run (TF-IDF): no ±
        cells = (stats["mean"].round(1).astype(str) + spread).unstack("model").rename(columns=EFFICIENCY_LABELS)
        rows += ["", "| fraction of train (rows) | " + " | ".join(cells.columns) + " |",
                 "|---|" + "---:|" * len(cells.columns)]  # fmt: skip
        for (fraction, n_fit), r in cells.iterrows():
            rows.append(f"| {fraction:g} ({n_fit:,}) | " + " | ".join(r.values) + " |")
        if summary.get("equal_steps_as"):
            rows += ["", f"Fractions below {summary['equal_steps_as']:g} train for as many optimizer steps "
                     "as the grid's runs (more epochs), not for as many epochs."]  # fmt: skip
    if summary.get("adaptation"):
        a = summary["adaptation"]
        ppl = f"{a['info']['valid_before']['ppl']:.1f} → {a['info']['valid_after']['ppl']:.1f}"
        c = a["change"]
        rows += ["", f"Domain adaptation (biLM further trained on YNAT train titles): held-out title "
                 f"perplexity {ppl}; dev macro-F1 change {c['mean']:+.2f} ± {c['std']:.2f} (paired over "
                 f"{c['n']} seeds, p = {c['p']:.3f})."]  # fmt: skip
    if summary.get("seconds"):
        rows += ["", f"Measured wall time of `04_ablations`: {summary['seconds']['total'] / 60:.1f} min."]
    return "\n".join(rows)
