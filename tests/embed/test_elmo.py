"""Elmo and LayerCache: contextual layers, batch invariance, the scalar mix, frozen weights, the cache."""

import json

import numpy as np
import pytest
import torch
from lm_fixtures import TOY_SENTENCES, toy_model_config
from safetensors.torch import load_file
from torch import nn

from elmo.bilm.model import BiLM
from elmo.data.text import UNK_ID, TextEncoder, TokenizerSettings
from elmo.embed import layer_cache
from elmo.embed.elmo import Elmo
from elmo.embed.layer_cache import LayerCache, cache_key

SENTENCES = TOY_SENTENCES
CFG = toy_model_config(proj_dim=8, lstm_dim=16)  # dropout 0.3: eval-mode and frozen-biLM tests see it
P = CFG.proj_dim
D = 2 * P


@pytest.fixture(scope="module")
def encoder() -> TextEncoder:
    return TextEncoder.build(SENTENCES, TokenizerSettings(tokenizer="eojeol"), min_freq=1)


def _bilm(encoder, seed=1) -> BiLM:
    """A biLM whose weights are far from any fresh initialisation (as a trained one would be)."""
    torch.manual_seed(seed)
    model = BiLM(CFG, len(encoder.tokens), len(encoder.chars))
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.3)
    return model.eval()


@pytest.fixture(scope="module")
def artifact(encoder, tmp_path_factory):
    directory = tmp_path_factory.mktemp("bilm")
    _bilm(encoder).save_pretrained(directory, encoder)
    return directory


@pytest.fixture
def elmo(artifact) -> Elmo:
    return Elmo(artifact).eval()


def _close(a, b, atol=1e-5):
    return torch.allclose(a, b, atol=atol, rtol=0)


# ------------------------------------------------------------------ (a) context


def test_layers_are_contextual_and_layer0_is_not(elmo):
    """Seed fault 4: it ran each token through the LSTM alone, so its 'ELMo' was context-free.

    Here token 1's LSTM layers change with its neighbours; its layer 0 (the char-CNN) does not.
    """
    sent = ["가", "나", "다", "라"]
    base, _ = elmo.layers([sent])
    for neighbour in (0, 2):  # left and right of token 1
        changed, _ = elmo.layers([[*sent[:neighbour], "하", *sent[neighbour + 1 :]]])
        assert _close(base[0, 0, 1], changed[0, 0, 1], atol=1e-6)
        for layer in (1, 2):
            assert not _close(base[layer, 0, 1], changed[layer, 0, 1], atol=1e-3)
    # Each half sees only its own side: a right neighbour moves the backward half, not the forward.
    right, _ = elmo.layers([["가", "나", "하", "라"]])
    for layer in (1, 2):
        assert _close(base[layer, 0, 1, :P], right[layer, 0, 1, :P], atol=1e-6)
        assert not _close(base[layer, 0, 1, P:], right[layer, 0, 1, P:], atol=1e-3)


def test_contextual_differs_from_the_seeds_token_alone_encoding(elmo):
    """The explicit contrast: in-sentence vectors vs. each token run as a one-token sentence."""
    sent = SENTENCES[1]
    in_context, _ = elmo.layers([sent])
    alone, mask = elmo.layers([[tok] for tok in sent])  # (L+1, n, 1, D): the seed's way
    assert mask.all()
    for t in range(len(sent)):
        assert _close(in_context[0, 0, t], alone[0, t, 0], atol=1e-6)
        assert not _close(in_context[2, 0, t], alone[2, t, 0], atol=1e-3)


# ------------------------------------------------------------------ (b) batching


def test_same_sentence_same_vectors_in_any_batch(elmo):
    target, longer, shorter = SENTENCES[1], SENTENCES[3], SENTENCES[2]
    ref, ref_mask = elmo.layers([target])
    n = len(target)
    assert ref.shape == (3, 1, n, D) and ref_mask.all()
    batches = [
        ([longer, target, shorter], 1),
        ([target, shorter, longer], 0),
        ([shorter, longer, [], target], 3),
        ([shorter, target], 1),
    ]
    for batch, row in batches:
        layers, mask = elmo.layers(batch)
        assert layers.shape == (3, len(batch), max(len(s) for s in batch), D)
        assert mask[row].tolist() == [True] * n + [False] * (mask.shape[1] - n)
        assert _close(layers[:, row, :n], ref[:, 0])
        assert torch.all(layers[:, row, n:] == 0)  # pads (and the removed <eos>) are zero


