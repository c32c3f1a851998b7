"""Linear probes: eojeol-to-morpheme alignment, sentence folds, probe sanity, feature shapes."""

import json
from dataclasses import asdict

import numpy as np
import pytest
import torch
from lm_fixtures import TOY_SENTENCES, toy_model_config
from matplotlib.figure import Figure

from elmo.bilm.model import BiLM
from elmo.core.config import ProbeConfig, get_config
from elmo.data.readers import TaggedSentence
from elmo.data.text import TextEncoder, TokenizerSettings
from elmo.embed.elmo import Elmo
from elmo.embed.glove import StaticVectors
from elmo.probing.align import align_sentences, pool_spans, word_spans
from elmo.probing.features import contextual_features, learned_mix, mix_layers, random_bilm, task_features
from elmo.probing.probes import probe_scores, probe_task, sentence_folds
from elmo.probing.report import (
    best_layer,
    is_clear,
    layer_verdict,
    paired_difference,
    results_figure,
    results_table,
)
from elmo.probing.results import ProbeResults
from elmo.probing.tasks import (
    CONTROL,
    GLOVE,
    MIX,
    ProbeTask,
    flatten_labels,
    frequent_labels,
    make_task,
)
from elmo.ynat.results import FinetuneResults

CFG = toy_model_config(proj_dim=8, lstm_dim=16)

# Hand-made morpheme analyses (as kiwipiepy gives them), so the alignment test needs no model.
MORPHEMES = {
    "유희열이": ["유희열", "이"], "눈물을": ["눈물", "을"], "흘렸다.": ["흘리", "었", "다", "."], "…": [],
}


def fake_tokenize_many(texts):
    fake_tokenize_many.calls.append(list(texts))
    return [list(MORPHEMES.get(t, list(t))) for t in texts]


fake_tokenize_many.calls = []


# ------------------------------------------------------------------ alignment


def test_word_spans_hand_example():
    assert word_spans([2, 1, 3]).tolist() == [[0, 2], [2, 3], [3, 6]]
    with pytest.raises(ValueError, match="at least one piece"):
        word_spans([2, 0])


def test_align_eojeols_to_morpheme_spans():
    fake_tokenize_many.calls.clear()
    sents = [("유희열이", "눈물을", "흘렸다."), ("눈물을", "…")]
    a, b = align_sentences(sents, fake_tokenize_many)
    assert a.tokens == ["유희열", "이", "눈물", "을", "흘리", "었", "다", "."]
    assert a.spans.tolist() == [[0, 2], [2, 4], [4, 8]]
    for word, (s, e) in zip(sents[0], a.spans):
        assert a.tokens[s:e] == MORPHEMES[word]
    # An eojeol the tokenizer drops entirely stands for itself, so its label keeps a vector.
    assert b.tokens == ["눈물", "을", "…"] and b.spans.tolist() == [[0, 2], [2, 3]]
    # Each distinct eojeol is tokenized once, alone.
    assert len(fake_tokenize_many.calls) == 1
    assert sorted(fake_tokenize_many.calls[0]) == sorted({"유희열이", "눈물을", "흘렸다.", "…"})
    with pytest.raises(TypeError):
        align_sentences(["유희열이 눈물을"], fake_tokenize_many)


def test_pool_spans_is_the_mean_of_each_span():
    v = np.arange(2 * 4 * 3, dtype=np.float32).reshape(2, 4, 3)  # (layers, T, D)
    spans = np.array([[0, 1], [1, 4]])
    pooled = pool_spans(v, spans)
    assert pooled.shape == (2, 2, 3)
    np.testing.assert_allclose(pooled[:, 0], v[:, 0])
    np.testing.assert_allclose(pooled[:, 1], v[:, 1:4].mean(axis=1))
    for bad in ([[0, 5]], [[2, 2]], [[-1, 1]]):
        with pytest.raises(ValueError, match="spans"):
            pool_spans(v, np.array(bad))


