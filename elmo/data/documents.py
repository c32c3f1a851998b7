"""Documents of a corpus source: the readers behind `CorpusSource.reader`, cleaning, budgets.

Every reader yields `Document`s in file order; `read_source` cleans them, drops empty ones and
duplicates (across all sources read so far), and stops at the source's character budget,
counting everything it drops (`SourceLog`), so nothing leaves the corpus without a number.

Readers: "petitions" (the archive's JSON lines), "wikiextractor" (`<doc id=.. title=..>` ..
`</doc>`, first line the title), "text" (UTF-8, one document per blank-line-separated block) and
"jsonl" (one JSON object per line, the document in `text_field`). A file that is not UTF-8, that
looks binary, or a JSON line that does not parse is an error naming the file and the line.
"""

from __future__ import annotations

import glob
import hashlib
import json
import logging
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Iterator

from elmo.core.sources import CorpusSource
from elmo.data.archive import check_data_file
from elmo.data.download import MissingDataError, data_root
from elmo.data.readers import DataFormatError, clean_text

# A "line" this long is no sentence: kiwipiepy splits it anyway, but one document of tens of
# megabytes holds the whole corpus in one task. Longer documents are cut at whitespace.
MAX_DOC_CHARS = 200_000
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Document:
    """id : the split key (petitions: the petition id, as the split always was; wiki: "wiki:<doc
    id>"; text and jsonl: a digest of the text, so reordering files never moves a document).
    text : the cleaned text (newlines kept as sentence hints). key : what de-duplication compares.
    origin : "file:line" for messages."""

    id: str
    text: str
    key: str
    origin: str


@dataclass
class SourceLog:
    """What reading one source kept and dropped, in documents and characters."""

    files: int = 0
    documents: int = 0  # kept
    characters: int = 0  # kept
    empty: int = 0  # dropped: nothing left after cleaning
    duplicates: int = 0  # dropped: same text as an earlier document (of any source)
    over_budget: int = 0  # documents not read because max_chars was reached (a lower bound)
    empty_files: int = 0
    cut_documents: int = 0  # documents longer than MAX_DOC_CHARS, cut into pieces
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)


def source_files(source: CorpusSource, root: Path | None = None) -> list[tuple[Path, str | None]]:
    """(path, path relative to the data root or None) of every file of the source, in order.

    Relative patterns are resolved under the data root and verified there (`check_data_file`);
    absolute ones (a user's own files) are read as they are. A pattern matching nothing is an error.
    """
    root = Path(root) if root is not None else data_root()
    out: list[tuple[Path, str | None]] = []
    for pattern in source.paths:
        absolute = Path(pattern).is_absolute()
        matches = sorted(glob.glob(pattern if absolute else str(root / pattern)))
        files = [Path(m) for m in matches if Path(m).is_file()]
        if not files:
            where = pattern if absolute else root / pattern
            raise MissingDataError(f"source {source.name!r}: no file matches {where}. Get the data with "
                                   "`make data` (python -m elmo.download --full) or set ELMO_DATA")  # fmt: skip
        out += [(p, None if absolute else p.relative_to(root).as_posix()) for p in files]
    return out


def read_source(source: CorpusSource, root: Path | None = None, max_docs: int | None = None,
                seen: set[str] | None = None) -> tuple[list[Document], SourceLog]:  # fmt: skip
    """The cleaned, de-duplicated documents of one source within its budget, and what was dropped.

    seen : de-duplication keys of documents already taken (from earlier sources); updated.
    max_docs : stop after this many raw documents (the `tiny` profile's petition subset).
    """
    root = Path(root) if root is not None else data_root()
    seen = set() if seen is None else seen
    log, docs = SourceLog(), []
    raw_count = 0
    for path, rel in source_files(source, root):
        if log.characters >= (source.max_chars or float("inf")) or (max_docs and raw_count >= max_docs):
            log.notes.append(f"stopped before {path}: budget reached")
            break
        if rel is not None:
            check_data_file(root, rel)
        log.files += 1
        if path.stat().st_size == 0:
            log.empty_files += 1
            log.notes.append(f"{path}: empty file")
            continue
        for doc in READERS[source.reader](path, source):
            raw_count += 1
            if max_docs and raw_count > max_docs:
                break
            if source.max_chars is not None and log.characters >= source.max_chars:
                log.over_budget += 1
                continue
            if not doc.text:
                log.empty += 1
                continue
            if doc.key in seen:
                log.duplicates += 1
                continue
            seen.add(doc.key)
            for piece in _cut(doc, log):
                docs.append(piece)
                log.documents += 1
                log.characters += len(piece.text)
    return docs, log


