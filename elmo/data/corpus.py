"""The petitions as tokenized sentences, split by petition, cached on disk.

Tokenizing 5.3 M characters with kiwipiepy takes a minute or two on 2 cores, so the result is
written once (gzip JSON, never pickle) under a key made of the input files' digests and every
setting that changes the output, and reused by each later run and notebook.
"""

from __future__ import annotations

import gzip
import hashlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path

from kiwipiepy import Kiwi
from tqdm.auto import tqdm

from elmo.core.config import DataConfig
from elmo.core.runs import REPO
from elmo.data.download import data_root
from elmo.data.readers import Petition, clean_text, read_petitions, split_of
from elmo.data.text import Tokenizer, TokenizerSettings, split_long

CACHE_VERSION = 2  # bump when the cleaning or splitting code changes what is cached
SPLITS = ("train", "valid", "test")


@dataclass
class Corpus:
    """Tokenized sentences per split; each sentence is a window of at most `max_tokens` tokens."""

    train: list[list[str]]
    valid: list[list[str]]
    test: list[list[str]]
    petitions: dict[str, int]  # petitions per split

    def split(self, name: str) -> list[list[str]]:
        if name not in SPLITS:
            raise ValueError(f"split must be one of {SPLITS}, not {name!r}")
        return getattr(self, name)

    def n_tokens(self, name: str) -> int:
        return sum(len(s) for s in self.split(name))


def settings_of(cfg: DataConfig) -> TokenizerSettings:
    return TokenizerSettings(cfg.tokenizer, cfg.char_unit, cfg.max_chars)


def tokenize_documents(texts: list[str], settings: TokenizerSettings, progress: bool = True) -> list[list[list[str]]]:
    """Each document -> its sentences -> tokens. kiwipiepy splits sentences in both modes."""
    kiwi = Kiwi(num_workers=2)
    docs = kiwi.split_into_sents(texts, return_tokens=True)
    out = []
    for doc in tqdm(docs, total=len(texts), desc="tokenizing", disable=not progress):
        if settings.tokenizer == "morpheme":
            sents = [[t.form for t in s.tokens if t.form.strip()] for s in doc]
        else:
            sents = [s.text.split() for s in doc]
        out.append([s for s in sents if s])
    return out


def load_corpus(cfg: DataConfig, root: Path | None = None, cache_dir: Path | None = None, progress: bool = True) -> Corpus:
    """The tokenized petitions of `cfg`, from the cache when the same inputs were seen before."""
    root = Path(root) if root is not None else data_root()
    petitions = read_petitions(root, cfg.max_petitions)
    cache_dir = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    path = cache_dir / f"corpus-{_cache_key(cfg, petitions)}.json.gz"
    if path.exists():
        return Corpus(**_read_json_gz(path))
    corpus = _build(cfg, petitions, progress)
    _write_json_gz(path, asdict(corpus))
    return corpus


def dedupe(petitions: list[Petition]) -> list[Petition]:
    """The first of each group of petitions with the same cleaned body.

    The archive holds re-posted petitions (55 exact copies of a body among the 3,691); kept, a
    copy on each side of the split would let a model be tested on text it trained on.
    """
    seen: set[str] = set()
    out = []
    for p in petitions:
        body = clean_text(p.content)
        if body not in seen:
            seen.add(body)
            out.append(p)
    return out


def _build(cfg: DataConfig, petitions: list[Petition], progress: bool) -> Corpus:
    petitions = dedupe(petitions)
    docs = tokenize_documents([clean_text(p.text) for p in petitions], settings_of(cfg), progress)
    splits: dict[str, list[list[str]]] = {s: [] for s in SPLITS}
    counts = dict.fromkeys(SPLITS, 0)
    for p, sents in zip(petitions, docs):
        name = split_of(p.idx, cfg.split_fractions, cfg.split_seed)
        counts[name] += 1
        for sent in sents:
            splits[name].extend(split_long(sent, cfg.max_tokens))
    return Corpus(**splits, petitions=counts)


def _cache_key(cfg: DataConfig, petitions: list[Petition]) -> str:
    h = hashlib.sha256()
    relevant = {k: v for k, v in asdict(cfg).items() if k not in ("min_freq", "max_vocab")}
    h.update(json.dumps([CACHE_VERSION, relevant], sort_keys=True).encode())
    for p in petitions:
        h.update(p.idx.encode() + b"\0" + p.text.encode() + b"\0")
    return h.hexdigest()[:16]


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
