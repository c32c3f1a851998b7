"""`python -m elmo.pretrain --text ...`: a biLM on a user's files, with clear errors and counts."""

from __future__ import annotations

import json
import random

import pytest

from elmo import pretrain as cli
from elmo.bilm.model import BiLM

WORDS = ["정부", "국민", "청원", "학교", "교사", "아이", "부모", "법", "안전", "사회", "경찰", "도로"]
ENDINGS = ["는", "가", "를", "에", "의"]


def paragraph(rng: random.Random) -> str:
    sents = [" ".join(rng.choice(WORDS) + rng.choice(ENDINGS) for _ in range(rng.randint(3, 8))) + " 합니다."
             for _ in range(rng.randint(2, 4))]  # fmt: skip
    return "\n".join(sents)


@pytest.fixture
def files(tmp_path):
    rng = random.Random(0)
    d = tmp_path / "mine"
    d.mkdir()
    (d / "a.txt").write_text("\n\n".join(paragraph(rng) for _ in range(90)), encoding="utf-8")
    (d / "b.jsonl").write_text("\n".join(json.dumps({"text": paragraph(rng)}, ensure_ascii=False) for _ in range(40)),
                               encoding="utf-8")  # fmt: skip
    (d / "empty.txt").write_text("")
    (d / ".hidden").write_bytes(b"\x00\x01 not text")
    return d


def test_pretrains_on_own_files_and_reports_what_it_dropped(files, tmp_path, capsys, caplog):
    out = tmp_path / "run"
    assert cli.main(["--text", str(files), "--profile", "tiny", "--out", str(out)]) == 0
    printed = capsys.readouterr()
    model = BiLM.from_pretrained(out / "bilm")
    assert len(model.encoder.tokens) > 10
    assert "mine: 2 file(s)" in printed.out and "1 empty file(s)" in printed.out  # a.txt + empty.txt
    assert "mine-jsonl: 1 file(s)" in printed.out  # the JSON lines
    assert "skipped 1 hidden file(s)" in caplog.text
    record = json.loads((out / "corpus.json").read_text())
    assert record["log"]["mine"]["documents"] == 90 and record["log"]["mine-jsonl"]["documents"] == 40
    results = json.loads((out / "bilm" / "config.json").read_text())["extra"]["results"]
    assert set(results["sources"]) == {"mine", "mine-jsonl"}  # perplexity per source
    # A rerun on the same files reuses the finished run; changed files are refused.
    assert cli.main(["--text", str(files), "--profile", "tiny", "--out", str(out)]) == 0
    assert "reusing the biLM" in capsys.readouterr().out
    with open(files / "a.txt", "a", encoding="utf-8") as f:
        f.write("\n\n새 문서 입니다.")
    assert cli.main(["--text", str(files), "--profile", "tiny", "--out", str(out)]) == 1
    assert "files changed" in capsys.readouterr().err


def test_non_utf8_binary_and_tiny_inputs_are_clear_errors(tmp_path, capsys):
    bad = tmp_path / "bad.txt"
    bad.write_bytes("첫 줄\n".encode() + "둘째 줄\n".encode("cp949"))
    assert cli.main(["--text", str(bad), "--profile", "tiny", "--out", str(tmp_path / "o1")]) == 1
    assert f"{bad}:2: not UTF-8" in capsys.readouterr().err
    binary = tmp_path / "model.bin"
    binary.write_bytes(bytes(range(256)) * 4)
    assert cli.main(["--text", str(binary), "--profile", "tiny", "--out", str(tmp_path / "o2")]) == 1
    assert f"{binary}:1: a NUL byte" in capsys.readouterr().err
    small = tmp_path / "small.txt"
    small.write_text("문서 하나 입니다.\n\n문서 둘 입니다.", encoding="utf-8")
    assert cli.main(["--text", str(small), "--profile", "tiny", "--out", str(tmp_path / "o3")]) == 1
    assert "split is empty: 2 document(s)" in capsys.readouterr().err
    assert cli.main(["--text", str(tmp_path / "nope.txt"), "--profile", "tiny", "--out", str(tmp_path / "o4")]) == 1
