"""Interpolated modified Kneser-Ney n-gram LM: a count-based yardstick for the biLM's perplexity.

Hand-written in plain Python because no maintained pure-Python Kneser-Ney library fits: nltk's
`KneserNeyInterpolated` is very slow (it loops over the vocabulary per query) and is not
installed here; kenlm needs a C++ build. Counting uses `Counter`s of token tuples, and a query is
one dictionary look-up per order, so fitting ~2.5M tokens takes seconds, not minutes.

Conventions mirror the neural biLM exactly, so the two perplexities are comparable:
  * forward: a sentence is read as [<bos>]*(order-1) + tokens + [<eos>]; the model predicts
    tok1..tokn, <eos>. <bos> is only ever conditioned on.
  * reverse=True: the sentence is reversed and the sentence markers swap roles, so it is read as
    [<eos>]*(order-1) + tokn..tok1 + [<bos>] and predicts tokn..tok1, <bos>.
  * predicted outcomes are vocab | {<unk>, stop marker}; any other token maps to <unk>.

Smoothing (Chen & Goodman 1999, "modified" KN, interpolated): the highest order uses raw counts,
lower orders use continuation counts N1+(. g), and each order subtracts one of three discounts
D1, D2, D3+ (chosen by the n-gram's count), passing the freed mass to the next lower order. The
unigram order is interpolated with the uniform distribution over the outcomes, so every outcome
has non-zero probability and every conditional distribution sums to exactly one.
"""

from __future__ import annotations

import math
from collections import Counter
from typing import Iterable, Sequence

from elmo.data.text import BOS, EOS, PAD, UNK

_MIN_DISCOUNT = 0.05  # a zero discount would leave no mass for unseen words (log 0)


def estimate_discounts(count_of_counts: Counter) -> tuple[float, float, float]:
    """Chen & Goodman's D1, D2, D3+ from n1..n4 (how many n-grams occur exactly r times).

    Y = n1 / (n1 + 2 n2);  D_r = r - (r + 1) Y n_{r+1} / n_r.  On tiny corpora some n_r are zero
    or the estimate leaves its valid range; then D_r falls back to Y (the single-discount
    estimate, or 0.5 if even that is undefined) and is clipped to [_MIN_DISCOUNT, r] so that
    no count can go negative.
    """
    n = [count_of_counts.get(r, 0) for r in range(5)]
    y = n[1] / (n[1] + 2 * n[2]) if n[1] + n[2] > 0 else 0.5
    discounts = []
    for r in (1, 2, 3):
        d = r - (r + 1) * y * n[r + 1] / n[r] if n[r] > 0 else y
        if not 0 < d <= r:
            d = y
        discounts.append(min(max(d, _MIN_DISCOUNT), float(r)))
    return tuple(discounts)


