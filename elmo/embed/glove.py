"""GloVe static word vectors (Pennington et al. 2014), trained on the same petition tokens as the biLM.

Training the static baseline on exactly the biLM's tokens keeps the static-vs-contextual
comparison fair: both see the same text, tokenization and vocabulary cut-offs.

Written here in numpy/scipy/torch because no maintained GloVe library exists for current Python:
glove-python is unmaintained and fails to build, and the reference C implementation would need a
separate build and file round-trips. The whole method is small:

  * `cooccurrence`: X_ij = sum over co-occurrences of i and j within `window` tokens of 1/distance,
    counted symmetrically inside each sentence (as glove.c with `symmetric=1`).
  * `train_glove`: weighted least squares over the non-zero X_ij,
        J = sum_ij f(X_ij) (w_i . w~_j + b_i + b~_j - log X_ij)^2,  f(x) = min(1, (x / x_max)^0.75),
    minimised with AdaGrad (lr 0.05, as in the paper) on shuffled mini-batches of non-zeros;
    the final vectors are W + W~, as the paper recommends.
"""

from __future__ import annotations

import dataclasses
import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np
import scipy.sparse as sp
import torch
from tqdm.auto import tqdm

from elmo.core.runs import run_dir, seed_everything, write_run_info
from elmo.data.corpus import CACHE_VERSION, load_corpus

X_MAX = 100.0
ALPHA = 0.75


def cooccurrence(sentences: Sequence[Sequence[str]], vocab: Sequence[str],
                 window: int = 10) -> sp.coo_matrix:
    """Distance-weighted symmetric co-occurrence counts.

    sentences: token lists; windows never cross a sentence boundary.
    vocab: the V words to count; other tokens are skipped but still occupy a position, so they
        count towards the distance between the words around them (as GloVe on raw text would).
    Returns X, a (V, V) float64 `coo_matrix` with duplicates summed: X[i, j] = sum of 1/d over
    all pairs (i at position p, j at position p ± d), 1 <= d <= window. X is symmetric; a word
    repeated at distance d adds 2/d to its diagonal entry (once from each side).

    Vectorised per offset d: position p pairs with p + d over the concatenated id sequence, kept
    only when both are in the vocabulary and in the same sentence. That is `window` numpy passes
    over the corpus instead of a Python loop over ~window x tokens pairs.
    """
    index = {w: i for i, w in enumerate(vocab)}
    V = len(vocab)
    lengths = np.fromiter((len(s) for s in sentences), dtype=np.int64, count=len(sentences))
    ids = np.fromiter((index.get(t, -1) for s in sentences for t in s), dtype=np.int64,
                      count=int(lengths.sum()))
    sent = np.repeat(np.arange(len(sentences), dtype=np.int64), lengths)  # sentence of each position

    forward = sp.csr_matrix((V, V), dtype=np.float64)  # F[i, j]: i occurs d positions before j
    for d in range(1, window + 1):
        if d >= len(ids):
            break
        left, right = ids[:-d], ids[d:]
        keep = (sent[:-d] == sent[d:]) & (left >= 0) & (right >= 0)
        rows, cols = left[keep], right[keep]
        # Converting each offset to CSR sums its duplicates right away, keeping peak memory at
        # one offset's pairs rather than all window x tokens of them.
        forward = forward + sp.csr_matrix(
            (np.full(len(rows), 1.0 / d), (rows, cols)), shape=(V, V))
    X = (forward + forward.T).tocoo()  # symmetric window: each pair counts in both directions
    X.sum_duplicates()
    return X


def weighting(x: torch.Tensor, x_max: float = X_MAX, alpha: float = ALPHA) -> torch.Tensor:
    """GloVe's f(x) = (x / x_max)^alpha, capped at 1: damps rare pairs, caps frequent ones."""
    return torch.clamp(x / x_max, max=1.0) ** alpha


