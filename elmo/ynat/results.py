"""Notebook 03's results, typed: each model's runs (one per seed) under a stable machine key.

Keys are `FinetuneConfig.models`' (e.g. "elmo_input"), the baselines' ("majority", "tfidf",
"tfidf_fit"), and derived ones for a model's seed ensemble (`ensemble_key`) and its blend with
TF-IDF (`blend_key`). 04 reuses runs, 06 reads the learned mix, the trade-off and the report read
scores, all by key. `LABELS` are the rows' display names in tables and figures only: renaming one
changes no file that another stage reads (tests/ynat/test_results.py).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import ClassVar

import pandas as pd

from elmo.core.config import Config
from elmo.core.results import StageResults
from elmo.ynat.metrics import mean_std
from elmo.ynat.report import results_table

BASELINES = ("majority", "tfidf", "tfidf_fit")
LABELS = {
    "majority": "majority class",
    "tfidf": "TF-IDF + LR",
    "tfidf_fit": "TF-IDF + LR, fit rows only",
    "no_elmo": "biLSTM, no ELMo",
    "elmo_input": "biLSTM + ELMo (input)",
    "elmo_input_output": "biLSTM + ELMo (input + output)",
    "elmo_input_output_distilled": "biLSTM + ELMo (input + output), distilled from its seed ensemble",
    "no_elmo_distilled": "biLSTM, no ELMo, distilled from its seed ensemble",
    "elmo_input_output_adapted": "biLSTM + ELMo (input + output), biLM adapted to YNAT",
    "no_elmo_glove": "biLSTM, no ELMo, x_k from GloVe",
    "elmo_input_output_glove": "biLSTM + ELMo (input + output), x_k from GloVe",
}
SHORT = {"no_elmo": "no-ELMo", "elmo_input": "ELMo (input)", "elmo_input_output": "ELMo",
         "elmo_input_output_distilled": "ELMo, distilled", "no_elmo_distilled": "no-ELMo, distilled",
         "elmo_input_output_adapted": "ELMo, adapted", "no_elmo_glove": "no-ELMo, GloVe",
         "elmo_input_output_glove": "ELMo, GloVe"}


# 03's seed-matched comparisons (A, B): ELMo's own gain over the same task model, and each lever.
ELMO_PAIRS = {
    "ELMo (input) − no ELMo": ("elmo_input", "no_elmo"),
    "ELMo (input + output) − no ELMo": ("elmo_input_output", "no_elmo"),
    "ELMo (input + output): distilled − trained on the labels": ("elmo_input_output_distilled", "elmo_input_output"),
    "no ELMo: distilled − trained on the labels": ("no_elmo_distilled", "no_elmo"),
    "ELMo (input + output) − no ELMo, both distilled": ("elmo_input_output_distilled", "no_elmo_distilled"),
    "ELMo (input + output): adapted − pretrained biLM": ("elmo_input_output_adapted", "elmo_input_output"),
    "no ELMo: GloVe x_k − x_k with n-grams": ("no_elmo_glove", "no_elmo"),
    "ELMo (input + output): GloVe x_k − x_k with n-grams": ("elmo_input_output_glove", "elmo_input_output"),
    "ELMo (input + output) − no ELMo, both with GloVe x_k": ("elmo_input_output_glove", "no_elmo_glove"),
}


def ensemble_key(model: str) -> str:
    return f"{model}_ensemble"


def blend_key(model: str) -> str:
    return f"{model}_ensemble_tfidf_blend"


def label(key: str, n_seeds: int | None = None) -> str:
    """The display name of a row key (the key itself when it has none)."""
    if key.endswith("_ensemble_tfidf_blend"):
        model = key.removesuffix("_ensemble_tfidf_blend")
        return f"{SHORT.get(model, model)} ensemble + TF-IDF (fit rows), blended"
    if key.endswith("_ensemble"):
        model = key.removesuffix("_ensemble")
        seeds = f"{n_seeds}-seed" if n_seeds else "seed"
        return f"{LABELS.get(model, model)}, {seeds} ensemble"
    return LABELS.get(key, key)


def row_labels(runs_per_key: dict[str, int]) -> dict[str, str]:
    """{key: display label} for rows with these run counts (an ensemble's label names how many
    seeds its model had)."""
    return {k: label(k, runs_per_key.get(k.removesuffix("_ensemble")) if k.endswith("_ensemble") else None)
            for k in runs_per_key}  # fmt: skip


def run_provenance(cfg: Config, artifact: str | Path) -> dict:
    """What decides a task-model run's numbers besides variant and seed: the finetuning
    settings and the biLM weights. 03 stores it with its results; 04 compares it before reuse."""
    sha = json.loads((Path(artifact) / "config.json").read_text())["weights_sha256"]
    return json.loads(json.dumps({"finetune": asdict(cfg.finetune), "bilm_sha256": sha}))


def score_summary(runs: list[dict]) -> dict:
    """Machine-keyed summary of a row's runs: n, macro_f1 and accuracy ({mean, std, n, values}),
    and the mean holdout macro-F1 (None when no run has one)."""
    hold = [r["holdout_macro_f1"] for r in runs if r.get("holdout_macro_f1") is not None]
    return {
        "n": len(runs),
        "macro_f1": mean_std([r["macro_f1"] for r in runs]),
        "accuracy": mean_std([r["accuracy"] for r in runs]),
        "holdout_macro_f1": sum(hold) / len(hold) if hold else None,
    }


@dataclass
class FinetuneResults(StageResults):
    """runs : {row key: [result per seed]} (one result for deterministic rows: baselines, ensembles).
    provenance : `run_provenance` of the runs, so 04 and the trade-off reuse them only when they
        would train exactly the same. embedding_throughput : the layer cache's, for the README.
    ensemble_members, blend_weights : {model key: value} of 03's ensembles and blends."""

    FILE: ClassVar[str] = "finetune_results.json"
    FORMAT: ClassVar[int] = 2

    runs: dict[str, list[dict]]
    provenance: dict
    embedding_throughput: dict = field(default_factory=dict)
    blend_weights: dict[str, float] = field(default_factory=dict)
    summary: dict[str, dict] = field(default_factory=dict)

    def __post_init__(self):
        self.summary = {key: score_summary(runs) for key, runs in self.runs.items()}

    def labelled(self) -> dict[str, list[dict]]:
        """{display label: runs}, for the table helpers of `elmo.ynat.report`."""
        names = row_labels({k: len(v) for k, v in self.runs.items()})
        return {names[k]: v for k, v in self.runs.items()}

    def table(self) -> pd.DataFrame:
        return results_table(self.labelled())

    def reusable(self, cfg: Config, artifact: str | Path) -> dict[str, list[dict]]:
        """The runs, when they were made with these exact settings and biLM (each run seeds
        itself, so training them again would repeat them); {} otherwise."""
        return self.runs if self.provenance == run_provenance(cfg, artifact) else {}


