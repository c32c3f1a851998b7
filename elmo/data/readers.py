"""Readers for the raw data: petitions, KLUE YNAT, KLUE-DP and KLUE-NER.

Each reader verifies its files against `SHA256SUMS` (when the root has one), handles the quirks
that `shared/data/README.md` documents, and fails on a malformed row with the file and line.
"""

from __future__ import annotations

import csv
import hashlib
import html
import json
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from elmo.data.download import HOW_TO_GET, MissingDataError, data_root, verify

PETITION_FILES = tuple(
    f"petitions/petitions_{m}"
    for m in ("2017-08", "2019-04", "2019-05", "2019-06", "2019-07", "2019-08")
)
YNAT_LABELS = ("IT과학", "경제", "사회", "생활문화", "세계", "스포츠", "정치")  # KLUE ids 0..6
YNAT_TSV = {"train": "klue/ynat/ynat-v1.1_train.tsv", "dev": "klue/ynat/ynat-v1.1_dev.tsv"}
YNAT_JSON = {"train": "klue/ynat/ynat-v1.1_train.json", "dev": "klue/ynat/ynat-v1.1_dev.json"}
DP_FILE = "klue/dp/klue-dp-v1.1_dev.tsv"
NER_FILE = "klue/ner/klue-ner-v1.1_dev.tsv"


class DataFormatError(ValueError):
    """A row of a data file does not have the documented format."""

    def __init__(self, path: Path, line: int, why: str):
        super().__init__(f"{path}:{line}: {why}")


def resolve(relpath: str, root: Path | None = None, check: bool = True) -> Path:
    """The path of one data file under the data root, verified against SHA256SUMS if listed."""
    root = Path(root) if root is not None else data_root()
    path = root / relpath
    if not path.exists():
        raise MissingDataError(f"missing data file {path}. {HOW_TO_GET}")
    if check and (root / "SHA256SUMS").exists():
        verify(root, [relpath])  # a mismatch raises ChecksumError naming the file
    return path


@dataclass(frozen=True)
class Petition:
    idx: str
    title: str
    content: str
    category: str
    begin: str

    @property
    def text(self) -> str:
        return f"{self.title}\n{self.content}"


_INVISIBLE = re.compile("[\u200b-\u200f\u2028-\u202f\u2060\ufeff\x00-\x08\x0b-\x1f\x7f]")


def clean_text(text: str) -> str:
    """The documented cleaning of petition text.

    1. HTML entities are unescaped (`&#39;` -> `'`); 2. Unicode NFC, so a syllable typed as
    conjoining jamo becomes one syllable (NFKC is not used: it would turn the compatibility jamo
    of `ㅋㅋ` or `ㅠㅠ` into conjoining jamo); 3. zero-width characters, BOMs and control
    characters are removed; 4. runs of spaces collapse to one (newlines are kept as sentence
    hints). Nothing else is changed: punctuation, Hanja and emoji reach the tokenizer.
    """
    text = unicodedata.normalize("NFC", html.unescape(text))
    text = _INVISIBLE.sub("", text)
    text = re.sub(r"[ \t\u00a0\u3000]+", " ", text)
    return re.sub(r" ?\n ?", "\n", text).strip()


def read_petitions(root: Path | None = None, max_petitions: int | None = None) -> list[Petition]:
    """All petitions of the six months, in file order (3,691 in the shared data)."""
    out: list[Petition] = []
    for rel in PETITION_FILES:
        out.extend(_read_petition_file(resolve(rel, root)))
    return out[:max_petitions] if max_petitions else out


def _read_petition_file(path: Path) -> Iterator[Petition]:
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                d = json.loads(line)
                yield Petition(str(d["petition_idx"]), d["title"], d["content"], d["category"], d["begin"])
            except (json.JSONDecodeError, KeyError, TypeError) as e:
                raise DataFormatError(path, lineno, f"not a petition JSON line ({e!r})") from None


def split_of(petition_idx: str, fractions=(0.9, 0.05, 0.05), seed: int = 0) -> str:
    """"train", "valid" or "test" for one petition, from a hash of its id.

    A hash (not a shuffle) keeps the split of a petition fixed whatever else is in the corpus,
    and splitting by petition keeps all sentences of one petition on one side.
    """
    h = hashlib.sha1(f"{seed}:{petition_idx}".encode()).digest()
    u = int.from_bytes(h[:8], "big") / 2**64
    if u < fractions[0]:
        return "train"
    return "valid" if u < fractions[0] + fractions[1] else "test"


@dataclass(frozen=True)
class Headline:
    text: str
    label: int  # KLUE order: YNAT_LABELS[label]


def read_ynat(split: str, root: Path | None = None) -> list[Headline]:
    """KLUE YNAT v1.1 `train` (45,678) or `dev` (9,107): the shared TSVs or the official JSON."""
    if split not in YNAT_TSV:
        raise ValueError(f"YNAT split must be 'train' or 'dev', not {split!r}")
    root = Path(root) if root is not None else data_root()
    if (root / YNAT_TSV[split]).exists():
        return _read_ynat_tsv(resolve(YNAT_TSV[split], root), has_header=(split == "train"))
    if (root / YNAT_JSON[split]).exists():
        return _read_ynat_json(resolve(YNAT_JSON[split], root))
    resolve(YNAT_TSV[split], root)  # raises MissingDataError with the how-to
    raise AssertionError("unreachable")