def test_ids_input_equals_sentence_input(elmo):
    a, mask_a = elmo.layers(SENTENCES[:3])
    char_ids, mask = elmo.batch_to_ids(SENTENCES[:3])
    assert char_ids.shape == (3, 7, elmo.encoder.settings.max_chars) and mask.sum(1).tolist() == [6, 7, 5]
    b, mask_b = elmo.layers((char_ids, mask))
    assert torch.equal(a, b) and torch.equal(mask_a, mask_b)


# ------------------------------------------------------------------ (c) the mix


def test_mix_equals_hand_computation(artifact):
    elmo = Elmo(artifact, n_mixes=2).eval()
    with torch.no_grad():
        elmo.mixes[0].scalar_parameters.copy_(torch.tensor([0.5, -1.0, 2.0]))
        elmo.mixes[0].gamma.fill_(0.7)
        elmo.mixes[1].scalar_parameters.copy_(torch.tensor([-2.0, 0.0, 1.0]))
    out = elmo(SENTENCES)
    layers, mask = elmo.layers(SENTENCES)
    assert torch.equal(out["mask"], mask) and len(out["mixes"]) == 2
    for mix, got in zip(elmo.mixes, out["mixes"]):
        w = mix.scalar_parameters.detach()
        s = [float(torch.exp(w[j]) / torch.exp(w).sum()) for j in range(3)]
        want = float(mix.gamma.detach()) * sum(s[j] * layers[j] for j in range(3))
        assert got.shape == (len(SENTENCES), max(map(len, SENTENCES)), D)
        assert _close(got, want)
    assert not _close(out["mixes"][0], out["mixes"][1], atol=1e-3)  # independent mixes
    assert torch.equal(elmo.mix_cached(layers, mask)[0], out["mixes"][0])


def test_layer_norm_mix_keeps_pads_zero(artifact):
    elmo = Elmo(artifact, layer_norm=True).eval()
    out = elmo(SENTENCES)
    assert torch.all(out["mixes"][0][~out["mask"]] == 0)
    assert out["mixes"][0][out["mask"]].abs().sum() > 0


# ------------------------------------------------------------------ (d) weights


def test_loading_never_reinitialises(artifact, encoder):
    saved = load_file(str(artifact / "model.safetensors"))
    elmo = Elmo(artifact)
    state = elmo.bilm.state_dict()
    assert sorted(state) == sorted(saved)
    for k, v in state.items():
        assert torch.equal(v, saved[k]), k
    # And the loaded biLM computes exactly what the saved one did.
    original = _bilm(encoder)
    original.encoder = encoder
    assert torch.equal(elmo.eval().layers(SENTENCES)[0], Elmo(original).layers(SENTENCES)[0])


def _downstream_step(elmo, head, params):
    """One Adam step of a 2-class sentence classifier on mean-pooled ELMo."""
    opt = torch.optim.Adam(params, lr=0.1)
    out = elmo(SENTENCES)
    mask = out["mask"][..., None].float()
    pooled = (out["mixes"][0] * mask).sum(1) / mask.sum(1).clamp(min=1)
    loss = nn.functional.cross_entropy(head(pooled), torch.tensor([0, 1, 0, 1, 1]))
    opt.zero_grad()
    loss.backward()
    opt.step()


