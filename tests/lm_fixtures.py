"""A small synthetic corpus with structure a tiny biLM can learn in seconds."""

import dataclasses
import random

from elmo.core.config import ModelConfig, get_config
from elmo.data.corpus import Corpus

# A toy vocabulary of syllables, for biLM/ELMo tests that need a handful of real sentences.
TOY_SENTENCES = [
    ["가", "나", "다", "라"],
    ["나", "다", "마", "바", "사"],
    ["다", "가", "아"],
    ["자", "차", "카", "타", "파", "하"],
    ["가나", "다라", "마바사"],
]


def toy_model_config(**overrides) -> ModelConfig:
    """A biLM small enough for unit tests; dropout is nonzero so eval-mode checks mean something."""
    base = ModelConfig(
        char_dim=8, filters=((1, 8), (2, 8), (3, 8)), highway_layers=1, proj_dim=16, lstm_dim=32,
        lstm_layers=2, dropout=0.3, softmax="full", adaptive_cutoffs=(8,), sampled_negatives=8,
    )  # fmt: skip
    return dataclasses.replace(base, **overrides)

WORDS = ["정부", "국민", "청원", "학교", "교사", "아이", "부모", "법", "안전", "사회"]
ENDINGS = ["는", "가", "를", "에", "의"]


def synthetic_corpus(n_train=96, n_eval=16, seed=0) -> Corpus:
    rng = random.Random(seed)

    def sent():
        n = rng.randint(3, 12)
        return [rng.choice(WORDS) + "" if i % 2 == 0 else rng.choice(ENDINGS) for i in range(n)] + ["."]

    return Corpus(
        train=[sent() for _ in range(n_train)],
        valid=[sent() for _ in range(n_eval)],
        test=[sent() for _ in range(n_eval)],
        documents={"petitions": {"train": n_train, "valid": n_eval, "test": n_eval}},
    )


def paired_corpus(n_train=160, n_eval=24, seed=0) -> Corpus:
    """Documents of two sentences, [w, "는", "."] then [w, "를", "."]: the second sentence's w is
    the first's, so an LM that reads across the boundary (DataConfig.context="document") can
    predict it, and one that reads a sentence at a time cannot."""
    rng = random.Random(seed)
    splits = {}
    for name, n in (("train", n_train), ("valid", n_eval), ("test", n_eval)):
        words = [rng.choice(WORDS) for _ in range(n)]
        splits[name] = [s for w in words for s in ([w, "는", "."], [w, "를", "."])]
    return Corpus(**splits, documents={"petitions": {"train": n_train, "valid": n_eval, "test": n_eval}},
                  doc_starts={name: list(range(0, len(sents), 2)) for name, sents in splits.items()})  # fmt: skip


def tiny_config(recurrence=None, **train):
    t = {"batch_size": 16, "max_epochs": 2, "max_minutes": None, "precision": "32-true", "optimizer": "adam", "lr": 3e-3}
    t.update(train)
    model = {"recurrence": recurrence} if recurrence else {}
    return get_config("tiny", train=t, data={"min_freq": 1, "max_petitions": None}, model=model)