def _label_id(name: str, path: Path, lineno: int) -> int:
    try:
        return YNAT_LABELS.index(name)
    except ValueError:
        raise DataFormatError(path, lineno, f"unknown YNAT label {name!r}") from None


def _read_ynat_tsv(path: Path, has_header: bool) -> list[Headline]:
    # A real TSV parser: one train title ends in a TAB and is therefore quoted.
    out = []
    with open(path, encoding="utf-8", newline="") as f:
        reader = csv.reader(f, delimiter="\t")
        for row in reader:
            lineno = reader.line_num
            if has_header and lineno == 1:
                if row != ["label", "text"]:
                    raise DataFormatError(path, lineno, f"expected header label<TAB>text, got {row}")
                continue
            if len(row) != 2:
                raise DataFormatError(path, lineno, f"expected 2 fields, got {len(row)}")
            out.append(Headline(row[1], _label_id(row[0], path, lineno)))
    return out


def _read_ynat_json(path: Path) -> list[Headline]:
    """The official KLUE file: a JSON list of {guid, title, label, ...}."""
    try:
        records = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise DataFormatError(path, e.lineno, f"invalid JSON ({e.msg})") from None
    out = []
    for i, r in enumerate(records):
        if not isinstance(r, dict) or "title" not in r or "label" not in r:
            raise DataFormatError(path, i + 1, "record without title/label (record number, not line)")
        out.append(Headline(r["title"], _label_id(r["label"], path, i + 1)))
    return out


@dataclass(frozen=True)
class TaggedSentence:
    """A sentence as eojeols (whitespace words) with one label each."""

    guid: str
    words: tuple[str, ...]
    labels: tuple[str, ...]


def reduce_pos(tags: str) -> str:
    """One POS tag per eojeol: the first morpheme tag that is not punctuation or a symbol.

    `NNP+JKS` -> `NNP`, `SS+SL+NNP+SN+SS` -> `SL`, `SF` -> `SF`. The first content morpheme
    carries the word's category (noun, verb, adverb...), the tail carries particles and endings.
    """
    parts = tags.split("+")
    content = [t for t in parts if t not in ("SS", "SP", "SF", "SE", "SO", "SW")]
    return (content or parts)[0]


def read_klue_dp(root: Path | None = None) -> list[TaggedSentence]:
    """KLUE-DP dev: 2,000 sentences, 22,496 eojeols, each with its reduced POS tag."""
    path = resolve(DP_FILE, root)
    out = []
    for guid, _, rows, start in _blocks(path):
        for offset, row in enumerate(rows):
            if len(row) != 6:
                raise DataFormatError(path, start + offset, f"expected 6 columns, got {len(row)}")
        out.append(TaggedSentence(guid, tuple(r[1] for r in rows), tuple(reduce_pos(r[3]) for r in rows)))
    return out


def read_klue_ner(root: Path | None = None) -> list[TaggedSentence]:
    """KLUE-NER dev: 5,000 sentences as eojeols, each labelled with its entity type or O.

    The file tags characters (BIO over PS, LC, OG, DT, TI, QT); an eojeol takes the type of its
    first entity character (its B- or I- tag), else O.
    """
    path = resolve(NER_FILE, root)
    out = []
    for guid, _, rows, start in _blocks(path):
        for offset, row in enumerate(rows):
            if len(row) != 2 or len(row[0]) != 1:
                raise DataFormatError(path, start + offset, "expected CHAR<TAB>TAG")
        out.append(_ner_words(guid, [r[0] for r in rows], [r[1] for r in rows]))
    return out


def _ner_words(guid: str, chars: list[str], tags: list[str]) -> TaggedSentence:
    words, labels, word, label = [], [], "", "O"
    for ch, tag in zip(chars + [" "], tags + ["O"]):
        if ch == " ":
            if word:
                words.append(word)
                labels.append(label)
            word, label = "", "O"
            continue
        word += ch
        if label == "O" and tag != "O":
            label = tag.split("-", 1)[1]
    return TaggedSentence(guid, tuple(words), tuple(labels))


def _blocks(path: Path) -> Iterator[tuple[str, str, list[list[str]], int]]:
    """(guid, raw sentence, rows, first row's line) for each `## guid<TAB>sentence` block."""
    guid, raw, rows, start = None, "", [], 0
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            line = line.rstrip("\n")
            if line.startswith("## "):
                head = line[3:].split("\t", 1)
                if len(head) == 2 and head[0].startswith("klue-"):
                    guid, raw, rows, start = head[0], head[1], [], lineno + 1
                continue
            if not line:
                if guid is not None and rows:
                    yield guid, raw, rows, start
                guid, rows = None, []
                continue
            if guid is None:
                raise DataFormatError(path, lineno, "row outside a sentence block")
            rows.append(line.split("\t"))
    if guid is not None and rows:
        yield guid, raw, rows, start
