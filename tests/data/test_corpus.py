"""The corpus: sources into splits by document, per-source spans, the cache and its key."""

from __future__ import annotations

import pytest

from elmo.core.config import get_config
from elmo.core.sources import CorpusSource
from elmo.data import corpus as C
from elmo.data.readers import read_petitions, split_of
from elmo.data.text import EOS


def write_sources(tmp_path, n=80):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    # Each document: two sentences that name it, so a sentence tells which document it came from.
    (tmp_path / "a" / "x.txt").write_text("\n\n".join(f"가 문서{i} 입니다. 가 문서{i} 끝." for i in range(n)), encoding="utf-8")
    (tmp_path / "b" / "y.txt").write_text("\n\n".join(f"나 글{i} 입니다. 나 글{i} 끝." for i in range(n)), encoding="utf-8")
    return (CorpusSource("a", "text", (str(tmp_path / "a" / "*.txt"),)),
            CorpusSource("b", "text", (str(tmp_path / "b" / "*.txt"),)))  # fmt: skip


def data_cfg(sources, **kw):
    return get_config("tiny", data={"sources": sources, "tokenizer": "eojeol", "max_petitions": None, **kw}).data


def test_sources_split_by_document_with_spans(tmp_path):
    sources = write_sources(tmp_path)
    corpus = C.load_corpus(data_cfg(sources), cache_dir=tmp_path / "cache", progress=False)
    assert corpus.sources == ["a", "b"]
    for name in C.SPLITS:
        assert len(corpus.split(name, "a")) + len(corpus.split(name, "b")) == len(corpus.split(name))
        assert all(s[0] == "가" for s in corpus.split(name, "a")) and all(s[0] == "나" for s in corpus.split(name, "b"))
    # Both sentences of a document are on the same side: never split by sentence.
    side = {}
    for name in C.SPLITS:
        for sent in corpus.split(name):
            side.setdefault(sent[1], set()).add(name)
    assert all(len(v) == 1 for v in side.values())
    assert sum(corpus.documents["a"].values()) == 80 and corpus.documents["b"]["valid"] > 0
    assert corpus.log["a"]["documents"] == 80


def test_document_windows_pack_each_documents_sentences_and_never_cross_one(tmp_path):
    sources = write_sources(tmp_path)
    corpus = C.load_corpus(data_cfg(sources), cache_dir=tmp_path / "cache", progress=False)
    for name in C.SPLITS:
        starts = corpus.doc_starts[name]
        assert len(starts) == sum(corpus.documents[src][name] for src in corpus.sources)
        assert all(corpus.split(name)[i][2] == "입니다." for i in starts)  # each document's first sentence
        for source in (None, "a", "b"):
            windows = corpus.lm_windows(name, source, "document", max_tokens=32)
            # Both sentences of a document in one window, one document a window ("가 문서3 입니다." <eos> ...).
            assert len(windows) == len(corpus.split(name, source)) // 2
            assert all(w[3] == EOS and w[1] == w[5] for w in windows)
            assert corpus.lm_windows(name, source, "sentence") == corpus.split(name, source)
    assert corpus.lm_windows("train", "b", "document", max_tokens=3) == corpus.split("train", "b")  # no room: one a window
    with pytest.raises(ValueError, match="context"):
        corpus.lm_windows("train", None, "paragraph")


def test_cache_is_reused_and_its_key_covers_budget_and_tokenizer(tmp_path, monkeypatch):
    sources = write_sources(tmp_path)
    calls = []
    real = C.tokenize_documents
    monkeypatch.setattr(C, "tokenize_documents", lambda texts, *a, **k: calls.append(len(texts)) or real(texts, *a, **k))
    first = C.load_corpus(data_cfg(sources), cache_dir=tmp_path / "cache", progress=False)
    again = C.load_corpus(data_cfg(sources), cache_dir=tmp_path / "cache", progress=False)
    assert len(calls) == 2 and again.train == first.train and again.digest == first.digest  # nothing re-tokenized
    budget = (sources[0], CorpusSource("b", "text", sources[1].paths, max_chars=200))
    small = C.load_corpus(data_cfg(budget), cache_dir=tmp_path / "cache", progress=False)
    assert calls[2:] == [small.log["b"]["documents"]] and small.digest != first.digest  # only b again
    C.load_corpus(data_cfg(sources, tokenizer="morpheme"), cache_dir=tmp_path / "cache", progress=False)
    assert len(calls) == 5  # another tokenizer: both sources again


def test_same_source_name_twice_is_refused(tmp_path):
    a, _ = write_sources(tmp_path)
    with pytest.raises(ValueError, match="two sources are named 'a'"):
        C.load_corpus(data_cfg((a, a)), cache_dir=tmp_path / "cache", progress=False)


def test_petitions_corpus_is_the_one_it_always_was(data_root, tmp_path):
    """The tiny profile's petitions, as the petitions-only corpus was built before sources
    existed: dedupe by body, title + body tokenized, split by a hash of the petition id."""
    cfg = get_config("tiny", data={"sources": get_config("cpu").data.sources}).data
    corpus = C.load_corpus(cfg, cache_dir=tmp_path, progress=False)
    petitions = C.dedupe(read_petitions(data_root, cfg.max_petitions))
    docs = C.tokenize_documents([C.clean_text(p.text) for p in petitions], C.settings_of(cfg), progress=False)
    want = {s: [] for s in C.SPLITS}
    for p, sents in zip(petitions, docs):
        for sent in sents:
            want[split_of(p.idx)].extend(C.split_long(sent, cfg.max_tokens))
    assert {s: corpus.split(s) for s in C.SPLITS} == want
    assert corpus.sources == ["petitions"] and sum(corpus.petitions.values()) == len(petitions)


def test_corpus_table_and_coverage_by_source(tmp_path):
    from elmo.data.stats import corpus_table, coverage_by_source

    sources = write_sources(tmp_path)
    corpus = C.load_corpus(data_cfg(sources), cache_dir=tmp_path / "cache", progress=False)
    table = corpus_table(corpus)
    assert list(table.index) == ["a", "b"] and table.loc["a", "documents"] == 80
    assert table.loc["a", "train docs"] + table.loc["a", "valid docs"] + table.loc["a", "test docs"] == 80
    cov = coverage_by_source(corpus, {"probe": [["가", "나", "다"]]}, top=1)
    # The single most frequent train token of a is "가", of b "나"; of both together, a tie broken by count.
    assert cov.loc["a", "probe"] == cov.loc["b", "probe"] == round(100 / 3, 1)
    assert list(cov.index) == ["a", "b", "all"]
