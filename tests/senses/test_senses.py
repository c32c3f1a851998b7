"""Homograph contexts, nearest contexts, anisotropy/self-similarity, and the explorer's functions."""

import math

import numpy as np
import pandas as pd
import pytest
import torch
from lm_fixtures import TOY_SENTENCES, toy_model_config
from matplotlib.figure import Figure

from elmo.bilm.model import BiLM
from elmo.data.text import TextEncoder, Tokenizer, TokenizerSettings
from elmo.embed.elmo import Elmo
from elmo.embed.glove import StaticVectors
from elmo.senses.bank import (
    CONTEXT_COLUMNS,
    ContextBank,
    nearest,
    nearest_context_table,
    nearest_contexts,
    unit,
)
from elmo.senses.explorer import Explorer, explore, interactive_frontend, notes, render, show, similarity_figure
from elmo.senses.figures import geometry_figure, occurrences_umap_figure, umap_2d
from elmo.senses.geometry import (
    anisotropy,
    chance_agreement,
    layer_geometry,
    nn_sense_agreement,
    random_pairs,
    self_similarity,
    word_self_similarity,
)
from elmo.senses.occurrences import (
    UNLABELLED,
    Occurrence,
    context_snippet,
    find_occurrences,
    merge_sentences,
    sentences_with,
    subsample,
)
from elmo.senses.pos import coarse_pos
from elmo.senses.proxy import sense_proxy  # fmt: skip

# ---------------------------------------------------------------------- occurrences


def test_find_occurrences_matches_whole_tokens_only():
    sents = [["배", "를", "타", "고"], ["배나무", "가"], ["두", "배", "로", "배"]]
    assert find_occurrences(sents, "배", "petitions") == [
        Occurrence("petitions", 0, 0), Occurrence("petitions", 2, 1), Occurrence("petitions", 2, 3)
    ]  # fmt: skip
    assert find_occurrences(sents, "사과") == []


def test_subsample_is_seeded_ordered_and_capped():
    items = list(range(100))
    a, b = subsample(items, 10, seed=3), subsample(items, 10, seed=3)
    assert a == b == sorted(a) and len(set(a)) == 10
    assert subsample(items[:5], 10) == items[:5]


def test_context_snippet_brackets_the_word():
    toks = ["a", "b", "c", "배", "d", "e", "f"]
    assert context_snippet(toks, 3, width=2) == "… b c [배] d e …"
    assert context_snippet(toks, 0, width=1) == "[a] b …"


@pytest.mark.parametrize("tokens, pos, word, sense", [
    (["값", "이", "2", "배", "이상"], 3, "배", "times (N배)"),
    (["배", "를", "타", "고", "섬", "에"], 0, "배", "ship"),
    (["배", "가", "아프", "어"], 0, "배", "belly"),
    (["하", "지", "말", "고"], 2, "말", "말다 (verb)"),
    (["3", "월", "말", "까지"], 2, "말", "end (연말)"),
    (["그", "말", "을", "듣", "고"], 1, "말", "speech"),
    (["커피", "와", "차", "를", "마시"], 2, "차", "tea"),
    (["1", "차", "조사"], 1, "차", "round (N차)"),
    (["눈", "이", "내리", "어"], 0, "눈", "snow"),
    (["그", "배", "는"], 1, "배", UNLABELLED),
    (["사과"], 0, "사과", UNLABELLED),  # no rules for this word
])  # fmt: skip
def test_sense_proxy_hand_examples(tokens, pos, word, sense):
    assert sense_proxy(word, tokens, pos) == sense


def test_sense_proxy_refuses_a_position_that_is_not_the_word():
    with pytest.raises(ValueError, match="not '배'"):
        sense_proxy("배", ["사과", "배"], 0)


# --------------------------------------------------------------- geometry on hand vectors


