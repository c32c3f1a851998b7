"""Length-bucketed batches: sentences of similar length share a batch, so little is padding.

Used by biLM pretraining (`elmo.bilm.datamodule`) and by the YNAT task model (`elmo.ynat`). On the
task model a batch of random headlines pads to ~20 tokens while the mean is ~12: bucketing cuts
the padded work (dropout, the ELMo mix, the LSTM's time steps) by about a third.
Hand-written: torch ships no length-bucketing sampler.
"""

from __future__ import annotations

from typing import Iterator

import numpy as np
import torch
from torch.utils.data import Sampler


class BucketBatchSampler(Sampler[list[int]]):
    """Batches of sentences of similar length, in an order fixed by (seed, epoch).

    Sentences are shuffled, cut into pools of 50 batches, sorted by length within a pool, then
    batched; the batch order is shuffled again. Under DDP each rank takes every world-th batch
    (for training, the count is trimmed to a multiple of the world size).
    """

    def __init__(self, lengths: np.ndarray, batch_size: int, shuffle: bool = True, seed: int = 0, pool: int = 50):
        self.lengths, self.batch_size, self.shuffle, self.seed, self.pool = lengths, batch_size, shuffle, seed, pool
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Called by Lightning at the start of each epoch (also when resuming), via `sampler`."""
        self.epoch = epoch

    @property
    def sampler(self) -> "BucketBatchSampler":
        # Lightning calls `set_epoch` on `loader.sampler` and `loader.batch_sampler.sampler`, never
        # on the batch sampler itself (lightning_fabric.utilities.data._set_sampler_epoch). Without
        # this, every epoch would repeat the first epoch's batches.
        return self

    def _all_batches(self) -> list[list[int]]:
        rng = np.random.default_rng([self.seed, self.epoch])
        order = rng.permutation(len(self.lengths)) if self.shuffle else np.arange(len(self.lengths))
        span = self.batch_size * self.pool
        batches = []
        for start in range(0, len(order), span):
            chunk = order[start : start + span]
            chunk = chunk[np.argsort(self.lengths[chunk], kind="stable")]
            batches += [chunk[i : i + self.batch_size].tolist() for i in range(0, len(chunk), self.batch_size)]
        if self.shuffle:
            batches = [batches[i] for i in rng.permutation(len(batches))]
        return batches

    def __iter__(self) -> Iterator[list[int]]:
        # A generator, so the order is drawn at the first batch: on resume, Lightning creates the
        # loader's iterator before it sets the epoch.
        rank, world = _rank_world()
        yield from self._trim(self._all_batches(), world)[rank::world]

    def __len__(self) -> int:
        rank, world = _rank_world()
        return len(self._trim(self._all_batches(), world)[rank::world])

    def _trim(self, batches: list, world: int) -> list:
        # Training ranks must step together (DDP syncs gradients every step); evaluation keeps
        # every batch, so held-out perplexity counts each sentence exactly once.
        return batches[: len(batches) - len(batches) % world] if self.shuffle else batches


def _rank_world() -> tuple[int, int]:
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        return torch.distributed.get_rank(), torch.distributed.get_world_size()
    return 0, 1
