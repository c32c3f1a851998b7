"""LayerCache: the frozen biLM's layers of a fixed list of sentences, computed once, memory-mapped.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
import uuid
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from tqdm.auto import tqdm

from elmo.bilm.model import CONFIG_FILE, ENCODER_FILE
from elmo.embed.elmo import Elmo, Sentences, check_sentences

CACHE_FORMAT = 1  # bump when the on-disk layout changes: old caches then get new keys
LAYERS_FILE, OFFSETS_FILE, META_FILE = "layers.f16", "offsets.npy", "meta.json"


class LayerCache:
    """The L + 1 biLM layers of a fixed list of sentences, float16 on disk, memory-mapped.

    A cache directory holds
        layers.f16   (N_tokens, L+1, D) float16, sentences one after another (no <bos>/<eos>);
                     token-major, so each sentence is one contiguous read,
        offsets.npy  (N + 1,) int64, sentence i is rows offsets[i]:offsets[i+1],
        meta.json    key, sizes, the artifact's sha256 and the embedding throughput.
    Open an existing one with `LayerCache(directory)`; make (or reopen) one with `build`.
    """

    def __init__(self, directory: str | Path):
        self.directory = Path(directory)
        self.meta = _read_meta(self.directory)
        if self.meta is None or not _is_complete(self.directory, self.meta):
            raise FileNotFoundError(f"{self.directory} is not a complete layer cache")
        self.offsets = np.load(self.directory / OFFSETS_FILE)
        shape = (int(self.offsets[-1]), self.n_layers, self.dim)
        if shape[0] == 0:  # mmap cannot map an empty file
            self._layers = np.zeros(shape, dtype=np.float16)
        else:
            self._layers = np.memmap(self.directory / LAYERS_FILE, np.float16, "r", shape=shape)

    @property
    def n_layers(self) -> int:
        """L + 1."""
        return int(self.meta["n_layers"])

    @property
    def dim(self) -> int:
        """D = 2 * proj_dim."""
        return int(self.meta["dim"])

    @property
    def lengths(self) -> np.ndarray:
        """(N,) tokens per sentence."""
        return np.diff(self.offsets)

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def __getitem__(self, i: int) -> np.ndarray:
        """(L+1, T_i, D) float16, a copy (independent of the memory map)."""
        if not -len(self) <= i < len(self):
            raise IndexError(f"sentence {i} of a cache of {len(self)}")
        i %= len(self)
        # (T_i, L+1, D) rows on disk -> (L+1, T_i, D) as `Elmo.layers` returns them.
        return np.ascontiguousarray(self._layers[self.offsets[i] : self.offsets[i + 1]].transpose(1, 0, 2))

    def batch(self, indices: Sequence[int]) -> tuple[torch.Tensor, torch.Tensor]:
        """Padded layers of some sentences, ready for `Elmo.mix_cached`.

        # Returns
        layers : (L+1, B, T, D) float32, zero at pads; T = the longest of these sentences.
        mask : (B, T) bool.
        """
        indices = np.asarray([int(i) % len(self) for i in indices], dtype=np.int64)
        lengths = self.lengths[indices]
        t = int(lengths.max()) if len(indices) else 0
        # (B, T) the file row of each position; `real` marks positions inside their sentence.
        rows = self.offsets[indices][:, None] + np.arange(t)[None, :]
        real = np.arange(t)[None, :] < lengths[:, None]
        # One gather of all real rows, written straight into (L+1, B, T, D): (n_real, L+1, D)
        # transposed to (L+1, n_real, D). Pads stay zero.
        out = np.zeros((self.n_layers, len(indices), t, self.dim), dtype=np.float32)
        out[:, real] = self._layers[rows[real]].transpose(1, 0, 2)
        return torch.from_numpy(out), torch.from_numpy(real)

    @classmethod
    def build(
        cls,
        bilm_dir: str | Path,
        sentences: Sentences,
        cache_root: str | Path,
        batch_size: int = 256,
        progress: bool = True,
        device: str | torch.device | None = None,
    ) -> "LayerCache":
        """Embed `sentences` with the saved biLM in `bilm_dir`, or reopen the cache made earlier.

        # Parameters
        bilm_dir : a `BiLM.save_pretrained` directory.
        sentences : N tokenized sentences (empty ones allowed: they get 0 rows).
        cache_root : where cache directories live; each is named by a key hashing the weights'
            sha256 (from config.json), encoder.json and the sentences, so a new artifact or a
            new sentence list never reads a stale cache.
        batch_size : sentences per biLM call (sentences are batched by length).
        progress : show a progress bar.
        device : where the biLM runs (default: CUDA when available, else CPU).

        # Returns
        The `LayerCache`; `cache.meta["throughput"]` has the embedding speed of the build that
        made it.
        """
        check_sentences(sentences)
        bilm_dir, cache_root = Path(bilm_dir), Path(cache_root)
        key = cache_key(bilm_dir, sentences)
        final = cache_root / f"layers-{key[:24]}"
        meta = _read_meta(final)
        if meta is not None and meta.get("key") == key and _is_complete(final, meta):
            return cls(final)
        if final.exists():  # left by something other than this function's atomic rename
            shutil.rmtree(final)

        cache_root.mkdir(parents=True, exist_ok=True)
        tmp = cache_root / f".tmp-{key[:24]}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        tmp.mkdir()
        try:
            meta = _write_cache(tmp, bilm_dir, sentences, batch_size, progress, device)
            meta["key"] = key
            meta["bilm_dir"] = str(bilm_dir)
            _write_json(tmp / META_FILE, meta)  # last: its presence marks the files complete
            try:
                os.rename(tmp, final)
            except OSError:
                # A concurrent build renamed its copy first; keep that one.
                if _read_meta(final) is None:
                    raise
                shutil.rmtree(tmp)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return cls(final)


def cache_key(bilm_dir: str | Path, sentences: Sentences) -> str:
    """sha256 hex of the cache format, the weights' sha256, encoder.json and the sentences."""
    bilm_dir = Path(bilm_dir)
    for name in (CONFIG_FILE, ENCODER_FILE):
        if not (bilm_dir / name).is_file():
            raise FileNotFoundError(f"pretrained biLM {bilm_dir}: missing {name}")
    config = json.loads((bilm_dir / CONFIG_FILE).read_text(encoding="utf-8"))
    digest = hashlib.sha256()
    digest.update(f"elmo-ko-layer-cache {CACHE_FORMAT}\n".encode())
    digest.update(f"{config['weights_sha256']}\n".encode())
    digest.update((bilm_dir / ENCODER_FILE).read_bytes())
    digest.update(f"\n{len(sentences)}\n".encode())
    for sent in sentences:
        # One JSON line per sentence: unambiguous however tokens contain spaces or newlines.
        digest.update(json.dumps(list(sent), ensure_ascii=False).encode("utf-8"))
        digest.update(b"\n")
    return digest.hexdigest()


