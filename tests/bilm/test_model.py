"""The biLM: causality of each direction, padding, training, and the saved artifact."""

import dataclasses
import json

import pytest
import torch
from torch.profiler import ProfilerActivity, profile
from lm_fixtures import TOY_SENTENCES, toy_model_config

from elmo.bilm.model import BiLM, reverse_padded
from elmo.bilm.recurrence import RECURRENCES, ProjectedLSTM
from elmo.core.config import get_config
from elmo.data.text import BOS_ID, EOS, EOS_ID, PAD_ID, TextEncoder, TokenizerSettings

SENTENCES = TOY_SENTENCES
CFG = toy_model_config()  # dropout 0.3: eval-mode and frozen-biLM tests see it


@pytest.fixture(scope="module")
def encoder() -> TextEncoder:
    return TextEncoder.build(SENTENCES, TokenizerSettings(tokenizer="eojeol"), min_freq=1)


TOKEN_NORM = "+token_norm"  # a recurrence name with this suffix also turns on ModelConfig.token_norm


@pytest.fixture(params=[*RECURRENCES, "lstm" + TOKEN_NORM])
def recurrence(request) -> str:
    """Every test that takes this runs for each recurrence (LSTMP and LSTM + outside projection),
    and for the LSTM with a LayerNorm on the token encoder's output."""
    return request.param


def _model(encoder, seed=0, **overrides) -> BiLM:
    torch.manual_seed(seed)
    if overrides.get("recurrence", "").endswith(TOKEN_NORM):
        overrides.update(recurrence=overrides["recurrence"].removesuffix(TOKEN_NORM), token_norm=True)
    return BiLM(dataclasses.replace(CFG, **overrides), len(encoder.tokens), len(encoder.chars))


def _batch(encoder, sentences):
    """Right-padded (char_ids (B, T, W), token_ids (B, T), mask (B, T))."""
    encoded = [encoder.encode_sentence(s) for s in sentences]
    t, w = max(len(ids) for ids, _ in encoded), encoder.settings.max_chars
    char_ids = torch.full((len(encoded), t, w), PAD_ID, dtype=torch.long)
    token_ids = torch.full((len(encoded), t), PAD_ID, dtype=torch.long)
    for b, (ids, chars) in enumerate(encoded):
        token_ids[b, : len(ids)] = torch.tensor(ids)
        char_ids[b, : len(ids)] = torch.tensor(chars)
    return char_ids, token_ids, token_ids != PAD_ID


def _replace_token(encoder, char_ids, b, t, token="하"):
    out = char_ids.clone()
    out[b, t] = torch.tensor(encoder.char_ids(token))
    return out


def test_reverse_padded_reverses_within_length():
    x = torch.tensor([[1, 2, 3, 0], [4, 5, 0, 0]])[..., None].expand(2, 4, 3)
    out = reverse_padded(x, torch.tensor([3, 2]))
    assert out[..., 0].tolist() == [[3, 2, 1, 0], [5, 4, 0, 0]]
    assert torch.equal(reverse_padded(out, torch.tensor([3, 2])), x)  # its own inverse


def test_architecture_has_separate_unidirectional_stacks(encoder, recurrence):
    model = _model(encoder, recurrence=recurrence)
    for stack in (model.forward_lstms, model.backward_lstms):
        assert len(stack) == CFG.lstm_layers
        for lstm in stack:
            assert lstm.num_layers == 1 and not lstm.bidirectional
            if recurrence == "lstmp":
                assert lstm.proj_size == 16
            else:  # the projection is outside the recurrence, so oneDNN can run the LSTM
                assert isinstance(lstm, ProjectedLSTM) and lstm.proj_size == 0
                assert lstm.hidden_size == 32 and lstm.proj.out_features == 16
    fwd = {id(p) for p in model.forward_lstms.parameters()}
    assert not fwd & {id(p) for p in model.backward_lstms.parameters()}


def test_forward_output_layers(encoder):
    model = _model(encoder).eval()
    char_ids, _, mask = _batch(encoder, SENTENCES[:3])
    out = model(char_ids, mask)
    assert len(out.layers) == CFG.lstm_layers + 1 == model.num_layers
    for h in out.layers:
        assert h.shape == (*mask.shape, 2 * CFG.proj_dim) == (*mask.shape, model.output_dim)
        assert torch.all(h[~mask] == 0)
    x = model.token_encoder(char_ids)
    # allclose, not equal: the encoder runs once per distinct spelling (a different matmul shape).
    assert torch.allclose(out.layers[0][mask], torch.cat([x, x], -1)[mask], atol=1e-6)


