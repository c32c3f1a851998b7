"""Features of each eojeol: every biLM layer, the learned mix, GloVe and a random-biLM control.
"""
from __future__ import annotations

from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import torch

from elmo.bilm.model import BiLM
from elmo.probing.align import Aligned, pool_spans, span_sums
from elmo.probing.tasks import CONTROL, GLOVE, MIX, layer_name
from elmo.ynat.results import FinetuneResults


def contextual_features(elmo, aligned: Sequence[Aligned], batch_size: int = 64) -> np.ndarray:
    """Every biLM layer of every eojeol, each sentence read as a whole.

    elmo : an `elmo.embed.elmo.Elmo` (its mixes are not used here).
    aligned : S sentences from `align_sentences`.
    Returns (L+1, N, D) float32, N = total eojeols in sentence order, D = 2 * proj_dim.
    """
    n_words = np.array([len(a.spans) for a in aligned], dtype=np.int64)
    offsets = np.concatenate([[0], np.cumsum(n_words)])
    out = np.zeros((elmo.num_layers, int(offsets[-1]), elmo.output_dim), dtype=np.float32)
    # Batches of similar lengths waste little on padding; the order does not change the vectors.
    order = np.argsort([len(a.tokens) for a in aligned], kind="stable")
    for start in range(0, len(order), batch_size):
        batch = order[start:start + batch_size]
        layers, _ = elmo.layers([aligned[i].tokens for i in batch])  # (L+1, B, T', D)
        layers = layers.float().cpu().numpy()
        for b, i in enumerate(batch):
            t = len(aligned[i].tokens)
            out[:, offsets[i]:offsets[i + 1]] = pool_spans(layers[:, b, :t], aligned[i].spans)
    return out


def mix_layers(layers: np.ndarray, weights: Sequence[float], gamma: float = 1.0) -> np.ndarray:
    """gamma * sum_j s_j * layers[j]: (L+1, N, D) -> (N, D), with s_j already normalised."""
    w = np.asarray(weights, dtype=np.float64)
    if w.shape != (layers.shape[0],):
        raise ValueError(f"{len(w)} mix weights for {layers.shape[0]} layers")
    return (gamma * np.tensordot(w, layers, axes=1)).astype(np.float32)


def static_features(static, aligned: Sequence[Aligned]) -> tuple[np.ndarray, dict]:
    """GloVe per eojeol: the mean of its in-vocabulary morphemes' vectors, zero if it has none.

    static : `elmo.embed.glove.StaticVectors` (vocab, vectors (V, dim)).
    Returns (features (N, dim) float32, {"token_oov_rate", "word_oov_rate"}), the rates in %:
    the share of morphemes outside the GloVe vocabulary, and of eojeols with none inside it
    (those are the zero vectors).
    """
    index = {w: i for i, w in enumerate(static.vocab)}
    table = np.vstack([static.vectors, np.zeros((1, static.dim), np.float32)])  # row -1: OOV, zero
    feats, n_tok, n_oov, n_word, n_zero = [], 0, 0, 0, 0
    for a in aligned:
        ids = np.array([index.get(t, -1) for t in a.tokens], dtype=np.int64)
        # Sum of the known vectors (OOV rows are zero) over the count of known morphemes.
        counts = span_sums((ids >= 0)[:, None], a.spans)[:, 0]
        feats.append(span_sums(table[ids], a.spans) / np.maximum(counts, 1)[:, None])
        n_tok, n_oov = n_tok + len(ids), n_oov + int((ids < 0).sum())
        n_word, n_zero = n_word + len(a.spans), n_zero + int((counts == 0).sum())
    dim = static.dim
    features = np.concatenate(feats).astype(np.float32) if feats else np.zeros((0, dim), np.float32)
    return features, {"token_oov_rate": 100.0 * n_oov / max(n_tok, 1),
                      "word_oov_rate": 100.0 * n_zero / max(n_word, 1)}


def random_bilm(bilm: BiLM, seed: int = 0) -> BiLM:
    """A freshly initialised biLM of the same shape, reading through the same TextEncoder.

    The control of the probes: whatever it scores comes from the architecture (character CNN over
    the same characters, LSTMs over the same token sequence), not from language-model training.
    The global RNG is left as it was.
    """
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = BiLM(bilm.cfg, bilm.n_tokens, bilm.n_chars)
    model.encoder = bilm.encoder
    return model.eval()


def learned_mix(results_dir: Path, n_layers: int, key: str) -> dict:
    """The softmax-normalised s_j and gamma that 03's model `key` learned, averaged over its seeds.

    results_dir : the profile's run folder, where 03 wrote its `FinetuneResults`.
    key : a `FinetuneConfig.models` key (06 probes `FinetuneConfig.probe_model`).
    Returns {"weights": [s_0..s_L], "gamma", "n_runs", "source"}; the uniform mix with gamma 1
    (and a `source` that says so) when 03 has not run or has no such model.
    """
    saved = FinetuneResults.read(results_dir)
    runs = [r for r in (saved.runs.get(key, []) if saved else []) if r.get("mix_weights") is not None]
    where = Path(results_dir) / FinetuneResults.FILE
    if not runs:
        return {"weights": [1.0 / n_layers] * n_layers, "gamma": 1.0, "n_runs": 0,
                "source": f"uniform mix, gamma 1: no '{key}' runs in {where}"}
    weights = np.mean([r["mix_weights"] for r in runs], axis=0)
    if weights.shape != (n_layers,):
        raise ValueError(f"{where}: {len(weights)} mix weights, the biLM has {n_layers} layers")
    return {"weights": weights.tolist(), "gamma": float(np.mean([r["gamma"] for r in runs])),
            "n_runs": len(runs), "source": f"'{key}' in {where}, mean of {len(runs)} seed(s)"}


def task_features(aligned: Sequence[Aligned], elmo, control, static, mix: Mapping,
                  batch_size: int = 64) -> tuple[dict[str, np.ndarray], dict]:
    """All probed features of one task's eojeols.

    Returns ({key: (N, D_key) float32} for "layer0".."layerL", MIX, GLOVE, CONTROL, in that
    order; {"token_oov_rate", "word_oov_rate"} of GloVe). The control uses the same s_j and gamma
    as the ELMo mix, applied to the random biLM's layers.
    """
    layers = contextual_features(elmo, aligned, batch_size)
    feats = {layer_name(j): layers[j] for j in range(len(layers))}
    feats[MIX] = mix_layers(layers, mix["weights"], mix["gamma"])
    feats[GLOVE], oov = static_features(static, aligned)
    control_layers = contextual_features(control, aligned, batch_size)
    feats[CONTROL] = mix_layers(control_layers, mix["weights"], mix["gamma"])
    return feats, oov