# ------------------------------------------------------------------ folds and probes


def test_sentence_folds_never_split_a_sentence():
    rng = np.random.default_rng(0)
    groups = np.repeat(np.arange(40), rng.integers(1, 15, size=40))
    folds = sentence_folds(groups, 5, seed=3)
    assert len(folds) == 5
    tested = np.concatenate([test for _, test in folds])
    assert sorted(tested.tolist()) == list(range(len(groups)))  # every eojeol tested exactly once
    seen = set()
    for train, test in folds:
        assert not set(groups[train]) & set(groups[test])
        assert not seen & set(groups[test])  # a sentence is in exactly one test fold
        seen |= set(groups[test])
    with pytest.raises(ValueError, match="folds"):
        sentence_folds(np.zeros(10, int), 2)


def _synthetic(n_sent=80, words=5, d=8, classes=4, seed=0):
    rng = np.random.default_rng(seed)
    groups = np.repeat(np.arange(n_sent), words)
    y = rng.integers(0, classes, size=len(groups))
    return rng, groups, y


def test_probe_on_separable_features_is_perfect_and_on_random_labels_at_chance():
    rng, groups, y = _synthetic()
    labels = np.array(["A", "B", "C", "D"], dtype=object)[y]
    centers = rng.normal(size=(4, 8)) * 5
    X = centers[y] + rng.normal(size=(len(y), 8)) * 0.1  # linearly separable
    f1 = {"macro-F1": ["A", "B", "C", "D"], "entity macro-F1": ["B", "C", "D"]}
    s = probe_scores(X, labels, groups, f1, folds=4)
    assert len(s["accuracy"]) == 4 and s["not_converged"] == 0
    assert min(s["accuracy"]) > 99 and min(s["macro-F1"]) > 99 and min(s["entity macro-F1"]) > 99
    # Labels unrelated to the features: the probe can only guess, ~25 % for four balanced classes.
    X_noise = rng.normal(size=X.shape)
    s = probe_scores(X_noise, labels, groups, f1, folds=4)
    assert 13 < np.mean(s["accuracy"]) < 37
    assert np.mean(s["macro-F1"]) < 37


def test_mismatched_lengths_raise_clear_errors():
    _, groups, y = _synthetic()
    X = np.zeros((len(y), 3))
    with pytest.raises(ValueError, match="one label and one group per row"):
        probe_scores(X, y[:-1], groups, {})
    with pytest.raises(ValueError, match="one label and one group per row"):
        probe_scores(X, y, groups[:-2], {})
    with pytest.raises(ValueError, match="2 words but 1 labels"):
        flatten_labels([TaggedSentence("g", ("a", "b"), ("X",))])
    with pytest.raises(ValueError, match="2 mix weights for 3 layers"):
        mix_layers(np.zeros((3, 4, 2)), [0.5, 0.5])


def test_make_task_samples_sentences_and_excludes_o_from_entity_f1():
    sents = [TaggedSentence(f"g{i}", ("a", "b", "c"), ("O", "PS", "O") if i % 2 else ("O", "O", "LC"))
             for i in range(30)]
    task = make_task("NER", sents, ProbeConfig(max_sentences=10, min_class_count=3, seed=1))
    assert len(task.sentences) == 10 and len(task.labels) == 30
    assert task.groups.tolist() == np.repeat(np.arange(10), 3).tolist()
    assert task.f1_labels["macro-F1"][0] == "O" and set(task.f1_labels["macro-F1"]) == {"O", "PS", "LC"}
    assert set(task.f1_labels["entity macro-F1"]) == {"PS", "LC"}
    # The same seed gives the same sample, in the original order.
    again = make_task("NER", sents, ProbeConfig(max_sentences=10, min_class_count=3, seed=1))
    assert again.sentences == task.sentences
    assert frequent_labels(["a", "b", "b", "c", "c", "c"], 2) == ["c", "b"]


# ------------------------------------------------------------------ features with a toy biLM


