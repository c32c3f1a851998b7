"""ContextBank: occurrences of words embedded by every biLM layer, and their nearest contexts.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Iterable, Sequence

import numpy as np
import pandas as pd
import torch
from tqdm.auto import tqdm

from elmo.senses.occurrences import context_snippet
from elmo.senses.proxy import sense_proxy


def unit(x: np.ndarray, eps: float = 1e-12) -> np.ndarray:
    """Rows of `x` (..., D) scaled to length 1 (zero rows stay zero)."""
    x = np.asarray(x, dtype=np.float32)
    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), eps)


def embed_sentences(elmo, sentences: Sequence[Sequence[str]], batch_size: int = 64,
                    progress: bool = False) -> list[np.ndarray]:
    """The L+1 biLM layers of each sentence, each token read in its whole sentence.

    # Parameters
    elmo : an `elmo.embed.elmo.Elmo` (only its `.layers` is used; the biLM is frozen).
    sentences : N non-empty tokenized sentences.
    batch_size : sentences per biLM call; sentences are grouped by length so little is padded.
    progress : a bar over the sentences.

    # Returns
    N arrays (L+1, T_i, D) float32, in the order of `sentences`.
    """
    if any(len(s) == 0 for s in sentences):
        raise ValueError("cannot embed an empty sentence")
    order = sorted(range(len(sentences)), key=lambda i: len(sentences[i]))
    out: list[np.ndarray | None] = [None] * len(sentences)
    bar = tqdm(total=len(sentences), desc="embedding", unit="sent", disable=not progress)
    with torch.no_grad(), bar:
        for start in range(0, len(order), batch_size):
            idx = order[start : start + batch_size]
            layers, mask = elmo.layers([list(sentences[i]) for i in idx])  # (L+1, B, T, D), (B, T)
            layers, lengths = layers.float().cpu().numpy(), mask.sum(1).tolist()
            for b, i in enumerate(idx):
                out[i] = layers[:, b, : lengths[b]].copy()
            bar.update(len(idx))
    return out  # type: ignore[return-value]


@dataclass
class ContextBank:
    """Pre-embedded sentences: every token's unit-length vector in every layer.

    sentences : N tokenized sentences; sources : N labels (e.g. "petitions", "ynat").
    vectors : (L+1, N_tokens, D) float32, unit length, sentences one after another.
    offsets : (N + 1,) int64: sentence i is token rows offsets[i]:offsets[i+1].
    """

    sentences: list[list[str]]
    sources: list[str]
    vectors: np.ndarray
    offsets: np.ndarray
    _rows: dict[str, np.ndarray] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if len(self.sources) != len(self.sentences) or len(self.offsets) != len(self.sentences) + 1:
            raise ValueError("sentences, sources and offsets do not match")
        if self.vectors.shape[1] != self.offsets[-1]:
            raise ValueError(f"{self.vectors.shape[1]} token vectors for {self.offsets[-1]} tokens")
        rows: dict[str, list[int]] = {}
        for r, tok in enumerate(t for s in self.sentences for t in s):
            rows.setdefault(tok, []).append(r)
        self._rows = {t: np.asarray(r, dtype=np.int64) for t, r in rows.items()}
        self._sentence_of = np.repeat(np.arange(len(self.sentences)), np.diff(self.offsets))

    @classmethod
    def build(cls, elmo, sentences: Sequence[Sequence[str]], sources: Sequence[str],
              batch_size: int = 64) -> "ContextBank":
        """Embed `sentences` with `elmo` (see `embed_sentences`)."""
        per_sentence = embed_sentences(elmo, sentences, batch_size, progress=True)
        lengths = [len(s) for s in sentences]
        offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
        vectors = unit(np.concatenate(per_sentence, axis=1)) if per_sentence else np.zeros((0, 0, 0), np.float32)
        return cls([list(s) for s in sentences], list(sources), vectors, offsets)

    @property
    def n_layers(self) -> int:
        """L + 1."""
        return self.vectors.shape[0]

    def __len__(self) -> int:
        return len(self.sentences)

    def rows(self, word: str, sources: Iterable[str] | None = None) -> np.ndarray:
        """Token rows (n,) whose token is `word`, optionally only from some sources."""
        rows = self._rows.get(word, np.zeros(0, dtype=np.int64))
        if sources is None:
            return rows
        keep = set(sources)
        return rows[[self.sources[s] in keep for s in self._sentence_of[rows]]] if len(rows) else rows

    def source_rows(self, sources: Iterable[str]) -> np.ndarray:
        """All token rows (n,) of sentences from `sources`."""
        wanted = set(sources)
        keep = np.array([s in wanted for s in self.sources], dtype=bool)
        return np.flatnonzero(keep[self._sentence_of]) if len(self._sentence_of) else np.zeros(0, np.int64)

    def locate(self, row: int) -> tuple[int, int]:
        """(sentence, position) of a token row."""
        s = int(self._sentence_of[row])
        return s, int(row - self.offsets[s])

    def token(self, row: int) -> str:
        s, p = self.locate(row)
        return self.sentences[s][p]

    def snippet(self, row: int, width: int = 6) -> str:
        s, p = self.locate(row)
        return context_snippet(self.sentences[s], p, width)

    def sense(self, row: int) -> str:
        s, p = self.locate(row)
        return sense_proxy(self.sentences[s][p], self.sentences[s], p)

    def token_counts(self, sources: Iterable[str] | None = None) -> Counter:
        keep = None if sources is None else set(sources)
        return Counter(t for s, src in zip(self.sentences, self.sources) if keep is None or src in keep for t in s)


def nearest(query: np.ndarray, candidates: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The k candidates most cosine-similar to `query`, best first; ties keep candidate order.

    # Parameters
    query : (D,). candidates : (n, D).

    # Returns
    index (min(k, n),) int64 into candidates; cosine (min(k, n),) float32.
    """
    sims = unit(candidates) @ unit(query)
    # A stable sort on -sims: equal cosines (all of layer 0) come out in candidate order.
    order = np.argsort(-sims, kind="stable")[:k]
    return order, sims[order]


