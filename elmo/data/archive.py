"""The whole archives behind the shared data: every petitions month and every Wikipedia file.

`shared/data` holds 6 of the 25 petition months and 100 of the 700 files of the Korean Wikipedia
extraction; `manifests/*.tsv` (copies of its `petitions/MANIFEST.tsv` and `wiki/MANIFEST.tsv`)
list all of them with their git blob ids at pinned commits, so each download is verified byte for
byte (`python -m elmo.download --full`). `check_data_file` verifies any file a corpus source
reads under the data root, by whichever list knows it.
"""

from __future__ import annotations

import csv
from pathlib import Path, PurePosixPath

from elmo.data.download import (
    MANIFEST,
    PETITIONS_URL,
    SUMS_NAME,
    DataError,
    Source,
    _check_digest,
    _load_cache,
    _save_cache,
    read_sums,
)

MANIFESTS = Path(__file__).resolve().parent / "manifests"
# HyundongHwang/PyTorchDeepLearningStart: the extraction exists at this commit only (later ones
# deleted it); the shared/data README, section 5.
WIKI_COMMIT = "d462dbe5466d5ec6e49206110c1ae252d7db5f5f"
WIKI_URL = f"https://raw.githubusercontent.com/HyundongHwang/PyTorchDeepLearningStart/{WIKI_COMMIT}"


def _rows(name: str) -> list[dict[str, str]]:
    with open(MANIFESTS / name, encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f, delimiter="\t"))


def petition_sources() -> list[Source]:
    """All 25 months of lovit/petitions_archive at PETITIONS_COMMIT, by git blob id."""
    return [Source(f"petitions/{r['path']}", f"{PETITIONS_URL}/{r['path']}", git_blob=r["git_blob"],
                   size=int(r["bytes"]) if r["bytes"].isdigit() else None) for r in _rows("petitions.tsv")]  # fmt: skip


def wiki_sources(prefix: str = "") -> list[Source]:
    """The 700 WikiExtractor files (those whose path starts with `prefix`), by git blob id."""
    return [Source(f"wiki/{r['path']}", f"{WIKI_URL}/{r['path']}", git_blob=r["git_blob"], size=int(r["bytes"]))
            for r in _rows("wiki.tsv") if r["path"].startswith(prefix)]  # fmt: skip


def _merge(*lists: list[Source]) -> list[Source]:
    """Sources by path, the first list's entry winning (MANIFEST's sha256 over a blob id)."""
    out: dict[str, Source] = {}
    for sources in lists:
        for s in sources:
            out.setdefault(s.path, s)
    return list(out.values())


def base_sources() -> list[Source]:
    """What `python -m elmo.download` fetches: the shared/data files (KLUE, six months, wiki/text/AA)."""
    return _merge(MANIFEST, wiki_sources("text/AA/"))


def full_sources() -> list[Source]:
    """What `--full` (`make data`) fetches: the base files plus every month and every wiki file."""
    return _merge(base_sources(), petition_sources(), wiki_sources())


def check_data_file(root: Path, rel: str) -> None:
    """Verify root/rel by the first list that knows it: root/SHA256SUMS, a SHA256SUMS in one of
    its parent folders (shared/data's wiki/SHA256SUMS lists paths relative to wiki/), or the
    manifests' git blob ids. A file no list knows is an error: verification never passes silently.
    """
    root = Path(root)
    parts = PurePosixPath(rel).parts
    for depth in range(len(parts)):
        base = root.joinpath(*parts[:depth])
        sub = str(PurePosixPath(*parts[depth:]))
        if (base / SUMS_NAME).is_file():
            sums = read_sums(base)
            if sub in sums:
                _checked(base, sub, "sha256", sums[sub])
                return
    for src in full_sources():
        if src.path == rel:
            _checked(root, rel, *src.expected())
            return
    raise DataError(f"no checksum known for {root / rel}: it is in no {SUMS_NAME} under {root} nor in "
                    f"{MANIFESTS}; outside the data root a file is read unverified")  # fmt: skip


def _checked(base: Path, rel: str, algo: str, want: str) -> None:
    cache = _load_cache(base)
    try:
        _check_digest(base, rel, algo, want, cache)
    finally:
        _save_cache(base, cache)
