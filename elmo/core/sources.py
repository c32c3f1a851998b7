"""What the biLM reads: a corpus is a tuple of sources, each a reader, paths and a budget.

A source is typed config like the rest (`DataConfig.sources`); the readers themselves live in
`elmo.data.documents`. Named mixes (`CORPORA`) are overrides, never cloned files:
`get_config("cpu", data={"sources": CORPORA["petitions+wiki"]})`.
"""

from __future__ import annotations

from dataclasses import dataclass

READERS = ("petitions", "wikiextractor", "text", "jsonl")


@dataclass(frozen=True)
class CorpusSource:
    """One source of pretraining text.

    name : machine key of the source (per-source perplexity, caches, logs): "petitions", "wiki".
    reader : "petitions" (the archive's JSON lines), "wikiextractor" (WikiExtractor `<doc>`
        files), "text" (plain UTF-8 text, one document per blank-line-separated block) or "jsonl"
        (one JSON object per line, the document in `text_field`).
    paths : glob patterns, relative to the data root unless absolute; files are read in the
        order of the patterns, each pattern's matches sorted.
    max_chars : character budget: documents are taken in file order (after cleaning and
        de-duplication) until this many characters are in; None takes them all.
    text_field : the field of a jsonl line that holds its document.
    """

    name: str
    reader: str
    paths: tuple[str, ...]
    max_chars: int | None = None
    text_field: str = "text"

    def __post_init__(self) -> None:
        if self.reader not in READERS:
            raise ValueError(f"reader must be one of {READERS}, not {self.reader!r}")
        # A lone glob (as typed on a command line) or a list (as read back from JSON): a tuple.
        object.__setattr__(self, "paths", (self.paths,) if isinstance(self.paths, str) else tuple(self.paths))
        if not self.paths:
            raise ValueError(f"source {self.name!r} has no paths")
        if self.max_chars is not None and self.max_chars <= 0:
            raise ValueError(f"source {self.name!r}: max_chars must be positive or None")


# The six months of the archive in shared/data, by name: a glob would silently take in the other
# 19 months once downloaded, and change the cpu corpus and every result built on it.
PETITION_MONTHS = ("2017-08", "2019-04", "2019-05", "2019-06", "2019-07", "2019-08")
PETITIONS = CorpusSource("petitions", "petitions", tuple(f"petitions/petitions_{m}" for m in PETITION_MONTHS))
ALL_PETITIONS = CorpusSource("petitions", "petitions", ("petitions/petitions_*",))
WIKI_AA = ("wiki/text/AA/wiki_*",)  # the 100 files of shared/data (28,163 articles, 43.3 M chars)
WIKI_ALL = ("wiki/text/*/wiki_*",)  # all 700 after `make data`

# Tokenizing runs at ~80,000 characters/s on 2 cores (shared/data README, section 5): the
# petitions (5.3 M) plus 10 M characters of Wikipedia take ~3 min, well inside 01's 6-minute
# budget, and 10 M characters (~5 M tokens) are more than a 15-minute pretraining reads.
WIKI_SHARE = 10_000_000
CORPORA: dict[str, tuple[CorpusSource, ...]] = {
    "petitions": (PETITIONS,),
    "petitions+wiki": (PETITIONS, CorpusSource("wiki", "wikiextractor", WIKI_AA, max_chars=WIKI_SHARE)),
    "tiny": (PETITIONS, CorpusSource("wiki", "wikiextractor", WIKI_AA, max_chars=200_000)),  # 75 articles, 1 valid
    "everything": (ALL_PETITIONS, CorpusSource("wiki", "wikiextractor", WIKI_ALL)),
}
