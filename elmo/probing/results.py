"""Notebook 06's results, typed: scores per task and feature key ("layer0" .. "layerL", "mix",
"glove", "control"); display names come from `elmo.probing.tasks.feature_label` in tables only."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from elmo.core.results import StageResults


@dataclass
class ProbeResults(StageResults):
    """results : {task: {feature key: {metric: {mean, std, n, values}, "not_converged": int}}}.
    tasks : {task: sentences, eojeols, f1_labels, glove_oov}. mix : the learned mix probed
    (`learned_mix`). settings : the `ProbeConfig` used. timing : seconds by step."""

    FILE: ClassVar[str] = "probe_results.json"
    FORMAT: ClassVar[int] = 2

    results: dict[str, dict]
    tasks: dict[str, dict] = field(default_factory=dict)
    mix: dict = field(default_factory=dict)
    settings: dict = field(default_factory=dict)
    timing: dict[str, float] = field(default_factory=dict)
