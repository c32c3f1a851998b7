"""What `02_pretrain` shows: learning curves, perplexity beside an n-gram reference, neighbours.

The n-gram reference is fitted on the same training tokens and evaluated on the same held-out
sentences with the same vocabulary (tokens outside it are `<unk>` for both models), and it
predicts the same tokens: the forward model tok_1..tok_n and <eos>, the backward model
tok_n..tok_1 and <bos>. Its perplexity is therefore directly comparable with the biLM's.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd
import torch
from matplotlib.figure import Figure

from elmo.bilm.model import BiLM
from elmo.bilm.ngram import KneserNeyLM
from elmo.data.text import TOKEN_SPECIALS, TextEncoder

# Both recurrences (the paper's LSTMP, the cpu profile's LSTM with its projection outside) fit this label.
BILM_LABEL = "biLM (char-CNN + LSTMs)"


def read_metrics(log_dir: Path) -> pd.DataFrame:
    """All Lightning CSV logs under `log_dir` (one version per (re)start), in step order."""
    frames = [pd.read_csv(p) for p in sorted(Path(log_dir).glob("version_*/metrics.csv"))]
    if not frames:
        raise FileNotFoundError(f"no metrics.csv under {log_dir}: has pretraining run?")
    return pd.concat(frames, ignore_index=True).sort_values("step", kind="stable")


SMOOTH = 10  # logged training batches per point of the smoothed curve


def learning_curve_figure(metrics: pd.DataFrame) -> Figure:
    fig = Figure(figsize=(10, 3.8))
    ax1, ax2 = fig.subplots(1, 2)
    train = metrics.dropna(subset=["train_loss"])
    # Single logged batches swing with their (bucketed) sentence length: show them faintly and a
    # rolling mean of their loss on top.
    smooth = train["train_loss"].rolling(SMOOTH, min_periods=1).mean()
    ax1.plot(train["step"], np.exp(train["train_loss"]), lw=0.8, alpha=0.35, label="logged batches")
    ax1.plot(train["step"], np.exp(smooth), lw=2, color="C0", label=f"mean of {SMOOTH} logs")
    ax1.set(xlabel="step", ylabel="perplexity (train batches, dropout on)", yscale="log", title="Training")
    ax1.legend(frameon=False)
    valid = metrics.dropna(subset=["valid_ppl"])
    for col, label in (("valid_forward_ppl", "forward"), ("valid_backward_ppl", "backward"), ("valid_ppl", "mean NLL")):
        ax2.plot(valid["epoch"] + 1, valid[col], marker="o", label=label)
    ax2.set(xlabel="epoch", ylabel="perplexity (valid petitions)", title="Held-out")
    ax2.set_xticks(sorted(set((valid["epoch"] + 1).astype(int))))
    ax2.legend(frameon=False)
    return fig


def ngram_reference(
    train: Sequence[Sequence[str]], evals: dict[str, Sequence[Sequence[str]]], encoder: TextEncoder, order: int = 3
) -> dict[str, dict[str, float]]:
    """Kneser-Ney perplexities per direction on each evaluation split, biLM's vocabulary."""
    vocab = {t for t in encoder.tokens.itos if t not in TOKEN_SPECIALS}
    out: dict[str, dict[str, float]] = {name: {} for name in evals}
    for reverse, direction in ((False, "forward_ppl"), (True, "backward_ppl")):
        lm = KneserNeyLM(order=order, reverse=reverse).fit(train, vocab=vocab)
        for name, sents in evals.items():
            out[name][direction] = lm.perplexity(sents)["ppl"]
    return out


def perplexity_table(bilm: dict, ngram: dict, order: int) -> pd.DataFrame:
    """Rows: model x split; columns: forward, backward (and the biLM's mean-NLL perplexity). A
    biLM that read documents (`DataConfig.context`) gets a second row: one sentence at a time."""
    rows = []
    for split in ("valid", "test"):
        rows.append({"model": BILM_LABEL, "split": split, **_pick(bilm[split])})
        if "one_sentence" in bilm:  # trained on document windows: the same model without that context
            rows.append({"model": f"{BILM_LABEL}, one sentence at a time", "split": split, **_pick(bilm["one_sentence"][split])})
        rows.append({"model": f"Kneser-Ney {order}-gram", "split": split, **_pick(ngram[split])})
    return pd.DataFrame(rows).set_index(["split", "model"]).round(1)


def _pick(d: dict) -> dict:
    keys = ("forward_ppl", "backward_ppl")
    out = {k.replace("_ppl", ""): d[k] for k in keys}
    out["mean"] = d.get("ppl", float(np.exp(np.mean(np.log([d[k] for k in keys])))))
    return out