CONTEXT_COLUMNS = ["layer", "rank", "cosine", "source", "sense", "context"]


def rank_contexts(bank: ContextBank, word: str, query: np.ndarray, k: int = 5, exclude: Iterable[int] = (),
                  layers: Sequence[int] | None = None, width: int = 6) -> pd.DataFrame:
    """The k occurrences of `word` in the bank nearest to a query vector, per layer.

    # Parameters
    query : (L+1, D), the query occurrence's vector in every layer.
    exclude : bank sentence ids whose occurrences are not candidates (the query's own sentence).

    # Returns
    Columns layer, rank, cosine, source, sense (proxy), context; empty if `word` has no candidates.
    """
    skip = set(exclude)
    cands = np.array([r for r in bank.rows(word) if bank.locate(int(r))[0] not in skip], dtype=np.int64)
    rows = []
    for layer in range(bank.n_layers) if layers is None else layers:
        if len(cands) == 0:
            continue
        idx, cos = nearest(query[layer], bank.vectors[layer, cands], k)
        for rank, (i, c) in enumerate(zip(idx, cos), 1):
            r = int(cands[i])
            rows.append({"layer": layer, "rank": rank, "cosine": round(float(c), 3),
                         "source": bank.sources[bank.locate(r)[0]], "sense": bank.sense(r),
                         "context": bank.snippet(r, width)})  # fmt: skip
    return pd.DataFrame(rows, columns=CONTEXT_COLUMNS)


def nearest_contexts(bank: ContextBank, query_row: int, k: int = 5, layers: Sequence[int] | None = None,
                     width: int = 6) -> pd.DataFrame:
    """The k nearest other occurrences of a bank token, per layer (Peters et al. Table 4).

    Candidates are the bank's rows with the same token, minus the rows of the query's sentence
    (and of any identical sentence). Columns as `rank_contexts`.
    """
    qsent, _ = bank.locate(query_row)
    # Repeated sentences (boilerplate re-posted in petitions) would be trivially nearest: skip them too.
    same = [i for i, sent in enumerate(bank.sentences) if sent == bank.sentences[qsent]]
    query = bank.vectors[:, query_row]
    return rank_contexts(bank, bank.token(query_row), query, k, exclude=same, layers=layers, width=width)


def glove_neighbours(static, word: str, k: int = 5) -> pd.DataFrame:
    """The static vectors' k nearest words (rank, word, cosine); empty when `word` is OOV."""
    if static is None or word not in static:
        return pd.DataFrame(columns=["rank", "word", "cosine"])
    return pd.DataFrame(
        [{"rank": i, "word": w, "cosine": round(c, 3)} for i, (w, c) in enumerate(static.most_similar(word, k), 1)]
    )


def nearest_context_table(bank: ContextBank, query_row: int, static=None, k: int = 5, width: int = 5) -> pd.DataFrame:
    """Table 4 of the paper, wide: rank 1..k down, GloVe neighbour words and then each layer's
    nearest contexts across. A cell reads 'context (cosine, sense)'."""
    long = nearest_contexts(bank, query_row, k, width=width)
    glove = glove_neighbours(static, bank.token(query_row), k)
    table = pd.DataFrame(index=pd.RangeIndex(1, k + 1, name="rank"))
    table["GloVe word"] = pd.Series({int(r["rank"]): f"{r['word']} ({r['cosine']:.2f})" for _, r in glove.iterrows()})
    for layer, group in long.groupby("layer"):
        cells = {int(r["rank"]): f"{r['context']} ({r['cosine']:.2f}, {r['sense']})" for _, r in group.iterrows()}
        table[f"layer {layer}"] = pd.Series(cells)
    return table.fillna("")


def pick_query(bank: ContextBank, word: str, sense: str | None = None, source: str | None = None) -> int:
    """The first bank row of `word` (with that proxy sense and source, if given); KeyError if none."""
    for r in bank.rows(word, None if source is None else [source]):
        if sense is None or bank.sense(int(r)) == sense:
            return int(r)
    raise KeyError(f"no occurrence of {word!r}" + (f" with sense {sense!r}" if sense else "") + " in the bank")
