"""Fetch and verify the raw data (petitions corpus, KLUE YNAT / DP / NER).

The data root has the layout of `shared/data` (see its README for sources and licenses)::

    petitions/petitions_2017-08, petitions/petitions_2019-04 .. 2019-08
    klue/ynat/ynat-v1.1_{train,dev}.{tsv,json}
    klue/dp/klue-dp-v1.1_dev.tsv, klue/ner/klue-ner-v1.1_dev.tsv
    SHA256SUMS

`verify` checks a root against its SHA256SUMS; `download` fills a root from the pinned public
sources in `MANIFEST` and writes a SHA256SUMS so that `verify` works on it too. Every source is
pinned to a commit and to a digest, so a download is either byte-identical or an error.

CLI: ``python -m elmo.download [--full] [--root DIR] [--base-url URL]``; `--full` (what `make
data` runs) adds every petitions month and every Wikipedia file of `elmo.data.archive`.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from tqdm.auto import tqdm

from elmo.core.runs import REPO

SUMS_NAME = "SHA256SUMS"
CACHE_NAME = ".verify_cache.json"
CHUNK = 1 << 20
CONNECT_TIMEOUT = 5.0  # seconds for the first request: an offline machine should fail fast
RACY_SECONDS = 2.0  # files modified this recently are not cached (mtime has coarse resolution)

PETITIONS_COMMIT = "03dc3f3d69e03a0a4885350c6991e328fc0a6b81"  # lovit/petitions_archive
# KLUE-benchmark/KLUE main; the YNAT JSON blobs are the same here as at tag v1.1.0.
KLUE_COMMIT = "3efd98708a40ff49251fddde35453f8fbb11f536"
PETITIONS_URL = f"https://raw.githubusercontent.com/lovit/petitions_archive/{PETITIONS_COMMIT}"
KLUE_URL = f"https://raw.githubusercontent.com/KLUE-benchmark/KLUE/{KLUE_COMMIT}/klue_benchmark"

HOW_TO_GET = (
    "Get the data with `make data` (python -m elmo.download), or point ELMO_DATA at an existing "
    "copy with the layout of shared/data: export ELMO_DATA=/path/to/data"
)


class DataError(Exception):
    """Base class of the errors below, so callers can catch them all at once."""


class ChecksumError(DataError, ValueError):
    """A file's digest differs from the expected one."""


class MissingDataError(DataError, FileNotFoundError):
    """A data file (or the SHA256SUMS list) is absent."""


class DataDownloadError(DataError, RuntimeError):
    """A download failed: network unreachable, HTTP error, or bad content."""


@dataclass(frozen=True)
class Source:
    """One file to download: where it goes, where it comes from, and what it must hash to.

    Exactly one of `sha256` and `git_blob` is set; `git_blob` is used where only the source
    repository's blob id is known (the official YNAT JSON). `alternatives` are relative paths of
    files that stand in for this one when present (the YNAT TSV copies in shared/data).
    """

    path: str
    url: str
    sha256: str | None = None
    git_blob: str | None = None
    alternatives: tuple[str, ...] = ()
    size: int | None = None  # bytes, where the manifest knows them (for the progress bar)

    def url_for(self, base_url: str | None = None) -> str:
        """The pinned URL, or `base_url/path` when a mirror (or a test server) is given."""
        return self.url if base_url is None else f"{base_url.rstrip('/')}/{self.path}"

    def expected(self) -> tuple[str, str]:
        """(algorithm, hex digest) this file must match."""
        return ("sha256", self.sha256) if self.sha256 else ("git_blob", self.git_blob or "")


def _petitions(month: str, sha256: str) -> Source:
    name = f"petitions_{month}"
    return Source(f"petitions/{name}", f"{PETITIONS_URL}/{name}", sha256=sha256)


def _ynat(split: str, blob: str) -> Source:
    name = f"ynat-v1.1_{split}"
    return Source(f"klue/ynat/{name}.json", f"{KLUE_URL}/ynat-v1.1/{name}.json", git_blob=blob,
                  alternatives=(f"klue/ynat/{name}.tsv",))


