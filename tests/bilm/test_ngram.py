"""Tests for the Kneser-Ney reference LM: normalisation, sanity, and a hand-computed example."""

import math
import random

import pytest

from elmo.bilm.ngram import KneserNeyLM, estimate_discounts
from elmo.data.text import BOS, EOS, UNK

TOY = [
    "the cat sat on the mat".split(),
    "the dog sat on the log".split(),
    "a cat saw the dog".split(),
    "the dog saw a cat on the mat".split(),
    "a dog sat".split(),
] * 3


def total_prob(lm, context):
    """Sum of P(w | context) over every outcome the model can predict."""
    return sum(math.exp(lm.logprob(context, w)) for w in lm.vocab)


@pytest.mark.parametrize("order", [1, 2, 3, 4, 5])
@pytest.mark.parametrize("discount", [None, 0.7])
def test_distribution_sums_to_one(order, discount):
    lm = KneserNeyLM(order, discount).fit(TOY, vocab={"the", "cat", "dog", "sat", "zebra", "mat"})
    contexts = [(), (BOS,), ("the",), ("the", "cat"), ("sat", "on", "the"),
                ("zebra", "zebra"), ("never", "seen", "words", "here"), (UNK, "dog")]
    for ctx in contexts:
        assert total_prob(lm, ctx) == pytest.approx(1.0, abs=1e-9)


def test_training_text_beats_shuffled_words():
    lm = KneserNeyLM(3).fit(TOY)
    rng = random.Random(0)
    shuffled = [rng.sample(s, len(s)) for s in TOY]
    assert lm.perplexity(TOY)["ppl"] < lm.perplexity(shuffled)["ppl"]


def test_unigram_ignores_context_and_follows_counts():
    lm = KneserNeyLM(1, discount=0.5).fit(TOY)
    assert lm.logprob(("the",), "cat") == lm.logprob((), "cat")
    assert lm.logprob((), "the") > lm.logprob((), "cat") > lm.logprob((), "zebra")
    assert total_prob(lm, ()) == pytest.approx(1.0, abs=1e-9)


def test_unknown_words_map_to_unk():
    lm = KneserNeyLM(2).fit(TOY, vocab={"the", "cat"})
    assert lm.vocab == {"the", "cat", UNK, EOS}
    assert lm.logprob(("the",), "dog") == lm.logprob(("the",), UNK)
    assert lm.logprob(("dog",), "cat") == lm.logprob((UNK,), "cat")
    with pytest.raises(ValueError):
        lm.logprob(("the",), BOS)  # the start marker is conditioned on, never predicted


def test_perplexity_counts_tokens_plus_eos():
    out = KneserNeyLM(3).fit(TOY).perplexity([["the", "cat"], []])
    assert out["n_predicted"] == 3 + 1
    assert out["ppl"] == pytest.approx(math.exp(out["nll_sum"] / 4))


def test_reverse_equals_forward_on_reversed_sentences():
    swap = {BOS: EOS, EOS: BOS}
    sw = lambda toks: tuple(swap.get(t, t) for t in toks)  # noqa: E731
    backward = KneserNeyLM(3, reverse=True).fit(TOY)
    forward = KneserNeyLM(3).fit([s[::-1] for s in TOY])
    assert backward.vocab == {sw([w])[0] for w in forward.vocab}
    for ctx in [(EOS, EOS), (EOS, "mat"), ("mat", "the"), ("the", "zebra")]:
        for w in backward.vocab:
            assert backward.logprob(ctx, w) == pytest.approx(forward.logprob(sw(ctx), sw([w])[0]))
    test = [["the", "cat", "sat"], ["a", "dog", "saw", "the", "mat"]]
    b, f = backward.perplexity(test), forward.perplexity([s[::-1] for s in test])
    assert b["n_predicted"] == f["n_predicted"] == 10
    assert b["nll_sum"] == pytest.approx(f["nll_sum"], rel=1e-12)


def test_bigram_matches_hand_computation():
    # Corpus "a b", "a" read as <bos> a b <eos> / <bos> a <eos>, D = 1/2, outcomes {a, b, eos, unk}.
    # Unigram continuation counts (distinct predecessors): a 1, b 1, eos 2 (total 4);
    # gamma() = 0.5 * 3 / 4 = 3/8, so p1(a) = p1(b) = 0.5/4 + 3/32 = 7/32, p1(eos) = 15/32.
    # p(a|bos) = 1.5/2 + (0.5*1/2) * 7/32 = 103/128
    # p(b|a)   = 0.5/2 + (0.5*2/2) * 7/32 = 23/64
    # p(eos|b) = 0.5/1 + (0.5*1/1) * 15/32 = 47/64;  p(a|a) = 0.5 * 7/32 = 7/64
    lm = KneserNeyLM(2, discount=0.5).fit([["a", "b"], ["a"]])
    assert math.exp(lm.logprob((BOS,), "a")) == pytest.approx(103 / 128, rel=1e-14)
    assert math.exp(lm.logprob(("a",), "b")) == pytest.approx(23 / 64, rel=1e-14)
    assert math.exp(lm.logprob(("b",), EOS)) == pytest.approx(47 / 64, rel=1e-14)
    assert math.exp(lm.logprob(("a",), "a")) == pytest.approx(7 / 64, rel=1e-14)
    assert math.exp(lm.logprob(("zzz",), UNK)) == pytest.approx(3 / 32, rel=1e-14)  # unseen ctx
    nll = -math.log(103 / 128 * 23 / 64 * 47 / 64)
    out = lm.perplexity([["a", "b"]])
    assert out["nll_sum"] == pytest.approx(nll, rel=1e-14)
    assert out["ppl"] == pytest.approx(math.exp(nll / 3), rel=1e-14)


def test_estimated_discounts_follow_chen_goodman():
    n = {1: 100, 2: 40, 3: 20, 4: 10}
    y = 100 / 180
    expected = (1 - 2 * y * 40 / 100, 2 - 3 * y * 20 / 40, 3 - 4 * y * 10 / 20)
    assert estimate_discounts(n) == pytest.approx(expected)
    for d, r in zip(estimate_discounts({1: 5}), (1, 2, 3)):  # degenerate counts stay usable
        assert 0 < d <= r


def test_model_discounts_use_exact_count_of_counts():
    # Unigram raw counts: b, c, <eos> once; d twice; e, f, g 3x; h 4x; i 9x (must not count as 4).
    sent = ["b", "c", "d", "d"] + ["e", "f", "g"] * 3 + ["h"] * 4 + ["i"] * 9
    lm = KneserNeyLM(1).fit([sent])
    assert lm.discounts[0] == pytest.approx(estimate_discounts({1: 3, 2: 1, 3: 3, 4: 1}))
    assert lm.discounts[0][2] == pytest.approx(3 - 4 * 0.6 * 1 / 3)
