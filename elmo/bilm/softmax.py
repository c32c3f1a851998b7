"""Softmax heads over the token vocabulary, shared by the forward and backward LMs.

Every head has one interface:
    head(hidden (N, D), targets (N,)) -> nll (N,)   per-token negative log-likelihood (nats)
    head.log_prob(hidden (N, D)) -> (N, V)           the full log-distribution
In eval mode every head computes the exact normalised likelihood, so perplexities from the
three heads are comparable; only `SampledSoftmax` approximates it, and only while training.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from elmo.bilm.shapes import bucket, pad_rows
from elmo.core.config import ModelConfig


def cross_entropy(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """(N, C) logits in their own dtype, (N,) long targets -> (N,) fp32 NLL (nats).

    Under CPU autocast the logits are bf16. PyTorch's CPU log-softmax of bf16 accumulates in fp32
    and rounds only its output, so each row's NLL carries a bf16 rounding (within 2^-7 of
    |NLL| + 1, and unbiased: the mean error was under 2e-3 nats on 4096 random rows; tested) and
    the gradient is as exact as a bf16 gradient can be. Fwd + bwd at 4096 x 2002 on 2 cores: 7.7 ms, against
    12.4 ms for the hand-written blocked fp32 log-softmax this replaced (~9 ms of a 106 ms step
    in all three clusters). The perplexities an artifact reports are computed in fp32
    (`elmo.bilm.train.evaluate`), without any of this rounding. Outside autocast: under it,
    `nll_loss` would copy the whole (N, C) log-softmax to fp32 and back (3 ms more at that size).
    """
    with torch.autocast(logits.device.type, enabled=False):
        return F.cross_entropy(logits, targets, reduction="none").float()


class SoftmaxHead(nn.Module):
    """Common base: `forward(hidden, targets) -> nll` and `log_prob(hidden)`."""

    def __init__(self, dim: int, vocab_size: int):
        super().__init__()
        self.dim = dim
        self.vocab_size = vocab_size

    def forward(self, hidden: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def log_prob(self, hidden: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError


class FullSoftmax(SoftmaxHead):
    """A Linear layer over the whole vocabulary and cross-entropy (PyTorch default init)."""

    def __init__(self, dim: int, vocab_size: int):
        super().__init__(dim, vocab_size)
        self.proj = nn.Linear(dim, vocab_size)

    def forward(self, hidden: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        # Logits may be bf16 under autocast; the loss is taken in fp32.
        return F.cross_entropy(self.proj(hidden).float(), targets, reduction="none")

    def log_prob(self, hidden: torch.Tensor) -> torch.Tensor:
        return torch.log_softmax(self.proj(hidden).float(), dim=-1)


class AdaptiveSoftmax(SoftmaxHead):
    """`nn.AdaptiveLogSoftmaxWithLoss` (Grave et al. 2017); exact, with frequent words cheap.

    Token ids must be sorted by frequency (they are: `Vocab.build`), so the head cluster holds
    the ids below the first cutoff. Cutoffs >= vocab_size are dropped; `make_softmax` falls back
    to `FullSoftmax` when none is left.
    """

    def __init__(self, dim: int, vocab_size: int, cutoffs: tuple[int, ...], div_value: float = 4.0):
        super().__init__(dim, vocab_size)
        kept = [c for c in cutoffs if 0 < c < vocab_size]
        self.asm = nn.AdaptiveLogSoftmaxWithLoss(dim, vocab_size, kept, div_value=div_value)

    def forward(self, hidden: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        # The module fails under CPU autocast (index_copy_ dtype mismatch): run it in fp32.
        with torch.autocast(hidden.device.type, enabled=False):
            return -self.asm(hidden.float(), targets).output

    def log_prob(self, hidden: torch.Tensor) -> torch.Tensor:
        with torch.autocast(hidden.device.type, enabled=False):
            return self.asm.log_prob(hidden.float())


class FastAdaptiveSoftmax(AdaptiveSoftmax):
    """`AdaptiveSoftmax` (same weights, same exact likelihood) with a fast training forward.

    The reference runs `nn.AdaptiveLogSoftmaxWithLoss` in fp32 (fp32 matmuls, an fp32 (N, V_head)
    log-softmax whose autograd keeps full-size copies, a mask and copy per cluster). This head
    holds the same module, so artifacts load into either, and computes the same NLL with the
    head and tail matmuls and the log-softmax in the autocast dtype (bf16 on CPU, accumulated
    in fp32: `cross_entropy`), one bucketize for the clusters and one gather per tail. Without
    autocast every step is fp32 and it equals `nn.AdaptiveLogSoftmaxWithLoss` to rounding.
    """

    def forward(self, hidden: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        asm = self.asm
        cutoffs = asm.cutoffs  # [c_1, ..., c_k, V]: the head holds ids < c_1, tail i [c_i, c_{i+1})
        n = hidden.shape[0]
        # Rows padded to a bucketed count (elmo.bilm.shapes), so the matmuls see few shapes; the
        # padding rows (zero vectors, target 0) are scored and then dropped: they get no gradient.
        hidden, targets = pad_rows(hidden, bucket(n)), pad_rows(targets, bucket(n))
        bounds = torch.tensor(cutoffs[:-1], device=targets.device)
        # (N,) 0 for a head target, i for one in tail i (i >= 1).
        cluster = torch.bucketize(targets, bounds, right=True)
        # The head scores its shortlist and one logit per tail cluster (after the shortlist).
        head_target = torch.where(cluster == 0, targets, asm.shortlist_size - 1 + cluster)
        nll = cross_entropy(asm.head(hidden), head_target)
        for i, tail in enumerate(asm.tail):
            rows = (cluster == i + 1).nonzero().squeeze(1)
            if rows.numel():
                size = bucket(rows.numel())
                # (n_i, D) -> (n_i, D / div^i) -> (n_i, c_{i+1} - c_i) logits within the cluster, for
                # n_i rows padded to `size` by repeating row 0 with target 0 (then dropped).
                within = pad_rows(targets[rows] - cutoffs[i], size)
                tail_nll = cross_entropy(tail(hidden[pad_rows(rows, size)]), within)[: rows.numel()]
                nll = nll.index_add(0, rows, tail_nll)
        return nll[:n]


class SampledSoftmax(SoftmaxHead):
    """Sampled softmax (Jean et al. 2015) as bilm-tf's `tf.nn.sampled_softmax_loss`.

    Training: logits over each target and `n_negatives` ids shared by the batch, drawn from the
    log-uniform (Zipfian) distribution P(c) = log((c + 2) / (c + 1)) / log(V + 1) (ids are
    frequency-sorted), each logit corrected by minus log of its expected count k * P(c), and
    negatives equal to a row's target ("accidental hits") removed from that row.
    Eval (`not self.training`): the exact full softmax, so perplexity is the true one.
    Init as bilm-tf: weights N(0, 1/dim), biases zero.
    """

    def __init__(self, dim: int, vocab_size: int, n_negatives: int):
        super().__init__(dim, vocab_size)
        self.n_negatives = n_negatives
        self.weight = nn.Parameter(torch.randn(vocab_size, dim) / math.sqrt(dim))
        self.bias = nn.Parameter(torch.zeros(vocab_size))

    def sample(self, device: torch.device) -> torch.Tensor:
        """(k,) long negatives by inverse CDF: CDF(c) = log(c + 2) / log(V + 1)."""
        u = torch.rand(self.n_negatives, device=device, dtype=torch.float64)
        ids = torch.floor(torch.exp(u * math.log(self.vocab_size + 1))) - 1
        return ids.long().clamp_(0, self.vocab_size - 1)

    def log_expected_count(self, ids: torch.Tensor) -> torch.Tensor:
        """(...,) log(k * P(id)) for sampling k ids with replacement."""
        p = torch.log1p(1.0 / (ids.double() + 1)) / math.log(self.vocab_size + 1)
        return torch.log(self.n_negatives * p).float()

    def forward(self, hidden: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        if not self.training:
            return F.cross_entropy(self._logits(hidden), targets, reduction="none")
        negatives = self.sample(hidden.device)
        # (N, D) * (N, D) summed -> (N,): the target logit of each row.
        true = (hidden * self.weight[targets]).sum(-1) + self.bias[targets]
        true = true.float() - self.log_expected_count(targets)
        # (N, D) @ (D, k) -> (N, k): every row scores the same shared negatives.
        sampled = hidden @ self.weight[negatives].t() + self.bias[negatives]
        sampled = sampled.float() - self.log_expected_count(negatives)
        sampled = sampled.masked_fill(targets[:, None] == negatives[None, :], float("-inf"))
        # (N, 1 + k): the target is class 0 of each row's small softmax.
        logits = torch.cat([true[:, None], sampled], dim=1)
        return torch.logsumexp(logits, dim=1) - true

    def log_prob(self, hidden: torch.Tensor) -> torch.Tensor:
        return torch.log_softmax(self._logits(hidden), dim=-1)

    def _logits(self, hidden: torch.Tensor) -> torch.Tensor:
        """(N, D) -> (N, V) fp32 logits over the whole vocabulary."""
        return F.linear(hidden, self.weight, self.bias).float()


SOFTMAXES = ("full", "adaptive", "adaptive-torch", "sampled")


def make_softmax(cfg: ModelConfig, vocab_size: int, dim: int) -> SoftmaxHead:
    """The head named by `cfg.softmax`: "full", "adaptive" (`FastAdaptiveSoftmax`),
    "adaptive-torch" (the same weights through `nn.AdaptiveLogSoftmaxWithLoss` in fp32, the
    reference and the seed of this repo's first runs) or "sampled"."""
    if cfg.softmax == "full":
        return FullSoftmax(dim, vocab_size)
    if cfg.softmax in ("adaptive", "adaptive-torch"):
        if not any(0 < c < vocab_size for c in cfg.adaptive_cutoffs):
            # Every cutoff is beyond this (small) vocabulary: one cluster is a full softmax.
            return FullSoftmax(dim, vocab_size)
        head = FastAdaptiveSoftmax if cfg.softmax == "adaptive" else AdaptiveSoftmax
        return head(dim, vocab_size, cfg.adaptive_cutoffs, cfg.adaptive_div_value)
    if cfg.softmax == "sampled":
        return SampledSoftmax(dim, vocab_size, cfg.sampled_negatives)
    raise ValueError(f"unknown softmax {cfg.softmax!r}; choose one of {SOFTMAXES}")
