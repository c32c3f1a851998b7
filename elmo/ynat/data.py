"""YNAT topic classification with (or without) ELMo: the task model of Peters et al. 2018, §3.3.

    x_k = token embedding learned on the task
    ELMo_k = gamma * sum_j s_j h_{k,j}          (a ScalarMix over the L+1 cached biLM layers)
    h = biLSTM([x_k; ELMo_k])                   ("input"; "input_output" also concatenates a
                                                 second, independent mix to h before pooling)
    logits = W maxpool_k(h_k) + b               over real positions only

Protocol: a fixed, stratified 10 % of YNAT train (`holdout`, chosen with `HOLDOUT_SEED`, the
same for every model seed) selects the epoch (early stopping and checkpointing on its macro-F1);
the model trains on the rest (`fit`). The official dev set is only ever predicted once, by the
selected checkpoint, and scored over all its rows (`elmo.ynat.metrics.scores`); it never selects
anything. Layers come precomputed from an `elmo.embed.layer_cache.LayerCache`, so the biLM is frozen.
"""

from __future__ import annotations

import dataclasses
import random
from collections import Counter
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, NamedTuple, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader

from elmo.core.config import Config
from elmo.data.batching import BucketBatchSampler
from elmo.data.corpus import settings_of, tokenize_cached
from elmo.data.readers import YNAT_LABELS, Headline, clean_text, read_ynat
from elmo.data.text import PAD, PAD_ID, UNK, UNK_ID, TokenizerSettings, Vocab
from elmo.ynat.subwords import SubwordVocab

MAX_TOKENS = 128  # YNAT titles are ~10-20 morphemes; longer inputs are cut here (never silently OOM)
HOLDOUT_SEED = 12345  # fixed: the holdout must not move with the model seed
SUBSET_SEED = 0  # which rows max_train / max_dev keep (tiny profile)
MONITOR = "holdout_macro_f1"  # the only quantity that selects epochs; computed on the holdout
N_CLASSES = len(YNAT_LABELS)



class TaskVocab(Vocab):
    """The task's token vocabulary: `<pad>` = 0, `<unk>` = 1, then tokens seen >= min_freq times."""

    SPECIALS = (PAD, UNK)

    def __init__(self, itos: Sequence[str], specials: Sequence[str] = SPECIALS):
        super().__init__(itos, specials)

    @classmethod
    def from_tokens(cls, sentences: Sequence[Sequence[str]], min_freq: int = 2) -> "TaskVocab":
        counts = Counter(tok for sent in sentences for tok in sent)
        return cls.build(counts, cls.SPECIALS, min_freq)


def holdout_split(labels: Sequence[int], fraction: float = 0.1, seed: int = HOLDOUT_SEED) -> tuple[list[int], list[int]]:
    """(fit, holdout) row indices: round(fraction * n_c) rows of each class c are held out.

    Stratified so the holdout has train's class balance; the seed is a constant of the protocol,
    so every model seed (and the TF-IDF baseline) selects on exactly the same rows.
    """
    rng = np.random.default_rng(seed)
    labels = np.asarray(labels)
    held: list[int] = []
    for c in np.unique(labels):  # sorted classes: the draws happen in a fixed order
        rows = np.flatnonzero(labels == c)
        held.extend(rng.permutation(rows)[: int(round(fraction * len(rows)))].tolist())
    held_set = set(held)
    return [i for i in range(len(labels)) if i not in held_set], sorted(held)


class TaskBatch(NamedTuple):
    """token_ids (B, T) long; mask (B, T) bool; labels (B,) long; layers (L+1, B, T, D) or None;
    subwords (B, T, G) long or None; targets (B, n_classes) float or None: class probabilities
    that replace the one-hot labels in the training loss (a distilled model's, `elmo.ynat.distill`)."""

    token_ids: torch.Tensor
    mask: torch.Tensor
    labels: torch.Tensor
    layers: torch.Tensor | None = None
    subwords: torch.Tensor | None = None  # (B, T, G) character n-gram ids (elmo.ynat.subwords)
    targets: torch.Tensor | None = None  # (B, n_classes) soft training targets