def _cut(doc: Document, log: SourceLog) -> list[Document]:
    if len(doc.text) <= MAX_DOC_CHARS:
        return [doc]
    log.cut_documents += 1
    log.notes.append(f"{doc.origin}: a document of {len(doc.text):,} characters, cut at whitespace into "
                     f"pieces of at most {MAX_DOC_CHARS:,}")  # fmt: skip
    pieces, text = [], doc.text
    while text:
        end = len(text) if len(text) <= MAX_DOC_CHARS else text.rfind(" ", 0, MAX_DOC_CHARS) + 1 or MAX_DOC_CHARS
        pieces.append(Document(f"{doc.id}#{len(pieces)}", text[:end].strip(), f"{doc.key}#{len(pieces)}", doc.origin))
        text = text[end:]
    return [p for p in pieces if p.text]


# ------------------------------------------------------------------------------------ readers


def read_lines(path: Path) -> Iterator[tuple[int, str]]:
    """(line number, line without its newline) of a UTF-8 text file; binary or non-UTF-8 content
    is an error naming the file and the line (decoding line by line, so the line is known)."""
    with open(path, "rb") as f:
        for lineno, raw in enumerate(f, 1):
            if b"\0" in raw:
                raise DataFormatError(path, lineno, "a NUL byte: this looks like a binary file, not text")
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as e:
                raise DataFormatError(path, lineno, f"not UTF-8 ({e.reason} at byte {e.start} of the line); "
                                      "convert it first, e.g. iconv -f CP949 -t UTF-8") from None  # fmt: skip
            yield lineno, line.rstrip("\r\n").lstrip("\ufeff") if lineno == 1 else line.rstrip("\r\n")


def _digest(text: str) -> str:
    return hashlib.sha1(text.encode()).hexdigest()[:16]


def read_petition_docs(path: Path, source: CorpusSource) -> Iterator[Document]:
    """Title and body of each petition; de-duplicated by body (re-posts keep the body, not the id)."""
    for lineno, line in read_lines(path):
        if not line.strip():
            continue
        try:
            d = json.loads(line)
            idx, title, content = str(d["petition_idx"]), d["title"], d["content"]
        except (json.JSONDecodeError, KeyError, TypeError) as e:
            raise DataFormatError(path, lineno, f"not a petition JSON line ({e!r})") from None
        yield Document(idx, clean_text(f"{title}\n{content}"), clean_text(content), f"{path}:{lineno}")


_DOC_OPEN = re.compile(r'<doc id="([^"]*)" url="[^"]*" title="([^"]*)">$')
# Templates the extractor removed leave "(, 1924년 10월 1일 ~ )" or "()" behind.
_EMPTY_PARENS = re.compile(r"\s?\(\s*(?:[,;:]\s*)*\)")
_LEADING_COMMA = re.compile(r"\(\s*(?:[,;:]\s*)+")
_TRAILING_COMMA = re.compile(r"(?:\s*[,;:])+\s*\)")


def clean_wiki(text: str) -> str:
    """WikiExtractor artefacts out, then the petitions' cleaning: empty parentheses vanish and
    commas left at either end of parentheses go (`카터 주니어(, 1924년` -> `카터 주니어(1924년`,
    `일반상대론(一般相對論, )` -> `일반상대론(一般相對論)`)."""
    text = _EMPTY_PARENS.sub("", text)
    return clean_text(_TRAILING_COMMA.sub(")", _LEADING_COMMA.sub("(", text)))