def test_forward_lm_is_causal(encoder, recurrence):
    """Tokens after t never change the forward LM at <= t; this fails for the seed's biLSTM."""
    model = _model(encoder, recurrence=recurrence).eval()
    char_ids, _, mask = _batch(encoder, [SENTENCES[3]])
    fwd, _ = model.direction_log_probs(char_ids, mask)
    layers = model(char_ids, mask).layers
    n = int(mask.sum())
    for t in range(n - 1):
        for later in range(t + 1, n):
            changed = _replace_token(encoder, char_ids, 0, later)
            fwd2, _ = model.direction_log_probs(changed, mask)
            assert torch.equal(fwd[0, : t + 1], fwd2[0, : t + 1])
            layers2 = model(changed, mask).layers
            for h, h2 in zip(layers[1:], layers2[1:]):
                assert torch.equal(h[0, : t + 1, :16], h2[0, : t + 1, :16])


def test_backward_lm_is_causal(encoder, recurrence):
    """Tokens before t never change the backward LM at >= t."""
    model = _model(encoder, recurrence=recurrence).eval()
    char_ids, _, mask = _batch(encoder, [SENTENCES[3]])
    _, bwd = model.direction_log_probs(char_ids, mask)
    n = int(mask.sum())
    for t in range(1, n):
        for earlier in range(t):
            changed = _replace_token(encoder, char_ids, 0, earlier)
            _, bwd2 = model.direction_log_probs(changed, mask)
            assert torch.equal(bwd[0, t:n], bwd2[0, t:n])


def test_no_direction_sees_the_token_it_predicts(encoder, recurrence):
    """The seed's leak: its 'forward' prediction of t+1 had read t+1 through the backward half.

    Here the forward log-prob at t ignores token t+1 and the backward one at t ignores token t-1,
    while each does read its own position (so the check is not vacuous).
    """
    model = _model(encoder, recurrence=recurrence).eval()
    char_ids, _, mask = _batch(encoder, [SENTENCES[1]])
    fwd, bwd = model.direction_log_probs(char_ids, mask)
    t = 2
    fwd2, bwd2 = model.direction_log_probs(_replace_token(encoder, char_ids, 0, t + 1), mask)
    assert torch.equal(fwd[0, t], fwd2[0, t])  # the forward target is unseen
    assert not torch.allclose(bwd[0, t], bwd2[0, t])  # the backward LM reads to its right
    fwd3, bwd3 = model.direction_log_probs(_replace_token(encoder, char_ids, 0, t - 1), mask)
    assert torch.equal(bwd[0, t], bwd3[0, t])  # the backward target is unseen
    assert not torch.allclose(fwd[0, t], fwd3[0, t])
    fwd4, bwd4 = model.direction_log_probs(_replace_token(encoder, char_ids, 0, t), mask)
    assert not torch.allclose(fwd[0, t], fwd4[0, t]) and not torch.allclose(bwd[0, t], bwd4[0, t])


@pytest.mark.parametrize("packed", [False, True], ids=["one-sentence-rows", "two-sentence-rows"])
def test_nll_targets_are_next_and_previous_tokens(encoder, packed):
    """Packed rows ([<bos>, s_1, <eos>, s_2, <eos>], DataConfig.context="document"): the forward LM
    predicts the inner <eos>, the backward LM predicts <bos> there (s_2 starts)."""
    model = _model(encoder).eval()
    rows = [SENTENCES[i] + [EOS] + SENTENCES[i + 1] for i in range(3)] if packed else SENTENCES[:3]
    char_ids, token_ids, mask = _batch(encoder, rows)
    with torch.no_grad():
        fwd, bwd = model.direction_log_probs(char_ids, mask)
        out = model.nll(char_ids, token_ids, mask)
    want_f, want_b, count = 0.0, 0.0, 0
    for b in range(len(token_ids)):
        n = int(mask[b].sum())
        count += n - 1
        want_f -= sum(fwd[b, t, token_ids[b, t + 1]] for t in range(n - 1))
        previous = [BOS_ID if token_ids[b, t - 1] == EOS_ID else token_ids[b, t - 1] for t in range(1, n)]
        assert (EOS_ID in token_ids[b, 1 : n - 1]) == packed
        want_b -= sum(bwd[b, t, previous[t - 1]] for t in range(1, n))
    assert out["n_predicted"].item() == count
    assert out["forward_nll"].item() == pytest.approx(float(want_f), rel=1e-5)
    assert out["backward_nll"].item() == pytest.approx(float(want_b), rel=1e-5)
    mean = (out["forward_nll"] + out["backward_nll"]) / (2 * count)
    assert torch.allclose(out["loss"], mean)


def test_padding_does_not_change_real_positions(encoder, recurrence):
    model = _model(encoder, recurrence=recurrence).eval()
    alone = model(*_batch(encoder, [SENTENCES[2]])[::2])
    char_ids, _, mask = _batch(encoder, [SENTENCES[2], SENTENCES[3]])
    padded = model(char_ids, mask)
    n = int(alone.mask.sum())
    assert not mask[0, n:].any()
    for h, h2 in zip(alone.layers, padded.layers):
        assert torch.allclose(h[0, :n], h2[0, :n], atol=1e-6, rtol=1e-6)


