"""TopLayer: the biLM's top layer recomputed from the cached layer below it (issue 16's fine-tuning lever)."""

import pytest
import torch
from lm_fixtures import TOY_SENTENCES, toy_model_config

from elmo.bilm.model import BiLM
from elmo.data.text import TextEncoder, TokenizerSettings
from elmo.embed.elmo import Elmo
from elmo.embed.top_layer import TopLayer


@pytest.fixture(scope="module")
def encoder() -> TextEncoder:
    return TextEncoder.build(TOY_SENTENCES, TokenizerSettings(tokenizer="eojeol"), min_freq=1)


def _bilm(encoder, **cfg) -> BiLM:
    """A biLM with weights far from a fresh initialisation, as a trained one would be."""
    torch.manual_seed(3)
    model = BiLM(toy_model_config(proj_dim=8, lstm_dim=16, **cfg), len(encoder.tokens), len(encoder.chars))
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.3)
    model.encoder = encoder
    return model.eval()


@pytest.mark.parametrize("cfg", [{}, {"recurrence": "lstm"}, {"lstm_layers": 1}, {"lstm_layers": 3}],
                         ids=["lstmp", "lstm", "one-layer", "three-layers"])  # fmt: skip
def test_recomputed_top_layer_equals_the_bilms(encoder, cfg):
    """The known answer: from the layers without <bos>/<eos> (as cached), the top layer comes out
    as the biLM computed it, for sentences of different lengths in one padded batch."""
    bilm = _bilm(encoder, **cfg)
    layers, mask = Elmo(bilm).layers(TOY_SENTENCES)  # (L+1, B, T, D), boundaries removed
    assert len(set(mask.sum(1).tolist())) > 1  # really padded
    top = TopLayer.from_bilm(bilm).eval()
    with torch.no_grad():
        out = top(layers, mask)
    assert out.shape == layers.shape
    assert torch.equal(out[:-1], layers[:-1])  # the layers below are passed through
    torch.testing.assert_close(out[-1], layers[-1], atol=1e-5, rtol=1e-5)
    assert not out[-1][~mask].any()  # pads stay zero


def test_without_the_start_states_it_would_not_match(encoder):
    """The <bos>/<eos> start states matter: zero starts give another top layer (so the test above
    really checks them)."""
    bilm = _bilm(encoder)
    layers, mask = Elmo(bilm).layers(TOY_SENTENCES)
    top = TopLayer.from_bilm(bilm).eval()
    with torch.no_grad():
        top.start_fwd.zero_()
        top.start_bwd.zero_()
        out = top(layers, mask)
    assert not torch.allclose(out[-1], layers[-1], atol=1e-3)


def test_the_weights_are_copied_trainable_and_only_the_top_layer_learns(encoder):
    bilm = _bilm(encoder)
    before = {k: v.clone() for k, v in bilm.state_dict().items()}
    layers, mask = Elmo(bilm).layers(TOY_SENTENCES)  # Elmo freezes the biLM in place
    top = TopLayer.from_bilm(bilm).train()
    assert all(p.requires_grad for p in top.parameters())
    opt = torch.optim.SGD(top.parameters(), lr=0.5)
    out = top(layers.requires_grad_(), mask)
    out[-1].pow(2).sum().backward()
    assert layers.grad[:-2].abs().sum() == 0  # only layer L-1 feeds the top layer
    assert layers.grad[-2].abs().sum() > 0
    opt.step()
    assert not torch.equal(top.forward_lstm.weight_hh_l0, bilm.forward_lstms[-1].weight_hh_l0)
    assert all(torch.equal(v, before[k]) for k, v in bilm.state_dict().items())  # the biLM is untouched


def test_causality_of_each_direction(encoder):
    """The forward half at token t reads no later token, the backward half no earlier one."""
    bilm = _bilm(encoder)
    sent = TOY_SENTENCES[1]
    layers, mask = Elmo(bilm).layers([sent])
    top = TopLayer.from_bilm(bilm).eval()
    p, t = bilm.cfg.proj_dim, 1
    x = layers.clone().requires_grad_()
    top(x, mask)[-1, 0, t, :p].sum().backward()
    assert x.grad[-2, 0, t + 1 :].abs().sum() == 0
    x.grad = None
    top(x, mask)[-1, 0, t, p:].sum().backward()
    assert x.grad[-2, 0, :t].abs().sum() == 0