def test_frozen_bilm_is_unchanged_by_training_while_the_mix_learns(artifact):
    torch.manual_seed(0)
    elmo = Elmo(artifact, dropout=0.2).train()
    assert elmo.training and not elmo.bilm.training  # no biLM dropout while the task trains
    trainable = [n for n, p in elmo.named_parameters() if p.requires_grad]
    assert trainable and all(n.startswith("mixes.") for n in trainable)
    before = {k: v.clone() for k, v in elmo.bilm.state_dict().items()}
    mix_before = [p.detach().clone() for p in elmo.mixes.parameters()]
    head = nn.Linear(D, 2)
    _downstream_step(elmo, head, [p for p in elmo.parameters() if p.requires_grad] + list(head.parameters()))
    assert all(p.grad is None for p in elmo.bilm.parameters())
    for k, v in elmo.bilm.state_dict().items():
        assert torch.equal(v, before[k]), k
    for p, p0 in zip(elmo.mixes.parameters(), mix_before):
        assert not torch.equal(p, p0)  # both the layer weights and gamma moved
    # Frozen means eval-mode too: two train-mode passes agree (the biLM has dropout 0.3).
    assert torch.equal(elmo.layers(SENTENCES)[0], elmo.layers(SENTENCES)[0])


def test_finetune_trains_the_bilm(artifact):
    elmo = Elmo(artifact, finetune=True).train()
    assert elmo.bilm.training
    head = nn.Linear(D, 2)
    before = elmo.bilm.forward_lstms[0].weight_ih_l0.detach().clone()
    _downstream_step(elmo, head, list(elmo.parameters()) + list(head.parameters()))
    for name in ("token_encoder.projection.weight", "forward_lstms.1.weight_hh_l0",
                 "backward_lstms.0.weight_ih_l0"):
        grad = elmo.bilm.get_parameter(name).grad
        assert grad is not None and grad.abs().sum() > 0, name
    assert not torch.equal(elmo.bilm.forward_lstms[0].weight_ih_l0, before)
    assert elmo.eval().bilm.training is False


# ------------------------------------------------------------------ (e) the cache

CACHE_SENTENCES = [SENTENCES[3], [], SENTENCES[0], ["😀", "가", "🚀🚀"], SENTENCES[4], SENTENCES[2]]


def test_cache_equals_direct_layers(artifact, elmo, tmp_path):
    cache = LayerCache.build(artifact, CACHE_SENTENCES, tmp_path, batch_size=2, progress=False)
    assert (len(cache), cache.n_layers, cache.dim) == (len(CACHE_SENTENCES), 3, D)
    # Sentences were embedded longest first; each must come back at its own index.
    for i, sent in enumerate(CACHE_SENTENCES):
        direct, _ = elmo.layers([sent])
        assert cache[i].dtype == np.float16 and cache[i].shape == (3, len(sent), D)
        np.testing.assert_allclose(cache[i], direct[:, 0].numpy(), rtol=2e-3, atol=2e-3)
    rows = [4, 1, 0, 3]
    layers, mask = cache.batch(rows)
    direct, direct_mask = elmo.layers([CACHE_SENTENCES[i] for i in rows])
    assert layers.dtype == torch.float32 and torch.equal(mask, direct_mask)
    assert _close(layers, direct, atol=2e-2)
    mixed = elmo.mix_cached(layers, mask)[0]
    assert _close(mixed, elmo([CACHE_SENTENCES[i] for i in rows])["mixes"][0], atol=2e-2)
    meta = json.loads((cache.directory / "meta.json").read_text())
    assert meta == cache.meta and meta["n_tokens"] == sum(map(len, CACHE_SENTENCES))
    assert meta["throughput"]["sentences_per_s"] > 0 and meta["throughput"]["tokens_per_s"] > 0
    assert isinstance(cache._layers, np.memmap)


def test_cache_reopens_without_recomputing(artifact, tmp_path, monkeypatch):
    first = LayerCache.build(artifact, CACHE_SENTENCES, tmp_path, progress=False)

    def fail(*args, **kwargs):
        raise AssertionError("a complete cache must be reopened, not recomputed")

    monkeypatch.setattr(layer_cache, "_embed_into", fail)
    again = LayerCache.build(artifact, CACHE_SENTENCES, tmp_path, progress=False)
    assert again.directory == first.directory
    assert all(np.array_equal(first[i], again[i]) for i in range(len(first)))
    assert [p.name for p in tmp_path.iterdir()] == [first.directory.name]


