"""Batches for biLM pretraining: encoded sentences in length buckets, a LightningDataModule.

Sentences are stored as arrays of *type* indices into a spelling table (one row of character
ids per distinct token string), so the corpus costs one int per token, not `max_chars` ints.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import pytorch_lightning as pl
import torch
from torch.utils.data import DataLoader, Dataset

from elmo.core.config import Config
from elmo.data.batching import BucketBatchSampler
from elmo.data.corpus import Corpus, load_corpus, settings_of
from elmo.data.text import BOS, EOS, PAD_ID, TextEncoder


@dataclass
class Batch:
    """A right-padded batch; each row is [<bos>, tokens..., <eos>, <pad>...].

    token_ids (B, T) long, char_ids (B, T, W) long, mask (B, T) bool (True on real positions).
    """

    token_ids: torch.Tensor
    char_ids: torch.Tensor
    mask: torch.Tensor

    def to(self, device) -> "Batch":
        return Batch(self.token_ids.to(device), self.char_ids.to(device), self.mask.to(device))

    @property
    def n_predicted(self) -> int:
        """Targets per direction: every real position but the first (fwd) or last (bwd)."""
        return int(self.mask.sum() - self.mask.shape[0])


class EncodedSentences(Dataset):
    """Sentences -> type indices; `types` maps each distinct string to token and char ids."""

    def __init__(self, sentences: Sequence[Sequence[str]], encoder: TextEncoder):
        self.encoder = encoder
        index: dict[str, int] = {BOS: 0, EOS: 1}
        self.sentences = []
        for sent in sentences:
            ids = [index.setdefault(t, len(index)) for t in sent]
            self.sentences.append(np.array([0, *ids, 1], dtype=np.int32))
        types = list(index)
        self.type_token_ids = torch.tensor(encoder.tokens.encode(types), dtype=torch.long)
        self.type_char_ids = torch.tensor([encoder.char_ids(t) for t in types], dtype=torch.long)

    def __len__(self) -> int:
        return len(self.sentences)

    def __getitem__(self, i: int) -> np.ndarray:
        return self.sentences[i]

    def lengths(self) -> np.ndarray:
        return np.array([len(s) for s in self.sentences])

    def collate(self, rows: list[np.ndarray]) -> Batch:
        width = max(len(r) for r in rows)
        types = torch.zeros(len(rows), width, dtype=torch.long)
        mask = torch.zeros(len(rows), width, dtype=torch.bool)
        for i, r in enumerate(rows):
            types[i, : len(r)] = torch.from_numpy(r.astype(np.int64))
            mask[i, : len(r)] = True
        token_ids = self.type_token_ids[types].masked_fill(~mask, PAD_ID)
        # (B, T) type ids -> (B, T, W) character ids; padded positions become all-pad rows.
        char_ids = self.type_char_ids[types].masked_fill(~mask.unsqueeze(-1), PAD_ID)
        return Batch(token_ids, char_ids, mask)


class PetitionsLM(pl.LightningDataModule):
    """The petitions corpus for the biLM: tokenize (cached) in prepare_data, encode in setup."""

    def __init__(self, cfg: Config, root: Path | None = None, corpus: Corpus | None = None):
        super().__init__()
        self.cfg, self.root, self.corpus = cfg, root, corpus
        self.encoder: TextEncoder | None = None
        self.datasets: dict[str, EncodedSentences] = {}

    def prepare_data(self) -> None:
        if self.corpus is None:
            load_corpus(self.cfg.data, self.root)  # fills the on-disk cache once

    def setup(self, stage: str | None = None) -> None:
        if self.datasets:
            return
        corpus = self.corpus = self.corpus or load_corpus(self.cfg.data, self.root, progress=False)
        d = self.cfg.data
        self.encoder = TextEncoder.build(corpus.train, settings_of(d), d.min_freq, d.max_vocab)
        self.datasets = {s: EncodedSentences(self.windows(s), self.encoder) for s in ("train", "valid", "test")}

    def windows(self, split: str, source: str | None = None, context: str | None = None) -> list[list[str]]:
        """The LM windows of a split (`DataConfig.context`, or `context` to override it)."""
        d = self.cfg.data
        return self.corpus.lm_windows(split, source, context or d.context, d.max_tokens)

    def held_out(self) -> list[tuple[str, str]]:
        """(source, split) of every non-empty held-out split of each source, when there are several."""
        sources = self.corpus.sources if self.corpus is not None and len(self.corpus.sources) > 1 else []
        return [(src, s) for src in sources for s in ("valid", "test") if self.corpus.split(s, src)]

    def loader(self, split: str, shuffle: bool = False, source: str | None = None, context: str | None = None) -> DataLoader:
        """Batches of one split, of every source or of one (`source`, for per-source perplexity),
        in the config's windows or in `context`'s ("sentence": one sentence at a time)."""
        if source is None and context in (None, self.cfg.data.context):
            ds = self.datasets[split]
        else:
            ds = EncodedSentences(self.windows(split, source, context), self.encoder)
        bs = self.cfg.train.batch_size
        sampler = BucketBatchSampler(ds.lengths(), bs, shuffle=shuffle, seed=self.cfg.seed)
        return DataLoader(ds, batch_sampler=sampler, collate_fn=ds.collate, num_workers=self.cfg.train.num_workers)

    def train_dataloader(self) -> DataLoader:
        return self.loader("train", shuffle=True)

    def val_dataloader(self) -> DataLoader:
        return self.loader("valid")

    def test_dataloader(self) -> DataLoader:
        return self.loader("test")

    def transfer_batch_to_device(self, batch: Batch, device, dataloader_idx: int) -> Batch:
        return batch.to(device)
