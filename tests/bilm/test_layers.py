"""CharCNN and Highway: the token encoder's layers."""

import torch

from elmo.bilm.layers import CharCNN, Highway


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


def test_highway_starts_near_identity():
    torch.manual_seed(0)
    hw = Highway(16, n_layers=1)
    assert torch.all(hw.layers[0].bias[16:] == -2.0)
    x = torch.randn(100, 16)
    gate = torch.sigmoid(hw.layers[0](x)[:, 16:])
    assert 0.05 < gate.mean().item() < 0.25  # mostly carry: sigmoid(-2) ~ 0.12
