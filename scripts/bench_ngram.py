"""Time the Kneser-Ney reference LM on synthetic Zipfian text (fit ~2.5M tokens, eval ~150k).

i.i.d. Zipfian words make almost every trigram distinct, so this is a pessimistic case for
memory and time compared with real text. Usage: python scripts/bench_ngram.py [--order 3]
"""

import argparse
import resource
import time

import numpy as np

from elmo.bilm.ngram import KneserNeyLM


def zipf_sentences(n_tokens: int, vocab_size: int, seed: int) -> list[list[str]]:
    """Sentences of 5..45 words drawn from a Zipf(1.1) law over `vocab_size` word types."""
    rng = np.random.default_rng(seed)
    weights = 1.0 / np.arange(1, vocab_size + 1) ** 1.1
    ids = rng.choice(vocab_size, size=n_tokens, p=weights / weights.sum())
    words = np.array([f"w{i}" for i in range(vocab_size)], dtype=object)[ids].tolist()
    cuts = np.cumsum(rng.integers(5, 46, size=n_tokens // 5))
    cuts = cuts[cuts < n_tokens].tolist()
    return [words[a:b] for a, b in zip([0] + cuts, cuts + [n_tokens])]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--order", type=int, default=3)
    parser.add_argument("--train-tokens", type=int, default=2_500_000)
    parser.add_argument("--eval-tokens", type=int, default=150_000)
    parser.add_argument("--vocab", type=int, default=50_000)
    args = parser.parse_args()
    train = zipf_sentences(args.train_tokens, args.vocab, seed=0)
    test = zipf_sentences(args.eval_tokens, args.vocab, seed=1)
    for reverse in (False, True):
        t0 = time.perf_counter()
        lm = KneserNeyLM(args.order, reverse=reverse).fit(train)
        t1 = time.perf_counter()
        out = lm.perplexity(test)
        t2 = time.perf_counter()
        print(f"order={args.order} reverse={reverse} fit {t1 - t0:.1f}s eval {t2 - t1:.1f}s "
              f"ppl={out['ppl']:.1f} n_predicted={out['n_predicted']} D={lm.discounts}")
    print(f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6:.2f} GB")


if __name__ == "__main__":
    main()
