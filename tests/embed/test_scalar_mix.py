"""ScalarMix against a hand computation, its flags, its penalty and its errors."""

import numpy as np
import pytest
import torch

from elmo.embed.scalar_mix import ScalarMix


def _layers(n=3, b=2, t=4, d=5, seed=0):
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(b, t, d, generator=g) for _ in range(n)]


def test_scalar_mix_equals_hand_computation():
    layers = _layers()
    mix = ScalarMix(3, initial_weights=[0.5, -1.0, 2.0])
    with torch.no_grad():
        mix.gamma.fill_(0.7)
    w = np.array([0.5, -1.0, 2.0])
    s = np.exp(w) / np.exp(w).sum()
    expected = 0.7 * sum(s[j] * layers[j].numpy() for j in range(3))
    np.testing.assert_allclose(mix(layers).detach().numpy(), expected, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(mix.weights.detach().numpy(), s, rtol=1e-6)
    # A stacked (L, B, T, D) tensor is the same as the list.
    assert torch.equal(mix(torch.stack(layers)), mix(layers))


def test_scalar_mix_flags_decide_what_learns():
    layers = _layers()
    for trainable, gamma in [(True, True), (True, False), (False, True), (False, False)]:
        mix = ScalarMix(3, trainable=trainable, gamma=gamma)
        assert mix.scalar_parameters.requires_grad == trainable
        assert mix.gamma.requires_grad == gamma
        assert mix.gamma.item() == 1.0
        if trainable or gamma:
            mix(layers).sum().backward()
            assert (mix.scalar_parameters.grad is not None) == trainable
            assert (mix.gamma.grad is not None) == gamma


def test_scalar_mix_l2_penalty():
    mix = ScalarMix(3, initial_weights=[1.0, -2.0, 0.5])
    penalty = mix.l2_penalty()
    assert penalty.item() == pytest.approx(1.0 + 4.0 + 0.25)
    penalty.backward()
    assert torch.allclose(mix.scalar_parameters.grad, torch.tensor([2.0, -4.0, 1.0]))
    assert ScalarMix.fixed(3, index=0).l2_penalty().item() == 0.0


def test_fixed_mixes_select_or_average_exactly():
    layers = _layers()
    assert torch.equal(ScalarMix.fixed(3, index=2)(layers), layers[2])
    assert torch.equal(ScalarMix.fixed(3, index=-1)(layers), layers[2])
    uniform = ScalarMix.fixed(3)(layers)
    assert torch.allclose(uniform, torch.stack(layers).mean(0), atol=1e-6)
    assert not any(p.requires_grad for p in ScalarMix.fixed(3).parameters())


def test_scalar_mix_layer_norm_uses_real_positions_only():
    layers = _layers(n=2, b=2, t=4, d=3)
    mask = torch.tensor([[1, 1, 1, 1], [1, 1, 0, 0]], dtype=torch.bool)
    out = ScalarMix(2, layer_norm=True)(layers, mask)
    expected = np.zeros((2, 4, 3))
    for h in layers:
        for b in range(2):
            real = h[b, mask[b]].numpy()
            expected[b] += 0.5 * (h[b].numpy() - real.mean()) / np.sqrt(real.var() + 1e-12)
    real = mask[..., None].expand_as(out)
    np.testing.assert_allclose(out[real].detach().numpy(), expected[real.numpy()], atol=1e-5)


def test_scalar_mix_rejects_wrong_layer_count():
    with pytest.raises(ValueError, match="expects 3 layers"):
        ScalarMix(3)(_layers(n=2))
    with pytest.raises(ValueError, match="initial_weights"):
        ScalarMix(3, initial_weights=[0.0, 1.0])
