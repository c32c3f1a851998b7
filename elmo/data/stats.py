"""Corpus statistics for `01_data` and the figures that show them.

Each `*_figure` function takes plain numbers and returns a Figure, so the notebook cell is one
line and the same figure can be redrawn from a saved `data_stats.json`.
"""

from __future__ import annotations

from collections import Counter
from typing import Sequence

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from elmo.core.sources import CORPORA
from elmo.data.readers import YNAT_LABELS, Headline

VOCAB_SIZES = (1000, 2000, 5000, 10000, 20000, 50000)


def token_counts(sentences: Sequence[Sequence[str]]) -> Counter:
    counts: Counter = Counter()
    for s in sentences:
        counts.update(s)
    return counts


def oov_rate(vocab: set[str], sentences: Sequence[Sequence[str]]) -> float:
    """Share of running tokens not in `vocab` (0 for an empty corpus)."""
    total = sum(len(s) for s in sentences)
    missing = sum(1 for s in sentences for t in s if t not in vocab)
    return missing / total if total else 0.0


def oov_curve(train_counts: Counter, evals: dict[str, Sequence[Sequence[str]]], sizes=VOCAB_SIZES) -> dict:
    """OOV rate of each evaluation set for a vocabulary of the `size` most frequent train tokens."""
    ranked = [t for t, _ in train_counts.most_common()]
    sizes = [s for s in sizes if s < len(ranked)] + [len(ranked)]
    return {
        "sizes": sizes,
        "oov": {name: [oov_rate(set(ranked[:s]), sents) for s in sizes] for name, sents in evals.items()},
    }


def char_coverage(train_counts: Counter, chars_of) -> dict:
    """Cumulative share of character occurrences covered by the k most frequent characters."""
    counts: Counter = Counter()
    for tok, c in train_counts.items():
        for ch in chars_of(tok):
            counts[ch] += c
    freqs = np.array(sorted(counts.values(), reverse=True), dtype=float)
    return {"n_chars": len(freqs), "cumulative": (np.cumsum(freqs) / freqs.sum()).tolist()}


def label_counts(rows: Sequence[Headline]) -> list[int]:
    c = Counter(r.label for r in rows)
    return [c.get(i, 0) for i in range(len(YNAT_LABELS))]


def sentence_length_figure(lengths: dict[str, Sequence[int]], max_tokens: int) -> Figure:
    fig = Figure(figsize=(6.5, 3.6))
    ax = fig.subplots()
    top = max(max(v) for v in lengths.values() if len(v))
    bins = np.arange(0, top + 2) - 0.5
    for name, v in lengths.items():
        ax.hist(v, bins=bins, density=True, histtype="step", linewidth=1.6, label=f"{name} (median {np.median(v):.0f})")
    ax.axvline(max_tokens, color="k", ls=":", lw=1, label=f"window {max_tokens}")
    ax.set(xlabel=f"tokens per sentence (longer ones are split into windows of {max_tokens})",
           ylabel="share of sentences", title="문장 길이 (sentence length)")  # fmt: skip
    ax.legend(frameon=False)
    return fig


def zipf_figure(counts: Counter) -> Figure:
    freqs = np.array(sorted(counts.values(), reverse=True), dtype=float)
    ranks = np.arange(1, len(freqs) + 1)
    fig = Figure(figsize=(5.5, 4))
    ax = fig.subplots()
    ax.loglog(ranks, freqs, lw=1.5, label="petitions train")
    # A least-squares slope over ranks 10..1000 shows how close the corpus is to Zipf's 1/r.
    sel = (ranks >= 10) & (ranks <= min(1000, len(ranks)))
    if sel.sum() > 2:
        slope, icpt = np.polyfit(np.log(ranks[sel]), np.log(freqs[sel]), 1)
        ax.loglog(ranks, np.exp(icpt) * ranks**slope, "--", lw=1, label=f"fit: slope {slope:.2f}")
    for r in (1, 10, 100):
        if r <= len(freqs):
            tok = counts.most_common(r)[-1][0]
            ax.annotate(tok, (r, freqs[r - 1]), textcoords="offset points", xytext=(6, 4), fontsize=9)
    ax.set(xlabel="rank", ylabel="frequency", title="Zipf plot")
    ax.legend(frameon=False)
    return fig