def read_wiki_docs(path: Path, source: CorpusSource) -> Iterator[Document]:
    """Articles of a WikiExtractor file; the title line the extractor repeats is dropped."""
    head, body, start = None, [], 0
    for lineno, line in read_lines(path):
        if head is None:
            if not line.strip():
                continue
            m = _DOC_OPEN.match(line)
            if not m:
                raise DataFormatError(path, lineno, "expected <doc id=... url=... title=...>")
            head, body, start = m.groups(), [], lineno
        elif line == "</doc>":
            doc_id, title = head
            if body and body[0].strip() == title.strip():
                body = body[1:]
            text = clean_wiki("\n".join(body))
            yield Document(f"wiki:{doc_id}", text, text, f"{path}:{start}")
            head = None
        else:
            body.append(line)
    if head is not None:
        raise DataFormatError(path, start, f"<doc id={head[0]!r}> is never closed by </doc>")


def read_text_docs(path: Path, source: CorpusSource) -> Iterator[Document]:
    """Blocks of non-blank lines, each a document."""
    block, start = [], 0
    for lineno, line in read_lines(path):
        if line.strip():
            if not block:
                start = lineno
            block.append(line)
            continue
        if block:
            yield _text_doc(block, path, start)
            block = []
    if block:
        yield _text_doc(block, path, start)


def _text_doc(lines: list[str], path: Path, start: int) -> Document:
    text = clean_text("\n".join(lines))
    return Document(f"text:{_digest(text)}", text, text, f"{path}:{start}")


def read_jsonl_docs(path: Path, source: CorpusSource) -> Iterator[Document]:
    """The `text_field` of each JSON line (a line without it is an error; an empty one is dropped)."""
    for lineno, line in read_lines(path):
        if not line.strip():
            continue
        try:
            value = json.loads(line)[source.text_field]
        except json.JSONDecodeError as e:
            raise DataFormatError(path, lineno, f"not a JSON line ({e.msg})") from None
        except (KeyError, TypeError):
            raise DataFormatError(path, lineno, f"no {source.text_field!r} field (set text_field)") from None
        if not isinstance(value, str):
            raise DataFormatError(path, lineno, f"{source.text_field!r} is {type(value).__name__}, not text")
        text = clean_text(value)
        yield Document(f"jsonl:{_digest(text)}", text, text, f"{path}:{lineno}")


READERS = {"petitions": read_petition_docs, "wikiextractor": read_wiki_docs, "text": read_text_docs,
           "jsonl": read_jsonl_docs}  # fmt: skip


def sources_for_paths(paths: list[str | Path]) -> tuple[CorpusSource, ...]:
    """Corpus sources for a user's files and folders (`python -m elmo.pretrain --text ...`).

    Each argument becomes one source, named by its file or folder name (so perplexity is reported
    per argument): `*.jsonl` files are read as JSON lines with a "text" field, everything else as
    plain text with one document per blank-line-separated block. A folder contributes every file
    under it, recursively and sorted, except hidden ones (`.git`, `.DS_Store`; how many is
    logged); a folder of JSON lines and text becomes two sources, NAME and NAME-jsonl.
    """
    out: list[CorpusSource] = []
    names: set[str] = set()
    for arg in paths:
        path = Path(arg).expanduser().resolve()
        if not path.exists():
            raise MissingDataError(f"no such file or folder: {arg}")
        files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
        hidden = [p for p in files if any(part.startswith(".") for part in p.relative_to(path).parts)] if path.is_dir() else []
        if hidden:
            log.warning("%s: skipped %d hidden file(s), e.g. %s", arg, len(hidden), hidden[0])
            files = [p for p in files if p not in set(hidden)]
        if not files:
            raise MissingDataError(f"{arg}: a folder without any (non-hidden) file")
        base = path.stem if path.is_file() else path.name
        groups = {"text": [f for f in files if f.suffix != ".jsonl"], "jsonl": [f for f in files if f.suffix == ".jsonl"]}
        for reader, group in groups.items():
            if not group:
                continue
            name = f"{base}-jsonl" if reader == "jsonl" and groups["text"] else base
            name = next(n for n in (name, *(f"{name}-{i}" for i in range(2, len(out) + 3))) if n not in names)
            names.add(name)
            out.append(CorpusSource(name, reader, tuple(glob.escape(str(f)) for f in group)))
    return tuple(out)
