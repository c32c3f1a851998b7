"""Loaders against small fixture files (quirks, bad rows) and against the real data's counts."""

import json

import pytest

from elmo.data import readers
from elmo.data.download import ChecksumError, MissingDataError, sha256_file


def write(root, rel, text):
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def petition(idx, title="제목", content="내용입니다."):
    d = {"category": "기타", "begin": "2019-04-01", "end": "2019-05-01", "content": content,
         "num_agree": 1, "petition_idx": str(idx), "status": "청원종료", "title": title}  # fmt: skip
    return json.dumps(d, ensure_ascii=False)


@pytest.fixture
def fixture_root(tmp_path):
    for i, rel in enumerate(readers.PETITION_FILES):
        write(tmp_path, rel, petition(i) + "\n" + petition(100 + i) + "\n")
    write(tmp_path, readers.YNAT_TSV["train"], 'label\ttext\n정치\t"제목 끝에 탭\t"\nIT과학\t인공지능 뉴스\n')
    write(tmp_path, readers.YNAT_TSV["dev"], "사회\t사회 뉴스\n")
    return tmp_path


def test_ynat_tsv_quoted_tab_and_header(fixture_root):
    train = readers.read_ynat("train", fixture_root)
    assert [h.label for h in train] == [6, 0]
    assert train[0].text == "제목 끝에 탭\t"  # the quoted trailing TAB survives
    assert readers.read_ynat("dev", fixture_root)[0].label == 2  # dev has no header


def test_ynat_official_json(tmp_path):
    recs = [{"guid": "ynat-v1_dev_00000", "title": "뉴스", "label": "스포츠", "url": "", "date": ""}]
    write(tmp_path, readers.YNAT_JSON["dev"], json.dumps(recs, ensure_ascii=False))
    assert readers.read_ynat("dev", tmp_path) == [readers.Headline("뉴스", 5)]


def test_malformed_rows_name_file_and_line(fixture_root):
    write(fixture_root, readers.YNAT_TSV["dev"], "사회\t좋은 줄\n경제만있는줄\n")
    with pytest.raises(readers.DataFormatError, match=r"ynat-v1.1_dev.tsv:2: expected 2 fields"):
        readers.read_ynat("dev", fixture_root)
    write(fixture_root, readers.YNAT_TSV["dev"], "연예\t없는 라벨\n")
    with pytest.raises(readers.DataFormatError, match="unknown YNAT label '연예'"):
        readers.read_ynat("dev", fixture_root)
    write(fixture_root, readers.PETITION_FILES[2], petition(7) + "\n{not json\n")
    with pytest.raises(readers.DataFormatError, match=r"petitions_2019-05:2: not a petition"):
        readers.read_petitions(fixture_root)


def test_missing_file_says_how_to_get_it(tmp_path):
    with pytest.raises(MissingDataError, match="ELMO_DATA"):
        readers.read_ynat("train", tmp_path)
    with pytest.raises(MissingDataError, match="make data"):
        readers.read_petitions(tmp_path)


def test_checksum_mismatch_names_file(fixture_root):
    rel = readers.YNAT_TSV["dev"]
    digest = sha256_file(fixture_root / rel)
    (fixture_root / "SHA256SUMS").write_text(f"{'0' * 64}  {rel}\n")
    with pytest.raises(ChecksumError, match="ynat-v1.1_dev.tsv"):
        readers.read_ynat("dev", fixture_root)
    (fixture_root / "SHA256SUMS").write_text(f"{digest}  {rel}\n")
    assert len(readers.read_ynat("dev", fixture_root)) == 1


def test_split_is_by_petition_deterministic_and_about_90_5_5():
    ids = [str(i) for i in range(20000)]
    splits = [readers.split_of(i) for i in ids]
    assert splits == [readers.split_of(i) for i in ids]
    share = splits.count("train") / len(ids)
    assert 0.88 < share < 0.92 and 0.04 < splits.count("valid") / len(ids) < 0.06
    assert [readers.split_of(i, seed=1) for i in ids] != splits


def test_clean_text():
    raw = "정부\u200b는&#39;국민&#39;의\ufeff   목소리를\t\t듣고 \n 있다 ㅋㅋ"
    assert readers.clean_text(raw) == "정부는'국민'의 목소리를 듣고\n있다 ㅋㅋ"
    assert readers.clean_text("\u1112\u1161\u11ab") == "한"  # NFC composes jamo typed separately
    assert readers.clean_text("   ") == ""


def test_reduce_pos():
    assert readers.reduce_pos("NNP+JKS") == "NNP"
    assert readers.reduce_pos("SS+SL+NNP+SN+SS") == "SL"
    assert readers.reduce_pos("SF") == "SF"


def test_ner_eojeol_labels():
    s = readers._ner_words("g", list("박씨의 딸"), ["B-PS", "O", "O", "O", "O", "O"])
    assert s.words == ("박씨의", "딸") and s.labels == ("PS", "O")


# ----------------------------------------------------------------------------- the real data


def test_real_counts_match_data_readme(data_root):
    assert len(readers.read_petitions(data_root)) == 3691
    train, dev = readers.read_ynat("train", data_root), readers.read_ynat("dev", data_root)
    assert (len(train), len(dev)) == (45678, 9107)
    count = lambda rows: [sum(h.label == i for h in rows) for i in range(7)]  # noqa: E731
    assert count(train) == [5235, 6118, 5133, 5751, 8320, 7742, 7379]
    assert count(dev) == [554, 1348, 3701, 1369, 835, 578, 722]
    assert train[0] == readers.Headline("유튜브 내달 2일까지 크리에이터 지원 공간 운영", 3)
    assert dev[0].text == "5억원 무이자 융자는 되고 7천만원 이사비는 안된다"


def test_real_dp_and_ner(data_root):
    dp, ner = readers.read_klue_dp(data_root), readers.read_klue_ner(data_root)
    assert len(dp) == 2000 and sum(len(s.words) for s in dp) == 22496
    assert len(ner) == 5000
    assert all(len(s.words) == len(s.labels) for s in dp + ner)
    assert ner[0].words[0] == "경찰은" and ner[0].labels[0] == "OG"


def test_dedupe_keeps_first_of_each_body():
    from elmo.data.corpus import dedupe

    ps = [readers.Petition(str(i), f"t{i}", body, "c", "b") for i, body in enumerate(["가", "나", "가 ", "다", "나"])]
    assert [p.idx for p in dedupe(ps)] == ["0", "1", "3"]
