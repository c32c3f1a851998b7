"""Notebook 02's results, typed: the biLM's held-out perplexities beside the n-gram reference."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from elmo.core.results import StageResults


@dataclass
class PretrainResults(StageResults):
    """biLM : the artifact's record (valid/test perplexities per direction, epochs, steps,
    train_seconds). ngram3 : the Kneser–Ney 3-gram on the same tokens ({split: {forward_ppl,
    backward_ppl}}). parameters, vocab, chars : sizes of the biLM and its vocabularies."""

    FILE: ClassVar[str] = "pretrain_results.json"

    biLM: dict
    ngram3: dict
    parameters: int
    vocab: int
    chars: int
