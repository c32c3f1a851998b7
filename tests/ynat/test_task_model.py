"""The YNAT task model, its protocol (holdout selection, whole-set F1) and the baselines, on the
toy data of `task_fixtures` (no biLM, no real data needed)."""

import csv
import dataclasses
import random

import numpy as np
import pytest
import pytorch_lightning as pl
import torch
import torch.nn.functional as F
from lightning_fabric.plugins import TorchCheckpointIO
from sklearn.metrics import f1_score
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence
from torch.profiler import ProfilerActivity, profile
from task_fixtures import ELMO_ON, FakeLayerCache, make_data, tiny_cfg, toy_headlines

from elmo.core.config import get_config
from elmo.core.runs import seed_everything
from elmo.data.readers import YNAT_LABELS
from elmo.data.text import PAD, PAD_ID, UNK_ID
from elmo.embed.glove import StaticVectors
from elmo.embed.scalar_mix import ScalarMix
from elmo.ynat.baselines import (
    CS,
    majority_class,
    morpheme_ngrams,
    tfidf_logreg,
    tfidf_on_fit,
    tfidf_pipeline,
    tfidf_probabilities,
)
from elmo.ynat.data import MAX_TOKENS, MONITOR, EncodedRows, TaskVocab, YnatData, encode_padded, holdout_split
from elmo.ynat import distill
from elmo.ynat import jobs as jobs_module
from elmo.ynat.data import N_CLASSES
from elmo.ynat.distill import distillation_targets
from elmo.ynat.ensemble import scored, seed_ensemble, seed_probabilities, weighted_pair
from elmo.ynat.jobs import run_models
from elmo.ynat.metrics import scores
from elmo.ynat.model import TopicClassifier
from elmo.ynat.predict import predict
from elmo.ynat.subwords import MAX_GRAMS, SubwordVocab, char_ngrams
from elmo.ynat import train as train_module
from elmo.ynat.train import (
    best_checkpoint,
    build_model,
    fit_model,
    probabilities,
    resolve_variant,
    start_from,
    summarize,
    train_and_evaluate,
    uses_layers,
    WriteOnceCheckpointIO,
)

QUIET = dict(enable_progress_bar=False, enable_model_summary=False)


@pytest.fixture(scope="module")
def data():
    return make_data()


@pytest.fixture(scope="module")
def trained(data, tmp_path_factory):
    """A no-ELMo model trained on the toy data, reloaded from its best checkpoint."""
    model, trainer, run, _ = fit_model(tiny_cfg(), data, 0, {}, tmp_path_factory.mktemp("plain"), logger=False)
    return model


# ----------------------------------------------------------------------------- metrics


def test_scores_are_over_the_whole_set_not_a_mean_of_batches():
    y_true = [0, 0, 1, 1, 2, 2, 0, 1]
    y_pred = [0, 1, 1, 1, 2, 0, 0, 2]
    whole = 100 * f1_score(y_true, y_pred, labels=range(7), average="macro", zero_division=0)
    batches = [slice(i, i + 2) for i in range(0, 8, 2)]
    per_batch = np.mean([100 * f1_score(y_true[b], y_pred[b], labels=range(7), average="macro", zero_division=0) for b in batches])
    assert abs(per_batch - whole) > 1  # the seed's fault 5 gives another number
    s = scores(y_true, y_pred)
    assert s["macro_f1"] == pytest.approx(whole)
    assert s["accuracy"] == pytest.approx(62.5)
    assert list(s["per_class_f1"]) == list(YNAT_LABELS)
    assert np.array(s["confusion"]).shape == (7, 7) and np.array(s["confusion"]).sum() == 8


def test_summarize_mean_and_sample_std():
    s = summarize([{"macro_f1": 80.0}, {"macro_f1": 82.0}, {"macro_f1": 84.0}])
    assert s["mean"] == pytest.approx(82.0) and s["std"] == pytest.approx(2.0) and s["n"] == 3
    assert summarize([{"macro_f1": 70.0}])["std"] == 0.0


# ----------------------------------------------------------------------------- data


def test_holdout_is_stratified_fixed_across_seeds_and_disjoint():
    labels = [c for c in range(7) for _ in range(20 + 10 * c)]
    random.Random(3).shuffle(labels)
    seed_everything(1)
    fit, held = holdout_split(labels, 0.1)
    seed_everything(2)
    assert holdout_split(labels, 0.1) == (fit, held)  # the model seed does not move it
    assert not set(fit) & set(held) and sorted(fit + held) == list(range(len(labels)))
    per_class = np.bincount([labels[i] for i in held], minlength=7)
    assert per_class.tolist() == [round(0.1 * (20 + 10 * c)) for c in range(7)]


def test_data_splits_and_vocab(data):
    n_train = 7 * 40
    assert set(data.fit) | set(data.holdout) == set(range(n_train))
    assert data.dev == list(range(n_train, n_train + 70))
    assert data.vocab.itos[:2] == ["<pad>", "<unk>"] and isinstance(data.vocab, TaskVocab)
    vocab = TaskVocab.from_tokens([["a", "a", "b"], ["c", "a", "c"]], min_freq=2)
    assert vocab.itos == ["<pad>", "<unk>", "a", "c"] and vocab["b"] == 1


def test_load_real_ynat_tiny_subset(data_root, tmp_path):
    data = YnatData.load(get_config("tiny"), data_root, cache_dir=tmp_path)
    assert len(data.fit) + len(data.holdout) == 600 and len(data.dev) == 300
    assert len(data.holdout) == pytest.approx(60, abs=4) and all(0 <= y < 7 for y in data.labels)
    assert all(data.tokens[i] for i in data.dev[:50])  # titles tokenize to something


def test_batch_aligns_layers_and_guards_length(data):
    batch = data.batch([0, 5, data.dev[0]])
    b, t = batch.token_ids.shape
    assert batch.layers.shape == (3, b, t, 8) and batch.mask.sum(1).tolist() == [len(data.tokens[i]) for i in (0, 5, data.dev[0])]
    long = YnatData.build(toy_headlines(10, 0), toy_headlines(1, 1), [["x"] * 300] + [["y"]] * 76)
    assert long.batch([0, 1]).token_ids.shape == (2, MAX_TOKENS)
    shifted = data.with_cache(FakeLayerCache(data.tokens[1:] + data.tokens[:1]))
    with pytest.raises(ValueError, match="cached ELMo positions"):
        shifted.batch(list(range(8)))


# ----------------------------------------------------------------------------- model


