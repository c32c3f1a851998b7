"""Pretraining a biLM on a user's own files: `python -m elmo.pretrain --text FILE_OR_DIR... --out DIR`.

The files become corpus sources (`elmo.data.documents.sources_for_paths`: plain text with one
document per blank-line-separated block, or JSON lines with a "text" field), go through the same
reading, cleaning, de-duplication, split by document and cached tokenization as the shipped
corpora, and train the profile's biLM (`elmo.bilm.train.pretrain`). OUT gets the artifact
(`OUT/bilm`), the checkpoints and logs (`OUT/pretrain`), the token cache (`OUT/cache`) and
`OUT/corpus.json`: what was read, kept and dropped per source, and a digest of the corpus, so a
rerun resumes the same run and a rerun on changed files refuses to resume a model of other text.
"""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path
from typing import Sequence

from elmo.bilm.train import config_hash, pretrain
from elmo.core.config import Config, get_config
from elmo.data.corpus import SPLITS, Corpus, load_corpus
from elmo.data.documents import sources_for_paths

log = logging.getLogger(__name__)


class CorpusTooSmall(ValueError):
    """Too few documents for a valid and a test split."""


def corpus_of_files(paths: Sequence[str | Path], cfg: Config, out: Path) -> Corpus:
    """Read and tokenize the files (cached under out/cache); refuse a corpus without held-out text."""
    corpus = load_corpus(cfg.data, cache_dir=Path(out) / "cache")
    for name in SPLITS:
        if not corpus.split(name):
            docs = sum(sum(d.values()) for d in corpus.documents.values())
            raise CorpusTooSmall(
                f"the {name} split is empty: {docs} document(s) in all, and each goes whole to train, valid or "
                f"test ({cfg.data.split_fractions}). Separate documents by blank lines, or give more text "
                "(a few dozen documents at least)")  # fmt: skip
    return corpus


def describe(corpus: Corpus) -> str:
    """What was read, kept and dropped, per source: the lines the command prints."""
    lines = []
    for name, r in corpus.log.items():
        docs = corpus.documents[name]
        lines.append(f"{name}: {r['files']} file(s), {r['documents']:,} documents kept ({r['characters']:,} characters; "
                     f"train/valid/test {docs['train']}/{docs['valid']}/{docs['test']}); dropped: {r['empty']} empty, "
                     f"{r['duplicates']} duplicate(s), {r['empty_files']} empty file(s); {r['cut_documents']} over-long "
                     "document(s) cut into pieces")  # fmt: skip
        lines += [f"  {note}" for note in r["notes"]]
    tokens = {s: corpus.n_tokens(s) for s in SPLITS}
    lines.append(f"tokens: train {tokens['train']:,}, valid {tokens['valid']:,}, test {tokens['test']:,}")
    return "\n".join(lines)


def pretrain_on_files(paths: Sequence[str | Path], out: Path, profile: str = "cpu", force: bool = False, **overrides) -> Path:
    """Train (or resume) the profile's biLM on `paths`; returns the artifact directory out/bilm."""
    out = Path(out)
    cfg = get_config(profile, data={"sources": sources_for_paths(paths), "max_petitions": None, **overrides.pop("data", {})},
                     **overrides)  # fmt: skip
    corpus = corpus_of_files(paths, cfg, out)
    print(describe(corpus), flush=True)
    record = out / "corpus.json"
    if record.exists() and json.loads(record.read_text())["digest"] != corpus.digest:
        if not force:
            raise FileExistsError(f"{out} holds a run on other text (corpus {json.loads(record.read_text())['digest']}, "
                                  f"now {corpus.digest}): the files changed since. Use another --out, or --force to "
                                  "start afresh")  # fmt: skip
        shutil.rmtree(out / "pretrain" / f"checkpoints-{config_hash(cfg)}", ignore_errors=True)  # never resume other text
    out.mkdir(parents=True, exist_ok=True)
    record.write_text(json.dumps({"digest": corpus.digest, "sources": [str(p) for p in paths], "documents": corpus.documents,
                                  "log": corpus.log}, indent=1, ensure_ascii=False))  # fmt: skip
    return pretrain(cfg, out=out, corpus=corpus, force=force)