def test_nearest_ranks_by_cosine_and_keeps_ties_in_order():
    cands = np.array([[0, 1], [1, 0.1], [-1, 0], [2, 2], [5, 5]], dtype=np.float32)
    idx, cos = nearest(np.array([1.0, 0.0]), cands, k=5)
    assert idx.tolist() == [1, 3, 4, 0, 2]  # 3 and 4 tie (same direction): candidate order
    np.testing.assert_allclose(cos, [1 / math.sqrt(1.01), 1 / math.sqrt(2), 1 / math.sqrt(2), 0, -1], atol=1e-6)
    assert len(nearest(np.array([1.0, 0.0]), cands, k=2)[0]) == 2


def test_anisotropy_is_one_for_identical_and_zero_for_orthogonal_vectors():
    assert anisotropy(np.tile([[0.3, -2.0, 1.0]], (50, 1)), n_pairs=500) == pytest.approx(1.0, abs=1e-6)
    assert anisotropy(np.eye(40) * 3.0, n_pairs=500) == pytest.approx(0.0, abs=1e-7)
    i, j = random_pairs(7, 1000, seed=1)
    assert (i != j).all() and i.max() < 7 and j.max() < 7
    with pytest.raises(ValueError):
        random_pairs(1, 10)


def test_self_similarity_hand_example():
    v = np.array([[1, 0], [0, 1], [1, 1]], dtype=np.float32)
    # pairs: cos(a, b) = 0, cos(a, c) = cos(b, c) = 1/sqrt(2)
    assert self_similarity(v) == pytest.approx(2 / math.sqrt(2) / 3, abs=1e-6)
    assert self_similarity(np.tile([[1.0, 2.0]], (4, 1))) == pytest.approx(1.0, abs=1e-6)
    with pytest.raises(ValueError, match="two occurrences"):
        self_similarity(v[:1])


def test_sense_agreement_and_chance():
    assert chance_agreement(["a", "a", "b"]) == pytest.approx(1 / 3)
    same = np.ones((6, 3))
    labels = ["a", "a", "a", "b", "b", "c"]
    assert nn_sense_agreement(same, labels) == pytest.approx(chance_agreement(labels))
    clusters = np.array([[1, 0], [1, 0.1], [0, 1], [0.1, 1]])
    assert nn_sense_agreement(clusters, ["x", "x", "y", "y"]) == 1.0


def test_coarse_pos_groups_kiwi_tags():
    assert coarse_pos("NNG") == "common noun"
    assert coarse_pos("VV-I") == coarse_pos("VV") == "verb"
    assert coarse_pos("JKS") == "particle" and coarse_pos("EF") == "ending"
    assert coarse_pos("SN") == coarse_pos("W_URL") == "symbol / number / foreign"


# ------------------------------------------------------------------ a toy biLM and bank

SENTENCES = TOY_SENTENCES  # "다" occurs in three sentences, "가" in two


@pytest.fixture(scope="module")
def encoder() -> TextEncoder:
    return TextEncoder.build(SENTENCES, TokenizerSettings(tokenizer="eojeol"), min_freq=1)


@pytest.fixture(scope="module")
def elmo(encoder, tmp_path_factory) -> Elmo:
    torch.manual_seed(1)
    model = BiLM(toy_model_config(proj_dim=8, lstm_dim=16), len(encoder.tokens), len(encoder.chars))
    with torch.no_grad():  # far from a fresh initialisation, as a trained biLM would be
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.3)
    directory = tmp_path_factory.mktemp("bilm")
    model.eval().save_pretrained(directory, encoder)
    return Elmo(directory).eval()


@pytest.fixture(scope="module")
def bank(elmo) -> ContextBank:
    return ContextBank.build(elmo, SENTENCES, ["petitions"] * 3 + ["ynat"] * 2, batch_size=2)


@pytest.fixture(scope="module")
def static() -> StaticVectors:
    vocab = ["가", "나", "다", "라", "마"]
    return StaticVectors(vocab, np.array([[1, 0], [0.9, 0.1], [1, 0.2], [0, 1], [-1, 0]]))