def test_training_batches_bucket_by_length_cover_fit_and_reorder_by_epoch(data):
    loader = data.loader("fit", 32, shuffle=True, seed=0)
    first = list(loader.batch_sampler)
    rows = [data.fit[i] for b in first for i in b]
    assert sorted(rows) == sorted(data.fit)  # every fit row once per epoch, nothing else
    lengths = [[len(data.tokens[data.fit[i]]) for i in b] for b in first]
    assert np.mean([max(n) - min(n) for n in lengths]) <= 1  # toy headlines are 3-5 tokens
    loader.batch_sampler.set_epoch(1)
    assert list(loader.batch_sampler) != first
    assert list(data.loader("fit", 32, shuffle=True, seed=1).batch_sampler) != first
    dev = data.loader("dev", 32)  # evaluation: sorted by length, each batch's positions in the split listed
    positions = [i for b in dev.batch_sampler for i in b]
    assert sorted(positions) == list(range(len(data.dev)))
    assert [r for b in dev for r in b.labels.tolist()] == [data.labels[data.dev[i]] for i in positions]
    lengths = [len(data.tokens[data.dev[i]]) for i in positions]
    assert lengths == sorted(lengths)


def test_bilstm_through_onednn_equals_the_packed_library_lstm():
    """The task biLSTM runs each direction unpacked (oneDNN on CPU); in fp32 it must equal
    nn.LSTM on a packed batch with the same weights, outputs and gradients, pads zero."""
    torch.manual_seed(0)
    model = TopicClassifier(n_tokens=50, token_dim=12, hidden_dim=8)
    lengths = torch.tensor([7, 3, 5, 1, 7])
    mask = torch.arange(7)[None, :] < lengths[:, None]
    x = torch.randn(5, 7, 12, requires_grad=True)
    ref_x = x.detach().clone().requires_grad_()
    ours = model._bilstm(x, mask)
    packed = pack_padded_sequence(ref_x, lengths, batch_first=True, enforce_sorted=False)
    ref = pad_packed_sequence(model.lstm(packed)[0], batch_first=True, total_length=7)[0]
    assert torch.allclose(ours, ref, atol=1e-6) and (ours[~mask] == 0).all()
    weights = torch.randn_like(ref)
    grads = torch.autograd.grad((ours * weights).sum(), [x, *model.lstm.parameters()])
    refs = torch.autograd.grad((ref * weights).sum(), [ref_x, *model.lstm.parameters()])
    assert all(torch.allclose(g, r, atol=1e-5) for g, r in zip(grads, refs))
    assert not any("one_way" in k for k in model.state_dict())  # checkpoints keep their keys


def test_task_bilstm_runs_through_onednn_under_bf16():
    """Both directions take oneDNN's fused LSTM (`mkldnn_rnn_layer`) forward and backward; a
    change back to packed input (which CPU PyTorch never sends to oneDNN) fails here."""
    torch.manual_seed(0)
    model = TopicClassifier(n_tokens=50, token_dim=12, hidden_dim=8).train()
    mask = torch.arange(7)[None, :] < torch.tensor([7, 3, 5])[:, None]
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        with torch.autocast("cpu", dtype=torch.bfloat16):
            out = model._bilstm(torch.randn(3, 7, 12), mask)
        out.float().sum().backward()
    calls = {e.key: e.count for e in prof.key_averages()}
    assert calls.get("aten::mkldnn_rnn_layer", 0) >= 2 and calls.get("aten::mkldnn_rnn_layer_backward", 0) >= 2, calls


def test_no_elmo_model_has_no_scalar_mix(data):
    model = build_model(tiny_cfg(), data, resolve_variant({}))
    assert not any(isinstance(m, ScalarMix) for m in model.modules())
    assert model.mix_penalty().item() == 0.0


def test_mix_options(data):
    single = build_model(tiny_cfg(), data, resolve_variant({"elmo": True, "weights": 1, "gamma": "fixed"}))
    assert single.mix_in.weights.tolist() == [0.0, 1.0, 0.0]
    layers = torch.randn(3, 2, 4, 8)
    assert torch.equal(single.mix_in(layers), layers[1])
    assert not any(p.requires_grad for p in single.mix_in.parameters())
    uniform = build_model(tiny_cfg(), data, resolve_variant({"elmo": True, "weights": "uniform"}))
    assert uniform.mix_in.weights.tolist() == pytest.approx([1 / 3] * 3) and uniform.mix_in.gamma.requires_grad
    both = build_model(tiny_cfg(), data, resolve_variant({"elmo": True, "placement": "input_output"}))
    assert both.mix_out is not None and both.mix_out is not both.mix_in
    assert both.output.in_features == 2 * 16 + 8
    batch = data.batch([0, 1, 2], subwords=True)
    assert both(batch.token_ids, batch.mask, batch.layers, batch.subwords).shape == (3, 7)
    with pytest.raises(ValueError, match="unknown variant"):
        resolve_variant({"elmo": True, "weigths": 1})


def test_char_cnn_x_k_reads_layer_0_only_and_no_mix(data, tmp_path):
    """x_k = [learned; biLM layer 0]: the no-ELMo model reads the cached char-CNN vectors (layer 0)
    and nothing of the contextual layers, and has no ScalarMix."""
    variant = resolve_variant({"x_k": "learned+char_cnn"})
    assert variant["name"] == "no-elmo-charcnn"
    model = build_model(tiny_cfg(), data, variant).eval()
    assert model.needs_layers and not model.uses_elmo and model.mix_in is None
    assert model.lstm.input_size == 16 + 8
    batch = data.batch([0, 1, 2])
    out = model(batch.token_ids, batch.mask, batch.layers)
    other_context = batch.layers.clone()
    other_context[1:] = torch.randn_like(other_context[1:])
    assert torch.equal(model(batch.token_ids, batch.mask, other_context), out)
    other_layer0 = batch.layers.clone()
    other_layer0[0] += 1.0
    assert not torch.allclose(model(batch.token_ids, batch.mask, other_layer0), out)
    with pytest.raises(ValueError, match="reads the biLM's layers"):
        model(batch.token_ids, batch.mask)
    with pytest.raises(ValueError, match="x_k must be"):
        build_model(tiny_cfg(), data, resolve_variant({"x_k": "word2vec"}))
    result = train_and_evaluate(tiny_cfg(), data, 0, variant, tmp_path, logger=False)
    assert result["macro_f1"] > 60 and result["variant"] == "no-elmo-charcnn"


