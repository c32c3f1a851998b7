"""Notebook 04's results, typed: the grid's runs by `GRID` key, paired tests by `PAIRS` key,
sample-efficiency rows by arm key ("elmo", "no_elmo"), and the domain-adaptation runs.

Display names (`GRID_LABELS`, `PAIR_LABELS`, `EFFICIENCY_LABELS`) are applied only where a table
or figure is drawn.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from elmo.core.results import StageResults
from elmo.ynat.results import score_summary


@dataclass
class AblationResults(StageResults):
    """runs : {GRID key: [result per seed]}. paired : {PAIRS key: `paired(...)`}.
    sample_efficiency : one row per run: model (arm key), fraction, n_fit, seed, macro_f1,
    accuracy, epochs. adaptation : {"info", "runs", "change"} of the domain-adapted biLM, or None.
    seconds : {"grid", "total"}. grid_fraction : the share of the fit rows the grid trains on;
    grid_fit_rows : how many rows that is; equal_steps_as : the fraction whose optimizer steps
    smaller fractions match (None: equal epochs). summary : `score_summary` per GRID key (derived)."""

    FILE: ClassVar[str] = "ablation_results.json"
    FORMAT: ClassVar[int] = 2

    runs: dict[str, list[dict]]
    paired: dict[str, dict] = field(default_factory=dict)
    sample_efficiency: list[dict] = field(default_factory=list)
    adaptation: dict | None = None
    seconds: dict = field(default_factory=dict)
    grid_fraction: float = 1.0
    grid_fit_rows: int = 0
    equal_steps_as: float | None = None
    summary: dict[str, dict] = field(default_factory=dict)

    def __post_init__(self):
        self.summary = {key: score_summary(runs) for key, runs in self.runs.items()}