def train_glove(X: sp.spmatrix, dim: int = 100, epochs: int = 25, seed: int = 0,
                batch_size: int = 8192, lr: float = 0.05, x_max: float = X_MAX,
                alpha: float = ALPHA, progress: bool = True) -> tuple[np.ndarray, list[float]]:
    """Fit GloVe to a (V, V) co-occurrence matrix (`progress`: a bar over epochs, with the loss).

    Returns (vectors, losses): vectors (V, dim) float32 = W + W~; losses[e] is the mean over the
    non-zero entries of f(X_ij) * (w_i . w~_j + b_i + b~_j - log X_ij)^2 during epoch e (each
    entry's error measured just before its own batch's update). Words with no co-occurrences
    keep their small random initialisation.

    batch_size: non-zeros per AdaGrad step. glove.c updates after every single entry (Hogwild
    threads); summing a mini-batch's gradients per row is the vectorisable equivalent. Smaller
    batches mean more steps per epoch (faster convergence per epoch, more Python overhead).
    On the petitions (2.5M tokens, V=20k, window 10: 5.5M non-zeros) an epoch at dim 100 and the
    default batch takes ~6 s on one busy CPU core.

    Deterministic for a given seed: initialisation and per-epoch shuffles come from one seeded
    torch.Generator, and the CPU ops used (gather, index_add_, unique) are deterministic.
    """
    X = sp.coo_matrix(X)
    X.sum_duplicates()
    V = X.shape[0]
    if V >= 2 ** 24:
        raise ValueError(f"vocabulary of {V} words is too large (ids are packed as float32)")
    gen = torch.Generator().manual_seed(seed)
    x = torch.from_numpy(X.data.astype(np.float32))
    # One row per non-zero, [i, j, log X_ij, f(X_ij)] (ids < 2^24 are exact in float32): a shuffled
    # mini-batch then costs one cache miss per entry instead of one per array, which matters
    # because the random gathers over ~10M entries are memory-latency bound.
    entries = torch.stack([torch.from_numpy(X.row.astype(np.float32)),
                           torch.from_numpy(X.col.astype(np.float32)),
                           torch.log(x), weighting(x, x_max, alpha)], dim=1)
    nnz = len(x)

    # Same initialisation as glove.c: uniform in [-0.5, 0.5) / dim, biases included. Each bias is
    # stored as an extra last column (A = [W | b], At = [W~ | b~]) so that one gather and one
    # AdaGrad update per side serve vector and bias alike (AdaGrad is per coordinate anyway).
    A = (torch.rand(V, dim + 1, generator=gen) - 0.5) / dim
    At = (torch.rand(V, dim + 1, generator=gen) - 0.5) / dim
    # AdaGrad accumulators start at 1 as in glove.c, which bounds every first step by lr.
    GA, GAt = torch.ones_like(A), torch.ones_like(At)

    def adagrad(param, accum, idx, grad_per_entry):
        # Sum the batch's gradients per distinct row, then update only the rows touched, so the
        # cost scales with the batch, not with V. index_add_/index_select are much faster on CPU
        # than advanced-index assignment (param[rows] -= ...).
        uniq, inverse = torch.unique(idx, return_inverse=True)
        g = torch.zeros(len(uniq), param.shape[1], dtype=param.dtype)
        g.index_add_(0, inverse, grad_per_entry)
        accum.index_add_(0, uniq, g * g)
        param.index_add_(0, uniq, g.mul_(accum.index_select(0, uniq).rsqrt_()), alpha=-lr)

    losses = []
    bar = tqdm(range(epochs), desc="GloVe", unit="epoch", disable=not progress)
    for _ in bar:
        order = torch.randperm(nnz, generator=gen)
        total = 0.0
        for start in range(0, nnz, batch_size):
            batch = entries.index_select(0, order[start:start + batch_size])
            i, j = batch[:, 0].long(), batch[:, 1].long()
            ai, aj = A.index_select(0, i), At.index_select(0, j)
            dot = torch.bmm(ai[:, None, :dim], aj[:, :dim, None]).view(-1)
            diff = dot + ai[:, dim] + aj[:, dim] - batch[:, 2]
            fdiff = batch[:, 3] * diff
            total += float((fdiff * diff).sum())
            # Gradients of 0.5 * f * diff^2 (glove.c's convention; the factor 2 folds into lr):
            # d/dw_i = fdiff * w~_j, d/db_i = fdiff, and symmetrically for the context side.
            # Setting the partner's bias column to 1 makes "fdiff * partner" give both at once.
            aj[:, dim] = 1.0
            ai[:, dim] = 1.0
            adagrad(A, GA, i, fdiff[:, None] * aj)
            adagrad(At, GAt, j, fdiff[:, None] * ai)
        losses.append(total / max(nnz, 1))
        bar.set_postfix(loss=f"{losses[-1]:.4f}")
    return (A[:, :dim] + At[:, :dim]).numpy().astype(np.float32), losses


