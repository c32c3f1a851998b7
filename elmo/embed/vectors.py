"""ELMo vectors for a file of sentences: `python -m elmo.embed --artifact DIR INPUT OUTPUT`.

What AllenNLP's `elmo` command did (removed in 1.0): each line of INPUT is one raw sentence; it
is tokenized with the artifact's own tokenizer (its `encoder.json` settings), run through the
biLM in batches (sentences of similar length together), and its layers are written under the
line's 0-based index, as AllenNLP keyed them, beside its tokens.

    layers="all" : (L+1, n, D) per sentence, layer 0 the char-CNN, then each biLSTM layer
    layers="mix" : (n, D), `Elmo`'s untrained scalar mix: softmax(0) weights and gamma 1, i.e.
                   the mean of the L+1 layers (a task learns its own weights; see elmo.ynat)
    layers=j     : (n, D), layer j only

OUTPUT `*.h5`/`*.hdf5` (h5py; dataset "<index>" with attributes "tokens" (JSON) and
"line_number" (1-based)) or `*.npz` (arrays "<index>", and "tokens": the JSON token list of each
line). An empty line gets an array with n = 0. The file is written to a temporary name and
renamed at the end, so an interrupted run leaves no half-written OUTPUT.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np
import torch
from tqdm.auto import tqdm

from elmo.data.documents import read_lines
from elmo.data.text import Tokenizer
from elmo.embed.elmo import Elmo

FORMATS = {".h5": "hdf5", ".hdf5": "hdf5", ".npz": "npz"}


@dataclass
class EmbedSummary:
    sentences: int
    empty: int
    tokens: int
    layers: str
    shape: tuple[int, ...]  # of one sentence of n tokens, n written as -1
    output: str


def parse_layers(value: str) -> str | int:
    """"all", "mix" or a layer index."""
    if value in ("all", "mix"):
        return value
    try:
        return int(value)
    except ValueError:
        raise ValueError(f"--layers must be all, mix or a layer number, not {value!r}") from None


def select(elmo: Elmo, layers: torch.Tensor, mask: torch.Tensor, which: str | int) -> torch.Tensor:
    """(L+1, B, T, D) layers -> what `which` asks for: (L+1, B, T, D) or (B, T, D)."""
    if which == "all":
        return layers
    if which == "mix":
        return elmo.mix_cached(layers, mask)[0]
    return layers[which]


def embed_file(artifact: str | Path, input_path: str | Path, output: str | Path, layers: str | int = "all",
               batch_size: int = 64, progress: bool = True) -> EmbedSummary:  # fmt: skip
    """Write the ELMo layers of every line of `input_path` to `output` (see the module docstring)."""
    output = Path(output)
    kind = FORMATS.get(output.suffix.lower())
    if kind is None:
        raise ValueError(f"{output}: the output must end in .h5, .hdf5 or .npz")
    elmo = Elmo(artifact).eval()
    if isinstance(layers, int) and not 0 <= layers < elmo.num_layers:  # before any work
        raise ValueError(f"layer {layers} does not exist: this biLM has layers 0..{elmo.num_layers - 1}")
    lines = [line for _, line in read_lines(Path(input_path))]
    tokenizer = Tokenizer(elmo.encoder.settings, num_workers=2)
    tokens = tokenizer.tokenize_many(lines) if lines else []
    order = sorted(range(len(tokens)), key=lambda i: len(tokens[i]))  # similar lengths batch together
    tmp = output.with_name(f".{output.name}.{os.getpid()}.tmp")
    arrays: dict[str, np.ndarray] = {}
    h5 = h5py.File(tmp, "w") if kind == "hdf5" else None
    try:
        bar = tqdm(total=len(order), desc="embedding", unit="sentence", disable=not progress)
        for start in range(0, len(order), batch_size):
            idx = order[start : start + batch_size]
            with torch.no_grad():
                out, mask = elmo.layers([tokens[i] for i in idx])
                out = select(elmo, out, mask, layers)
            for b, i in enumerate(idx):
                n = len(tokens[i])
                # (L+1, B, T, D) -> (L+1, n, D); (B, T, D) -> (n, D)
                vec = (out[:, b, :n] if layers == "all" else out[b, :n]).float().numpy()
                if h5 is not None:
                    ds = h5.create_dataset(str(i), data=vec)
                    ds.attrs["tokens"] = json.dumps(tokens[i], ensure_ascii=False)
                    ds.attrs["line_number"] = i + 1
                else:
                    arrays[str(i)] = vec
            bar.update(len(idx))
        bar.close()
        meta = {"artifact": str(artifact), "layers": str(layers), "sentences": len(lines)}
        if h5 is not None:
            h5.attrs.update(meta)
            h5.close()
        else:
            np.savez(tmp, **arrays, tokens=np.array([json.dumps(t, ensure_ascii=False) for t in tokens], dtype=str),
                     meta=np.array(json.dumps(meta)))  # fmt: skip
            Path(f"{tmp}.npz").replace(tmp)  # np.savez appends .npz to a name without it
        tmp.replace(output)
    except BaseException:
        if h5 is not None and h5.id.valid:
            h5.close()
        tmp.unlink(missing_ok=True)
        Path(f"{tmp}.npz").unlink(missing_ok=True)
        raise
    dim = elmo.output_dim
    shape = (elmo.num_layers, -1, dim) if layers == "all" else (-1, dim)
    return EmbedSummary(len(lines), sum(1 for t in tokens if not t), sum(len(t) for t in tokens), str(layers), shape,
                        str(output))  # fmt: skip