@dataclass
class YnatData:
    """YNAT train rows then dev rows: texts, tokens, labels, and the three index lists.

    `cache` (an `elmo.embed.layer_cache.LayerCache`, or None) must hold the ELMo layers of `tokens` in
    the same row order: build it from `data.tokens`, then `data = data.with_cache(cache)`.
    """

    texts: list[str]
    tokens: list[list[str]]
    labels: list[int]
    vocab: TaskVocab
    fit: list[int]
    holdout: list[int]
    dev: list[int]
    tokenizer: dict = field(default_factory=lambda: asdict(TokenizerSettings()))
    cache: Any = None
    static: Any = None  # an `elmo.embed.glove.StaticVectors`, for TaskVariant.x_k "glove"
    subwords: SubwordVocab | None = None  # character n-grams of the fit rows, for x_k "learned+subwords"
    # (N, n_classes) float32 training targets of the fit rows, NaN elsewhere (`with_targets`).
    targets: np.ndarray | None = None
    # Every row's ids, encoded once on the first batch (`EncodedRows`); not copied by
    # dataclasses.replace (init=False), so each copy, and each worker process, encodes its own.
    _encoded: "EncodedRows | None" = field(default=None, init=False, repr=False, compare=False)

    @classmethod
    def build(
        cls,
        train: Sequence[Headline],
        dev: Sequence[Headline],
        tokens: Sequence[Sequence[str]],
        holdout_fraction: float = 0.1,
        min_freq: int = 2,
        tokenizer: TokenizerSettings | None = None,
    ) -> "YnatData":
        """From headlines and their tokens (`tokens` covers train then dev, in order).

        The vocabularies (tokens, character n-grams) come from the `fit` rows only, so holdout
        words are as unseen as dev's.
        """
        rows = list(train) + list(dev)
        if len(tokens) != len(rows):
            raise ValueError(f"{len(tokens)} token lists for {len(rows)} headlines")
        fit, holdout = holdout_split([h.label for h in train], holdout_fraction)
        if not fit or not holdout or not dev:
            raise ValueError("fit, holdout and dev must all be non-empty (more train rows needed)")
        fit_tokens = [tokens[i] for i in fit]
        vocab = TaskVocab.from_tokens(fit_tokens, min_freq)
        dev_rows = list(range(len(train), len(rows)))
        settings = asdict(tokenizer or TokenizerSettings())
        texts, labels = [h.text for h in rows], [h.label for h in rows]
        subwords = SubwordVocab.from_tokens(fit_tokens, min_freq)
        return cls(texts, [list(t) for t in tokens], labels, vocab, fit, holdout, dev_rows, settings, subwords=subwords)

    @classmethod
    def load(cls, cfg: Config, root: Path | None = None, cache_dir: Path | None = None) -> "YnatData":
        """The real YNAT of a profile (subsets for tiny), tokenized as the biLM's corpus."""
        f = cfg.finetune
        train = _subset(read_ynat("train", root), f.max_train)
        dev = _subset(read_ynat("dev", root), f.max_dev)
        settings = settings_of(cfg.data)
        tokens = tokenize_cached([clean_text(h.text) for h in train + dev], settings, cache_dir)
        return cls.build(train, dev, tokens, f.holdout_fraction, cfg.data.min_freq, settings)

    def with_cache(self, cache) -> "YnatData":
        """A copy whose batches also carry the cached ELMo layers of the same rows."""
        if cache is not None and len(cache) != len(self.tokens):
            raise ValueError(f"LayerCache has {len(cache)} rows, the data {len(self.tokens)} (train then dev)")
        return dataclasses.replace(self, cache=cache)

    def with_static(self, static) -> "YnatData":
        """A copy that carries static word vectors (GloVe), the starting point of x_k "glove"."""
        return dataclasses.replace(self, static=static)

    def with_targets(self, targets: np.ndarray) -> "YnatData":
        """A copy whose training batches (the `fit` loader) carry `targets`, (N, n_classes) class
        probabilities per row (train then dev), in place of the one-hot labels. Only fit rows may
        have them: holdout and dev rows must be NaN, so that nothing selected or scored learns."""
        targets = np.asarray(targets, dtype=np.float32)
        if targets.shape != (len(self.tokens), N_CLASSES):
            raise ValueError(f"targets must be ({len(self.tokens)}, {N_CLASSES}), not {targets.shape}")
        fit = np.zeros(len(self.tokens), dtype=bool)
        fit[self.fit] = True
        if np.isnan(targets[fit]).any() or not np.isnan(targets[~fit]).all():
            raise ValueError("targets must be given for every fit row and for no other row (NaN)")
        return dataclasses.replace(self, targets=targets)

    def split(self, name: str) -> list[int]:
        if name not in ("fit", "holdout", "dev"):
            raise ValueError(f"split must be 'fit', 'holdout' or 'dev', not {name!r}")
        return getattr(self, name)

    def batch(self, indices: Sequence[int], layers: bool = True, subwords: bool = False, targets: bool = False) -> TaskBatch:
        """The rows `indices` as a padded batch; with the cached layers if `layers` and a cache,
        the tokens' character n-gram ids if `subwords`, and the rows' soft targets if `targets`
        (only where the data has them)."""
        indices = list(indices)
        if subwords and self.subwords is None:
            raise ValueError("subwords requested, but the data has no SubwordVocab (build it with YnatData.build)")
        if self._encoded is None:
            self._encoded = EncodedRows(self.tokens, self.vocab, self.subwords)
        token_ids, mask, grams = self._encoded.batch(indices, subwords)
        labels = torch.tensor([self.labels[i] for i in indices], dtype=torch.long)
        soft = torch.from_numpy(self.targets[indices]) if targets and self.targets is not None else None
        if not layers or self.cache is None:
            return TaskBatch(token_ids, mask, labels, subwords=grams, targets=soft)
        cached, cache_mask = self.cache.batch(indices)
        _check_alignment([self.tokens[i] for i in indices], cache_mask)
        return TaskBatch(token_ids, mask, labels, fit_length(cached, token_ids.shape[1]), grams, soft)

    def loader(
        self, name: str, batch_size: int, shuffle: bool = False, layers: bool = True, seed: int = 0, subwords: bool = False
    ) -> DataLoader:
        """Batches of the rows of split `name`, of headlines of similar length. Training (shuffle
        True): in an order fixed by (seed, epoch), 1.3-1.65x faster per epoch than random batches,
        which pad to the longest. Evaluation (shuffle False): the rows sorted by length (stable),
        so the holdout and dev pad 1.6-1.8x fewer positions than in split order; the loader's
        `batch_sampler` lists each batch's positions in the split (`elmo.ynat.train.probabilities`
        puts the rows back in order). Batches of `fit` carry the data's soft targets, if it has
        them (`with_targets`)."""
        # The dataset is the list of row indices; collation builds the whole batch at once.
        rows = self.split(name)
        collate = partial(self.batch, layers=layers, subwords=subwords, targets=name == "fit")
        lengths = np.array([min(len(self.tokens[i]), MAX_TOKENS) for i in rows])
        if not shuffle:
            order = np.argsort(lengths, kind="stable")
            batches = [order[s : s + batch_size].tolist() for s in range(0, len(order), batch_size)]
            return DataLoader(rows, batch_sampler=batches, collate_fn=collate)
        sampler = BucketBatchSampler(lengths, batch_size, shuffle=True, seed=seed)
        return DataLoader(rows, batch_sampler=sampler, collate_fn=collate)