def test_bank_indexes_every_token_and_matches_direct_embedding(bank, elmo):
    assert len(bank) == len(SENTENCES) and bank.n_layers == 3
    assert bank.vectors.shape == (3, sum(map(len, SENTENCES)), elmo.output_dim)
    np.testing.assert_allclose(np.linalg.norm(bank.vectors, axis=-1), 1.0, atol=1e-5)
    rows = bank.rows("다")
    assert [bank.locate(int(r)) for r in rows] == [(0, 2), (1, 1), (2, 0)]
    assert len(bank.rows("다", ["petitions"])) == 3 and len(bank.rows("다", ["ynat"])) == 0
    layers, _ = elmo.layers([SENTENCES[1]])  # batching and padding must not change a vector
    direct = unit(layers[:, 0, 1].numpy())
    np.testing.assert_allclose(bank.vectors[:, rows[1]], direct, atol=1e-5)


def test_layer0_is_identical_across_contexts_and_layers_1_2_are_not(bank):
    """The char-CNN sees one token at a time: every occurrence of "다" has one layer-0 vector."""
    rows = bank.rows("다")
    v0 = bank.vectors[0, rows]
    np.testing.assert_allclose(v0, np.broadcast_to(v0[:1], v0.shape), atol=1e-6)
    assert self_similarity(v0) == pytest.approx(1.0, abs=1e-5)
    for layer in (1, 2):
        assert self_similarity(bank.vectors[layer, rows]) < 0.999


def test_nearest_contexts_exclude_the_query_sentence_and_tie_at_layer0(bank, static):
    query = int(bank.rows("다")[0])
    table = nearest_contexts(bank, query, k=5)
    assert set(table["layer"]) == {0, 1, 2}
    assert (table.groupby("layer").size() == 2).all()  # 3 occurrences minus the query's own
    assert np.allclose(table.loc[table["layer"] == 0, "cosine"], 1.0, atol=1e-3)
    assert all("[다]" in c for c in table["context"])
    wide = nearest_context_table(bank, query, static, k=2)
    assert list(wide.columns) == ["GloVe word", "layer 0", "layer 1", "layer 2"]
    assert wide.loc[1, "GloVe word"].startswith("나 ")  # 다 = (1, 0.2): (0.9, 0.1) is nearest


def test_layer_geometry_adjusts_by_the_baseline(bank):
    geo = layer_geometry(bank, ["다", "가", "나"], np.arange(bank.vectors.shape[1]), n_pairs=200)
    assert list(geo.index) == [0, 1, 2] and (geo["n_words"] == 3).all()
    assert geo.loc[0, "self_similarity"] == pytest.approx(1.0, abs=1e-5)
    np.testing.assert_allclose(geo["adjusted"], geo["self_similarity"] - geo["anisotropy"], atol=1e-6)


def test_figures_are_returned(bank):
    rows = bank.rows("다")
    coords = [None, np.random.default_rng(0).normal(size=(3, 2)), np.zeros((3, 2))]
    fig = occurrences_umap_figure({"다": coords}, {"다": ["?"] * 3}, {"다": ["petitions", "ynat", "ynat"]})
    assert isinstance(fig, Figure) and len(fig.axes) == 3
    geo = layer_geometry(bank, ["다", "가"], np.arange(bank.vectors.shape[1]), n_pairs=50)
    homs = word_self_similarity(bank, ["다", "가"], geo["anisotropy"].tolist())
    assert set(homs["word"]) == {"다", "가"} and len(homs) == 6 and len(rows) == 3
    assert isinstance(geometry_figure(geo, 0.1, homs), Figure)
    assert umap_2d(np.ones((10, 4))) is None  # identical points: no projection


# --------------------------------------------------------------------------- explorer


def test_explore_returns_tables_and_similarities(elmo, bank, static):
    out = explore(["나", "다", "마", "바", "사"], "다", elmo, bank, static, k=3)
    assert out["tokens"] == SENTENCES[1] and out["index"] == 1 and out["word"] == "다"
    assert out["similarity"].shape == (3, 5, 5) and out["vectors"].shape == (3, 5, elmo.output_dim)
    np.testing.assert_allclose(np.diagonal(out["similarity"], axis1=1, axis2=2), 1.0, atol=1e-5)
    assert np.allclose(out["similarity"][0], out["similarity"][0].T, atol=1e-6)
    # The identical bank sentence is excluded: the two other occurrences remain, per layer.
    assert list(out["contexts"].columns) == CONTEXT_COLUMNS
    assert out["contexts"].groupby("layer").size().to_dict() == {0: 2, 1: 2, 2: 2}
    assert list(out["neighbours"]["word"])[:2] == ["나", "가"]
    shown = []
    render(out, display=shown.append)
    assert isinstance(shown[-1], Figure) and any(isinstance(s, pd.DataFrame) for s in shown)


