"""Tests of elmo.download against a local HTTP server serving small fixture files."""

from __future__ import annotations

import functools
import hashlib
import http.server
import os
import shutil
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest

from elmo import download as download_cli
from elmo.data import download as dl

REPO = Path(__file__).resolve().parents[2]

# Small stand-ins for the real files: same relative layout, made-up content.
FIXTURES = {
    "petitions/petitions_2017-08": '{"title": "청원", "content": "내용"}\n'.encode(),
    "klue/ynat/ynat-v1.1_dev.json": b'[{"guid": "ynat-v1_dev_00000", "title": "t", "label": 2}]',
    "klue/dp/klue-dp-v1.1_dev.tsv": "## g\t문장\n1\t문장\t문장\tNNG\t0\tNP\n".encode(),
}


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _blob(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def _write_tree(root: Path, files: dict[str, bytes]) -> None:
    for rel, data in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)


@pytest.fixture
def manifest(monkeypatch):
    """Point MANIFEST at the fixtures, with their true digests (the JSON one by git blob id)."""
    entries = [
        dl.Source(rel, f"https://invalid.example/{rel}",
                  git_blob=_blob(data) if rel.endswith(".json") else None,
                  sha256=None if rel.endswith(".json") else _sha256(data),
                  alternatives=(rel.replace(".json", ".tsv"),) if rel.endswith(".json") else ())
        for rel, data in FIXTURES.items()
    ]
    monkeypatch.setattr(dl, "MANIFEST", entries)
    return entries


@pytest.fixture
def server(tmp_path, monkeypatch):
    """A ThreadingHTTPServer on 127.0.0.1 serving a copy of FIXTURES; yields (base_url, dir)."""
    for var in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(var, raising=False)  # a proxy must not intercept 127.0.0.1
    served = tmp_path / "served"
    _write_tree(served, FIXTURES)

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):  # keep pytest output clean
            pass

    handler = functools.partial(Quiet, directory=str(served))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", served
    httpd.shutdown()
    httpd.server_close()


def test_download_then_verify(manifest, server, tmp_path):
    base_url, _ = server
    root = tmp_path / "data"
    dl.download(root, base_url=base_url)
    for rel, data in FIXTURES.items():
        assert (root / rel).read_bytes() == data
    dl.verify(root)  # the written SHA256SUMS covers every downloaded file
    assert set(dl.read_sums(root)) == set(FIXTURES)
    assert dl.is_complete(root)
    assert not list(root.rglob("*.part"))


def test_download_skips_valid_files(manifest, server, tmp_path):
    base_url, served = server
    root = tmp_path / "data"
    dl.download(root, base_url=base_url)
    shutil.rmtree(served)  # a second run must not need the server at all
    dl.download(root, base_url=base_url)


def test_listed_alternative_stands_in_for_json(manifest, server, tmp_path):
    """A root holding the YNAT TSV (as shared/data does) needs no YNAT JSON download."""
    base_url, served = server
    (served / "klue/ynat/ynat-v1.1_dev.json").unlink()  # a request for it would 404
    root, tsv = tmp_path / "data", "정치\t제목\n".encode()
    _write_tree(root, {"klue/ynat/ynat-v1.1_dev.tsv": tsv})
    (root / dl.SUMS_NAME).write_text(f"{_sha256(tsv)}  klue/ynat/ynat-v1.1_dev.tsv\n")
    dl.download(root, base_url=base_url)
    assert not (root / "klue/ynat/ynat-v1.1_dev.json").exists()
    assert dl.is_complete(root)


def test_tampered_file_is_rejected(manifest, server, tmp_path):
    base_url, served = server
    rel = "petitions/petitions_2017-08"
    (served / rel).write_bytes(FIXTURES[rel] + b"tampered")
    root = tmp_path / "data"
    with pytest.raises(dl.ChecksumError, match=rel):
        dl.download(root, base_url=base_url)
    assert not (root / rel).exists()
    assert not list(root.rglob("*.part"))  # the temp file is gone too


def test_http_404_is_a_clear_error(manifest, server, tmp_path):
    base_url, served = server
    (served / "klue/dp/klue-dp-v1.1_dev.tsv").unlink()
    with pytest.raises(dl.DataDownloadError, match=r"HTTP 404.*klue-dp-v1\.1_dev\.tsv"):
        dl.download(tmp_path / "data", base_url=base_url)


def test_unreachable_server_fails_fast(manifest, tmp_path):
    with socket.socket() as s:  # bind then close: nothing listens on this port afterwards
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    start = time.monotonic()
    with pytest.raises(dl.DataDownloadError, match="ELMO_DATA") as info:
        dl.download(tmp_path / "data", base_url=f"http://127.0.0.1:{port}")
    assert time.monotonic() - start < 5
    assert "unreachable" in str(info.value)
    assert not (tmp_path / "data").exists()  # nothing half-made left behind