def _subset(rows: list[Headline], n: int | None) -> list[Headline]:
    """n rows drawn with a fixed seed, in file order (all rows when n is None or too large)."""
    if n is None or n >= len(rows):
        return rows
    keep = np.sort(np.random.default_rng(SUBSET_SEED).choice(len(rows), n, replace=False))
    return [rows[i] for i in keep]


class EncodedRows:
    """Every row's token ids and character n-gram ids, encoded once, so that a batch is a few
    numpy gathers: what `encode_padded` and `SubwordVocab.encode_tokens` return for the same rows
    (tested), 0.5 against 5.5 ms for 256 fit headlines on one thread (a throwaway timing beside
    another run; together they were a twentieth of a training step of 03's model, and every epoch
    rebuilds every batch).

    Each distinct token is a *type* with its vocabulary id and its padded n-gram ids; a row is
    its (at most MAX_TOKENS) type indices. Two extra types: the pad (id `<pad>`, no n-grams) and
    the `<unk>` that stands for an empty row (no n-grams either, as `encode_tokens` gives it).
    """

    def __init__(self, token_lists: Sequence[Sequence[str]], vocab: Vocab, subwords: SubwordVocab | None = None):
        types: dict[str, int] = {}
        self.rows = [np.array([types.setdefault(t, len(types)) for t in toks[:MAX_TOKENS]], dtype=np.int64) for toks in token_lists]
        words = list(types)
        self.pad, self.empty = len(words), len(words) + 1
        # (n_types + 2,) vocabulary id of each type, then the pad's and the empty row's.
        self.token_id = np.array(vocab.encode(words) + [PAD_ID, UNK_ID], dtype=np.int64)
        self.grams = self.n_grams = None
        if subwords is not None:
            ids = [subwords.token_ids(w) for w in words]
            self.n_grams = np.array([len(g) for g in ids] + [0, 0], dtype=np.int64)  # (n_types + 2,)
            # (n_types + 2, G_max) n-gram ids, 0-padded; the two extra types have none.
            self.grams = np.zeros((len(words) + 2, max(self.n_grams.max(initial=0), 1)), dtype=np.int64)
            for i, g in enumerate(ids):
                self.grams[i, : len(g)] = g

    def batch(self, indices: Sequence[int], subwords: bool = False):
        """-> token ids (B, T) long, mask (B, T) bool, and n-gram ids (B, T, G) long or None;
        T the longest row (an empty row counts 1), G the most n-grams of any token in the batch."""
        rows = [self.rows[i] for i in indices]
        t = max((max(len(r), 1) for r in rows), default=1)
        types = np.full((len(rows), t), self.pad, dtype=np.int64)  # (B, T)
        for b, r in enumerate(rows):
            types[b, : len(r)] = r
            if not len(r):
                types[b, 0] = self.empty
        token_ids = torch.from_numpy(self.token_id[types])
        grams = None
        if subwords:
            if self.grams is None:
                raise ValueError("subwords requested, but these rows were encoded without a SubwordVocab")
            width = max(int(self.n_grams[types].max()), 1)
            grams = torch.from_numpy(np.ascontiguousarray(self.grams[types][:, :, :width]))
        return token_ids, token_ids != PAD_ID, grams


