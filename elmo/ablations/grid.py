"""Ablations of ELMo on YNAT (issue #5): γ, layer weights, λ, placement, data size, domain adaptation.

Every variant is the task model of `elmo.ynat` under the finetuning protocol (epochs selected
on the fixed 10 % holdout of train; macro-F1 and accuracy over the full dev set), trained over
several seeds on the cached biLM layers, so only the small task models train here.

    GRID              name -> variant (a dict of `TaskVariant` fields)
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
from elmo.ynat.report import results_figure, results_table, run_mixes
from elmo.ynat.results import reusable_runs
from elmo.ynat.train import resolve_variant

MAIN, NO_ELMO = "main", "no_elmo"
# Each variant names its own run folder ("abl-…"): the λ = 1 variant would otherwise share the
# main variant's derived name, and 03_finetune's checkpoints stay untouched.
# λ = 0.001 is FinetuneConfig.l2_coef, i.e. the main variant. With two biLSTM layers (every
# profile) the single layers are 0 (the char-CNN), 1, and 2 = "last" (index -1).
GRID: dict[str, dict] = {
    NO_ELMO: {"elmo": False, "name": "abl-no-elmo"},
    MAIN: {"elmo": True, "name": "abl-main"},
    "gamma_fixed": {"elmo": True, "gamma": "fixed", "name": "abl-gamma-fixed"},
    "uniform": {"elmo": True, "weights": "uniform", "name": "abl-uniform"},
    "last_layer": {"elmo": True, "weights": -1, "name": "abl-last"},
    "layer0": {"elmo": True, "weights": 0, "name": "abl-layer0"},
    "layer1": {"elmo": True, "weights": 1, "name": "abl-layer1"},
    "l2_1": {"elmo": True, "l2_coef": 1.0, "name": "abl-l2-1"},
    "input_output": {"elmo": True, "placement": "input_output", "name": "abl-input-output"},
    # x_k started from GloVe (issue 16's lever), without and with ELMo: the same task model.
    "glove": {"elmo": False, "x_k": "glove", "name": "abl-no-elmo-glove"},
    "main_glove": {"elmo": True, "x_k": "glove", "name": "abl-main-glove"},
    # x_k = [learned; the biLM's char-CNN vectors (layer 0)]: how much of ELMo is layer 0 alone.
    "charcnn": {"elmo": False, "x_k": "learned+char_cnn", "name": "abl-no-elmo-charcnn"},
    # x_k without its character n-grams (the recipe before issue 16's subword lever), both ways.
    "learned": {"elmo": False, "x_k": "learned", "name": "abl-no-elmo-learned"},
    "main_learned": {"elmo": True, "x_k": "learned", "name": "abl-main-learned"},
}
# Display names of the grid's rows (tables and figures only; results are keyed by GRID's keys).
GRID_LABELS = {
    NO_ELMO: "no ELMo",
    MAIN: "ELMo: learned s_j and γ (main)",
    "gamma_fixed": "γ fixed at 1",
    "uniform": "uniform average",
    "last_layer": "last layer only",
    "layer0": "layer 0 only (char-CNN)",
    "layer1": "layer 1 only",
    "l2_1": "λ = 1",
    "input_output": "input + output",
    "glove": "no ELMo, x_k from GloVe",
    "main_glove": "ELMo (main), x_k from GloVe",
    "charcnn": "no ELMo, x_k + biLM char-CNN",
    "learned": "no ELMo, x_k without n-grams",
    "main_learned": "ELMo (main), x_k without n-grams",
}

# (A, B) pairs compared seed by seed: the difference reported is A − B.
PAIRS: dict[str, tuple[str, str]] = {
    "gamma": (MAIN, "gamma_fixed"),
    "learned_vs_uniform": (MAIN, "uniform"),
    "learned_vs_last": (MAIN, "last_layer"),
    "uniform_vs_last": ("uniform", "last_layer"),
    "lambda": (MAIN, "l2_1"),
    "placement": ("input_output", MAIN),
    "elmo": (MAIN, NO_ELMO),
    "glove_no_elmo": ("glove", NO_ELMO),
    "glove_elmo": ("main_glove", MAIN),
    "elmo_glove": ("main_glove", "glove"),
    "charcnn": ("charcnn", NO_ELMO),
    "subwords_no_elmo": (NO_ELMO, "learned"),
    "subwords_elmo": (MAIN, "main_learned"),
    "elmo_learned": ("main_learned", "learned"),
}
PAIR_LABELS = {
    "gamma": "γ learned − γ fixed",
    "learned_vs_uniform": "learned s_j − uniform",
    "learned_vs_last": "learned s_j − last layer",
    "uniform_vs_last": "uniform − last layer",
    "lambda": "λ 0.001 − λ 1",
    "placement": "input+output − input",
    "elmo": "ELMo − no ELMo",
    "glove_no_elmo": "no ELMo: GloVe x_k − x_k with n-grams",
    "glove_elmo": "ELMo: GloVe x_k − x_k with n-grams",
    "elmo_glove": "ELMo − no ELMo, both GloVe x_k",
    "charcnn": "no ELMo: char-CNN x_k − x_k with n-grams",
    "subwords_no_elmo": "no ELMo: x_k with − without n-grams",
    "subwords_elmo": "ELMo: x_k with − without n-grams",
    "elmo_learned": "ELMo − no ELMo, both x_k without n-grams",
}

SAMPLE_SEED = 2024  # which fit rows a fraction keeps; fixed, so every model seed sees the same rows
# arm -> GRID key. The ELMo arm is 03's main model (input + output), so that its 100 % point is
# 03's own runs and the grid's fraction its "input_output" row: no run is trained twice.
EFFICIENCY_MODELS = {"elmo": "input_output", "no_elmo": NO_ELMO}
TFIDF = "tfidf"  # the sample-efficiency arm of TF-IDF + LR on the same rows
EFFICIENCY_LABELS = {"elmo": "with ELMo", "no_elmo": "without ELMo", TFIDF: "TF-IDF + LR"}

# 03_finetune's keys (FinetuneConfig.models) of the two grid variants it trains with the same
# settings, and of its TF-IDF + LR on the fit rows (C chosen on the holdout: the efficiency's arm at 1).
FINETUNE_KEYS = {"input_output": "elmo_input_output", NO_ELMO: "no_elmo", TFIDF: "tfidf_fit"}


def grid_label(key: str) -> str:
    return GRID_LABELS.get(key, key)


def reuse_finetune_runs(directory: Path, cfg: Config, artifact: str | Path) -> dict[str, list[dict]]:
    """The grid's main and no-ELMo runs (and TF-IDF on the fit rows) from 03's results in
    `directory`, when 03 made them with these exact settings and biLM (`elmo.ynat.results.reusable_runs`); {} otherwise."""
    saved = reusable_runs(directory, cfg, artifact)
    return {grid_key: saved[key] for grid_key, key in FINETUNE_KEYS.items() if key in saved}


def grid_seconds(results: dict[str, list[dict]]) -> float:
    """Summed wall time of every run in `results`."""
    return float(sum(r.get("wall_seconds", 0.0) for runs in results.values() for r in runs))


def ablation_table(results: dict[str, list[dict]]) -> pd.DataFrame:
    """`results_table` (macro-F1 and accuracy, mean ± std over seeds), rows by display label."""
    return results_table({grid_label(k): v for k, v in results.items()})


def ablation_figure(results: dict[str, list[dict]], title: str = "YNAT dev macro-F1: ablations") -> Figure:
    """Each variant's seeds as dots with their mean ± std, on an axis framed on the runs; the
    no-ELMo mean is the labelled reference line (`elmo.ynat.report.results_figure`)."""
    labelled = {grid_label(k): v for k, v in results.items()}
    return results_figure(labelled, baseline=grid_label(NO_ELMO) if NO_ELMO in results else None, title=title)


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
            for where, weights, gamma in run_mixes(r):
                rows.append(weights)
                tag = " (output mix)" if where == "output" else ""
                labels.append(f"{grid_label(name)}{tag}, seed {r['seed']} (γ={gamma:.2f})")
    return rows, labels
