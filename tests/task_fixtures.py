"""Toy YNAT data for the task-model tests of every stage (03's and 04's).

Seven classes, each with its own words, plus shared filler: a model that learns anything beats
chance (~14 macro-F1) by far. ELMo layers come from a fake LayerCache with the real one's
interface, so these tests need neither the biLM nor the real data.
"""


import torch

from elmo.core.config import get_config
from elmo.data.readers import Headline
from elmo.data.text import TokenizerSettings
from elmo.ynat.data import YnatData, synthetic_headlines

ELMO_ON = {"elmo": True}


def toy_headlines(n_per_class: int, seed: int) -> list[Headline]:
    """Headlines of 2 class words (of 4 per class) and 1-3 filler words, shuffled."""
    return synthetic_headlines(n_per_class, seed, word="c{c}w{i}")


class FakeLayerCache:
    """The embedder's LayerCache interface: a fixed random (L+1, D) vector per token string."""

    def __init__(self, tokens, n_layers=3, dim=8, seed=0):
        g = torch.Generator().manual_seed(seed)
        self.table = {t: torch.randn(n_layers, dim, generator=g) for t in sorted({t for s in tokens for t in s})}
        self.tokens, self.n_layers, self.dim = tokens, n_layers, dim
        self.requested: list[int] = []

    def __len__(self):
        return len(self.tokens)

    def layers(self, token_lists):
        """The `Elmo`-like call of `predict`: (L+1, B, T, D), mask (B, T)."""
        t = max(1, max(len(s) for s in token_lists))
        out = torch.zeros(self.n_layers, len(token_lists), t, self.dim)
        mask = torch.zeros(len(token_lists), t, dtype=torch.bool)
        for b, s in enumerate(token_lists):
            for k, tok in enumerate(s):
                out[:, b, k] = self.table.get(tok, torch.zeros(self.n_layers, self.dim))
                mask[b, k] = True
        return out, mask

    def batch(self, indices):
        self.requested.extend(indices)
        return self.layers([self.tokens[i] for i in indices])


def tiny_cfg(**finetune):
    f = {"max_epochs": 4, "batch_size": 32, "patience": 2, "token_dim": 16, "hidden_dim": 16, "lr": 1e-2, "dropout": 0.2}
    f.update(finetune)
    return get_config("tiny", finetune=f, data={"tokenizer": "eojeol"})


def make_data(n_per_class=40, n_dev_per_class=10, cache=True) -> YnatData:
    train, dev = toy_headlines(n_per_class, 0), toy_headlines(n_dev_per_class, 1)
    tokens = [h.text.split() for h in train + dev]
    data = YnatData.build(train, dev, tokens, tokenizer=TokenizerSettings(tokenizer="eojeol"))
    return data.with_cache(FakeLayerCache(data.tokens)) if cache else data