def _static(words, dim, seed=0):
    rng = np.random.default_rng(seed)
    return StaticVectors(list(words), rng.normal(0, 0.1, (len(words), dim)).astype(np.float32))


def test_char_ngrams_and_their_vocabulary():
    assert char_ngrams("국가") == ["국", "가", "<국", "국가", "가>", "<국가", "국가>"]
    assert char_ngrams("a", n_max=2) == ["a", "<a", "a>"]
    vocab = SubwordVocab.from_tokens([["국가", "국민"], ["국가"]], min_freq=2)
    assert vocab.itos[:2] == [PAD, "<unk>"] and "국" in vocab and "민" not in vocab  # seen once
    grams = vocab.encode_tokens([["국가", "민"], ["국가"]], length=3)  # (B, T, G)
    width = len(vocab.token_ids("국가"))
    assert grams.shape == (2, 3, width) and width == 7  # every n-gram of 국가 was seen twice
    assert grams[0, 0].tolist() == vocab.encode(char_ngrams("국가"))
    assert not grams[0, 1:].any() and not grams[1, 1:].any()  # no known n-gram, and padding
    assert len(vocab.token_ids("x" * 40)) <= MAX_GRAMS


def test_pre_encoded_batches_equal_encoding_each_batch():
    """`EncodedRows` (the rows encoded once) gives exactly what encoding each batch's tokens
    gives: ids, mask and n-gram ids, for empty rows, over-long rows and unknown tokens too."""
    rng = random.Random(0)
    words = ["국가", "경제", "가", "서울시", "x", "야구단", "드론", "<pad>", "완전히새로운말"]
    rows = [[rng.choice(words) for _ in range(rng.randint(0, 12))] for _ in range(60)]
    rows += [[], ["드론"] * (MAX_TOKENS + 5)]
    vocab = TaskVocab.from_tokens(rows[:30])
    grams = SubwordVocab.from_tokens(rows[:30])
    encoded = EncodedRows(rows, vocab, grams)
    for indices in ([60, 0, 5], list(range(62)), [61], [60], rng.sample(range(62), 17)):
        token_lists = [rows[i] for i in indices]
        ids, mask = encode_padded(token_lists, vocab)
        got_ids, got_mask, got_grams = encoded.batch(indices, subwords=True)
        assert torch.equal(got_ids, ids) and torch.equal(got_mask, mask)
        assert torch.equal(got_grams, grams.encode_tokens(token_lists, ids.shape[1]))
        assert encoded.batch(indices)[2] is None
    with pytest.raises(ValueError, match="without a SubwordVocab"):
        EncodedRows(rows, vocab).batch([0], subwords=True)


def test_subword_x_k_adds_the_mean_of_known_ngram_embeddings(data, tmp_path):
    """x_k "learned+subwords": each token's embedding plus the mean of its n-grams' embeddings, by
    hand; n-grams change the logits, a model without them needs none, and it trains and predicts."""
    variant = resolve_variant({"x_k": "learned+subwords"})
    assert variant["name"] == "no-elmo" and not uses_layers(variant)  # the default x_k
    model = build_model(tiny_cfg(dropout=0.0), data, variant).eval()
    assert model.uses_subwords and model.subword_itos == data.subwords.itos
    batch = data.batch([0, 1, 2], subwords=True)
    g = batch.subwords  # (B, T, G)
    table = model.subword_embedding.weight.detach()
    b, t = 1, 0
    ids = [i for i in g[b, t].tolist() if i != PAD_ID]
    assert ids and torch.allclose(model._subword_mean(g)[b, t], table[ids].mean(dim=0))
    out = model(batch.token_ids, batch.mask, None, g)
    assert not torch.allclose(model(batch.token_ids, batch.mask, None, torch.zeros_like(g)), out)
    with pytest.raises(ValueError, match="character n-grams"):
        model(batch.token_ids, batch.mask)
    assert not build_model(tiny_cfg(), data, resolve_variant({"x_k": "learned"})).uses_subwords
    result = train_and_evaluate(tiny_cfg(), data, 0, variant, tmp_path, logger=False)
    assert result["macro_f1"] > 60 and result["variant"] == "no-elmo"
    best = TopicClassifier.load_from_checkpoint(best_checkpoint(tmp_path / "ynat", result), map_location="cpu")
    assert best.subword_itos == data.subwords.itos  # travels in the checkpoint, for predict
    assert len(predict(best, ODD)) == len(ODD)
    best.subword_itos = None
    with pytest.raises(ValueError, match="no vocabulary"):
        predict(best, ODD)


def test_glove_x_k_starts_known_words_from_their_vectors(data, tmp_path):
    """x_k "glove": rows of words with a static vector point along it, on the random rows' scale;
    other rows and <pad> are as without it; clear errors without vectors or with the wrong dim."""
    cfg, itos = tiny_cfg(), data.vocab.itos
    known = [w for w in itos[2:] if "0" in w][:6] + [PAD]  # <pad> has a vector but must stay zero
    static = _static(known + ["not-in-the-task"], cfg.finetune.token_dim)
    variant = resolve_variant({"x_k": "glove"})
    assert variant["name"] == "no-elmo-glove" and not uses_layers(variant)
    with pytest.raises(ValueError, match="with_static"):
        build_model(cfg, data, variant)
    with pytest.raises(ValueError, match="dimensions"):
        build_model(cfg, data.with_static(_static(known, cfg.finetune.token_dim + 1)), variant)
    seed_everything(0)
    model = build_model(cfg, data.with_static(static), variant)
    seed_everything(0)
    plain = build_model(cfg, data, resolve_variant({}))
    w, w0 = model.embedding.weight.detach(), plain.embedding.weight.detach()
    rows = [itos.index(t) for t in known[:-1]]
    assert len(rows) == 6 and torch.all(w[PAD_ID] == 0)
    vecs = torch.as_tensor(static.vectors[: len(rows)])
    cos = torch.nn.functional.cosine_similarity(w[rows], vecs, dim=1)
    assert torch.allclose(cos, torch.ones(len(rows)), atol=1e-5)
    assert w[rows].norm(dim=1).mean() == pytest.approx(cfg.finetune.token_dim**0.5, rel=1e-4)
    others = [i for i in range(len(itos)) if i not in rows]
    assert torch.equal(w[others], w0[others])
    with_elmo = build_model(cfg, data.with_static(static), resolve_variant({"elmo": True, "x_k": "glove"}))
    assert with_elmo.uses_elmo and torch.equal(with_elmo.embedding.weight.detach()[rows], w[rows])
    result = train_and_evaluate(cfg, data.with_static(static), 0, variant, tmp_path, logger=False)
    assert result["macro_f1"] > 60 and result["variant"] == "no-elmo-glove"


