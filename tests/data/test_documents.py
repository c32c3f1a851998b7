"""Corpus sources: the four readers, cleaning, budgets, de-duplication, errors that name file and line."""

from __future__ import annotations

import json
import re

import pytest

from elmo.core.config import Config, get_config
from elmo.core.sources import CORPORA, CorpusSource
from elmo.data import documents as D
from elmo.data.download import MissingDataError
from elmo.data.readers import DataFormatError

WIKI = """<doc id="5" url="https://ko.wikipedia.org/wiki?curid=5" title="지미 카터">
지미 카터

제임스 얼 "지미" 카터 주니어(, 1924년 10월 1일 ~ )는 민주당 출신 미국 39번째 대통령이다.

카터는 땅콩 농부()였다. 일반상대론(一般相對論, )은 이론이다.
</doc>
<doc id="9" url="https://ko.wikipedia.org/wiki?curid=9" title="수학">
수학

수학은 수, 양, 구조를 다루는 학문이다.
</doc>
"""


def source(tmp_path, reader, name="s", **kw) -> CorpusSource:
    return CorpusSource(name, reader, (str(tmp_path / "*"),), **kw)


def test_wikiextractor_drops_title_line_and_empty_parentheses(tmp_path):
    (tmp_path / "wiki_00").write_text(WIKI, encoding="utf-8")
    docs, log = D.read_source(source(tmp_path, "wikiextractor"))
    assert [d.id for d in docs] == ["wiki:5", "wiki:9"]
    assert docs[0].text.startswith('제임스 얼 "지미" 카터 주니어(1924년 10월 1일 ~ )는')
    assert "농부였다" in docs[0].text and "()" not in docs[0].text and "지미 카터\n" not in docs[0].text
    assert "일반상대론(一般相對論)은" in docs[0].text
    assert docs[1].text == "수학은 수, 양, 구조를 다루는 학문이다."
    assert log.documents == 2 and log.files == 1


def test_unclosed_doc_names_file_and_line(tmp_path):
    (tmp_path / "wiki_00").write_text(WIKI + '<doc id="11" url="u" title="t">\n본문\n', encoding="utf-8")
    with pytest.raises(DataFormatError, match=r"wiki_00:13: .*never closed"):
        D.read_source(source(tmp_path, "wikiextractor"))


def test_text_blocks_are_documents_and_duplicates_are_counted(tmp_path):
    (tmp_path / "a.txt").write_text("첫 문서 첫 줄\n둘째 줄\n\n\n둘째 문서\n\n첫 문서 첫 줄\n둘째 줄\n", encoding="utf-8")
    docs, log = D.read_source(source(tmp_path, "text"))
    assert [d.text for d in docs] == ["첫 문서 첫 줄\n둘째 줄", "둘째 문서"]
    assert log.duplicates == 1 and log.documents == 2
    assert docs[0].origin.endswith("a.txt:1") and docs[1].origin.endswith("a.txt:5")


def test_jsonl_field_and_its_errors(tmp_path):
    lines = [{"text": "하나"}, {"text": ""}, {"body": "x", "text": "둘"}]
    (tmp_path / "a.jsonl").write_text("\n".join(json.dumps(x, ensure_ascii=False) for x in lines), encoding="utf-8")
    docs, log = D.read_source(source(tmp_path, "jsonl"))
    assert [d.text for d in docs] == ["하나", "둘"] and log.empty == 1
    (tmp_path / "a.jsonl").write_text('{"text": "ok"}\n{"other": 1}\n', encoding="utf-8")
    with pytest.raises(DataFormatError, match=r"a\.jsonl:2: no 'text' field"):
        D.read_source(source(tmp_path, "jsonl"))
    (tmp_path / "a.jsonl").write_text('{"text": "ok"}\n{broken\n', encoding="utf-8")
    with pytest.raises(DataFormatError, match=r"a\.jsonl:2: not a JSON line"):
        D.read_source(source(tmp_path, "jsonl"))


