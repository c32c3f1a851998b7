"""Ablations of ELMo on YNAT (issue #5): γ, layer weights, λ, placement, data size, domain adaptation.

Every variant is the task model of `elmo.ynat` under the finetuning protocol (epochs selected
on the fixed 10 % holdout of train; macro-F1 and accuracy over the full dev set), trained over
several seeds on the cached biLM layers, so only the small task models train here.

    GRID              name -> variant (a `elmo.ynat.train.resolve_variant` update)
    paired            seed-matched differences and a paired t-test between two variants
    subsample_fit     a stratified fraction of the `fit` rows (holdout and dev unchanged)
    sample_efficiency macro-F1 against that fraction, with and without ELMo
    adapt_bilm        continue the biLM's LM training on YNAT train titles; a new artifact
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from elmo.core.config import Config
from elmo.ynat.report import results_figure, results_table
from elmo.ynat.train import resolve_variant, saved_runs

MAIN = "ELMo: learned s_j and γ (main)"
NO_ELMO = "no ELMo"
# Each variant names its own run folder ("abl-…"): the λ = 1 variant would otherwise share the
# main variant's derived name, and 03_finetune's checkpoints stay untouched.
# λ = 0.001 is FinetuneConfig.l2_coef, i.e. the main variant. With two biLSTM layers (every
# profile) the single layers are 0 (the char-CNN), 1, and 2 = "last" (index -1).
GRID: dict[str, dict] = {
    NO_ELMO: {"elmo": False, "name": "abl-no-elmo"},
    MAIN: {"elmo": True, "name": "abl-main"},
    "γ fixed at 1": {"elmo": True, "gamma": "fixed", "name": "abl-gamma-fixed"},
    "uniform average": {"elmo": True, "weights": "uniform", "name": "abl-uniform"},
    "last layer only": {"elmo": True, "weights": -1, "name": "abl-last"},
    "layer 0 only (char-CNN)": {"elmo": True, "weights": 0, "name": "abl-layer0"},
    "layer 1 only": {"elmo": True, "weights": 1, "name": "abl-layer1"},
    "λ = 1": {"elmo": True, "l2_coef": 1.0, "name": "abl-l2-1"},
    "input + output": {"elmo": True, "placement": "input_output", "name": "abl-input-output"},
}

# (A, B) pairs compared seed by seed: the difference reported is A − B.
PAIRS: dict[str, tuple[str, str]] = {
    "γ learned − γ fixed": (MAIN, "γ fixed at 1"),
    "learned s_j − uniform": (MAIN, "uniform average"),
    "learned s_j − last layer": (MAIN, "last layer only"),
    "uniform − last layer": ("uniform average", "last layer only"),
    "λ 0.001 − λ 1": (MAIN, "λ = 1"),
    "input+output − input": ("input + output", MAIN),
    "ELMo − no ELMo": (MAIN, NO_ELMO),
}

SAMPLE_SEED = 2024  # which fit rows a fraction keeps; fixed, so every model seed sees the same rows
EFFICIENCY_MODELS = {"with ELMo": MAIN, "without ELMo": NO_ELMO}


# 03_finetune's names for the two grid variants it trains with the very same settings.
FINETUNE_NAMES = {MAIN: "biLSTM + ELMo (input)", NO_ELMO: "biLSTM, no ELMo"}


def reuse_finetune_runs(path: Path, cfg: Config, artifact: str | Path) -> dict[str, list[dict]]:
    """The grid's main and no-ELMo runs from 03's `finetune_results.json`, when 03 made them
    with these exact settings and biLM (`elmo.ynat.train.saved_runs`); {} otherwise."""
    saved = saved_runs(path, cfg, artifact)
    return {grid_name: saved[name] for grid_name, name in FINETUNE_NAMES.items() if name in saved}


def grid_seconds(results: dict[str, list[dict]]) -> float:
    """Summed wall time of every run in `results`."""
    return float(sum(r.get("wall_seconds", 0.0) for runs in results.values() for r in runs))


def ablation_table(results: dict[str, list[dict]]) -> pd.DataFrame:
    """`results_table` (macro-F1 and accuracy, mean ± std over seeds)."""
    return results_table(results)


def ablation_figure(table: pd.DataFrame, title: str = "YNAT dev macro-F1: ablations") -> Figure:
    """Horizontal bars of dev macro-F1 with std error bars, one per variant."""
    return results_figure(table, title=title)


def weights_heatmap_figure(results: dict[str, list[dict]], title: str = "Learned layer weights") -> Figure:
    """Heatmap of the softmax layer weights s_j: rows variant × seed (× mix), columns layers 0..L.

    Runs without a mix (no ELMo) are skipped; an input + output model gives two rows per seed.
    Each cell is annotated with s_j; the row label carries γ.
    """
    rows, labels = _weight_rows(results)
    if not rows:
        raise ValueError("no run with ELMo layer weights to show")
    w = np.array(rows)
    fig = Figure(figsize=(1.1 * w.shape[1] + 4.2, 0.36 * len(rows) + 1.4))
    ax = fig.subplots()
    # A fixed 0..1 scale: figures of different runs compare, and a uniform mix reads as pale.
    im = ax.imshow(w, cmap="Blues", vmin=0, vmax=1, aspect="auto")
    for i in range(w.shape[0]):
        for j in range(w.shape[1]):
            color = "white" if w[i, j] > 0.6 else "black"
            ax.text(j, i, f"{w[i, j]:.2f}", ha="center", va="center", fontsize=8, color=color)
    ax.set_xticks(range(w.shape[1]), [f"layer {j}" for j in range(w.shape[1])])
    ax.set_yticks(range(len(labels)), labels, fontsize=8)
    ax.set(title=title)
    ax.grid(False)
    fig.colorbar(im, ax=ax, fraction=0.046, label="s_j")
    return fig


def learned_weights(results: dict[str, list[dict]], grid: dict[str, dict] = GRID) -> dict[str, list[dict]]:
    """The runs of variants whose layer weights s_j are learned (the others' are fixed by design)."""
    return {k: v for k, v in results.items() if k in grid and _learns_weights(grid[k])}


def _learns_weights(variant: dict) -> bool:
    v = resolve_variant(variant)
    return bool(v["elmo"]) and v["weights"] == "learned"


def _weight_rows(results: dict[str, list[dict]]) -> tuple[list[list[float]], list[str]]:
    rows, labels = [], []
    for name, runs in results.items():
        for r in runs:
            for suffix, tag in (("", ""), ("_output", " (output mix)")):
                if r.get(f"mix_weights{suffix}") is not None:
                    rows.append(r[f"mix_weights{suffix}"])
                    labels.append(f"{name}{tag}, seed {r['seed']} (γ={r[f'gamma{suffix}']:.2f})")
    return rows, labels
