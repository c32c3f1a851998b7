"""Notebook 01's results, typed: counts of the corpus and of YNAT that later notebooks and the README read."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from elmo.core.results import StageResults


@dataclass
class DataStats(StageResults):
    """petitions, petitions_unique, characters : the raw corpus. corpus_petitions, sentences,
    tokens : {split: count} of the tokenized corpus. ynat : {split: {"rows", "labels": {label:
    count}}}. oov : the out-of-vocabulary curve of `elmo.data.stats.oov_curve`. chars : size of
    the character vocabulary. mix : one record per source of the corpus mix 01 shows
    (`elmo.data.stats.corpus_table`). coverage : {evaluation set: {vocabulary source: % of its
    tokens covered}} (`coverage_by_source`)."""

    FILE: ClassVar[str] = "data_stats.json"

    petitions: int
    petitions_unique: int
    characters: int
    corpus_petitions: dict[str, int] = field(default_factory=dict)
    sentences: dict[str, int] = field(default_factory=dict)
    tokens: dict[str, int] = field(default_factory=dict)
    ynat: dict[str, dict] = field(default_factory=dict)
    oov: dict = field(default_factory=dict)
    chars: int = 0
    mix: list[dict] = field(default_factory=list)
    coverage: dict = field(default_factory=dict)