def best_holdout_run(runs: dict[str, list[dict]], keys) -> dict:
    """The run with the best *holdout* macro-F1 among the models `keys` (never chosen on dev):
    the one 03 shows the confusions of and predicts new headlines with."""
    candidates = [r for key in keys for r in runs.get(key, []) if r.get("holdout_macro_f1") is not None]
    if not candidates:
        raise ValueError(f"no run with a holdout score among {list(keys)}")
    return max(candidates, key=lambda r: r["holdout_macro_f1"])


def holdout_pick(summary: dict[str, dict], models: dict, elmo: bool = True) -> str:
    """The single model (no ensemble, no blend) with the best mean *holdout* macro-F1 among the
    03 models that use ELMo (`elmo=True`) or do not: the recipe the holdout picks, never dev.

    summary : `FinetuneResults.summary` (key -> {"holdout_macro_f1", ...}); models : key ->
    `TaskVariant` or its dict (as the results' provenance stores `FinetuneConfig.models`)."""
    def uses_elmo(v) -> bool:
        return v["elmo"] if isinstance(v, dict) else v.elmo
    keys = [k for k, v in models.items() if uses_elmo(v) == elmo and summary.get(k, {}).get("holdout_macro_f1") is not None]
    if not keys:
        raise ValueError(f"no {'ELMo' if elmo else 'no-ELMo'} model with a holdout score")
    return max(keys, key=lambda k: summary[k]["holdout_macro_f1"])


def model_of(runs: dict[str, list[dict]], run: dict) -> str:
    """The key of the model whose runs include `run` (e.g. `best_holdout_run`'s pick)."""
    for key, rs in runs.items():
        if any(r is run for r in rs):
            return key
    raise ValueError(f"run {run.get('variant')!r}, seed {run.get('seed')} is not among the results")


def reusable_runs(directory: str | Path, cfg: Config, artifact: str | Path) -> dict[str, list[dict]]:
    """`FinetuneResults.reusable` of the results in `directory`; {} when 03 has not written any."""
    saved = FinetuneResults.read(directory)
    return saved.reusable(cfg, artifact) if saved is not None else {}
