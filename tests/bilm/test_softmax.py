"""Softmax heads: exact in eval mode, sampled only in training, all trainable."""

import dataclasses
import math

import pytest
import torch
from torch import nn

from elmo.bilm.softmax import (
    AdaptiveSoftmax,
    FastAdaptiveSoftmax,
    FullSoftmax,
    SampledSoftmax,
    cross_entropy,
    make_softmax,
)
from elmo.core.config import ModelConfig

V, D = 50, 16


def _heads():
    torch.manual_seed(0)
    return {
        "full": FullSoftmax(D, V),
        "adaptive": FastAdaptiveSoftmax(D, V, (10, 30, 500)),
        "adaptive-torch": AdaptiveSoftmax(D, V, (10, 30, 500)),
        "sampled": SampledSoftmax(D, V, n_negatives=8),
    }


@pytest.mark.parametrize("kind", ["full", "adaptive", "adaptive-torch", "sampled"])
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
    assert isinstance(make_softmax(cfg, V, D), FastAdaptiveSoftmax)
    reference = make_softmax(dataclasses.replace(cfg, softmax="adaptive-torch"), V, D)
    assert type(reference) is AdaptiveSoftmax
    assert isinstance(make_softmax(ModelConfig(softmax="sampled"), V, D), SampledSoftmax)
    with pytest.raises(ValueError, match="unknown softmax"):
        make_softmax(ModelConfig(softmax="hierarchical"), V, D)


@pytest.mark.parametrize("kind", ["adaptive", "adaptive-torch"])
def test_adaptive_runs_under_cpu_autocast(kind):
    head = _heads()[kind]
    hidden, targets = torch.randn(20, D), torch.randint(0, V, (20,))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        nll = head(hidden.bfloat16(), targets)
    assert nll.dtype == torch.float32
    # The fast head's matmuls run in bf16 (~3 significant digits), the reference's in fp32.
    tol = 0.05 if kind == "adaptive" else 1e-6
    assert torch.allclose(nll, head(hidden.bfloat16().float(), targets), atol=tol, rtol=tol)


def test_fast_adaptive_equals_torch_adaptive_in_fp32():
    """Same weights: log-probs, NLLs and every gradient equal nn.AdaptiveLogSoftmaxWithLoss's."""
    torch.manual_seed(0)
    fast = FastAdaptiveSoftmax(D, V, (10, 30))
    torch_head = nn.AdaptiveLogSoftmaxWithLoss(D, V, [10, 30], div_value=4.0)
    torch_head.load_state_dict(fast.asm.state_dict())
    hidden = torch.randn(64, D, requires_grad=True)
    targets = torch.cat([torch.arange(V), torch.randint(0, V, (14,))])  # every cluster, every id
    assert torch.allclose(fast.log_prob(hidden), torch_head.log_prob(hidden), atol=1e-6)
    nll, want = fast(hidden, targets), -torch_head(hidden, targets).output
    assert torch.allclose(nll, want, atol=1e-6)
    grads = torch.autograd.grad(nll.sum(), [hidden, *fast.parameters()])
    wants = torch.autograd.grad(want.sum(), [hidden, *torch_head.parameters()])
    for g, w in zip(grads, wants):
        assert torch.allclose(g, w, atol=1e-6)


@pytest.mark.parametrize("classes", [70, 2002])
def test_low_precision_cross_entropy_matches_fp32_library(classes):
    """bf16 logits: the NLL equals F.cross_entropy's on the same values in fp32 up to bf16
    rounding (sums accumulated in fp32, not in bf16), without bias; the gradient too."""
    torch.manual_seed(0)
    logits = (torch.randn(4000, classes) * 4).bfloat16().requires_grad_()
    targets = torch.randint(0, classes, (4000,))
    weights = torch.rand(4000)
    nll = cross_entropy(logits, targets)
    assert nll.dtype == torch.float32
    ref_logits = logits.detach().float().requires_grad_()
    ref = torch.nn.functional.cross_entropy(ref_logits, targets, reduction="none")
    assert ((nll - ref).abs() <= (ref.abs() + 1) * 2**-7).all()
    assert abs(float((nll - ref).mean())) < 1e-3 * float(ref.mean())
    (grad,) = torch.autograd.grad((nll * weights).sum(), logits)
    (ref_grad,) = torch.autograd.grad((ref * weights).sum(), ref_logits)
    assert grad.dtype == torch.bfloat16
    assert torch.allclose(grad.float(), ref_grad, atol=1e-2 * ref_grad.abs().max().item())


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