def test_run_models_trains_each_model_on_its_own_biLM(tmp_path):
    """Models that read the adapted biLM get the adapted data's layers, the others the original's."""
    pretrained, adapted = make_data(20, 5), make_data(20, 5)
    adapted = adapted.with_cache(FakeLayerCache(adapted.tokens, seed=1))
    assert resolve_variant({"elmo": True, "bilm": "adapted"})["name"] == "elmo-learned-learned-input-adapted"
    with pytest.raises(ValueError, match="share run folders"):  # they would overwrite each other's checkpoints
        run_models(tiny_cfg(), {"pretrained": pretrained, "adapted": adapted},
                   {"a": {"elmo": True}, "b": {"elmo": True, "name": "elmo-learned-learned-input"}}, seeds=(0,))  # fmt: skip
    models = {"ad": {"elmo": True, "bilm": "adapted", "name": "ad"}, "pre": {"elmo": True, "name": "pre"}}
    cfg = tiny_cfg(max_epochs=1)
    out = run_models(cfg, {"pretrained": pretrained, "adapted": adapted}, models, seeds=(0,), out_dir=tmp_path, logger=False)
    assert list(out) == ["ad", "pre"] and out["ad"][0]["variant"] == "ad"
    assert pretrained.cache.requested and adapted.cache.requested
    alone = run_models(cfg, {"pretrained": pretrained}, {"pre": models["pre"]}, seeds=(0,), out_dir=tmp_path / "b", logger=False)
    assert alone["pre"][0]["macro_f1"] == out["pre"][0]["macro_f1"]
    with pytest.raises(ValueError, match="reads the 'adapted' biLM"):
        run_models(cfg, {"pretrained": pretrained}, models, seeds=(0,), out_dir=tmp_path, logger=False)
    # Both biLMs' models in one pool of two worker processes: the same results as in-process.
    pooled = run_models(cfg, {"pretrained": pretrained, "adapted": adapted}, models, seeds=(0,),
                        out_dir=tmp_path / "pool", logger=False, workers=2)  # fmt: skip
    assert [pooled[k][0]["macro_f1"] for k in models] == [out[k][0]["macro_f1"] for k in models]


def test_distillation_targets_mix_the_teacher_and_the_labels():
    teacher = np.full((2, N_CLASSES), 1.0 / N_CLASSES)
    got = distillation_targets([3, 0], teacher, 0.25)
    expected = 0.25 * teacher + 0.75 * np.eye(N_CLASSES)[[3, 0]]
    assert got.dtype == np.float32 and np.allclose(got, expected) and np.allclose(got.sum(axis=1), 1.0)
    assert np.array_equal(distillation_targets([1, 2], teacher, 0.0), np.eye(N_CLASSES, dtype=np.float32)[[1, 2]])
    with pytest.raises(ValueError, match="distill_weight"):
        distillation_targets([1, 2], teacher, 1.5)
    with pytest.raises(ValueError, match="teacher probabilities"):
        distillation_targets([1], teacher, 0.5)


def test_soft_targets_reach_fit_batches_only_and_never_holdout_or_dev(data):
    targets = np.full((len(data.tokens), N_CLASSES), np.nan, dtype=np.float32)
    targets[data.fit] = np.random.default_rng(0).dirichlet(np.ones(N_CLASSES), len(data.fit))
    soft = data.with_targets(targets)
    batch = next(iter(soft.loader("fit", 8, shuffle=True, subwords=True)))
    assert batch.targets is not None and batch.targets.shape == (len(batch.labels), N_CLASSES)
    for split in ("holdout", "dev"):
        assert next(iter(soft.loader(split, 8, subwords=True))).targets is None
    assert torch.equal(soft.batch(data.fit[:4], targets=True).targets, torch.from_numpy(targets[data.fit[:4]]))
    assert data.batch(data.fit[:4], targets=True).targets is None  # data without targets
    leaked = targets.copy()
    leaked[data.holdout[0]] = 1.0 / N_CLASSES
    with pytest.raises(ValueError, match="no other row"):
        data.with_targets(leaked)
    missing = targets.copy()
    missing[data.fit[0]] = np.nan
    with pytest.raises(ValueError, match="every fit row"):
        data.with_targets(missing)
    with pytest.raises(ValueError, match="targets must be"):
        data.with_targets(targets[:, :3])


def test_soft_targets_replace_the_labels_in_the_training_loss_only(data):
    torch.manual_seed(0)
    model = build_model(tiny_cfg(dropout=0.0, word_dropout=0.0, label_smoothing=0.2), data, resolve_variant({}))
    targets = np.full((len(data.tokens), N_CLASSES), np.nan, dtype=np.float32)
    targets[data.fit] = np.random.default_rng(0).dirichlet(np.ones(N_CLASSES), len(data.fit))
    batch = data.with_targets(targets).batch(data.fit[:16], subwords=True, targets=True)
    model.eval()
    logits = model(batch.token_ids, batch.mask, None, batch.subwords)
    assert model.loss(batch)[0].item() == pytest.approx(F.cross_entropy(logits, batch.labels).item())
    model.train()
    expected = F.cross_entropy(logits, torch.from_numpy(targets[data.fit[:16]]), label_smoothing=0.2)
    assert model.loss(batch)[0].item() == pytest.approx(expected.item())


