"""Eojeols to morphemes: spans, and pooling morpheme vectors into eojeol vectors.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np


@dataclass
class Aligned:
    """One sentence as the biLM reads it.

    tokens : the T morphemes of all its eojeols, concatenated.
    spans : (n_words, 2) int, eojeol i is tokens[spans[i, 0]:spans[i, 1]] (never empty).
    """

    tokens: list[str]
    spans: np.ndarray


def word_spans(pieces_per_word: Sequence[int]) -> np.ndarray:
    """(n_words, 2) [start, end) of each word in the concatenation of its pieces.

    >>> word_spans([2, 1, 3]).tolist()
    [[0, 2], [2, 3], [3, 6]]
    """
    n = np.asarray(pieces_per_word, dtype=np.int64).reshape(-1)
    if (n < 1).any():
        raise ValueError("every word needs at least one piece")
    ends = np.cumsum(n)
    return np.stack([ends - n, ends], axis=1)


def align_sentences(sentences: Sequence[Sequence[str]],
                    tokenize_many: Callable[[list[str]], list[list[str]]]) -> list[Aligned]:
    """Tokenize each eojeol on its own and concatenate its sentence's morphemes.

    sentences : S sentences, each a sequence of eojeols.
    tokenize_many : texts -> token lists (e.g. `Tokenizer(...).tokenize_many`). Each distinct
        eojeol is tokenized once (KLUE repeats many), which keeps kiwipiepy to seconds.

    An eojeol that yields no token (possible for odd symbols the tokenizer drops) stands for
    itself as one token, so that every eojeol keeps a vector and the labels stay aligned.
    """
    for i, s in enumerate(sentences):
        if isinstance(s, str):
            raise TypeError(f"sentence {i} is a string; pass it as a sequence of eojeols")
    unique = sorted({w for s in sentences for w in s})
    pieces = dict(zip(unique, tokenize_many(unique)))
    out = []
    for s in sentences:
        per_word = [pieces[w] or [w] for w in s]
        out.append(Aligned([t for p in per_word for t in p], word_spans([len(p) for p in per_word])))
    return out


def pool_spans(vectors: np.ndarray, spans: np.ndarray) -> np.ndarray:
    """Mean of the vectors in each span.

    vectors : (..., T, D), e.g. (L+1, T, D) for all layers of one sentence.
    spans : (N, 2) int [start, end), 0 <= start < end <= T.
    Returns (..., N, D) float32.

    The mean, not the first or last morpheme: the reduced POS tag is the eojeol's first *content*
    morpheme, which is not its first morpheme when it opens with a quote or bracket, and the
    ending or particle at its end carries category evidence too (a verb ending, a case marker);
    the mean keeps all of them, and the same pooling for every feature keeps the comparison fair.
    """
    spans = np.asarray(spans, dtype=np.int64).reshape(-1, 2)
    return (span_sums(vectors, spans) / (spans[:, 1] - spans[:, 0])[:, None]).astype(np.float32)


def span_sums(vectors: np.ndarray, spans: np.ndarray) -> np.ndarray:
    """Sum of the vectors in each span: (..., T, D), (N, 2) -> (..., N, D) float64."""
    vectors = np.asarray(vectors, dtype=np.float64)
    spans = np.asarray(spans, dtype=np.int64).reshape(-1, 2)
    T = vectors.shape[-2]
    start, end = (spans[:, 0], spans[:, 1])
    if (start < 0).any() or (end > T).any() or (end <= start).any():
        raise ValueError(f"spans must satisfy 0 <= start < end <= {T} (the number of vectors)")
    # Prefix sums turn each span into one subtraction, for all spans and layers at once.
    zero = np.zeros(vectors.shape[:-2] + (1, vectors.shape[-1]))
    csum = np.concatenate([zero, np.cumsum(vectors, axis=-2)], axis=-2)
    return csum[..., spans[:, 1], :] - csum[..., spans[:, 0], :]