def test_explore_from_text_with_a_tokenizer_and_an_oov_word(elmo, bank, static):
    out = explore("가 뷁 나", 1, elmo, bank, static, tokenizer=Tokenizer(TokenizerSettings(tokenizer="eojeol")))
    assert out["word"] == "뷁" and len(out["contexts"]) == 0 and len(out["neighbours"]) == 0
    assert isinstance(similarity_figure(out["tokens"], out["similarity"], [1], highlight=1), Figure)


def test_empty_results_are_explained_in_render_and_widget(elmo, bank, static, capsys):
    out = explore("가 뷁 나", 1, elmo, bank, static, tokenizer=Tokenizer(TokenizerSettings(tokenizer="eojeol")))
    said = notes(out, [0, 1, 2])
    assert any("not in the GloVe vocabulary" in n for n in said)
    assert any(f"occurs nowhere else in the bank of {len(bank)} sentences" in n for n in said)
    render(out, display=lambda obj: None)
    printed = capsys.readouterr().out
    assert "not in the GloVe vocabulary" in printed and "nowhere else in the bank" in printed
    assert "nearest contexts of" not in printed  # no empty, unlabelled table
    ex = Explorer(elmo, bank, static, tokenizer=Tokenizer(TokenizerSettings(tokenizer="eojeol")))
    ex.widget("가 뷁 나", "뷁")  # outside a kernel the widget's output area prints here
    assert "not in the GloVe vocabulary" in capsys.readouterr().out


def test_tables_are_labelled(elmo, bank, static, capsys):
    render(explore(["나", "다", "마", "바", "사"], "다", elmo, bank, static, k=3), layers=[2], display=lambda obj: None)
    printed = capsys.readouterr().out
    assert "nearest GloVe words to '다'" in printed and "nearest contexts of '다' in the bank, layer 2" in printed


def test_a_layer_whose_tokens_all_align_gets_one_line_of_explanation():
    t = 4
    similarity = np.stack([np.full((t, t), 0.2), np.full((t, t), 0.999), np.full((t, t), 0.9)])
    result = {"word": "가", "tokens": list("가나다라"), "neighbours": pd.DataFrame({"rank": [1]}),
              "contexts": pd.DataFrame({"layer": [1]}), "similarity": similarity, "bank_sentences": 9}
    said = notes(result, [0, 1, 2])
    assert len(said) == 1 and said[0].startswith("layer 1: the sentence's tokens have mean pairwise cosine") and "tiny" in said[0]
    assert notes(result, [2]) == []


@pytest.mark.parametrize("sentence, word, message", [
    ([], 0, "empty"),
    ("   ", 0, "empty"),
    (["가", "나"], "다", "not a token of the sentence"),
    (["가", "나"], 5, "out of range"),
])  # fmt: skip
def test_explore_bad_input_raises_a_clear_error(elmo, bank, sentence, word, message):
    tok = Tokenizer(TokenizerSettings(tokenizer="eojeol"))
    with pytest.raises(ValueError, match=message):
        explore(sentence, word, elmo, bank, tokenizer=tok)


def test_show_renders_the_fixed_example_without_a_frontend(elmo, bank, static, monkeypatch, capsys):
    monkeypatch.delenv("JPY_SESSION_NAME", raising=False)
    monkeypatch.delenv("ELMO_WIDGETS", raising=False)
    assert not interactive_frontend()
    monkeypatch.setattr("IPython.display.display", lambda obj: None)
    assert show(Explorer(elmo, bank, static), ["가", "나", "다", "라"], "다", layers=[0, 2]) is None
    assert "no interactive frontend" in capsys.readouterr().out
    monkeypatch.setenv("ELMO_WIDGETS", "1")
    assert interactive_frontend()