def test_run_models_distils_a_student_from_its_teachers_ensemble(tmp_path, monkeypatch):
    """The teacher trains first; the student's fit targets are the teacher ensemble's fit
    probabilities mixed with the labels; a missing or distilled teacher is an error."""
    data = make_data(20, 5)
    cfg = tiny_cfg(max_epochs=1, distill_weight=0.3)
    models = {"student": {"name": "student", "teacher": "t"}, "t": {"name": "t"}}
    seen = {}
    original = distill.teacher_targets

    def spy(data_, teacher_data, run_root, runs, weight):
        seen["runs"], seen["weight"] = [(r["variant"], r["seed"]) for r in runs], weight
        seen["calls"] = seen.get("calls", 0) + 1
        seen["targets"] = original(data_, teacher_data, run_root, runs, weight)
        return seen["targets"]

    monkeypatch.setattr(jobs_module, "teacher_targets", spy)
    out = run_models(cfg, {"pretrained": data}, models, seeds=(0, 1), out_dir=tmp_path, logger=False)
    assert list(out) == ["student", "t"] and seen["runs"] == [("t", 0), ("t", 1)] and seen["weight"] == 0.3
    assert seen["calls"] == 1  # one ensemble's targets for both of the student's seeds
    teacher = seed_probabilities(data, tmp_path / "ynat", out["t"], splits=("fit",))["fit"]
    expected = distillation_targets([data.labels[i] for i in data.fit], teacher, 0.3)
    assert np.allclose(seen["targets"][data.fit], expected, atol=1e-6)
    assert [r["variant"] for r in out["student"]] == ["student", "student"]
    # In a pool of two workers: the student waits for both teacher seeds, and repeats the run here.
    pooled = run_models(cfg, {"pretrained": data}, models, seeds=(0, 1), out_dir=tmp_path / "pool", logger=False, workers=2)
    assert [r["macro_f1"] for k in models for r in pooled[k]] == [r["macro_f1"] for k in models for r in out[k]]
    assert resolve_variant({"teacher": "t"})["name"] == "no-elmo-distilled-t"
    for bad in ({"s": {"teacher": "nobody"}}, {"a": {"name": "a", "teacher": "b"}, "b": {"name": "b", "teacher": "a"}}):
        with pytest.raises(ValueError, match="teacher"):
            run_models(cfg, {"pretrained": data}, bad, seeds=(0,), out_dir=tmp_path / "bad", logger=False)


def test_a_distilled_student_starts_from_its_own_seeds_teacher(tmp_path, monkeypatch):
    """With distill_init "teacher", seed k of the student loads seed k's holdout-selected teacher
    checkpoint and trains for distill_epochs; with "scratch" it starts fresh for max_epochs."""
    data = make_data(20, 5)
    models = {"student": {"name": "student", "teacher": "t"}, "t": {"name": "t"}}
    starts = []
    original = train_module.start_from

    def spy(model, checkpoint):
        starts.append(str(checkpoint))
        original(model, checkpoint)

    monkeypatch.setattr(train_module, "start_from", spy)
    cfg = tiny_cfg(max_epochs=3, patience=5, distill_epochs=1)
    out = run_models(cfg, {"pretrained": data}, models, seeds=(0, 1), out_dir=tmp_path, logger=False)
    assert starts == [str(best_checkpoint(tmp_path / "ynat", r)) for r in out["t"]]  # seed k from teacher seed k
    assert [r["epochs"] for r in out["student"]] == [1, 1] and [r["epochs"] for r in out["t"]] == [3, 3]
    starts.clear()
    cold = run_models(dataclasses.replace(cfg, finetune=dataclasses.replace(cfg.finetune, distill_init="scratch")),
                      {"pretrained": data}, models, seeds=(0,), out_dir=tmp_path / "cold", logger=False)  # fmt: skip
    assert starts == [] and cold["student"][0]["epochs"] == 3
    # The weights must fit: a student of another architecture than its teacher cannot start from it.
    mixed = {"student": {"name": "student", "elmo": True, "teacher": "t"}, "t": {"name": "t"}}
    with pytest.raises(ValueError, match="differ in \\['elmo'\\]"):
        run_models(cfg, {"pretrained": data}, mixed, seeds=(0,), out_dir=tmp_path / "mixed", logger=False)
    with pytest.raises(ValueError, match="distill_init"):
        run_models(tiny_cfg(distill_init="warm"), {"pretrained": data}, models, seeds=(0,), out_dir=tmp_path / "bad", logger=False)


def test_start_from_loads_every_weight_of_a_model_on_the_same_vocabulary(data, tmp_path):
    model, trainer, _, _ = fit_model(tiny_cfg(max_epochs=1), data, 0, {}, tmp_path, logger=False)
    path = trainer.checkpoint_callback.best_model_path
    seed_everything(1)
    fresh = build_model(tiny_cfg(), data, resolve_variant({}))
    assert not all(torch.equal(a, b) for a, b in zip(fresh.state_dict().values(), model.state_dict().values()))
    start_from(fresh, path)
    saved = torch.load(path, map_location="cpu", weights_only=False)["state_dict"]
    assert fresh.state_dict().keys() == saved.keys()
    assert all(torch.equal(fresh.state_dict()[k], saved[k]) for k in saved)
    other = build_model(tiny_cfg(), data, resolve_variant({}))
    other.vocab_itos = list(reversed(other.vocab_itos))  # same sizes, other words: refused
    with pytest.raises(ValueError, match="vocab_itos differs"):
        start_from(other, path)


def test_l2_penalty_enters_the_loss(data):
    torch.manual_seed(0)
    a = build_model(tiny_cfg(), data, resolve_variant({"elmo": True, "l2_coef": 0.0}))
    b = build_model(tiny_cfg(), data, resolve_variant({"elmo": True, "l2_coef": 10.0}))
    b.load_state_dict(a.state_dict())
    with torch.no_grad():
        for m in (a, b):
            m.mix_in.scalar_parameters.copy_(torch.tensor([0.5, -1.0, 2.0]))
    a.eval(), b.eval()
    batch = data.batch(list(range(16)), subwords=True)
    diff = b.loss(batch)[0] - a.loss(batch)[0]
    assert diff.item() == pytest.approx(10.0 * (0.25 + 1.0 + 4.0), rel=1e-5)


def test_max_mean_pooling_is_the_max_and_the_mean_over_real_positions(data):
    model = build_model(tiny_cfg(pooling="max_mean"), data, resolve_variant({"elmo": True, "placement": "input_output"}))
    assert model.output.in_features == 2 * (2 * 16 + 8)
    h = torch.randn(2, 4, 5)
    mask = torch.tensor([[True, True, False, False], [True, True, True, True]])
    pooled = model._pool([h], mask)
    assert torch.equal(pooled[0, :5], h[0, :2].amax(dim=0)) and torch.equal(pooled[1, :5], h[1].amax(dim=0))
    assert torch.allclose(pooled[0, 5:], h[0, :2].mean(dim=0)) and torch.allclose(pooled[1, 5:], h[1].mean(dim=0))
    # Parts pooled one by one give what pooling their concatenation gives, in the same order.
    assert torch.equal(model._pool([h[..., :2], h[..., 2:]], mask), pooled)
    for pooling in ("max", "max_mean"):
        model.hparams.pooling = pooling
        e = torch.randn(2, 4, 3).bfloat16()
        assert torch.equal(model._pool([h.bfloat16(), e], mask), model._pool([torch.cat([h.bfloat16(), e], -1)], mask))
    with pytest.raises(ValueError, match="pooling"):
        build_model(tiny_cfg(pooling="min"), data, resolve_variant({}))


