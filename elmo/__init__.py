"""elmo-ko: ELMo (Peters et al. 2018) for Korean, reproduced.

Stages, in the order the notebooks tell them (lower stages never import higher ones)::

    elmo.core      config and profiles, run folders, seeding, figures, tracking
    elmo.data      01: download, readers, tokenizer and vocabularies, corpus, batching, statistics
    elmo.bilm      02: the biLM, its pretraining, the n-gram reference, speed
    elmo.embed     ELMo: ScalarMix, Elmo, the layer cache, GloVe
    elmo.ynat      03: YNAT task model, training, prediction, baselines, ensembles
    elmo.ablations 04: ablation grid, paired tests, sample efficiency, domain adaptation, trade-off
    elmo.senses    05: word senses, layer geometry, the explorer
    elmo.probing   06: linear probes per layer
    elmo.report    results.json and the README's tables

Command lines are the top-level modules: `python -m elmo.{download,pretrain,bench,jobs,tradeoff,
results,notebooks}`. The names most users need are one import away::

    from elmo import Elmo, BiLM, ScalarMix, batch_to_ids, get_config
"""

from __future__ import annotations

import importlib

# Resolved on first use, so `import elmo.core.config` does not pay for torch.
_PUBLIC = {
    "BiLM": "elmo.bilm.model",
    "Elmo": "elmo.embed.elmo",
    "ScalarMix": "elmo.embed.scalar_mix",
    "batch_to_ids": "elmo.embed.elmo",
    "get_config": "elmo.core.config",
}
__all__ = sorted(_PUBLIC)


def __getattr__(name: str):
    if name in _PUBLIC:
        return getattr(importlib.import_module(_PUBLIC[name]), name)
    raise AttributeError(f"module 'elmo' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(list(globals()) + __all__)