@pytest.fixture(scope="module")
def artifact(tmp_path_factory):
    encoder = TextEncoder.build(TOY_SENTENCES, TokenizerSettings(tokenizer="eojeol"), min_freq=1)
    torch.manual_seed(0)
    directory = tmp_path_factory.mktemp("bilm")
    BiLM(CFG, len(encoder.tokens), len(encoder.chars)).save_pretrained(directory, encoder)
    return directory


def test_feature_shapes_and_pooling_with_a_toy_model(artifact):
    elmo = Elmo(artifact).eval()
    # Two-syllable eojeols split into syllables, so some eojeols span two "morphemes".
    sents = [("가나", "다"), ("마바", "사", "가나다"), ("하",)]
    aligned = align_sentences(sents, lambda texts: [list(t) for t in texts])
    layers = contextual_features(elmo, aligned, batch_size=2)
    L1, D = elmo.num_layers, elmo.output_dim
    assert layers.shape == (L1, 6, D) and layers.dtype == np.float32
    # Eojeol vectors are the means of the biLM's vectors for the whole sentence, whatever the batch.
    full, _ = elmo.layers([aligned[1].tokens])
    np.testing.assert_allclose(layers[:, 2], full[:, 0, 0:2].mean(1).numpy(), atol=1e-5)
    np.testing.assert_allclose(layers[:, 4], full[:, 0, 3:6].mean(1).numpy(), atol=1e-5)
    np.testing.assert_allclose(contextual_features(elmo, aligned, batch_size=1), layers, atol=1e-5)

    static = StaticVectors(["가", "나", "사"], np.eye(3, 4, dtype=np.float32))
    control = Elmo(random_bilm(elmo.bilm, seed=5)).eval()
    mix = {"weights": [0.2, 0.3, 0.5], "gamma": 2.0}
    feats, oov = task_features(aligned, elmo, control, static, mix, batch_size=4)
    assert list(feats) == ["layer0", "layer1", "layer2", MIX, GLOVE, CONTROL]
    assert all(f.shape == (6, D) for k, f in feats.items() if k != GLOVE)
    np.testing.assert_allclose(feats[MIX], 2.0 * np.tensordot([0.2, 0.3, 0.5], layers, 1), atol=1e-5)
    assert not np.allclose(feats[CONTROL], feats[MIX])
    # GloVe: the mean of the known syllables; an eojeol with none of them is a zero vector.
    g = feats[GLOVE]
    assert g.shape == (6, 4)
    np.testing.assert_allclose(g[0], [0.5, 0.5, 0, 0])
    np.testing.assert_allclose(g[1], 0)
    np.testing.assert_allclose(g[5], 0)
    np.testing.assert_allclose(g[3], [0, 0, 1, 0])
    assert oov["token_oov_rate"] == pytest.approx(100 * 5 / 10)  # of 10 syllables, 가 나 사 가 나 are known
    assert oov["word_oov_rate"] == pytest.approx(100 * 3 / 6)  # 다, 마바, 하 have no known syllable


def test_random_bilm_has_the_shape_and_encoder_but_not_the_weights(artifact):
    trained = BiLM.from_pretrained(artifact)
    state = torch.random.get_rng_state()
    control = random_bilm(trained, seed=0)
    assert torch.equal(torch.random.get_rng_state(), state)  # the global RNG is untouched
    assert control.encoder is trained.encoder and not control.training
    a, b = trained.state_dict(), control.state_dict()
    assert a.keys() == b.keys() and all(a[k].shape == b[k].shape for k in a)
    assert torch.equal(random_bilm(trained, 0).state_dict()["forward_lstms.0.weight_hh_l0"],
                       b["forward_lstms.0.weight_hh_l0"])  # seeded