def _klue_tsv(task: str, sha256: str) -> Source:
    name = f"klue-{task}-v1.1_dev.tsv"
    return Source(f"klue/{task}/{name}", f"{KLUE_URL}/klue-{task}-v1.1/{name}", sha256=sha256)


MANIFEST: list[Source] = [
    _petitions("2017-08", "13f09d466b6a8f5732bf5609f0799701dc397c5740d75275b5977bd9930c4729"),
    _petitions("2019-04", "6db47ca63b0f46731ec22a2043aa55bd2928efd620bf9cc8c52726f7962b2fc0"),
    _petitions("2019-05", "624dadd3d1f8b5ed9065e7b539095990dcb1babe40fb6b9d45f3feb025f8b5a6"),
    _petitions("2019-06", "28886a963d2fabdad0e90ec2d64adf42dc0668389250fb6a4969fad968240282"),
    _petitions("2019-07", "bc15c72d2e0e15ff0b05488127841a110784168149ef17f578622c9103771e12"),
    _petitions("2019-08", "6364e84171bb4ddbc03cf1445d91e19d05bfe568baeceb0a573079092e8a5500"),
    _ynat("train", "e74e912a66720294bd6fe70e69b0cd131a0a10d7"),
    _ynat("dev", "f4fb92cc5d967b586ea5172c3da8c379ba31caf9"),
    _klue_tsv("dp", "eb0d8532c0234934e058db0d31f2b01f093128715d6ae51f534a448434a48f01"),
    _klue_tsv("ner", "0f4d5e818f7b82d299c3a87856fc40a706f5943207580ddb252397e387050a54"),
]


def data_root() -> Path:
    """$ELMO_DATA if set, else `<repo>/data`."""
    env = os.environ.get("ELMO_DATA")
    return Path(env) if env else REPO / "data"


def _stream(path: Path):
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            yield chunk


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file, read in chunks."""
    h = hashlib.sha256()
    for chunk in _stream(Path(path)):
        h.update(chunk)
    return h.hexdigest()


def git_blob_sha1(path: Path) -> str:
    """What `git hash-object FILE` prints: sha1 of b"blob <size>\\0" + content."""
    path = Path(path)
    h = hashlib.sha1(b"blob %d\0" % path.stat().st_size)
    for chunk in _stream(path):
        h.update(chunk)
    return h.hexdigest()


_HASHERS = {"sha256": sha256_file, "git_blob": git_blob_sha1}


# Hashing ~20 MB takes a fraction of a second, but notebooks verify on every load; the cache
# maps a file's stat signature to its digest. Keyed on inode and ctime as well as size and
# mtime, so an edit that keeps size and mtime is still noticed.

_MEMORY_CACHE: dict[str, dict[str, list]] = {}


def _signature(st: os.stat_result) -> list:
    return [st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino]


def _load_cache(root: Path) -> dict[str, list]:
    key = str(root.resolve())
    if key not in _MEMORY_CACHE:
        try:
            _MEMORY_CACHE[key] = json.loads((root / CACHE_NAME).read_text())
        except (OSError, ValueError):
            _MEMORY_CACHE[key] = {}
    return _MEMORY_CACHE[key]


def _save_cache(root: Path, cache: dict[str, list]) -> None:
    """Write the cache atomically; a read-only root (shared/data) keeps it in memory only."""
    if not _writable(root):
        return
    try:
        _atomic_write_text(root / CACHE_NAME, json.dumps(cache, sort_keys=True))
    except OSError:
        pass


def _writable(root: Path) -> bool:
    """Writable for us AND not marked read-only: root ignores mode bits, but a r-x data copy
    (like shared/data) is meant to stay untouched even then."""
    try:
        return os.access(root, os.W_OK) and bool(root.stat().st_mode & 0o200)
    except OSError:
        return False


def _digest(root: Path, rel: str, algo: str, cache: dict[str, list]) -> str:
    """Digest of root/rel, from the cache when the file's stat signature is unchanged."""
    st = (root / rel).stat()
    key, sig = f"{algo}:{rel}", _signature(st)
    hit = cache.get(key)
    if hit and hit[:-1] == sig:
        return hit[-1]
    digest = _HASHERS[algo](root / rel)
    # A file written within the mtime granularity could change again unnoticed ("racy git").
    if time.time() - st.st_mtime > RACY_SECONDS:
        cache[key] = sig + [digest]
    return digest