def test_label_smoothing_enters_the_training_loss_only(data):
    torch.manual_seed(0)
    plain = build_model(tiny_cfg(dropout=0.0, word_dropout=0.0), data, resolve_variant({}))
    smooth = build_model(tiny_cfg(dropout=0.0, word_dropout=0.0, label_smoothing=0.2), data, resolve_variant({}))
    smooth.load_state_dict(plain.state_dict())
    batch = data.batch(list(range(16)), subwords=True)
    logits = plain(batch.token_ids, batch.mask, None, batch.subwords)
    smooth.train()
    assert smooth.loss(batch)[0].item() == pytest.approx(F.cross_entropy(logits, batch.labels, label_smoothing=0.2).item())
    smooth.eval()  # holdout loss: the plain cross-entropy, comparable across settings
    assert smooth.loss(batch)[0].item() == pytest.approx(F.cross_entropy(logits, batch.labels).item())


def test_word_dropout_unks_real_training_tokens_only(data):
    model = build_model(tiny_cfg(word_dropout=0.5), data, resolve_variant({}))
    batch = data.batch(list(range(64)))
    ids, mask = batch.token_ids, batch.mask
    model.train()
    torch.manual_seed(0)
    dropped = model._drop_words(ids, mask)
    changed = dropped != ids
    assert (dropped[changed] == UNK_ID).all() and not changed[~mask].any()  # pads stay pads
    # About half the real tokens that were not <unk> already (binomial, n in the hundreds).
    rate = changed.sum().item() / (mask & (ids != UNK_ID)).sum().item()
    assert 0.4 < rate < 0.6
    model.eval()  # the holdout and dev read every word
    assert torch.equal(model._drop_words(ids, mask), ids)
    with pytest.raises(ValueError, match="word_dropout"):
        build_model(tiny_cfg(word_dropout=1.0), data, resolve_variant({}))


