"""`python -m elmo.embed`: the file holds exactly what Elmo returns, keyed by line, with its tokens."""

from __future__ import annotations

import json

import h5py
import numpy as np
import pytest
import torch
from lm_fixtures import TOY_SENTENCES, toy_model_config

from elmo.bilm.model import BiLM
from elmo.data.text import TextEncoder, TokenizerSettings
from elmo.embed.__main__ import main
from elmo.embed.elmo import Elmo

LINES = ["가 나 다 라", "", "나 다 마 바 사 가 나 다 라 마 바 사", "다 가 아", "모르는 낱말 가", "자 차 카 타 파 하"]


@pytest.fixture(scope="module")
def artifact(tmp_path_factory):
    encoder = TextEncoder.build(TOY_SENTENCES, TokenizerSettings(tokenizer="eojeol"), min_freq=1)
    torch.manual_seed(3)
    model = BiLM(toy_model_config(proj_dim=8, lstm_dim=16), len(encoder.tokens), len(encoder.chars))
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.3)
    directory = tmp_path_factory.mktemp("bilm")
    model.eval().save_pretrained(directory, encoder)
    return directory


@pytest.fixture
def input_file(tmp_path):
    path = tmp_path / "in.txt"
    path.write_text("\n".join(LINES) + "\n", encoding="utf-8")
    return path


def test_hdf5_holds_exactly_the_layers_elmo_returns(artifact, input_file, tmp_path, capsys):
    out = tmp_path / "vectors.h5"
    assert main(["--artifact", str(artifact), str(input_file), str(out)]) == 0
    tokens = [line.split() for line in LINES]  # the artifact's tokenizer is whitespace (eojeol)
    # One batch, in the command's order (by length): Elmo on that batch gives these very numbers.
    order = sorted(range(len(tokens)), key=lambda i: len(tokens[i]))
    layers, _ = Elmo(artifact).eval().layers([tokens[i] for i in order])
    with h5py.File(out) as f:
        assert sorted(f.keys(), key=int) == [str(i) for i in range(len(LINES))]
        for b, i in enumerate(order):
            ds = f[str(i)]
            assert json.loads(ds.attrs["tokens"]) == tokens[i] and ds.attrs["line_number"] == i + 1
            assert np.array_equal(ds[()], layers[:, b, : len(tokens[i])].numpy())
        assert f["1"].shape == (3, 0, 16)  # the empty line: L+1 layers of no tokens
        assert f.attrs["layers"] == "all"
    # Batches of 2 give the same vectors up to float noise (the biLM is batch-invariant).
    out2 = tmp_path / "small_batches.h5"
    assert main(["--artifact", str(artifact), str(input_file), str(out2), "--batch-size", "2"]) == 0
    with h5py.File(out) as f, h5py.File(out2) as g:
        for key in f:
            np.testing.assert_allclose(f[key][()], g[key][()], atol=1e-5, rtol=0)
    assert not list(tmp_path.glob(".*.tmp"))


@pytest.mark.parametrize("layers", ["mix", "2"])
def test_npz_mix_and_single_layer(artifact, input_file, tmp_path, layers):
    out = tmp_path / "vectors.npz"
    assert main(["--artifact", str(artifact), str(input_file), str(out), "--layers", layers]) == 0
    elmo = Elmo(artifact).eval()
    with np.load(out) as z:
        tokens = [json.loads(t) for t in z["tokens"]]
        assert tokens == [line.split() for line in LINES]
        for i, toks in enumerate(tokens):
            if not toks:
                assert z[str(i)].shape == (0, 16)
                continue
            all_layers, mask = elmo.layers([toks])
            want = elmo.mix_cached(all_layers, mask)[0][0] if layers == "mix" else all_layers[int(layers), 0]
            np.testing.assert_allclose(z[str(i)], want.detach().numpy(), atol=1e-5, rtol=0)
        if layers == "mix":  # the untrained mix is the mean of the layers (softmax(0) weights, gamma 1)
            np.testing.assert_allclose(z["0"], elmo.layers([tokens[0]])[0][:, 0].mean(0).numpy(), atol=1e-6)


def test_errors_are_clear(artifact, input_file, tmp_path, capsys):
    assert main(["--artifact", str(artifact), str(input_file), str(tmp_path / "v.h5"), "--layers", "7"]) == 1
    assert "layer 7 does not exist" in capsys.readouterr().err
    assert main(["--artifact", str(artifact), str(input_file), str(tmp_path / "v.csv")]) == 1
    assert ".h5, .hdf5 or .npz" in capsys.readouterr().err
    bad = tmp_path / "bad.txt"
    bad.write_bytes("가 나\n".encode() + "다 라\n".encode("cp949"))
    assert main(["--artifact", str(artifact), str(bad), str(tmp_path / "v.h5")]) == 1
    assert f"{bad}:2: not UTF-8" in capsys.readouterr().err
    assert not (tmp_path / "v.h5").exists()