def _write_cache(
    directory: Path,
    bilm_dir: Path,
    sentences: Sentences,
    batch_size: int,
    progress: bool,
    device: str | torch.device | None,
) -> dict:
    """Write layers.f16 and offsets.npy into `directory`; return the meta (without its key)."""
    if device is None:
        device = "cuda" if torch.cuda.is_available() else "cpu"
    elmo = Elmo(bilm_dir).to(device)
    lengths = np.array([len(s) for s in sentences], dtype=np.int64)
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    shape = (int(offsets[-1]), elmo.num_layers, elmo.output_dim)
    np.save(directory / OFFSETS_FILE, offsets)
    if shape[0] == 0:
        (directory / LAYERS_FILE).touch()
        out = np.zeros(shape, dtype=np.float16)
    else:
        out = np.memmap(directory / LAYERS_FILE, np.float16, "w+", shape=shape)
    start = time.perf_counter()
    _embed_into(elmo, sentences, offsets, out, batch_size, progress)
    seconds = time.perf_counter() - start
    if isinstance(out, np.memmap):
        out.flush()
        del out
    config = json.loads((bilm_dir / CONFIG_FILE).read_text(encoding="utf-8"))
    return {
        "format": CACHE_FORMAT,
        "n_sentences": len(sentences),
        "n_tokens": int(offsets[-1]),
        "n_layers": elmo.num_layers,
        "dim": elmo.output_dim,
        "dtype": "float16",
        "weights_sha256": config["weights_sha256"],
        "throughput": {
            "seconds": seconds,
            "sentences_per_s": len(sentences) / max(seconds, 1e-9),
            "tokens_per_s": int(offsets[-1]) / max(seconds, 1e-9),
            "batch_size": batch_size,
            "device": str(device),
            "torch_threads": torch.get_num_threads(),
        },
    }


def _embed_into(
    elmo: Elmo,
    sentences: Sentences,
    offsets: np.ndarray,
    out: np.ndarray,
    batch_size: int,
    progress: bool,
) -> None:
    """Run the biLM over all sentences, longest first, writing each into its rows of `out`.

    Batching sentences of similar length wastes little compute on pads; longest first makes a
    batch that does not fit in memory fail at once, not at the end. Rows are addressed by the
    original index, so the order on disk is the input order.
    """
    order = np.argsort(-np.diff(offsets), kind="stable")
    with tqdm(total=len(sentences), desc="embedding", unit="sent", disable=not progress) as bar:
        for start in range(0, len(order), batch_size):
            chunk = order[start : start + batch_size]
            layers, mask = elmo.layers([sentences[i] for i in chunk])
            # (L+1, B, T', D) -> (B, T', L+1, D): token-major like the file.
            rows = layers.permute(1, 2, 0, 3).to(torch.float16).cpu().numpy()
            for b, i in enumerate(chunk):
                n = offsets[i + 1] - offsets[i]
                out[offsets[i] : offsets[i + 1]] = rows[b, :n]
            bar.update(len(chunk))


def _read_meta(directory: Path) -> dict | None:
    try:
        return json.loads((directory / META_FILE).read_text(encoding="utf-8"))
    except (FileNotFoundError, NotADirectoryError, json.JSONDecodeError):
        return None


def _is_complete(directory: Path, meta: dict) -> bool:
    """meta.json is written last; also check the files have the sizes it promises."""
    try:
        offsets = np.load(directory / OFFSETS_FILE)
        size = (directory / LAYERS_FILE).stat().st_size
        expected = int(meta["n_tokens"]) * int(meta["n_layers"]) * int(meta["dim"]) * 2
        n_sentences = int(meta["n_sentences"])
    except (OSError, ValueError, KeyError, TypeError):
        return False
    return len(offsets) == n_sentences + 1 and int(offsets[-1]) == meta["n_tokens"] and size == expected


def _write_json(path: Path, obj: dict) -> None:
    with open(path, "w", encoding="utf-8") as f:
        json.dump(obj, f, ensure_ascii=False, indent=2)