def test_key_changes_with_the_artifact_and_the_sentences(artifact, encoder, tmp_path):
    key = cache_key(artifact, CACHE_SENTENCES)
    assert key == cache_key(artifact, [list(s) for s in CACHE_SENTENCES])
    assert key != cache_key(artifact, CACHE_SENTENCES[:-1])
    assert key != cache_key(artifact, [["가 나"]]) and cache_key(artifact, [["가", "나"]]) != cache_key(
        artifact, [["가 나"]])
    other = tmp_path / "other"
    _bilm(encoder, seed=2).save_pretrained(other, encoder)
    assert cache_key(other, CACHE_SENTENCES) != key
    a = LayerCache.build(artifact, CACHE_SENTENCES, tmp_path / "cache", progress=False)
    b = LayerCache.build(other, CACHE_SENTENCES, tmp_path / "cache", progress=False)
    assert a.directory != b.directory and not np.allclose(a[0], b[0])


def test_interrupted_build_leaves_no_cache(artifact, tmp_path, monkeypatch):
    real = layer_cache._embed_into

    def crash(elmo, sentences, offsets, out, *args):
        out[:1] = 1.0  # half-written
        raise KeyboardInterrupt

    monkeypatch.setattr(layer_cache, "_embed_into", crash)
    with pytest.raises(KeyboardInterrupt):
        LayerCache.build(artifact, CACHE_SENTENCES, tmp_path, progress=False)
    assert list(tmp_path.iterdir()) == []
    monkeypatch.setattr(layer_cache, "_embed_into", real)
    cache = LayerCache.build(artifact, CACHE_SENTENCES, tmp_path, progress=False)
    assert not np.all(cache[0][:, :1] == 1.0)


def test_incomplete_directory_is_rebuilt(artifact, tmp_path):
    cache = LayerCache.build(artifact, CACHE_SENTENCES, tmp_path, progress=False)
    want = cache[0].copy()
    layers_file = cache.directory / "layers.f16"
    del cache
    layers_file.write_bytes(layers_file.read_bytes()[:-10])  # truncated by hand
    with pytest.raises(FileNotFoundError, match="not a complete"):
        LayerCache(layers_file.parent)
    rebuilt = LayerCache.build(artifact, CACHE_SENTENCES, tmp_path, progress=False)
    assert np.array_equal(rebuilt[0], want)


# ------------------------------------------------------------------ (f) odd inputs


def test_empty_sentences_and_unseen_characters(elmo, encoder):
    char_ids, mask = elmo.batch_to_ids([[]])
    assert char_ids.shape == (1, 2, encoder.settings.max_chars) and mask.all()  # <bos> <eos>
    out = elmo([[]])
    assert out["mask"].shape == (1, 0) and out["mixes"][0].shape == (1, 0, D)

    assert encoder.char_ids("😀")[1] == UNK_ID
    layers, mask = elmo.layers([[], ["😀", "가", "新"], ["가"]])
    assert layers.shape == (3, 3, 3, D)
    assert mask.tolist() == [[False] * 3, [True] * 3, [True, False, False]]
    assert torch.all(layers[:, 0] == 0) and torch.isfinite(layers).all()
    alone, _ = elmo.layers([["😀", "가", "新"]])
    assert _close(layers[:, 1], alone[:, 0])


def test_all_empty_cache(artifact, tmp_path):
    cache = LayerCache.build(artifact, [[], []], tmp_path, progress=False)
    assert len(cache) == 2 and cache[1].shape == (3, 0, D)
    layers, mask = cache.batch([0, 1])
    assert layers.shape == (3, 2, 0, D) and mask.shape == (2, 0)


def test_strings_are_refused_where_tokens_are_expected(elmo, artifact, tmp_path):
    with pytest.raises(TypeError, match="tokenize"):
        elmo(["가 나 다"])
    with pytest.raises(TypeError):
        LayerCache.build(artifact, "가 나", tmp_path, progress=False)