def perplexity_figure(table: pd.DataFrame) -> Figure:
    fig = Figure(figsize=(7, 3.6))
    ax = fig.subplots()
    test = table.xs("test")
    x = np.arange(len(test.index))
    for i, col in enumerate(("forward", "backward")):
        ax.bar(x + (i - 0.5) * 0.38, test[col], 0.38, label=col)
        for xi, v in zip(x, test[col]):
            ax.annotate(f"{v:.0f}", (xi + (i - 0.5) * 0.38, v), ha="center", va="bottom", fontsize=9)
    ax.set_xticks(x, test.index)
    ax.set(ylabel="test perplexity (per token)", title="Held-out petitions: biLM vs n-gram")
    ax.legend(frameon=False)
    return fig


@torch.no_grad()
def token_vectors(model: BiLM, tokens: Sequence[str], batch: int = 2048) -> torch.Tensor:
    """Layer-0 (char-CNN) vectors of `tokens`, one token per position: (N, proj_dim)."""
    enc = model.encoder
    out = []
    for i in range(0, len(tokens), batch):
        chars = torch.tensor([enc.char_ids(t) for t in tokens[i : i + batch]])
        out.append(model.encode_tokens(chars[:, None, :])[:, 0])
    return torch.cat(out)


def nearest_neighbours(model: BiLM, queries: Sequence[str], k: int = 6, pool: int = 5000) -> pd.DataFrame:
    """Cosine nearest neighbours of `queries` among the `pool` most frequent vocabulary tokens."""
    cands = [t for t in model.encoder.tokens.itos[: pool + len(TOKEN_SPECIALS)] if t not in TOKEN_SPECIALS]
    vecs = torch.nn.functional.normalize(token_vectors(model, cands), dim=-1)
    q = torch.nn.functional.normalize(token_vectors(model, queries), dim=-1)
    sims = q @ vecs.T  # (Q, N)
    rows = {}
    for i, word in enumerate(queries):
        order = [j for j in sims[i].argsort(descending=True).tolist() if cands[j] != word][:k]
        rows[word] = [f"{cands[j]} ({sims[i, j]:.2f})" for j in order]
    return pd.DataFrame.from_dict(rows, orient="index", columns=[f"#{j + 1}" for j in range(k)])


def held_out_sets(corpus) -> dict[str, dict[str, list]]:
    """{source: {split: sentences}} of each non-empty valid/test split, per source of `corpus`."""
    return {src: {s: corpus.split(s, src) for s in ("valid", "test") if corpus.split(s, src)} for src in corpus.sources}


def ngram_by_source(train: Sequence[Sequence[str]], sets: dict[str, dict[str, list]], encoder: TextEncoder,
                    order: int = 3) -> dict[str, dict[str, dict[str, float]]]:  # fmt: skip
    """Kneser-Ney perplexities per direction on each source's held-out splits, fitted once on the
    pooled training sentences (as the biLM is): {source: {split: {forward_ppl, backward_ppl}}}."""
    flat = {(src, s): sents for src, splits in sets.items() for s, sents in splits.items()}
    scored = ngram_reference(train, flat, encoder, order)
    out: dict[str, dict[str, dict[str, float]]] = {}
    for (src, s), ppl in scored.items():
        out.setdefault(src, {})[s] = ppl
    return out


def source_perplexity_table(bilm: dict, ngram: dict, order: int) -> pd.DataFrame:
    """Rows: source x split x model; columns: forward, backward, mean. `bilm` is the artifact's
    record (its "sources" part), `ngram` what `ngram_by_source` returns."""
    rows = []
    for src, splits in ngram.items():
        for split, n in splits.items():
            b = bilm.get("sources", {}).get(src, {}).get(split) or (bilm[split] if len(ngram) == 1 else None)
            if b is not None:
                rows.append({"source": src, "split": split, "model": BILM_LABEL, **_pick(b)})
            rows.append({"source": src, "split": split, "model": f"Kneser-Ney {order}-gram", **_pick(n)})
    return pd.DataFrame(rows).set_index(["source", "split", "model"]).round(1)


def source_perplexity_figure(table: pd.DataFrame) -> Figure:
    """Test perplexity per source, biLM beside the n-gram, forward and backward."""
    test = table.xs("test", level="split")
    fig = Figure(figsize=(3.2 + 2.4 * len(test.index.unique("source")), 3.6))
    ax = fig.subplots()
    labels = [f"{src}\n{model.split(' (')[0]}" for src, model in test.index]
    x = np.arange(len(labels))
    for i, col in enumerate(("forward", "backward")):
        ax.bar(x + (i - 0.5) * 0.38, test[col], 0.38, label=col)
        for xi, v in zip(x, test[col]):
            ax.annotate(f"{v:.0f}", (xi + (i - 0.5) * 0.38, v), ha="center", va="bottom", fontsize=9)
    ax.set_xticks(x, labels)
    ax.set(ylabel="test perplexity (per token)", title="Held-out text by source: biLM vs n-gram")
    ax.legend(frameon=False)
    return fig