def read_sums(root: Path) -> dict[str, str]:
    """Parse root/SHA256SUMS (`sha256sum` format) into {relative path: hex digest}."""
    sums_path = Path(root) / SUMS_NAME
    if not sums_path.is_file():
        raise MissingDataError(f"{sums_path} is missing, so {root} holds no verified data. "
                               + HOW_TO_GET)
    sums = {}
    for line in sums_path.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            digest, name = line.split(maxsplit=1)
            sums[name.lstrip("*")] = digest.lower()  # "*" marks binary mode in sha256sum
    return sums


def _check_present(root: Path, files: list[str]) -> None:
    missing = [f for f in files if not (root / f).is_file()]
    if missing:
        raise MissingDataError(f"missing data file(s) under {root}: {', '.join(missing)}. "
                               + HOW_TO_GET)


def _check_digest(root: Path, rel: str, algo: str, want: str, cache: dict) -> None:
    got = _digest(root, rel, algo, cache)
    if got != want:
        raise ChecksumError(f"{algo} mismatch for {root / rel}: expected {want}, got {got}. "
                            "The file is corrupt or a different version; delete it and "
                            "re-download (python -m elmo.download).")


def verify(root: Path, files: list[str] | None = None) -> None:
    """Check files under `root` against root/SHA256SUMS (all of them, or the `files` subset).

    Raises MissingDataError naming absent files, ChecksumError naming the file and both digests.
    A file not listed in SHA256SUMS is checked against MANIFEST if it is there, else it is an
    error: verification must never pass silently.
    """
    root = Path(root)
    sums = read_sums(root)
    files = list(sums) if files is None else [str(f) for f in files]
    _check_present(root, files)
    cache = _load_cache(root)
    try:
        for rel in files:
            _check_digest(root, rel, *_expected_for(rel, sums), cache)
    finally:
        _save_cache(root, cache)


def _expected_for(rel: str, sums: dict[str, str]) -> tuple[str, str]:
    if rel in sums:
        return "sha256", sums[rel]
    for src in MANIFEST:
        if src.path == rel:
            return src.expected()
    raise DataError(f"no checksum known for {rel}: it is neither in {SUMS_NAME} nor in MANIFEST")


def is_complete(root: Path, sources: list[Source] | None = None) -> bool:
    """True if root verifies and every entry of `sources` (default MANIFEST), or an alternative
    listed in SHA256SUMS, is present with its expected digest."""
    try:
        verify(root)
    except (DataError, ValueError):
        return False
    cache = _load_cache(Path(root))
    try:
        return all(_is_valid(Path(root), s, cache) for s in (MANIFEST if sources is None else sources))
    finally:
        _save_cache(Path(root), cache)


