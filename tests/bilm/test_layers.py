"""CharCNN and Highway (the token encoder's layers) and the shared Dropout."""

import pytest
import torch

import elmo.bilm.layers
from elmo.bilm.layers import CharCNN, Dropout, Highway, trim_char_width, unique_rows


def _cnn(**kw) -> CharCNN:
    torch.manual_seed(0)
    args = dict(n_chars=30, char_dim=8, filters=((1, 4), (2, 4), (3, 8)), highway_layers=2)
    return CharCNN(**{**args, "proj_dim": 12, **kw})


def test_char_cnn_shape_and_pad_embedding():
    cnn = _cnn()
    out = cnn(torch.randint(0, 30, (3, 5, 10)))
    assert out.shape == (3, 5, 12)
    assert torch.all(cnn.embedding.weight[0] == 0)  # padding_idx=0


def test_char_cnn_tokens_are_independent():
    """Each token's vector depends only on its own characters (no context at this stage)."""
    cnn = _cnn().eval()
    ids = torch.randint(1, 30, (2, 6, 10))
    changed = ids.clone()
    changed[1, 3] = torch.randint(1, 30, (10,))
    a, b = cnn(ids), cnn(changed)
    assert not torch.allclose(a[1, 3], b[1, 3])
    keep = torch.ones(2, 6, dtype=torch.bool)
    keep[1, 3] = False
    assert torch.equal(a[keep], b[keep])


def test_char_cnn_accepts_words_shorter_than_widest_filter():
    cnn = _cnn(filters=((1, 4), (5, 4)))
    assert cnn(torch.randint(0, 30, (2, 3, 3))).shape == (2, 3, 12)


def _per_width_reference(cnn: CharCNN, char_ids: torch.Tensor) -> torch.Tensor:
    """The textbook char-CNN (bilm-tf): one Conv1d per width, max over positions, highway, projection."""
    b, t, w = char_ids.shape
    chars = cnn.embedding(char_ids.reshape(b * t, w)).transpose(1, 2)
    chars = torch.nn.functional.pad(chars, (0, max(0, cnn.max_width - w)))
    features = torch.cat([cnn.activation(conv(chars).amax(dim=-1)) for conv in cnn.convs], dim=-1)
    return cnn.projection(cnn.highway(features)).reshape(b, t, -1)


@pytest.mark.parametrize("width", [3, 5, 9, 16])
def test_char_cnn_equals_one_conv1d_per_width(width, monkeypatch):
    """The one-matmul convolution (`CharCNN._max_over_positions`) computes what one Conv1d per width
    and a max over positions compute: outputs and every parameter's gradient, in fp32."""
    monkeypatch.setattr(elmo.bilm.layers, "trim_char_width", lambda c, w: c)  # the same columns for both
    cnn = _cnn(filters=((1, 4), (2, 4), (3, 8), (5, 8)))
    torch.manual_seed(2)
    ids = torch.randint(1, 30, (3, 4, width))
    ids[0, 0, 2:] = 0  # a short token: windows over pad columns
    fast, slow = cnn(ids), _per_width_reference(cnn, ids)
    torch.testing.assert_close(fast, slow, rtol=1e-5, atol=1e-6)
    weights = torch.randn_like(fast)
    grads = [torch.autograd.grad((out * weights).sum(), list(cnn.parameters())) for out in (fast, slow)]
    for name, (g_fast, g_slow) in zip([n for n, _ in cnn.named_parameters()], zip(*grads)):
        torch.testing.assert_close(g_fast, g_slow, rtol=1e-4, atol=1e-5, msg=lambda m: f"{name}: {m}")


def test_highway_starts_near_identity():
    torch.manual_seed(0)
    hw = Highway(16, n_layers=1)
    assert torch.all(hw.layers[0].bias[16:] == -2.0)
    x = torch.randn(100, 16)
    gate = torch.sigmoid(hw.layers[0](x)[:, 16:])
    assert 0.05 < gate.mean().item() < 0.25  # mostly carry: sigmoid(-2) ~ 0.12


def test_trimming_pad_columns_leaves_the_char_cnn_output_unchanged(monkeypatch):
    cnn = _cnn(filters=((1, 4), (2, 4), (3, 8), (5, 8))).eval()
    torch.manual_seed(1)
    chars = torch.zeros(4, 6, 20, dtype=torch.long)
    lengths = torch.randint(1, 5, (4, 6))
    for b in range(4):
        for t in range(6):
            chars[b, t, : lengths[b, t]] = torch.randint(1, 30, (int(lengths[b, t]),))
    chars[0, 0, :9] = torch.randint(1, 30, (9,))  # one longer token sets the kept width
    assert trim_char_width(chars, 5).shape[-1] == 16  # 9 + 5, rounded up to a multiple of WIDTH_STEP
    trimmed = cnn(chars)
    monkeypatch.setattr(elmo.bilm.layers, "trim_char_width", lambda c, w: c)  # all 20 columns
    assert torch.equal(trimmed, cnn(chars))


def test_unique_rows_equals_torch_unique():
    torch.manual_seed(0)
    rows = torch.randint(0, 3, (300, 4))
    uniq, inverse = unique_rows(rows)
    want_uniq, want_inverse = torch.unique(rows, dim=0, return_inverse=True)
    assert torch.equal(uniq, want_uniq) and torch.equal(inverse, want_inverse)
    assert torch.equal(uniq[inverse], rows)


@pytest.mark.parametrize("p", [0.1, 0.5])
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_dropout_matches_torch_semantics(p, dtype):
    """Kept entries are x / (1 - p), dropped ones 0, kept at rate 1 - p like nn.Dropout's;
    the gradient is the same mask times 1 / (1 - p); eval mode is the identity."""
    torch.manual_seed(0)
    x = (torch.rand(400, 500) + 0.5).to(dtype).requires_grad_()  # no zeros: a zero output means dropped
    ours, ref = Dropout(p), torch.nn.Dropout(p)
    y, y_ref = ours(x), ref(x)
    kept = y != 0
    tol = 1e-6 if dtype == torch.float32 else 2**-7  # x * (1 / (1 - p)): the scale is rounded
    assert torch.allclose(y[kept].float(), x.float()[kept] / (1 - p), rtol=tol, atol=0.0)
    # Both keep-rates within 5 binomial standard errors of 1 - p (200k draws).
    se = (p * (1 - p) / x.numel()) ** 0.5
    for rate in (kept.float().mean(), (y_ref != 0).float().mean()):
        assert abs(float(rate) - (1 - p)) < 5 * se
    y.float().sum().backward()
    assert torch.allclose(x.grad.float(), kept.float() / (1 - p), rtol=tol, atol=0.0)
    assert torch.equal(ours.eval()(x), x)


def test_dropout_edge_rates_and_seeding():
    x = torch.rand(50, 40) + 0.5
    assert torch.equal(Dropout(0.0)(x), x)
    assert torch.equal(Dropout(1.0)(x), torch.zeros_like(x))
    torch.manual_seed(3)
    a = Dropout(0.3)(x)
    torch.manual_seed(3)
    assert torch.equal(Dropout(0.3)(x), a)  # the global generator seeds it, as for nn.Dropout