def encode_padded(token_lists: Sequence[Sequence[str]], vocab: Vocab) -> tuple[torch.Tensor, torch.Tensor]:
    """Token lists -> ids (B, T) long right-padded with <pad>, mask (B, T) bool; T <= MAX_TOKENS.

    An empty list becomes a single `<unk>`: the biLSTM needs one real position, and a headline
    with no known content carries no more information than an unknown word.
    """
    seqs = [vocab.encode(list(toks)[:MAX_TOKENS]) or [UNK_ID] for toks in token_lists]
    t = max(len(s) for s in seqs)
    ids = torch.full((len(seqs), t), PAD_ID, dtype=torch.long)
    for b, s in enumerate(seqs):
        ids[b, : len(s)] = torch.tensor(s)
    return ids, ids != PAD_ID


def fit_length(layers: torch.Tensor, t: int) -> torch.Tensor:
    """(L+1, B, T', D) cut or zero-padded to (L+1, B, t, D), to align with the token ids."""
    if layers.shape[2] >= t:
        return layers[:, :, :t]
    return F.pad(layers, (0, 0, 0, t - layers.shape[2]))


def _check_alignment(token_lists: Sequence[Sequence[str]], cache_mask: torch.Tensor) -> None:
    """Each row's cached length must equal its token count: catches a cache of other rows."""
    lengths = cache_mask.sum(dim=1).tolist()
    for b, (toks, n) in enumerate(zip(token_lists, lengths)):
        if 0 < len(toks) <= MAX_TOKENS and n != len(toks):
            raise ValueError(f"batch row {b}: {len(toks)} tokens but {n} cached ELMo positions")


FILLER = ("오늘", "발표", "관련", "전망", "속보", "종합")  # words every class shares


def synthetic_headlines(n_per_class: int, seed: int, word: str = "분야{c}어{i}") -> list[Headline]:
    """Toy headlines, separable by construction: each has 2 of its class's 4 words (`word`
    formatted with the class c and i) and 1-3 shared filler words, shuffled. For the unit tests
    and `python -m elmo.gpucheck`, which need a task any working model learns."""
    rng = random.Random(seed)
    rows = []
    for c in range(len(YNAT_LABELS)):
        for _ in range(n_per_class):
            words = rng.sample([word.format(c=c, i=i) for i in range(4)], 2) + rng.sample(FILLER, rng.randint(1, 3))
            rng.shuffle(words)
            rows.append(Headline(" ".join(words), c))
    rng.shuffle(rows)
    return rows