def test_non_utf8_and_binary_files_name_file_and_line(tmp_path):
    (tmp_path / "a.txt").write_bytes("좋은 줄\n".encode() + "나쁜 줄\n".encode("cp949"))
    with pytest.raises(DataFormatError, match=r"a\.txt:2: not UTF-8.*iconv"):
        D.read_source(source(tmp_path, "text"))
    (tmp_path / "a.txt").write_bytes(b"text\n\x00\x01\x02binary")
    with pytest.raises(DataFormatError, match=r"a\.txt:2: a NUL byte"):
        D.read_source(source(tmp_path, "text"))


def test_empty_file_is_counted_and_huge_line_is_cut(tmp_path, monkeypatch):
    monkeypatch.setattr(D, "MAX_DOC_CHARS", 1000)
    (tmp_path / "a.txt").write_text("")
    (tmp_path / "b.txt").write_text(" ".join(["단어"] * 1200) + "\n", encoding="utf-8")  # one 3,599-char line
    docs, log = D.read_source(source(tmp_path, "text"))
    assert log.empty_files == 1 and log.cut_documents == 1
    assert len(docs) == 4 and all(len(d.text) <= 1000 for d in docs)
    assert sum(d.text.count("단어") for d in docs) == 1200  # nothing lost in the cut
    assert any("b.txt:1" in n for n in log.notes) and any("a.txt: empty file" in n for n in log.notes)


def test_budget_stops_in_file_order_and_counts(tmp_path):
    (tmp_path / "a.txt").write_text("\n\n".join(f"문서 {i} " + "가" * 95 for i in range(30)), encoding="utf-8")
    docs, log = D.read_source(source(tmp_path, "text", max_chars=1000))
    assert [d.text.split()[1] for d in docs] == [str(i) for i in range(10)]
    assert log.characters >= 1000 and log.over_budget == 20


def test_duplicates_across_sources_are_dropped(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    (tmp_path / "a" / "x.txt").write_text("같은 글\n\n다른 글", encoding="utf-8")
    (tmp_path / "b" / "y.txt").write_text("같은 글\n\n셋째 글", encoding="utf-8")
    seen: set[str] = set()
    a, _ = D.read_source(CorpusSource("a", "text", (str(tmp_path / "a" / "*"),)), seen=seen)
    b, log = D.read_source(CorpusSource("b", "text", (str(tmp_path / "b" / "*"),)), seen=seen)
    assert [d.text for d in b] == ["셋째 글"] and log.duplicates == 1


def test_missing_files_say_how_to_get_them(tmp_path):
    with pytest.raises(MissingDataError, match=r"no file matches .*make data"):
        D.read_source(CorpusSource("wiki", "wikiextractor", ("wiki/text/ZZ/*",)), root=tmp_path)


def test_sources_round_trip_through_the_config():
    cfg = get_config("cpu", data={"sources": CORPORA["petitions+wiki"]})
    back = Config.from_dict(json.loads(cfg.to_json()))
    assert back == cfg and back.data.sources[1].max_chars == cfg.data.sources[1].max_chars
    assert get_config("cpu").data.sources == CORPORA["petitions"]  # the default stays petitions only
    with pytest.raises(ValueError, match="reader"):
        CorpusSource("x", "pdf", ("a",))


def test_real_wiki_file_counts(data_root):
    src = CorpusSource("wiki", "wikiextractor", ("wiki/text/AA/wiki_00",))
    docs, log = D.read_source(src, data_root)  # verified against wiki/SHA256SUMS on the way
    assert log.documents + log.empty + log.duplicates > 100
    assert not any(re.search(r"\(\s*[,;:]|[,;:]\s*\)|\(\s*\)", d.text) for d in docs)
    assert docs[0].id == "wiki:5" and not docs[0].text.startswith("지미 카터\n")