def test_widget_builds_and_follows_the_sentence(elmo, bank, static):
    ex = Explorer(elmo, bank, static, tokenizer=Tokenizer(TokenizerSettings(tokenizer="eojeol")))
    box = ex.widget("가 나 다 라", "다")
    text, choice = box.children[0], box.children[1].children[0]
    assert choice.value == 2 and ex._result["word"] == "다"
    text.value = "다 가 아"
    assert [label for label, _ in choice.options] == ["0: 다", "1: 가", "2: 아"] and ex._result["index"] == 0
    text.value = "  "
    assert choice.options == () and ex._result is None


def test_sentences_with_and_merge_deduplicate():
    sents = [["배", "를", "타"], ["말", "을", "하"], ["두", "배", "로", "배"], ["배", "를", "타"]]
    assert sentences_with(sents, ["배"], per_word=None) == [sents[0], sents[2], sents[3]]
    assert len(sentences_with(sents, ["배"], per_word=1)) == 1
    merged, sources = merge_sentences([("a", sents[:2]), ("b", sents), ("c", [[]])])
    assert merged == sents[:3] and sources == ["a", "a", "b"]


# --------------------------------------------------------------------------- interactive maps


def test_occurrence_map_hovers_show_context_source_and_sense(bank, tmp_path):
    from elmo.core.config import get_config
    from elmo.core.figures import save_html
    from elmo.senses.interactive import occurrence_hovers, occurrences_map

    rows = bank.rows("다")
    rng = np.random.default_rng(0)
    panels = {"다": [None, rng.normal(size=(len(rows), 2)), rng.normal(size=(len(rows), 2))]}
    senses = {"다": [bank.sense(int(r)) for r in rows]}
    sources = {"다": [bank.sources[bank.locate(int(r))[0]] for r in rows]}
    hovers = {"다": occurrence_hovers(bank, rows)}
    assert all("[다]" in h and "source: " in h and "proxy sense: " in h for h in hovers["다"])
    assert [h.split("source: ")[1].split(" ·")[0] for h in hovers["다"]] == sources["다"]
    fig = occurrences_map(panels, senses, sources, hovers)
    menu = fig.layout.updatemenus[0].buttons
    assert [b.label for b in menu] == ["다 · layer 2", "다 · layer 1"]  # layer 0 (None) has no view
    shown = [t for t in fig.data if t.visible]
    assert sum(len(t.x) for t in shown) == len(rows) and set(shown[0].text) <= set(hovers["다"])
    for b in menu:  # each view shows its own traces only, every occurrence once
        assert sum(len(t.x) for t, v in zip(fig.data, b.args[0]["visible"]) if v) == len(rows)
    cfg = get_config("tiny")
    path = save_html(fig, "test_interactive_map", cfg)
    try:
        text = path.read_text()
        assert text.startswith("<!doctype html>") and "<script src=" not in text  # plotly.js inline: no server
        assert len(text) > 3_000_000 and "proxy sense: " in text and "layer 1" in text
        assert save_html(fig, "test_interactive_map", cfg).read_text() == text  # same figure, same file
    finally:
        path.unlink()


def test_projector_export_writes_the_two_tsv_files(bank, tmp_path):
    from elmo.senses.interactive import projector_tsv

    vec_path, meta_path = projector_tsv(bank, 2, tmp_path, words=["다", "가"], name="toy")
    vectors = np.loadtxt(vec_path, delimiter="\t")
    n = len(bank.rows("다")) + len(bank.rows("가"))
    assert vectors.shape == (n, bank.vectors.shape[2])
    np.testing.assert_allclose(vectors[0], bank.vectors[2, bank.rows("다")[0]], atol=1e-5)
    lines = meta_path.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "token\tsource\tsense\tcontext" and len(lines) == n + 1  # header + one row each
    assert all(len(line.split("\t")) == 4 for line in lines)
    assert [line.split("\t")[0] for line in lines[1:]] == ["다"] * len(bank.rows("다")) + ["가"] * len(bank.rows("가"))
    all_rows, _ = projector_tsv(bank, 0, tmp_path)
    assert np.loadtxt(all_rows, delimiter="\t").shape[0] == bank.vectors.shape[1]