class KneserNeyLM:
    """Interpolated modified Kneser-Ney LM of a given order (1..5) over token strings.

    `discount=None` estimates D1, D2, D3+ per order from count-of-counts (modified KN);
    a float in (0, 1] uses that single discount for every order and count (plain interpolated
    KN, handy for hand-checkable examples).
    """

    def __init__(self, order: int = 3, discount: float | None = None, reverse: bool = False):
        if not 1 <= order <= 5:
            raise ValueError(f"order must be in 1..5, not {order}")
        if discount is not None and not 0 < discount <= 1:
            raise ValueError("a fixed discount must lie in (0, 1] so no count goes negative")
        self.order = order
        self.discount = discount
        self.reverse = reverse
        # The marker the model conditions on and the one it predicts swap in the backward model.
        self.start, self.stop = (EOS, BOS) if reverse else (BOS, EOS)
        self.vocab: frozenset[str] = frozenset()
        self.discounts: list[tuple[float, float, float]] = []  # per order 1..n
        # Per order k (index k-1): k-gram -> discounted count / context total, and
        # context (k-1 tuple) -> back-off weight gamma. Both are all a query needs.
        self._alpha: list[dict[tuple, float]] = []
        self._gamma: list[dict[tuple, float]] = []

    # ----------------------------------------------------------------------------- fitting
    def fit(
        self, sentences: Iterable[Sequence[str]], vocab: set[str] | None = None
    ) -> "KneserNeyLM":
        """Count n-grams of `sentences` (one pass) and precompute every order's weights.

        With `vocab=None` every training token is in the vocabulary; otherwise tokens outside
        `vocab` are counted as <unk>. Vocabulary words never seen still get probability through
        the uniform floor.
        """
        keep = None if vocab is None else self._outcomes(vocab)
        top = Counter()
        seen: set[str] = set()
        for sent in sentences:
            seq = self._pad(sent, keep)
            seen.update(seq[self.order - 1:])
            top.update(self._ngrams(seq, self.order))
        self.vocab = self._outcomes(seen) if keep is None else keep
        self._build(top)
        return self

    def _outcomes(self, words: Iterable[str]) -> frozenset[str]:
        """The predictable outcomes: words minus the markers, plus <unk> and the stop marker."""
        return frozenset(w for w in words if w not in (PAD, BOS, EOS)) | {UNK, self.stop}

    def _pad(self, sent: Sequence[str], keep: frozenset[str] | None) -> list[str]:
        """Map OOV to <unk>, reverse if backward, and add the sentence markers."""
        toks = list(sent)[::-1] if self.reverse else list(sent)
        if keep is not None:
            toks = [t if t in keep else UNK for t in toks]
        return [self.start] * (self.order - 1) + toks + [self.stop]

    def _ngrams(self, seq: list[str], k: int):
        """k-grams ending at each predicted position (the first order-1 tokens are padding)."""
        first = self.order - 1  # index of the first predicted token
        return zip(*(seq[first - k + 1 + j:] for j in range(k)))

    def _build(self, top: Counter) -> None:
        """Turn raw top-order counts into alpha/gamma tables for every order, top down."""
        levels = [top]
        for _ in range(self.order - 1):
            # Continuation count of g: how many distinct words precede it (Kneser-Ney's key idea).
            levels.append(Counter(g[1:] for g in levels[-1]))
        levels.reverse()  # levels[k-1] holds the k-gram counts
        self.discounts = [self._discounts_for(c) for c in levels]
        self._alpha, self._gamma = [], []
        for counts, disc in zip(levels, self.discounts):
            alpha, gamma = self._weights(counts, disc)
            self._alpha.append(alpha)
            self._gamma.append(gamma)

    def _discounts_for(self, counts: Counter) -> tuple[float, float, float]:
        """Fixed discount if given, else the modified-KN estimate from this order's counts."""
        if self.discount is not None:
            return (self.discount,) * 3
        return estimate_discounts(Counter(c for c in counts.values() if c <= 4))

    @staticmethod
    def _weights(counts: Counter, disc: tuple[float, float, float]):
        """alpha(h w) = (c - D(c)) / c(h .), gamma(h) = sum_w D(c(h w)) / c(h .)."""
        total, freed = Counter(), Counter()
        for g, c in counts.items():
            total[g[:-1]] += c
            freed[g[:-1]] += disc[min(c, 3) - 1]
        alpha = {g: (c - disc[min(c, 3) - 1]) / total[g[:-1]] for g, c in counts.items()}
        gamma = {h: freed[h] / t for h, t in total.items()}
        return alpha, gamma

    # ----------------------------------------------------------------------------- querying
    def logprob(self, context: tuple[str, ...], word: str) -> float:
        """Natural-log P(word | context), context in reading order (nearest token last).

        For reverse=True the reading order is backwards, so the context lists the following
        tokens from farthest to nearest. A context shorter than order-1 is treated as the start
        of a sentence (left-padded with the start marker); out-of-vocabulary tokens map to <unk>.
        """
        if word == self.start:
            raise ValueError(f"{word} is only conditioned on, never predicted")
        ctx = tuple(t if t in self.vocab or t == self.start else UNK for t in context)
        ctx = ((self.start,) * self.order + ctx)[len(ctx) + 1:]  # exactly order-1 tokens
        return math.log(self._prob(ctx, word if word in self.vocab else UNK))

    def _prob(self, ctx: tuple[str, ...], word: str) -> float:
        """Interpolate from the uniform floor up to the longest seen context (no vocab loop)."""
        p = 1.0 / len(self.vocab)
        for k in range(1, self.order + 1):
            h = ctx[len(ctx) - k + 1:]
            gamma = self._gamma[k - 1].get(h)
            if gamma is None:  # unseen context: longer ones are unseen too, keep lower order
                break
            p = self._alpha[k - 1].get(h + (word,), 0.0) + gamma * p
        return p

    def perplexity(self, sentences: Iterable[Sequence[str]]) -> dict:
        """Perplexity over every token plus the stop marker; the start marker is never predicted."""
        nll, count = 0.0, 0
        n = self.order
        for sent in sentences:
            seq = self._pad(sent, self.vocab)
            for i in range(n - 1, len(seq)):
                nll -= math.log(self._prob(tuple(seq[i - n + 1:i]), seq[i]))
            count += len(seq) - (n - 1)
        return {"ppl": math.exp(nll / count) if count else float("nan"),
                "nll_sum": nll, "n_predicted": count}
