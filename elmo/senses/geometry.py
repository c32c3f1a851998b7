"""Geometry of the layers: anisotropy, self-similarity (Ethayarajh 2019), sense agreement of neighbours.
"""
from __future__ import annotations

from collections import Counter
from typing import Iterable, Sequence

import numpy as np
import pandas as pd

from elmo.senses.bank import ContextBank, unit
from elmo.senses.occurrences import subsample


def mean_pair_cosine(a: np.ndarray, b: np.ndarray) -> float:
    """Mean cosine of row i of `a` with row i of `b`; a, b (n, D)."""
    return float(np.mean(np.sum(unit(a) * unit(b), axis=-1)))


def random_pairs(n: int, n_pairs: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """n_pairs index pairs (i, j), i != j, uniform over [0, n); a fixed seed, so every layer (and
    GloVe) is measured on the same pairs of token occurrences."""
    if n < 2:
        raise ValueError("need at least two vectors to form a pair")
    rng = np.random.default_rng(seed)
    i = rng.integers(0, n, n_pairs)
    j = (i + rng.integers(1, n, n_pairs)) % n  # never equal to i
    return i, j


def anisotropy(vectors: np.ndarray, n_pairs: int = 10000, seed: int = 0) -> float:
    """Ethayarajh's baseline: the expected cosine of two random token vectors.

    vectors : (N, D), token occurrences (not types): frequent words weigh as in running text.
    Identical vectors give 1, mutually orthogonal ones 0.
    """
    i, j = random_pairs(len(vectors), n_pairs, seed)
    return mean_pair_cosine(vectors[i], vectors[j])


def self_similarity(vectors: np.ndarray) -> float:
    """Mean cosine over all distinct pairs of one word's occurrence vectors, (n, D) with n >= 2."""
    n = len(vectors)
    if n < 2:
        raise ValueError("self-similarity needs at least two occurrences")
    u = unit(vectors)
    sims = u @ u.T
    return float((sims.sum() - np.trace(sims)) / (n * (n - 1)))


def frequent_words(counts: Counter, min_count: int = 5, n_words: int = 200) -> list[str]:
    """The n_words most frequent tokens seen at least min_count times (ties by the string)."""
    kept = sorted((w for w, c in counts.items() if c >= min_count), key=lambda w: (-counts[w], w))
    return kept[:n_words]


def layer_geometry(bank: ContextBank, words: Sequence[str], baseline_rows: np.ndarray, n_pairs: int = 10000,
                   max_occurrences: int = 50, seed: int = 0, sources: Iterable[str] | None = None) -> pd.DataFrame:
    """Anisotropy, mean self-similarity and the adjusted self-similarity of each layer.

    # Parameters
    words : the words whose self-similarity is averaged (each with >= 2 occurrences in the bank).
    baseline_rows : token rows (n,) the random pairs are drawn from (e.g. randomly drawn
        sentences, not sentences picked for containing a homograph).
    max_occurrences : at most this many occurrences per word (a fixed-seed subsample).
    sources : take the words' occurrences only from sentences of these sources (default all).

    # Returns
    One row per layer: anisotropy, self_similarity (mean over words), adjusted (self-sim minus
    the layer's anisotropy, averaged over words), n_words.
    """
    srcs = None if sources is None else list(sources)
    word_rows = {w: subsample(list(bank.rows(w, srcs)), max_occurrences, seed) for w in words}
    word_rows = {w: r for w, r in word_rows.items() if len(r) >= 2}
    i, j = random_pairs(len(baseline_rows), n_pairs, seed)
    out = []
    for layer in range(bank.n_layers):
        v = bank.vectors[layer]
        base = mean_pair_cosine(v[baseline_rows[i]], v[baseline_rows[j]])
        sims = np.array([self_similarity(v[r]) for r in word_rows.values()]) if word_rows else np.array([np.nan])
        out.append({"layer": layer, "anisotropy": base, "self_similarity": float(np.mean(sims)),
                    "adjusted": float(np.mean(sims - base)), "n_words": len(word_rows)})  # fmt: skip
    return pd.DataFrame(out).set_index("layer")


def word_self_similarity(bank: ContextBank, words: Sequence[str], anisotropy_by_layer: Sequence[float],
                         max_occurrences: int = 50, seed: int = 0,
                         sources: Iterable[str] | None = None) -> pd.DataFrame:
    """Self-similarity per word and layer, raw and adjusted; words with < 2 occurrences are left out.

    sources : only occurrences from these sources (default all). Mixing sources (headlines and
    petitions) lowers self-similarity by itself, so compare words measured on the same sources.

    Columns: word, layer, n, self_similarity, adjusted.
    """
    srcs = None if sources is None else list(sources)
    rows = []
    for w in words:
        r = subsample(list(bank.rows(w, srcs)), max_occurrences, seed)
        if len(r) < 2:
            continue
        for layer in range(bank.n_layers):
            s = self_similarity(bank.vectors[layer, r])
            rows.append({"word": w, "layer": layer, "n": len(r), "self_similarity": s,
                         "adjusted": s - anisotropy_by_layer[layer]})  # fmt: skip
    return pd.DataFrame(rows, columns=["word", "layer", "n", "self_similarity", "adjusted"])


def static_anisotropy(static, tokens: Sequence[str], n_pairs: int = 10000, seed: int = 0) -> float:
    """The anisotropy of static vectors over running tokens (OOV tokens dropped): the same
    statistic as for a biLM layer. (A static word's self-similarity is 1 by construction.)"""
    vecs = np.stack([static[t] for t in tokens if t in static])
    return anisotropy(vecs, n_pairs, seed)


def nn_sense_agreement(vectors: np.ndarray, senses: Sequence[str], tol: float = 1e-6) -> float:
    """Leave-one-out 1-NN agreement of proxy senses: for each occurrence, the share of its
    nearest neighbours (all those tied within `tol` at the top cosine) that have its sense;
    averaged over occurrences. vectors (n, D), n >= 2. All-identical vectors (layer 0) give
    exactly `chance_agreement(senses)`."""
    senses = np.asarray(senses)
    if len(senses) < 2:
        raise ValueError("need at least two occurrences")
    u = unit(vectors)
    sims = u @ u.T
    np.fill_diagonal(sims, -np.inf)
    top = sims >= sims.max(axis=1, keepdims=True) - tol
    same = senses[:, None] == senses[None, :]
    return float(np.mean((top & same).sum(1) / top.sum(1)))


def chance_agreement(senses: Sequence[str]) -> float:
    """The agreement of a neighbour drawn at random among the other occurrences."""
    counts = np.array(list(Counter(senses).values()), dtype=float)
    n = counts.sum()
    return float((counts * (counts - 1)).sum() / (n * (n - 1)))
