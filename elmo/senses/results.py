"""Notebook 05's results, typed: the bank, the layers' geometry, the homographs and their senses."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from elmo.core.results import StageResults


@dataclass
class SensesResults(StageResults):
    """sizes : the `SensesConfig` used. bank : sentences, tokens, embedding seconds, sources.
    geometry_by_layer : per layer anisotropy, self_similarity, adjusted. glove_anisotropy : the
    static baseline's. homograph_self_similarity, layer0_self_similarity, sense_agreement : per
    homograph. occurrences, proxy_senses, token_counts, kiwipiepy_tags : what the bank holds."""

    FILE: ClassVar[str] = "senses_results.json"

    profile: str
    sizes: dict
    bank: dict
    geometry_by_layer: list[dict]
    glove_anisotropy: float
    homograph_self_similarity: list[dict] = field(default_factory=list)
    layer0_self_similarity: dict = field(default_factory=dict)
    sense_agreement: list[dict] = field(default_factory=list)
    occurrences: dict = field(default_factory=dict)
    proxy_senses: dict = field(default_factory=dict)
    token_counts: dict = field(default_factory=dict)
    kiwipiepy_tags: dict = field(default_factory=dict)
    seconds: float = 0.0
