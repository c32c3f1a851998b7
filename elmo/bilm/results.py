"""Notebook 02's results, typed: the biLM's held-out perplexities beside the n-gram reference."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from elmo.core.results import StageResults


@dataclass
class PretrainResults(StageResults):
    """biLM : the artifact's record (valid/test perplexities per direction, epochs, steps,
    train_seconds; with several sources, "sources": {source: {split: ...}}). ngram3 : the
    Kneser–Ney 3-gram on the same tokens ({split: {forward_ppl, backward_ppl}}). ngram3_sources :
    the same per source ({source: {split: ...}}). parameters, vocab, chars : sizes of the biLM
    and its vocabularies. corpus : {source: {split: documents}} of the corpus it read."""

    FILE: ClassVar[str] = "pretrain_results.json"

    biLM: dict
    ngram3: dict
    parameters: int
    vocab: int
    chars: int
    ngram3_sources: dict = field(default_factory=dict)
    corpus: dict = field(default_factory=dict)
