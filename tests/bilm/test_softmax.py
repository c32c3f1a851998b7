"""Softmax heads: exact in eval mode, sampled only in training, all trainable."""

import dataclasses
import math

import pytest
import torch

from elmo.bilm.softmax import AdaptiveSoftmax, FullSoftmax, SampledSoftmax, make_softmax
from elmo.core.config import ModelConfig

V, D = 50, 16


def _heads():
    torch.manual_seed(0)
    return {
        "full": FullSoftmax(D, V),
        "adaptive": AdaptiveSoftmax(D, V, (10, 30, 500)),
        "sampled": SampledSoftmax(D, V, n_negatives=8),
    }


@pytest.mark.parametrize("kind", ["full", "adaptive", "sampled"])
def test_eval_nll_is_exact_full_softmax(kind):
    head = _heads()[kind].eval()
    hidden, targets = torch.randn(20, D), torch.randint(0, V, (20,))
    log_p = head.log_prob(hidden)
    assert log_p.shape == (20, V)
    assert torch.allclose(log_p.exp().sum(-1), torch.ones(20), atol=1e-5)
    nll = head(hidden, targets)
    assert nll.shape == (20,)
    assert torch.allclose(nll, -log_p.gather(1, targets[:, None]).squeeze(1), atol=1e-5)


def test_adaptive_cutoffs_filtered_and_fallback():
    head = AdaptiveSoftmax(D, V, (10, 30, 500))
    assert head.asm.cutoffs == [10, 30, V]
    cfg = ModelConfig(softmax="adaptive", adaptive_cutoffs=(2000, 8000))
    assert isinstance(make_softmax(cfg, V, D), FullSoftmax)  # no cutoff below V
    cfg = dataclasses.replace(cfg, adaptive_cutoffs=(20, 8000))
    assert isinstance(make_softmax(cfg, V, D), AdaptiveSoftmax)
    assert isinstance(make_softmax(ModelConfig(softmax="sampled"), V, D), SampledSoftmax)
    with pytest.raises(ValueError, match="unknown softmax"):
        make_softmax(ModelConfig(softmax="hierarchical"), V, D)


def test_adaptive_runs_under_cpu_autocast():
    head = _heads()["adaptive"]
    hidden, targets = torch.randn(20, D), torch.randint(0, V, (20,))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        nll = head(hidden.bfloat16(), targets)
    assert nll.dtype == torch.float32
    assert torch.allclose(nll, head(hidden.bfloat16().float(), targets))


def test_log_uniform_sampler_matches_zipf():
    torch.manual_seed(0)
    head = SampledSoftmax(D, V, n_negatives=200_000)
    ids = head.sample(torch.device("cpu"))
    assert ids.min() >= 0 and ids.max() < V
    freq = torch.bincount(ids, minlength=V).double() / len(ids)
    expected = torch.log1p(1.0 / torch.arange(1, V + 1).double()) / math.log(V + 1)
    assert torch.allclose(freq, expected, atol=5e-3)
    assert torch.allclose(head.log_expected_count(torch.arange(V)).double().exp(),
                          200_000 * expected, rtol=1e-4)


def test_sampled_train_loss_by_hand(monkeypatch):
    head = _heads()["sampled"].train()
    hidden, targets = torch.randn(4, D), torch.tensor([0, 3, 7, 7])
    negatives = torch.tensor([1, 3, 5, 5, 9, 20, 40, 2])
    monkeypatch.setattr(head, "sample", lambda device: negatives)
    logits = hidden @ head.weight.t() + head.bias - head.log_expected_count(torch.arange(V))
    expected = []
    for i, y in enumerate(targets.tolist()):
        others = [logits[i, c] for c in negatives.tolist() if c != y]  # accidental hits removed
        expected.append(torch.logsumexp(torch.stack([logits[i, y], *others]), 0) - logits[i, y])
    assert torch.allclose(head(hidden, targets), torch.stack(expected), atol=1e-5)
    # Only accidental hits among the negatives: nothing competes with the target.
    monkeypatch.setattr(head, "sample", lambda device: torch.full((8,), 3))
    assert head(hidden[1:2], targets[1:2]).item() == 0.0


def test_sampled_train_mode_differs_from_full_yet_trains():
    torch.manual_seed(0)
    head = SampledSoftmax(D, V, n_negatives=10)
    hidden, targets = torch.randn(64, D), torch.randint(0, V, (64,))
    head.train()
    approx = head(hidden, targets)
    exact = head.eval()(hidden, targets)
    assert not torch.allclose(approx, exact)
    start = exact.mean().item()
    opt = torch.optim.Adam(head.parameters(), lr=0.05)
    head.train()
    for _ in range(200):
        opt.zero_grad()
        head(hidden, targets).mean().backward()
        opt.step()
    end = head.eval()(hidden, targets).mean().item()  # exact full-softmax NLL
    assert end < 0.5 * start
