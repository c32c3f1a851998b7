"""The corpus as tokenized sentences, split by document, cached on disk.

A corpus is `DataConfig.sources` (elmo/core/sources.py): each source's documents are read,
cleaned, de-duplicated (across sources too) and cut to its character budget
(`elmo.data.documents`), tokenized once (kiwipiepy, 2 workers) and cached per source (gzip JSON,
never pickle) under a key made of the documents themselves and the tokenizer settings, so a
changed budget or file re-tokenizes that source only. Each document goes whole to train, valid or
test by a hash of its id (`split_of`), so no sentence is ever split from its neighbours; the
petitions keep the ids, the split and the order they always had, so a petitions-only corpus is
the one earlier runs trained on. Tokenizing runs at ~80,000 characters/s on 2 cores.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import logging
from dataclasses import asdict, dataclass, field
from pathlib import Path

from kiwipiepy import Kiwi
from tqdm.auto import tqdm

from elmo.core.config import DataConfig
from elmo.core.runs import REPO
from elmo.core.sources import CorpusSource
from elmo.data.documents import Document, read_source
from elmo.data.download import data_root
from elmo.data.readers import Petition, clean_text, split_of
from elmo.data.text import Tokenizer, TokenizerSettings, pack_sentences, split_long

CACHE_VERSION = 3  # bump when the cleaning or splitting code changes what is cached
SPLITS = ("train", "valid", "test")
log = logging.getLogger(__name__)


@dataclass
class Corpus:
    """Tokenized sentences per split; each sentence is a window of at most `max_tokens` tokens.

    documents : {source: {split: documents}}. spans : {split: {source: [start, end)}}, where each
    source's sentences lie in that split's list (sources in config order). doc_starts : {split:
    the index of each document's first sentence in that list} (empty for a corpus of loose
    sentences: each is then its own document). log : {source: what reading kept and dropped
    (`SourceLog`)}. digest : a key of everything the corpus was made of.
    """

    train: list[list[str]]
    valid: list[list[str]]
    test: list[list[str]]
    documents: dict[str, dict[str, int]] = field(default_factory=dict)
    spans: dict[str, dict[str, list[int]]] = field(default_factory=dict)
    doc_starts: dict[str, list[int]] = field(default_factory=dict)
    log: dict[str, dict] = field(default_factory=dict)
    digest: str = ""

    def split(self, name: str, source: str | None = None) -> list[list[str]]:
        """The sentences of one split, of all sources or of one (`source`)."""
        if name not in SPLITS:
            raise ValueError(f"split must be one of {SPLITS}, not {name!r}")
        sents = getattr(self, name)
        if source is None:
            return sents
        if source not in self.spans.get(name, {}):
            raise KeyError(f"no source {source!r} in this corpus (sources: {self.sources})")
        start, end = self.spans[name][source]
        return sents[start:end]

    def lm_windows(self, name: str, source: str | None = None, context: str = "sentence",
                   max_tokens: int = 64) -> list[list[str]]:  # fmt: skip
        """What the biLM reads of a split (`DataConfig.context`): "sentence", one window per
        sentence; "document", each document's consecutive sentences packed into windows of at most
        `max_tokens` tokens with <eos> between them (`elmo.data.text.pack_sentences`)."""
        if context not in ("sentence", "document"):
            raise ValueError(f"context must be 'sentence' or 'document', not {context!r}")
        sents = self.split(name, source)
        if context == "sentence" or not self.doc_starts.get(name):  # loose sentences: each its own document
            return sents
        offset = self.spans[name][source][0] if source is not None else 0
        starts = [i - offset for i in self.doc_starts[name] if offset <= i < offset + len(sents)]
        return pack_sentences(sents, starts, max_tokens)

    @property
    def sources(self) -> list[str]:
        return list(self.documents)

    @property
    def petitions(self) -> dict[str, int]:
        """Petitions per split (what 01 has always shown)."""
        return self.documents.get("petitions", dict.fromkeys(SPLITS, 0))

    def n_tokens(self, name: str, source: str | None = None) -> int:
        return sum(len(s) for s in self.split(name, source))


def settings_of(cfg: DataConfig) -> TokenizerSettings:
    return TokenizerSettings(cfg.tokenizer, cfg.char_unit, cfg.max_chars)


def tokenize_documents(texts: list[str], settings: TokenizerSettings, progress: bool = True,
                       desc: str = "tokenizing") -> list[list[list[str]]]:  # fmt: skip
    """Each document -> its sentences -> tokens. kiwipiepy splits sentences in both modes."""
    kiwi = Kiwi(num_workers=2)
    docs = kiwi.split_into_sents(texts, return_tokens=True)
    out = []
    chars = sum(len(t) for t in texts)
    bar = tqdm(total=chars, desc=desc, unit="char", unit_scale=True, disable=not progress)
    for text, doc in zip(texts, docs):
        if settings.tokenizer == "morpheme":
            sents = [[t.form for t in s.tokens if t.form.strip()] for s in doc]
        else:
            sents = [s.text.split() for s in doc]
        out.append([s for s in sents if s])
        bar.update(len(text))
    bar.close()
    return out


def load_corpus(cfg: DataConfig, root: Path | None = None, cache_dir: Path | None = None, progress: bool = True) -> Corpus:
    """The tokenized corpus of `cfg.sources`, each source from the cache when its documents and
    the tokenizer are unchanged."""
    root = Path(root) if root is not None else data_root()
    cache_dir = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    seen: set[str] = set()
    parts = []
    for source in cfg.sources:
        limit = cfg.max_petitions if source.reader == "petitions" else None
        docs, source_log = read_source(source, root, max_docs=limit, seen=seen)
        sents, key = _tokenized(source, docs, settings_of(cfg), cache_dir, progress)
        parts.append((source, docs, sents, source_log, key))
        log.info("source %s: %s", source.name, {k: v for k, v in source_log.to_dict().items() if k != "notes"})
    return assemble(parts, cfg)


def assemble(parts: list, cfg: DataConfig) -> Corpus:
    """Sentences of every source's documents into their document's split, sources in order."""
    corpus = Corpus([], [], [])
    for name in SPLITS:
        corpus.spans[name] = {}
    per_split: dict[str, dict[str, list]] = {s: {} for s in SPLITS}
    for source, docs, sents, source_log, _ in parts:
        if source.name in corpus.documents:
            raise ValueError(f"two sources are named {source.name!r}: names key the per-source results")
        counts = dict.fromkeys(SPLITS, 0)
        buckets: dict[str, list] = {s: [] for s in SPLITS}
        starts: dict[str, list[int]] = {s: [] for s in SPLITS}
        for doc, doc_sents in zip(docs, sents):
            name = split_of(doc.id, cfg.split_fractions, cfg.split_seed)
            counts[name] += 1
            starts[name].append(len(buckets[name]))
            for sent in doc_sents:
                buckets[name].extend(split_long(sent, cfg.max_tokens))
        corpus.documents[source.name] = counts
        corpus.log[source.name] = source_log.to_dict()
        for name in SPLITS:
            per_split[name][source.name] = (buckets[name], starts[name])
    for name in SPLITS:
        sents = getattr(corpus, name)
        corpus.doc_starts[name] = []
        for source_name, (bucket, starts_in_bucket) in per_split[name].items():
            corpus.spans[name][source_name] = [len(sents), len(sents) + len(bucket)]
            corpus.doc_starts[name] += [len(sents) + i for i in starts_in_bucket]
            sents.extend(bucket)
    corpus.digest = hashlib.sha256(json.dumps([p[4] for p in parts]).encode()).hexdigest()[:16]
    return corpus


def dedupe(petitions: list[Petition]) -> list[Petition]:
    """The first of each group of petitions with the same cleaned body.

    The archive holds re-posted petitions (55 exact copies of a body among the 3,691); kept, a
    copy on each side of the split would let a model be tested on text it trained on.
    (`elmo.data.documents.read_source` de-duplicates every source the same way.)
    """
    seen: set[str] = set()
    out = []
    for p in petitions:
        body = clean_text(p.content)
        if body not in seen:
            seen.add(body)
            out.append(p)
    return out


def _tokenized(source: CorpusSource, docs: list[Document], settings: TokenizerSettings, cache_dir: Path,
               progress: bool) -> tuple[list[list[list[str]]], str]:  # fmt: skip
    """Sentences of each document, from the cache when these exact documents were tokenized
    with these settings before; returns them with the cache key."""
    h = hashlib.sha256(json.dumps([CACHE_VERSION, asdict(settings)], sort_keys=True).encode())
    for d in docs:
        h.update(d.id.encode() + b"\0" + d.text.encode() + b"\0")
    key = h.hexdigest()[:16]
    path = cache_dir / f"source-{source.name}-{key}.json.gz"
    if path.exists():
        return _read_json_gz(path), key
    sents = tokenize_documents([d.text for d in docs], settings, progress, desc=f"tokenizing {source.name}")
    _write_json_gz(path, sents)
    return sents, key


def default_cache_dir() -> Path:
    return REPO / "runs" / "cache"


def tokenize_cached(texts: list[str], settings: TokenizerSettings, cache_dir: Path | None = None, progress: bool = True) -> list[list[str]]:
    """Tokens of short texts (headlines) with the same tokenizer as the corpus, cached on disk."""
    h = hashlib.sha256(json.dumps([CACHE_VERSION, asdict(settings)]).encode())
    for t in texts:
        h.update(t.encode() + b"\0")
    cache_dir = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    path = cache_dir / f"texts-{h.hexdigest()[:16]}.json.gz"
    if path.exists():
        return _read_json_gz(path)
    tokenizer = Tokenizer(settings, num_workers=2)
    out = []
    for i in tqdm(range(0, len(texts), 2048), desc="tokenizing", disable=not progress):
        out.extend(tokenizer.tokenize_many(texts[i : i + 2048]))
    _write_json_gz(path, out)
    return out


def _read_json_gz(path: Path):
    with gzip.open(path, "rt", encoding="utf-8") as f:
        return json.load(f)


def _write_json_gz(path: Path, obj) -> None:
    """Write atomically, so an interrupted run never leaves a half-written cache entry."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    with gzip.open(tmp, "wt", encoding="utf-8") as f:
        json.dump(obj, f, ensure_ascii=False)
    tmp.replace(path)