def test_left_padding_is_refused(encoder):
    model = _model(encoder)
    char_ids, _, mask = _batch(encoder, SENTENCES[:2])
    with pytest.raises(ValueError, match="right-padded"):
        model(char_ids, mask.flip(1))


def test_dropout_off_in_eval_is_deterministic(encoder):
    model = _model(encoder, dropout=0.5)
    batch = _batch(encoder, SENTENCES[:3])
    model.train()
    assert not torch.equal(model(batch[0], batch[2]).layers[2], model(batch[0], batch[2]).layers[2])
    model.eval()
    a, b = model(batch[0], batch[2]), model(batch[0], batch[2])
    assert all(torch.equal(x, y) for x, y in zip(a.layers, b.layers))
    assert torch.equal(model.nll(*batch)["loss"], model.nll(*batch)["loss"])


@pytest.mark.parametrize("softmax", ["full", "adaptive", "adaptive-torch"])
def test_overfits_one_batch(encoder, softmax, recurrence):
    model = _model(encoder, dropout=0.0, softmax=softmax, recurrence=recurrence, adaptive_cutoffs=(8, 20))
    batch = _batch(encoder, SENTENCES)
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    for _ in range(150):
        opt.zero_grad()
        model.nll(*batch)["loss"].backward()
        opt.step()
    out = model.eval().nll(*batch)
    n = out["n_predicted"]
    assert torch.exp(out["forward_nll"] / n) < 2.0
    assert torch.exp(out["backward_nll"] / n) < 2.0


# ------------------------------------------------------------------ the artifact


def _trained(encoder, **overrides) -> BiLM:
    """A model whose weights are far from any fresh initialisation."""
    model = _model(encoder, seed=1, **overrides)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.1)
    return model


@pytest.mark.parametrize("softmax", ["full", "adaptive", "sampled"])
def test_round_trip_reproduces_outputs_exactly(encoder, tmp_path, monkeypatch, softmax, recurrence):
    model = _trained(encoder, softmax=softmax, recurrence=recurrence, adaptive_cutoffs=(8, 20)).eval()
    model.save_pretrained(tmp_path, encoder, extra={"valid_ppl": 12.5})
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "config.json", "encoder.json", "model.safetensors"]

    def no_pickle(*args, **kwargs):
        raise AssertionError("from_pretrained must not use torch.load")

    monkeypatch.setattr(torch, "load", no_pickle)
    loaded = BiLM.from_pretrained(tmp_path)
    assert not loaded.training
    assert loaded.extra == {"valid_ppl": 12.5}
    assert loaded.encoder.to_dict() == encoder.to_dict()
    saved = model.state_dict()
    for k, v in loaded.state_dict().items():
        assert torch.equal(v, saved[k]), k  # loaded, not re-initialised
    batch = _batch(encoder, SENTENCES[:3])
    for a, b in zip(model(batch[0], batch[2]).layers, loaded(batch[0], batch[2]).layers):
        assert torch.equal(a, b)
    assert torch.equal(model.nll(*batch)["loss"], loaded.nll(*batch)["loss"])


@pytest.fixture
def saved(encoder, tmp_path):
    _trained(encoder).save_pretrained(tmp_path, encoder)
    return tmp_path


def test_missing_files_are_named(saved):
    (saved / "encoder.json").unlink()
    with pytest.raises(FileNotFoundError, match="encoder.json"):
        BiLM.from_pretrained(saved)
    with pytest.raises(FileNotFoundError, match="missing"):
        BiLM.from_pretrained(saved / "nowhere")


def test_truncated_weights_are_refused(saved):
    path = saved / "model.safetensors"
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(ValueError, match="corrupt or truncated"):
        BiLM.from_pretrained(saved)


def test_tampered_byte_is_refused(saved):
    path = saved / "model.safetensors"
    data = bytearray(path.read_bytes())
    data[-7] ^= 0x01
    path.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="corrupt or truncated"):
        BiLM.from_pretrained(saved)


def _edit_config(directory, **changes):
    config = json.loads((directory / "config.json").read_text())
    for key, value in changes.items():
        if key in config["model"]:
            config["model"][key] = value
        else:
            config[key] = value
    (directory / "config.json").write_text(json.dumps(config))