def test_linear_lr_schedule_falls_to_zero_at_the_last_step(data, tmp_path):
    class Rates(pl.Callback):
        def __init__(self):
            self.seen = []

        def on_train_batch_start(self, trainer, *args):
            self.seen.append(trainer.optimizers[0].param_groups[0]["lr"])

    rates = Rates()
    cfg = tiny_cfg(lr_schedule="linear", max_epochs=2, patience=5)
    fit_model(cfg, data, 0, {}, tmp_path, logger=False, callbacks=[rates])
    total = len(rates.seen)  # every step of max_epochs ran
    assert total == 2 * -(-len(data.fit) // 32)
    assert rates.seen == pytest.approx([1e-2 * (1 - k / total) for k in range(total)])


# ----------------------------------------------------------------------------- training


def test_trains_beats_chance_and_reports(data, tmp_path):
    result = train_and_evaluate(tiny_cfg(), data, 0, {}, tmp_path, logger=False)
    assert result["macro_f1"] > 60 and result["holdout_macro_f1"] > 60  # chance is ~14
    assert result["mix_weights"] is None and result["gamma"] is None
    assert 1 <= result["epochs"] <= 4 and result["seconds"] > 0
    assert len(result["confusion"]) == 7 and sum(map(sum, result["confusion"])) == len(data.dev)
    assert (tmp_path / "ynat" / "no-elmo" / "seed0" / "run.json").exists()


def test_same_seed_repeats_exactly(data, tmp_path):
    runs = [fit_model(tiny_cfg(max_epochs=1), data, 3, ELMO_ON, tmp_path / str(k), logger=False)[0] for k in range(2)]
    a, b = (r.state_dict() for r in runs)
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_write_once_checkpoint_io_writes_the_latest_copy_at_teardown(tmp_path):
    io, t = WriteOnceCheckpointIO(), torch.zeros(3)
    path, other = tmp_path / "best.ckpt", tmp_path / "gone.ckpt"
    io.save_checkpoint({"w": t}, path)
    t += 1  # training goes on: the saved copy must not move with the live tensor
    io.save_checkpoint({"w": torch.full((3,), 5.0)}, other)
    io.remove_checkpoint(other)  # replaced before it was ever written
    assert not path.exists() and not other.exists()
    io.teardown()
    assert torch.equal(torch.load(path)["w"], torch.zeros(3)) and not other.exists()
    io.save_checkpoint({"w": t}, path)
    assert torch.equal(io.load_checkpoint(path)["w"], torch.ones(3))  # a read writes it first


def test_task_checkpoint_written_once_equals_lightnings_own(data, tmp_path):
    """The selected checkpoint of a run is the same file content with WriteOnceCheckpointIO as
    with Lightning's TorchCheckpointIO (same best score, same weights)."""
    cfg = tiny_cfg(max_epochs=3)
    ours = fit_model(cfg, data, 0, ELMO_ON, tmp_path / "a", logger=False)[1].checkpoint_callback
    ref = fit_model(cfg, data, 0, ELMO_ON, tmp_path / "b", logger=False, plugins=[TorchCheckpointIO()])[1].checkpoint_callback
    assert ours.best_model_score == ref.best_model_score
    a, b = (torch.load(c.best_model_path, weights_only=False)["state_dict"] for c in (ours, ref))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_dev_is_never_used_for_selection(data, tmp_path, monkeypatch):
    cache = FakeLayerCache(data.tokens)
    d = data.with_cache(cache)
    seen = []
    original = d.batch
    monkeypatch.setattr(d, "batch", lambda idx, **kw: seen.extend(idx) or original(idx, **kw))
    model, trainer, _, _ = fit_model(tiny_cfg(max_epochs=2), d, 0, ELMO_ON, tmp_path, logger=False, **QUIET)
    assert seen and not set(seen) & set(d.dev) and not set(cache.requested) & set(d.dev)
    assert set(seen) == set(d.fit) | set(d.holdout)
    assert trainer.checkpoint_callback.monitor == MONITOR == "holdout_macro_f1"
    assert trainer.early_stopping_callback.monitor == MONITOR
    assert model.vocab_itos == d.vocab.itos  # reloaded from the best checkpoint


def test_elmo_run_logs_to_csv_and_mlflow(data, tmp_path):
    result = train_and_evaluate(tiny_cfg(max_epochs=2), data, 1, ELMO_ON, tmp_path)
    assert sum(result["mix_weights"]) == pytest.approx(1.0) and len(result["mix_weights"]) == 3
    assert isinstance(result["gamma"], float)
    assert (tmp_path / "mlflow.db").exists()
    (metrics,) = (tmp_path / "ynat" / "elmo-learned-learned-input" / "seed1" / "logs").glob("version_*/metrics.csv")
    rows = list(csv.DictReader(open(metrics)))
    assert MONITOR in rows[0] and "train_loss" in rows[0] and "dev_macro_f1" in rows[0]
    f1s = [float(r[MONITOR]) for r in rows if r.get(MONITOR)]
    assert len(f1s) == result["epochs"] and max(f1s) == pytest.approx(result["holdout_macro_f1"])


# ----------------------------------------------------------------------------- inference


ODD = ["", "   ", "😀😀", "뷁쒥 ∰ ☃", "c0w1 c0w2 오늘"]


def test_predict_handles_odd_text_and_rejects_non_str(trained):
    labels = predict(trained, ODD)
    assert len(labels) == len(ODD) and all(label in YNAT_LABELS for label in labels)
    assert labels[-1] == YNAT_LABELS[0]
    with pytest.raises(TypeError, match="item 1 is NoneType"):
        predict(trained, ["좋은 뉴스", None])
    with pytest.raises(TypeError, match="list of str"):
        predict(trained, "a single string")


def test_predict_with_elmo_and_default_morpheme_tokenizer(data):
    model = build_model(tiny_cfg(), data, resolve_variant(ELMO_ON))
    model.hparams.tokenizer = {"tokenizer": "morpheme", "char_unit": "syllable", "max_chars": 16}
    labels = predict(model, ODD, elmo=data.cache)
    assert len(labels) == len(ODD) and all(label in YNAT_LABELS for label in labels)
    with pytest.raises(ValueError, match="reads the biLM's layers"):
        predict(model, ODD)


# ----------------------------------------------------------------------------- baselines


def test_tfidf_logreg_and_majority_class():
    train, dev = toy_headlines(20, 0), toy_headlines(5, 1)
    tok = lambda rows: [h.text.split() for h in rows]  # noqa: E731
    text = lambda rows: [h.text for h in rows]  # noqa: E731
    preds, details = tfidf_logreg(text(train), tok(train), [h.label for h in train], text(dev), tok(dev), return_details=True)
    assert scores([h.label for h in dev], preds)["macro_f1"] > 90
    assert details["C"] in details["holdout_macro_f1"]
    assert morpheme_ngrams(["a", "b", "c"]) == ["a", "b", "c", "a b", "b c"]
    assert majority_class([2, 1, 2, 0], 3).tolist() == [2, 2, 2]
    assert majority_class([1, 0], 2).tolist() == [0, 0]


def test_select_c_equals_a_pipeline_per_c():
    """Features fitted once and C's fitted in threads give each C the holdout F1 of its own pipeline."""
    from elmo.ynat.baselines import select_C, tfidf_pipeline

    rows = toy_headlines(12, 3)
    texts, tokens, labels = [h.text for h in rows], [h.text.split() for h in rows], [h.label for h in rows]
    Cs = (0.01, 0.1, 1.0)
    C, f1 = select_C(texts, tokens, labels, Cs, workers=2)
    fit, held = holdout_split(labels, 0.1)
    pairs, y = list(zip(texts, tokens)), np.asarray(labels)
    for c in Cs:
        model = tfidf_pipeline(c).fit([pairs[i] for i in fit], y[fit])
        assert f1[c] == scores(y[held], model.predict([pairs[i] for i in held]))["macro_f1"]
    assert C == max(Cs, key=lambda c: (f1[c], -c))


def test_seed_ensemble_averages_the_members_probabilities(data, tmp_path):
    from elmo.ynat.train import best_checkpoint

    runs = [train_and_evaluate(tiny_cfg(max_epochs=2), data, s, ELMO_ON, tmp_path, logger=False) for s in (0, 1)]
    one = seed_ensemble(data, tmp_path / "ynat", runs[:1])
    assert one["macro_f1"] == runs[0]["macro_f1"] and one["confusion"] == runs[0]["confusion"]
    assert one["holdout_macro_f1"] == pytest.approx(runs[0]["holdout_macro_f1"], abs=1e-3)  # torchmetrics vs sklearn
    models = [TopicClassifier.load_from_checkpoint(best_checkpoint(tmp_path / "ynat", r)) for r in runs]
    by_hand = (probabilities(models[0], data) + probabilities(models[1], data)) / 2
    both = seed_ensemble(data, tmp_path / "ynat", runs)
    assert both["macro_f1"] == scores([data.labels[i] for i in data.dev], by_hand.argmax(1).tolist())["macro_f1"]
    assert both["members"] == ["elmo-learned-learned-input/seed0", "elmo-learned-learned-input/seed1"]
    with pytest.raises(ValueError, match="at least one"):
        seed_ensemble(data, tmp_path / "ynat", [])


def test_probabilities_come_back_in_split_order_though_batches_go_by_length(data):
    """Evaluation batches rows sorted by length; each row's probabilities must still land on its
    own position: equal (fp32) to the model run on that row alone."""
    torch.manual_seed(0)
    model = TopicClassifier(n_tokens=len(data.vocab), token_dim=8, hidden_dim=4).eval()
    rows = data.split("dev")
    assert [len(data.tokens[i]) for i in rows] != sorted(len(data.tokens[i]) for i in rows)  # a real reorder
    probs = probabilities(model, data, "dev", batch_size=8)
    alone = []
    with torch.no_grad():
        for i in rows:
            b = data.batch([i], layers=False)
            alone.append(torch.softmax(model(b.token_ids, b.mask).float(), dim=-1)[0].numpy())
    np.testing.assert_allclose(probs, np.stack(alone), atol=1e-6)


def test_tfidf_on_fit_trains_on_the_given_fit_rows_and_picks_C_on_the_holdout(data):
    sub = dataclasses.replace(data, fit=data.fit[::2])
    result = tfidf_on_fit(sub)
    pairs, labels = list(zip(data.texts, data.tokens)), np.asarray(data.labels)

    def fitted(C):
        return tfidf_pipeline(C).fit([pairs[i] for i in sub.fit], labels[sub.fit])

    held = {C: scores(labels[sub.holdout], fitted(C).predict([pairs[i] for i in sub.holdout]))["macro_f1"] for C in CS}
    best = max(CS, key=lambda C: (held[C], -C))
    assert result["C"] == best and result["holdout_macro_f1"] == held[best]
    dev = scores(labels[sub.dev].tolist(), fitted(best).predict([pairs[i] for i in sub.dev]).tolist())
    assert result["macro_f1"] == dev["macro_f1"] and result["accuracy"] == dev["accuracy"]
    # What 03 records as "tfidf_fit" (argmax of the probabilities): the same scores, so 04 reuses it.
    assert scored(sub, tfidf_probabilities(sub, best))["macro_f1"] == result["macro_f1"]


def test_tfidf_fit_model_is_the_model_tfidf_probabilities_would_fit(data):
    """03 reuses select_C's fitted pipeline for the fit-rows TF-IDF: it must be the very model
    `tfidf_probabilities` fits itself (the same fit rows, the same C)."""
    train = sorted(data.fit + data.holdout)
    _, info = tfidf_logreg([data.texts[i] for i in train], [data.tokens[i] for i in train],
                           [data.labels[i] for i in train], [data.texts[0]], [data.tokens[0]], return_details=True)  # fmt: skip
    reused = tfidf_probabilities(data, info["C"], model=info["fit_model"])
    fresh = tfidf_probabilities(data, info["C"])
    for split in ("holdout", "dev"):
        np.testing.assert_allclose(reused[split], fresh[split], rtol=1e-12, atol=1e-12)
    with pytest.raises(ValueError, match="not"):
        tfidf_probabilities(data, info["C"] * 10, model=info["fit_model"])


def test_weighted_pair_picks_the_weight_on_the_holdout(data):
    from elmo.ynat.baselines import tfidf_probabilities

    tfidf = tfidf_probabilities(data, C=1.0)
    assert tfidf["dev"].shape == (len(data.dev), 7) and np.allclose(tfidf["dev"].sum(1), 1)
    rng = np.random.default_rng(0)
    noise = {s: rng.dirichlet(np.ones(7), size=len(data.split(s))) for s in ("holdout", "dev")}
    blend = weighted_pair(data, noise, tfidf)
    # Random probabilities add nothing on the holdout: the blend leans on TF-IDF (w small).
    assert blend["weight"] <= 0.5
    assert blend["holdout_macro_f1"] >= scored(data, tfidf)["holdout_macro_f1"]
    only = weighted_pair(data, tfidf, tfidf)
    assert only["weight"] == 0.5 and only["macro_f1"] == scored(data, tfidf)["macro_f1"]


def test_tuned_top_layer_starts_from_the_bilm_unfreezes_late_and_learns_slower(tmp_path):
    """TaskVariant.top "tuned": the model's top layer starts as the cached biLM's (same logits as
    the frozen model at init), stays put in its frozen epoch, then learns at lr * top_lr_scale;
    the checkpoint reloads it; clear errors without ELMo."""
    from lm_fixtures import toy_model_config

    from elmo.bilm.model import BiLM
    from elmo.data.text import TextEncoder, TokenizerSettings
    from elmo.embed.layer_cache import LayerCache

    data = make_data(20, 5, cache=False)
    encoder = TextEncoder.build(data.tokens, TokenizerSettings(tokenizer="eojeol"), min_freq=1)
    torch.manual_seed(0)
    bilm = BiLM(toy_model_config(proj_dim=4, lstm_dim=8), len(encoder.tokens), len(encoder.chars))
    bilm.save_pretrained(tmp_path / "bilm", encoder)
    data = data.with_cache(LayerCache.build(tmp_path / "bilm", data.tokens, tmp_path / "cache", progress=False))
    cfg = tiny_cfg(max_epochs=2, patience=5, top_frozen_epochs=1, top_lr_scale=0.5)
    tuned, frozen = resolve_variant({"elmo": True, "top": "tuned"}), resolve_variant({"elmo": True})
    assert tuned["name"] == "elmo-learned-learned-input-tunedtop"
    with pytest.raises(ValueError, match="needs elmo=True"):
        build_model(cfg, data, resolve_variant({"top": "tuned"}))
    with pytest.raises(ValueError, match="top must be one of"):
        build_model(cfg, data, resolve_variant({"elmo": True, "top": "thawed"}))
    seed_everything(0)
    model = build_model(cfg, data, tuned).eval()
    seed_everything(0)
    plain = build_model(cfg, data, frozen).eval()
    plain.load_state_dict({k: v for k, v in model.state_dict().items() if not k.startswith("top.")})
    batch = next(iter(data.loader("holdout", 16, layers=True, subwords=True)))
    inputs = (batch.token_ids, batch.mask, batch.layers, batch.subwords)
    with torch.no_grad():
        torch.testing.assert_close(model(*inputs), plain(*inputs), atol=2e-3, rtol=1e-3)
    opt = model.configure_optimizers()
    assert [g["lr"] for g in opt.param_groups] == [cfg.finetune.lr, cfg.finetune.lr * 0.5]
    start = {k: v.clone() for k, v in model.top.state_dict().items()}
    seen = []

    class Watch(pl.Callback):
        def on_train_epoch_end(self, trainer, module):
            seen.append(all(torch.equal(v, start[k]) for k, v in module.top.state_dict().items()))

    best, trainer, run, _ = fit_model(cfg, data, 0, tuned, tmp_path, logger=False, callbacks=[Watch()], max_epochs=2)
    assert seen == [True, False]  # untouched in the frozen epoch, trained after it
    reloaded = TopicClassifier.load_from_checkpoint(trainer.checkpoint_callback.best_model_path).eval()
    with torch.no_grad():
        assert torch.equal(reloaded(*inputs), best(*inputs))


def test_ema_checkpoint_holds_the_hand_computed_average(data, tmp_path):
    """With `ema_decay`, the selected checkpoint (one epoch, so the only one) holds the
    exponential moving average of the weights after each step, avg <- d * avg + (1 - d) * w,
    started from the first step's weights, not the last step's weights."""
    decay, steps = 0.5, []

    class Record(pl.Callback):
        def on_train_batch_end(self, trainer, module, *args):
            steps.append({k: v.detach().clone() for k, v in module.named_parameters()})

    cfg = tiny_cfg(max_epochs=1, ema_decay=decay)
    model, trainer, _, _ = fit_model(cfg, data, 0, ELMO_ON, tmp_path, logger=False,
                                     callbacks=[Record()], **QUIET)  # fmt: skip
    assert len(steps) > 2
    average = steps[0]
    for w in steps[1:]:
        average = {k: decay * average[k] + (1 - decay) * w[k] for k in w}
    saved = dict(model.named_parameters())
    assert all(torch.allclose(saved[k], average[k], atol=1e-6) for k in average)
    assert not all(torch.allclose(saved[k], steps[-1][k]) for k in average)