@dataclass
class StaticVectors:
    """One vector per word: vocab[i] <-> vectors[i], vectors (V, dim) float32."""

    vocab: list[str]
    vectors: np.ndarray
    _index: dict[str, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.vectors = np.asarray(self.vectors, dtype=np.float32)
        if self.vectors.ndim != 2 or self.vectors.shape[0] != len(self.vocab):
            raise ValueError(f"vectors {self.vectors.shape} do not match {len(self.vocab)} words")
        self._index = {w: i for i, w in enumerate(self.vocab)}
        if len(self._index) != len(self.vocab):
            raise ValueError("vocab has duplicate words")

    @property
    def dim(self) -> int:
        return self.vectors.shape[1]

    def __len__(self) -> int:
        return len(self.vocab)

    def __contains__(self, word: str) -> bool:
        return word in self._index

    def index(self, word: str) -> int:
        try:
            return self._index[word]
        except KeyError:
            raise KeyError(f"{word!r} is not in the static vocabulary ({len(self.vocab)} words)") \
                from None

    def __getitem__(self, word: str) -> np.ndarray:
        """The (dim,) vector of `word`; KeyError if it is out of vocabulary."""
        return self.vectors[self.index(word)]

    def most_similar(self, word: str, k: int = 10) -> list[tuple[str, float]]:
        """The k words with the highest cosine similarity to `word` (itself excluded), best first."""
        q = self.index(word)
        norms = np.linalg.norm(self.vectors, axis=1)
        sims = self.vectors @ self.vectors[q] / np.maximum(norms * norms[q], 1e-12)
        sims[q] = -np.inf
        k = min(k, len(self.vocab) - 1)
        if k <= 0:
            return []
        top = np.argpartition(-sims, k - 1)[:k]
        top = top[np.argsort(-sims[top], kind="stable")]
        return [(self.vocab[t], float(sims[t])) for t in top]

    def save(self, directory: str | Path) -> Path:
        """Write vectors.npy (no pickle) and vocab.json into `directory`; returns it."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        np.save(directory / "vectors.npy", self.vectors, allow_pickle=False)
        (directory / "vocab.json").write_text(json.dumps(self.vocab, ensure_ascii=False),
                                              encoding="utf-8")
        return directory

    @classmethod
    def load(cls, directory: str | Path) -> "StaticVectors":
        directory = Path(directory)
        vocab = json.loads((directory / "vocab.json").read_text(encoding="utf-8"))
        return cls(vocab, np.load(directory / "vectors.npy", allow_pickle=False))


def build_vocab(sentences: Sequence[Sequence[str]], max_vocab: int = 20000,
                min_freq: int = 2) -> list[str]:
    """Words with count >= min_freq, most frequent first (ties alphabetical), at most max_vocab."""
    counts = Counter(t for s in sentences for t in s)
    words = sorted((w for w, c in counts.items() if c >= min_freq), key=lambda w: (-counts[w], w))
    return words[:max_vocab]


def fit_static(sentences: Sequence[Sequence[str]], max_vocab: int = 20000, min_freq: int = 2,
               dim: int = 100, window: int = 10, epochs: int = 25, seed: int = 0,
               **train_kwargs) -> StaticVectors:
    """Frequency vocabulary -> co-occurrence -> GloVe, in one call."""
    vocab = build_vocab(sentences, max_vocab, min_freq)
    X = cooccurrence(sentences, vocab, window)
    vectors, _ = train_glove(X, dim=dim, epochs=epochs, seed=seed, **train_kwargs)
    return StaticVectors(vocab, vectors)


def glove_vectors(cfg, root: Path | None = None, out: Path | None = None, corpus=None,
                  force: bool = False) -> StaticVectors:
    """The profile's GloVe vectors on the petitions *train* split, trained once and reused.

    Same tokens, split and vocabulary size (`cfg.data.max_vocab`) as the biLM, so static and
    contextual vectors are compared on equal terms. Saved with their vocabulary and the settings
    that made them in `out/glove` (default `runs/<profile>/glove`); a changed setting retrains.
    """
    out = Path(out) if out is not None else run_dir(cfg.profile)
    directory = out / "glove"
    key = {"static": dataclasses.asdict(cfg.static), "data": dataclasses.asdict(cfg.data),
           "seed": cfg.seed, "corpus_version": CACHE_VERSION}
    key = json.loads(json.dumps(key))  # tuples -> lists, as they come back from disk
    meta = directory / "glove.json"
    if not force and meta.exists() and json.loads(meta.read_text()).get("key") == key:
        return StaticVectors.load(directory)
    seed_everything(cfg.seed)
    corpus = corpus if corpus is not None else load_corpus(cfg.data, root)
    s = cfg.static
    vocab = build_vocab(corpus.train, cfg.data.max_vocab, s.min_freq)
    X = cooccurrence(corpus.train, vocab, s.window)
    vectors, losses = train_glove(X, dim=s.dim, epochs=s.epochs, seed=cfg.seed)
    static = StaticVectors(vocab, vectors)
    static.save(directory)
    write_run_info(directory, cfg)
    meta.write_text(json.dumps({"key": key, "losses": losses, "nnz": int(X.nnz)}, indent=1))
    return static