def test_config_that_does_not_fit_the_weights_is_refused(saved):
    _edit_config(saved, proj_dim=24)
    with pytest.raises(ValueError, match="shape mismatches.*token_encoder.projection.weight"):
        BiLM.from_pretrained(saved)
    _edit_config(saved, proj_dim=16, lstm_layers=3)
    with pytest.raises(ValueError, match="missing keys.*lstms.2"):
        BiLM.from_pretrained(saved)
    _edit_config(saved, lstm_layers=2, highway_layers=0)
    with pytest.raises(ValueError, match="unexpected keys.*highway"):
        BiLM.from_pretrained(saved)


def test_vocab_sizes_must_agree(saved, encoder):
    _edit_config(saved, n_tokens=len(encoder.tokens) + 1)
    with pytest.raises(ValueError, match="encoder.json has"):
        BiLM.from_pretrained(saved)
    _edit_config(saved, n_tokens=len(encoder.tokens))
    d = encoder.to_dict()
    d["chars"]["itos"] = d["chars"]["itos"][:-1]
    (saved / "encoder.json").write_text(json.dumps(d, ensure_ascii=False))
    with pytest.raises(ValueError, match="encoder.json has"):
        BiLM.from_pretrained(saved)


def test_save_refuses_a_foreign_encoder(encoder, tmp_path):
    other = TextEncoder.build([["하나"]], TokenizerSettings(tokenizer="eojeol"), min_freq=1)
    with pytest.raises(ValueError, match="do not match the model"):
        _trained(encoder).save_pretrained(tmp_path, other)


def test_encoding_each_distinct_spelling_once_is_exact():
    from elmo.bilm.model import BiLM
    from elmo.core.config import get_config

    torch.manual_seed(0)
    model = BiLM(get_config("tiny").model, 50, 30).eval()
    chars = torch.randint(0, 30, (3, 7, 16))
    chars[:, 3] = chars[0, 0]  # repeated spellings, as in real text
    direct = model.token_encoder(chars)
    assert torch.allclose(model.encode_tokens(chars), direct, atol=1e-6)


def test_token_norm_normalises_layer_0_and_changes_nothing_else(encoder):
    """With token_norm, layer 0 is the LayerNorm of the char-CNN's output (mean 0, variance 1 per
    position at initialisation); without it the model has no such parameters, so artifacts
    saved before the option existed (no `token_norm` in their config) load unchanged."""
    plain, normed = _model(encoder, recurrence="lstm"), _model(encoder, recurrence="lstm" + TOKEN_NORM)
    assert set(normed.state_dict()) - set(plain.state_dict()) == {"token_norm.weight", "token_norm.bias"}
    char_ids, _, mask = _batch(encoder, SENTENCES[:3])
    x = normed.eval()(char_ids, mask).layers[0][mask][:, : CFG.proj_dim]
    assert torch.allclose(x.mean(-1), torch.zeros(len(x)), atol=1e-5)
    assert torch.allclose(x.var(-1, unbiased=False), torch.ones(len(x)), atol=1e-3)
    raw = normed.token_encoder(char_ids)[mask]
    assert torch.allclose(x, torch.nn.functional.layer_norm(raw, (CFG.proj_dim,)), atol=1e-5)


def test_artifact_saved_before_the_recurrence_option_loads_as_lstmp(encoder, tmp_path):
    """Artifacts written before `ModelConfig.recurrence` existed hold LSTMPs and still load."""
    model = _trained(encoder, recurrence="lstmp").eval()
    model.save_pretrained(tmp_path, encoder)
    config = json.loads((tmp_path / "config.json").read_text())
    del config["model"]["recurrence"], config["model"]["token_norm"]
    (tmp_path / "config.json").write_text(json.dumps(config))
    loaded = BiLM.from_pretrained(tmp_path)
    assert loaded.cfg.recurrence == "lstmp" and loaded.forward_lstms[0].proj_size == CFG.proj_dim
    batch = _batch(encoder, SENTENCES[:3])
    assert torch.equal(model.nll(*batch)["loss"], loaded.nll(*batch)["loss"])


def test_cpu_default_runs_its_lstms_through_onednn():
    """The cpu profile's recurrence must take oneDNN's fused bf16 LSTM (`mkldnn_rnn_layer`),
    forward and backward; a change that falls back to the slow path (proj_size, packed input,
    a Python loop over cells) fails here."""
    torch.manual_seed(0)
    cfg = get_config("cpu").model
    model = BiLM(cfg, 60, 40).train()
    chars = torch.randint(4, 40, (2, 6, 8))
    chars[..., 6:] = PAD_ID
    tokens, mask = torch.randint(4, 60, (2, 6)), torch.ones(2, 6, dtype=torch.bool)
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        with torch.autocast("cpu", dtype=torch.bfloat16):
            loss = model.nll(chars, tokens, mask)["loss"]
        loss.backward()
    names = {e.key for e in prof.key_averages()}
    assert "aten::mkldnn_rnn_layer" in names and "aten::mkldnn_rnn_layer_backward" in names