def test_cli_reports_failure(manifest, tmp_path, capsys):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    rc = download_cli.main(["--root", str(tmp_path / "data"), "--base-url", f"http://127.0.0.1:{port}"])
    assert rc != 0
    assert "ELMO_DATA" in capsys.readouterr().err


def _fixture_root(tmp_path: Path) -> Path:
    root = tmp_path / "copy"
    _write_tree(root, FIXTURES)
    sums = "".join(f"{_sha256(d)}  {rel}\n" for rel, d in FIXTURES.items())
    (root / dl.SUMS_NAME).write_text(sums)
    return root


def test_verify_catches_one_byte_change(tmp_path):
    root = _fixture_root(tmp_path)
    dl.verify(root)
    rel = "klue/dp/klue-dp-v1.1_dev.tsv"
    data = bytearray(FIXTURES[rel])
    data[0] ^= 1
    (root / rel).write_bytes(bytes(data))
    with pytest.raises(dl.ChecksumError) as info:
        dl.verify(root)
    msg = str(info.value)
    assert rel in msg and _sha256(FIXTURES[rel]) in msg and _sha256(bytes(data)) in msg


def test_verify_cache_notices_same_size_same_mtime_edit(tmp_path):
    root = _fixture_root(tmp_path)
    rel = "petitions/petitions_2017-08"
    old = time.time() - 3600  # old enough to be cached
    os.utime(root / rel, (old, old))
    dl.verify(root)
    assert (root / dl.CACHE_NAME).exists()
    data = bytearray(FIXTURES[rel])
    data[-2] ^= 1
    (root / rel).write_bytes(bytes(data))
    os.utime(root / rel, (old, old))  # same size, same mtime: only ctime tells them apart
    with pytest.raises(dl.ChecksumError, match=rel):
        dl.verify(root)


def test_verify_missing_file(tmp_path):
    root = _fixture_root(tmp_path)
    (root / "klue/ynat/ynat-v1.1_dev.json").unlink()
    with pytest.raises(dl.MissingDataError, match=r"ynat-v1\.1_dev\.json.*ELMO_DATA"):
        dl.verify(root)
    dl.verify(root, ["petitions/petitions_2017-08"])  # a subset without it still passes


def test_verify_without_sums_file(tmp_path):
    with pytest.raises(dl.MissingDataError, match="SHA256SUMS"):
        dl.verify(tmp_path)


def test_git_blob_sha1_matches_git(tmp_path):
    path = tmp_path / "f.txt"
    path.write_bytes("한국어 ELMo\n\x00binary".encode())
    out = subprocess.run(["git", "hash-object", str(path)], check=True, capture_output=True,
                         text=True).stdout.strip()
    assert dl.git_blob_sha1(path) == out


def test_manifest_urls_and_base_url():
    src = next(s for s in dl.MANIFEST if s.path == "klue/dp/klue-dp-v1.1_dev.tsv")
    assert src.url.startswith("https://raw.githubusercontent.com/KLUE-benchmark/KLUE/")
    assert src.url_for("http://mirror/x/") == "http://mirror/x/klue/dp/klue-dp-v1.1_dev.tsv"
    assert all((s.sha256 is None) != (s.git_blob is None) for s in dl.MANIFEST)


def test_data_root_env(monkeypatch, tmp_path):
    monkeypatch.setenv("ELMO_DATA", str(tmp_path))
    assert dl.data_root() == tmp_path
    monkeypatch.delenv("ELMO_DATA")
    assert dl.data_root() == REPO / "data"


def _shared_data() -> Path | None:
    for cand in (os.environ.get("ELMO_DATA"), REPO.parent / "shared" / "data"):
        if cand and (Path(cand) / dl.SUMS_NAME).is_file():
            return Path(cand)
    return None


@pytest.mark.skipif(_shared_data() is None, reason="no real data (ELMO_DATA or ../shared/data)")
def test_verify_real_shared_data():
    root = _shared_data()
    before = sorted(p.name for p in root.iterdir())
    dl.verify(root)
    assert dl.is_complete(root)
    if not dl._writable(root):
        assert sorted(p.name for p in root.iterdir()) == before  # a read-only copy stays untouched
    # The manifest's sha256 digests agree with the real SHA256SUMS where both list a file.
    sums = dl.read_sums(root)
    for src in dl.MANIFEST:
        if src.sha256 and src.path in sums:
            assert sums[src.path] == src.sha256


# ------------------------------------------------------------------ the whole archives (--full)

ARCHIVE = {
    "petitions/petitions_2018-01": '{"petition_idx": "1", "title": "가", "content": "나"}\n'.encode() * 50,
    "wiki/text/AB/wiki_00": '<doc id="1" url="u" title="t">\nt\n\n본문\n</doc>\n'.encode() * 40,
    "wiki/text/AB/wiki_01": '<doc id="2" url="u" title="s">\ns\n\n글\n</doc>\n'.encode() * 40,
    "wiki/text/AB/wiki_02": '<doc id="3" url="u" title="r">\nr\n\n문단\n</doc>\n'.encode() * 40,
}
CORRUPT, TRUNCATED = "wiki/text/AB/wiki_01", "wiki/text/AB/wiki_02"