def _atomic_write_text(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def _is_valid(root: Path, src: Source, cache: dict) -> bool:
    """True if src (or an alternative already listed in root's SHA256SUMS) is present and valid."""
    try:
        _check_digest(root, src.path, *src.expected(), cache)
        return True
    except (OSError, ChecksumError):
        pass
    for alt in src.alternatives:
        try:
            verify(root, [alt])
            return True
        except DataError:
            continue
    return False


def _unreachable(url: str, err: BaseException) -> DataDownloadError:
    return DataDownloadError(
        f"cannot reach {url}: {err}. The network seems unreachable (offline machine?). "
        "Use an existing copy of the data instead: export ELMO_DATA=/path/to/data "
        "(a directory with the layout of shared/data).")


def _open(url: str, timeout: float):
    """urlopen, with every failure turned into a DataDownloadError at once (no retries)."""
    try:
        return urllib.request.urlopen(url, timeout=timeout)  # noqa: S310 (pinned https URLs)
    except urllib.error.HTTPError as err:
        raise DataDownloadError(f"HTTP {err.code} ({err.reason}) for {url}. {HOW_TO_GET}") from err
    except OSError as err:  # URLError, refused, DNS failure, timeout: all mean "unreachable"
        raise _unreachable(url, getattr(err, "reason", err)) from err


def _progress(total: int | None, name: str):
    return tqdm(total=total, desc=name, unit="B", unit_scale=True, leave=False)


def _fetch(url: str, dest: Path, timeout: float) -> Path:
    """Stream url into a temp file next to dest (same filesystem, so the final move is atomic)."""
    resp = _open(url, timeout)  # before touching the disk: an offline run leaves nothing behind
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as out, resp:
            bar = _progress(int(resp.headers.get("Content-Length") or 0) or None, dest.name)
            while chunk := resp.read(CHUNK):
                out.write(chunk)
                bar and bar.update(len(chunk))
            bar and bar.close()
    except (TimeoutError, ConnectionError, http.client.HTTPException) as err:
        Path(tmp).unlink(missing_ok=True)  # a partial file must never look like data
        msg = f"download of {url} was interrupted: {err!r}. {HOW_TO_GET}"
        raise DataDownloadError(msg) from err
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return Path(tmp)


def _install(tmp: Path, src: Source, dest: Path, url: str) -> None:
    """Check the downloaded temp file's digest, then move it into place (or delete it)."""
    algo, want = src.expected()
    got = _HASHERS[algo](tmp)
    if got != want:
        size = tmp.stat().st_size
        tmp.unlink(missing_ok=True)
        short = f" ({size:,} bytes of the expected {src.size:,}: truncated)" if src.size and size < src.size else ""
        raise ChecksumError(f"downloaded {src.path} from {url} has {algo} {got}, expected {want}{short}; "
                            "nothing was written. The source changed or the transfer was altered.")
    os.replace(tmp, dest)


def _write_sums(root: Path, cache: dict, sources: list[Source]) -> None:
    """Merge the sha256 of every present file of `sources` into root/SHA256SUMS."""
    try:
        sums = read_sums(root)
    except MissingDataError:
        sums = {}
    for src in sources:
        if (root / src.path).is_file():
            sums[src.path] = _digest(root, src.path, "sha256", cache)
    lines = [f"{digest}  {name}\n" for name, digest in sorted(sums.items())]
    _atomic_write_text(root / SUMS_NAME, "".join(lines))


def download(root: Path, base_url: str | None = None, timeout: float = 30, sources: list[Source] | None = None) -> None:
    """Download every file of `sources` (default MANIFEST) not already present and valid under
    root, then write SHA256SUMS.

    `base_url` replaces the pinned URLs by `base_url/<relative path>` (a mirror, or a test server).
    The first request uses a short timeout so that an offline machine fails within seconds. A
    file that fails its digest or its transfer is never installed, and the others go on; the
    failures are raised together at the end. A rerun fetches only what is still missing, so an
    interrupted download resumes file by file (a partial file is deleted, never kept).
    """
    root = Path(root)
    sources = MANIFEST if sources is None else sources
    cache = _load_cache(root)
    todo = [s for s in sources if not _is_valid(root, s, cache)]
    print(f"{len(sources) - len(todo)} of {len(sources)} files already valid in {root}; "
          f"downloading {len(todo)}.", file=sys.stderr)
    failed: list[DataError] = []
    installed = 0
    bar = tqdm(total=len(todo), desc="files", unit="file", disable=len(todo) < 2)
    try:
        for i, src in enumerate(todo):
            url, dest = src.url_for(base_url), root / src.path
            try:
                tmp = _fetch(url, dest, min(timeout, CONNECT_TIMEOUT) if i == 0 else timeout)
                _install(tmp, src, dest, url)
                installed += 1
            except DataDownloadError as err:
                if i == 0 and "unreachable" in str(err):
                    raise  # offline: fail fast, as before, instead of trying 700 files
                failed.append(err)
            except ChecksumError as err:
                failed.append(err)
            bar.update(1)
    finally:
        bar.close()
        if installed:
            root.mkdir(parents=True, exist_ok=True)
            _write_sums(root, cache, sources)
            _save_cache(root, cache)
    if failed:
        kind = ChecksumError if all(isinstance(e, ChecksumError) for e in failed) else DataDownloadError
        raise kind(f"{len(failed)} of {len(todo)} downloads failed; rerun to retry them:\n"
                   + "\n".join(f"  {e}" for e in failed))