def oov_figure(curve: dict, chosen: int | None = None) -> Figure:
    fig = Figure(figsize=(6, 4))
    ax = fig.subplots()
    for name, rates in curve["oov"].items():
        ax.plot(curve["sizes"], np.array(rates) * 100, marker="o", label=name)
    if chosen:
        ax.axvline(chosen, color="k", ls=":", lw=1, label=f"profile vocabulary {chosen:,}")
    ax.set_xscale("log")
    ax.set(xlabel="vocabulary size (most frequent train tokens)", ylabel="OOV tokens (%)", title="OOV rate")
    ax.legend(frameon=False)
    return fig


def char_coverage_figure(coverage: dict, unit: str) -> Figure:
    cum = np.array(coverage["cumulative"]) * 100
    fig = Figure(figsize=(6, 4))
    ax = fig.subplots()
    ax.plot(np.arange(1, len(cum) + 1), cum)
    for k in (100, 500, 1000):
        if k <= len(cum):
            ax.annotate(f"top {k}: {cum[k - 1]:.2f}%", (k, cum[k - 1]), textcoords="offset points", xytext=(5, -14), fontsize=9)
    ax.set_xscale("log")
    ax.set(xlabel=f"number of distinct characters ({unit})", ylabel="character occurrences covered (%)",
           title=f"Character coverage ({coverage['n_chars']:,} distinct)")  # fmt: skip
    return fig


def label_figure(train: Sequence[int], dev: Sequence[int]) -> Figure:
    train_p = np.array(train) / sum(train) * 100
    dev_p = np.array(dev) / sum(dev) * 100
    x = np.arange(len(YNAT_LABELS))
    fig = Figure(figsize=(7, 3.8))
    ax = fig.subplots()
    ax.bar(x - 0.2, train_p, 0.4, label=f"train ({sum(train):,})")
    ax.bar(x + 0.2, dev_p, 0.4, label=f"dev ({sum(dev):,})")
    ax.set_xticks(x, YNAT_LABELS)
    ax.set(ylabel="share of headlines (%)", title="YNAT 주제 분포: train vs dev")
    ax.legend(frameon=False)
    return fig


# ------------------------------------------------------------------------ the corpus mix (01)


def mix_sources(sources: tuple) -> tuple:
    """The mix 01 shows: the profile's own sources when it has several, else the petitions plus
    the Wikipedia share (`CORPORA["petitions+wiki"]`), the candidate `python -m elmo.corpus_mix` measures."""
    return sources if len(sources) > 1 else CORPORA["petitions+wiki"]


def corpus_table(corpus) -> pd.DataFrame:
    """One row per source: documents and characters kept, what was dropped, sentences and tokens per split."""
    rows = []
    for src in corpus.sources:
        log, docs = corpus.log[src], corpus.documents[src]
        row = {"source": src, "files": log["files"], "documents": log["documents"], "characters": log["characters"],
               "duplicates dropped": log["duplicates"], "empty dropped": log["empty"]}  # fmt: skip
        for split in ("train", "valid", "test"):
            row[f"{split} docs"] = docs[split]
            row[f"{split} tokens"] = corpus.n_tokens(split, src)
        sents = corpus.split("train", src)
        row["tokens / sentence"] = round(float(np.mean([len(s) for s in sents])), 1) if sents else 0.0
        row["chars / token"] = round(log["characters"] / max(1, sum(corpus.n_tokens(s, src) for s in ("train", "valid", "test"))), 2)
        rows.append(row)
    return pd.DataFrame(rows).set_index("source")


def coverage_by_source(corpus, evals: dict[str, Sequence[Sequence[str]]], top: int = 20000) -> pd.DataFrame:
    """Share of each evaluation set's running tokens inside a vocabulary of the `top` most frequent
    training tokens of each source, and of all sources together (rows: vocabulary; columns: set)."""
    vocabs = {src: token_counts(corpus.split("train", src)) for src in corpus.sources}
    if len(vocabs) > 1:
        vocabs["all"] = token_counts(corpus.train)
    rows = {}
    for name, counts in vocabs.items():
        vocab = {t for t, _ in counts.most_common(top)}
        rows[name] = {ev: round(100 * (1 - oov_rate(vocab, sents)), 1) for ev, sents in evals.items()}
    return pd.DataFrame.from_dict(rows, orient="index")