@pytest.fixture
def archive(tmp_path, monkeypatch):
    """A local server holding the archive files, one corrupted and one truncated; the sources
    carry the true blob ids and sizes, as the manifests do."""
    for var in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(var, raising=False)
    served = tmp_path / "served"
    bad = dict(ARCHIVE)
    bad[CORRUPT] = bytes([ARCHIVE[CORRUPT][0] ^ 1]) + ARCHIVE[CORRUPT][1:]
    bad[TRUNCATED] = ARCHIVE[TRUNCATED][: len(ARCHIVE[TRUNCATED]) // 2]
    _write_tree(served, bad)
    requests = []

    class Counting(http.server.SimpleHTTPRequestHandler):
        def log_message(self, fmt, *args):
            requests.append(self.path)

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Counting, directory=str(served)))
    threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True).start()
    sources = [dl.Source(rel, f"https://invalid.example/{rel}", git_blob=_blob(d), size=len(d)) for rel, d in ARCHIVE.items()]
    yield f"http://127.0.0.1:{httpd.server_address[1]}", served, sources, requests
    httpd.shutdown()
    httpd.server_close()


def test_full_download_refuses_corrupted_and_truncated_and_keeps_the_rest(archive, tmp_path):
    base_url, served, sources, requests = archive
    root = tmp_path / "data"
    with pytest.raises(dl.ChecksumError) as info:
        dl.download(root, base_url=base_url, sources=sources)
    msg = str(info.value)
    corrupted = bytes([ARCHIVE[CORRUPT][0] ^ 1]) + ARCHIVE[CORRUPT][1:]
    assert CORRUPT in msg and _blob(ARCHIVE[CORRUPT]) in msg and _blob(corrupted) in msg  # name and both digests
    assert TRUNCATED in msg and "truncated" in msg and "2 of 4 downloads failed" in msg
    for rel in (CORRUPT, TRUNCATED):
        assert not (root / rel).exists()
    assert not [p for p in root.rglob("*") if p.name.endswith(".part")]  # nothing half-written stays
    for rel in ("petitions/petitions_2018-01", "wiki/text/AB/wiki_00"):
        assert (root / rel).read_bytes() == ARCHIVE[rel]
    assert set(dl.read_sums(root)) == {"petitions/petitions_2018-01", "wiki/text/AB/wiki_00"}
    # Resuming: once the server is fixed, a rerun fetches only the two that are missing.
    _write_tree(served, {CORRUPT: ARCHIVE[CORRUPT], TRUNCATED: ARCHIVE[TRUNCATED]})
    requests.clear()
    dl.download(root, base_url=base_url, sources=sources)
    assert sorted(requests) == sorted([f"/{CORRUPT}", f"/{TRUNCATED}"])
    assert dl.is_complete(root, sources)


def test_full_cli_offline_fails_fast_with_todays_message(tmp_path, capsys, monkeypatch):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    start = time.monotonic()
    rc = download_cli.main(["--full", "--root", str(tmp_path / "data"), "--base-url", f"http://127.0.0.1:{port}"])
    err = capsys.readouterr().err
    assert rc == 1 and time.monotonic() - start < 5
    assert "unreachable" in err and "ELMO_DATA" in err
    assert not (tmp_path / "data").exists()


def test_archive_manifests_cover_every_month_and_wiki_file():
    from elmo.data import archive

    full = archive.full_sources()
    paths = [s.path for s in full]
    assert len(paths) == len(set(paths))
    months = [p for p in paths if p.startswith("petitions/petitions_")]
    wiki = [s for s in full if s.path.startswith("wiki/")]
    assert len(months) == 25 and len(wiki) == 700
    assert all(s.url.startswith(f"{archive.WIKI_URL}/text/") and s.git_blob and s.size is not None for s in wiki)
    assert sum(s.size for s in wiki) == 719_672_316  # the shared/data README's total
    base = {s.path for s in archive.base_sources()}
    assert {s.path for s in dl.MANIFEST} <= base and sum(p.startswith("wiki/text/AA/") for p in base) == 100


@pytest.mark.skipif(_shared_data() is None, reason="no real data (ELMO_DATA or ../shared/data)")
def test_shared_data_is_complete_for_the_base_download_and_wiki_files_verify():
    from elmo.data import archive

    root = _shared_data()
    assert dl.is_complete(root, archive.base_sources())
    archive.check_data_file(root, "wiki/text/AA/wiki_07")  # by wiki/SHA256SUMS
    with pytest.raises(dl.DataError, match="no checksum known"):
        archive.check_data_file(root, "petitions/MANIFEST.tsv")