def test_learned_mix_averages_seeds_or_falls_back_to_uniform(tmp_path):
    key = get_config("tiny").finetune.probe_model
    assert learned_mix(tmp_path, 3, key)["weights"] == [1 / 3] * 3  # 03 has not run
    runs = [{"mix_weights": [0.2, 0.3, 0.5], "gamma": 1.0, "macro_f1": 1.0, "accuracy": 1.0},
            {"mix_weights": [0.4, 0.3, 0.3], "gamma": 2.0, "macro_f1": 1.0, "accuracy": 1.0}]
    FinetuneResults({key: runs}, provenance={}).write(tmp_path)
    mix = learned_mix(tmp_path, 3, key)
    np.testing.assert_allclose(mix["weights"], [0.3, 0.3, 0.4])
    assert mix["gamma"] == 1.5 and mix["n_runs"] == 2
    assert learned_mix(tmp_path, 3, "another_model")["n_runs"] == 0
    with pytest.raises(ValueError, match="3 mix weights"):
        learned_mix(tmp_path, 4, key)


def test_results_table_figure_and_json(tmp_path):
    rng, groups, y = _synthetic(n_sent=30, words=4, d=3)
    labels = np.array(["O", "PS", "LC", "DT"], dtype=object)[y]
    task = ProbeTask("NER", [], labels, groups, {"macro-F1": ["O", "PS"], "entity macro-F1": ["PS"]})
    feats = {"layer0": rng.normal(size=(len(y), 3)), "layer1": np.eye(4)[y] + rng.normal(size=(len(y), 4)) * 0.1}
    settings = ProbeConfig(folds=3)
    results = {"POS": probe_task(task, feats, settings), "NER": probe_task(task, feats, settings)}
    table = results_table(results)
    assert list(table.index) == ["layer 0", "layer 1"]  # keys "layer0", "layer1", displayed by label
    assert list(table.columns)[:2] == ["POS accuracy", "POS macro-F1"] and table.shape == (2, 6)
    assert best_layer(results, "POS", candidates=["layer0", "layer1"])[0] == "layer1"
    d = paired_difference(results, "POS", "accuracy", "layer1", "layer0")
    a, b = (np.array(results["POS"][f]["accuracy"]["values"]) for f in ("layer1", "layer0"))
    np.testing.assert_allclose(d["values"], a - b)
    assert d["wins"] == int((a > b).sum()) and d["n"] == 3
    assert isinstance(results_figure(results), Figure)
    path = ProbeResults(results, settings=asdict(settings)).write(tmp_path)
    saved = json.loads(path.read_text())
    assert saved["settings"]["folds"] == 3
    assert len(saved["results"]["NER"]["layer1"]["accuracy"]["values"]) == 3
    assert ProbeResults.read(tmp_path).results == json.loads(json.dumps(results))  # a bit-exact round trip


def _verdict_results(layer1, layer2):
    """Fold scores of layers 1 and 2 on one task and metric, shaped as `probe_task` returns them."""
    score = lambda v: {"accuracy": {"mean": float(np.mean(v)), "std": float(np.std(v, ddof=1)), "n": len(v), "values": v}}
    return {"POS": {"layer0": score([50.0] * len(layer1)), "layer1": score(layer1), "layer2": score(layer2)}}


def test_the_clear_difference_rule_needs_every_fold_and_a_mean_beyond_its_std():
    clear = layer_verdict(_verdict_results([80.0, 81.0, 82.0], [78.0, 79.5, 80.0]), "POS", "accuracy", "layer1")
    assert clear["clear"] and clear["best"] == "layer1" and clear["agrees"]
    assert "consistent over folds" in clear["text"] and "agrees" in clear["text"]
    mixed = layer_verdict(_verdict_results([80.0, 78.0, 82.0], [79.0, 79.0, 80.0]), "POS", "accuracy", "layer2")
    assert not mixed["clear"] and not mixed["agrees"]  # layer 2 won one fold
    assert "not a clear difference" in mixed["text"] and "not clearly apart" in mixed["text"]
    assert not is_clear({"mean": 0.5, "std": 1.0, "wins": 3, "n": 3})  # same sign, but within its std
