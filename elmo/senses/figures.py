"""UMAP projections and the figures of notebook 05.
"""
from __future__ import annotations

import contextlib
import io
import warnings
from collections import Counter
from typing import Sequence

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from tqdm.auto import tqdm

from elmo.core.figures import PALETTE
from elmo.senses.bank import ContextBank
from elmo.senses.geometry import chance_agreement, nn_sense_agreement
from elmo.senses.occurrences import HOMOGRAPHS, UNLABELLED
from elmo.senses.pos import POS_GROUPS


def umap_2d(vectors: np.ndarray, seed: int = 0, n_neighbors: int = 15, metric: str = "cosine",
            progress: str | None = None) -> np.ndarray | None:
    """A 2-d UMAP of (n, D) vectors, (n, 2); None when it is meaningless: fewer than 4 points, or
    all points identical (layer 0, where every occurrence of a token has one vector).
    progress : a label for UMAP's own bar over its optimisation epochs (None: no bar)."""
    if len(vectors) < 4 or np.allclose(vectors, vectors[:1], atol=1e-5):
        return None
    import umap  # slow to import (numba): only when a projection is asked for

    reducer = umap.UMAP(n_neighbors=min(n_neighbors, len(vectors) - 1), n_components=2, metric=metric,
                        random_state=seed, init="random" if len(vectors) < 10 else "spectral",
                        verbose=progress is not None, tqdm_kwds={"desc": progress or "UMAP"})  # fmt: skip
    # A fixed seed makes UMAP single-threaded, which it says every time; verbose=True, needed for
    # its bar, also prints its steps to stdout: both dropped, the bar (stderr/widget) kept.
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.filterwarnings("ignore", message=r"n_jobs value .* overridden to 1 by setting random_state")
        return reducer.fit_transform(np.asarray(vectors, dtype=np.float32))


def umap_panels(bank: "ContextBank", words: Sequence[str], seed: int = 0):
    """UMAPs of each word's occurrences in every layer, with one bar over the projections.

    # Returns
    (panels, senses, sources): {word: [(n, 2) or None per layer]}, {word: proxy sense per
    occurrence}, {word: source per occurrence}, as `occurrences_umap_figure` takes them.
    """
    panels, panel_senses, panel_sources = {}, {}, {}
    with tqdm(total=len(words) * bank.n_layers, desc="UMAP", unit="map") as bar:
        for w in words:
            rows = bank.rows(w)
            panels[w] = []
            for j in range(bank.n_layers):
                bar.set_postfix_str(f"{w}, layer {j}")
                panels[w].append(umap_2d(bank.vectors[j, rows], seed=seed))
                bar.update(1)
            panel_senses[w] = [bank.sense(int(r)) for r in rows]
            panel_sources[w] = [bank.sources[bank.locate(int(r))[0]] for r in rows]
    return panels, panel_senses, panel_sources


def _colours(labels: Sequence[str]) -> dict[str, str]:
    """A stable colour per label, grey for the unlabelled/unseen."""
    names = [label for label in dict.fromkeys(labels) if label not in (UNLABELLED, "unseen", "other")]
    cmap = list(PALETTE[:6]) + [matplotlib.colormaps["tab20"](i) for i in range(20)]
    out = {label: cmap[i % len(cmap)] for i, label in enumerate(names)}
    out.update({UNLABELLED: "#c8c8c8", "unseen": "#c8c8c8", "other": "#9a9a9a"})
    return out


def occurrences_umap_figure(panels: dict[str, list[np.ndarray | None]], senses: dict[str, Sequence[str]],
                            sources: dict[str, Sequence[str]], layer_names: Sequence[str] | None = None) -> Figure:
    """One row per word, one panel per layer: its occurrences in 2-d, coloured by proxy sense,
    marker by source (^ YNAT, o the others). A None panel (identical vectors) says so in words.

    panels : word -> per-layer (n, 2) coordinates or None. senses, sources : word -> n labels.
    """
    words = list(panels)
    n_layers = max(len(v) for v in panels.values())
    names = layer_names or [f"layer {j}" + (" (char-CNN)" if j == 0 else "") for j in range(n_layers)]
    fig = Figure(figsize=(3.6 * n_layers + 1.8, 3.3 * len(words)), constrained_layout=True)
    axes = np.atleast_2d(fig.subplots(len(words), n_layers, squeeze=False))
    for row, w in enumerate(words):
        colours = _colours(HOMOGRAPHS.get(w, ()) + tuple(senses[w]))
        sense_arr, src_arr = np.asarray(senses[w]), np.asarray(sources[w])
        for col, coords in enumerate(panels[w]):
            ax = axes[row, col]
            ax.set(xticks=[], yticks=[], title=f"{w}: {names[col]}")
            if coords is None:
                ax.text(0.5, 0.5, f"all {len(sense_arr)} occurrences\nhave the same vector\n(context-free)",
                        ha="center", va="center", transform=ax.transAxes, fontsize=9)
                continue
            ax.grid(False)
            for sense in dict.fromkeys(sense_arr):
                for is_ynat in (False, True):
                    m = (sense_arr == sense) & ((src_arr == "ynat") == is_ynat)
                    if m.any():
                        ax.scatter(coords[m, 0], coords[m, 1], s=12, marker="^" if is_ynat else "o",
                                   color=colours[sense], alpha=0.75, linewidths=0)
        axes[row, -1].legend(handles=_legend_handles(colours, sense_arr), fontsize=7.5, frameon=False,
                             loc="upper left", bbox_to_anchor=(1.02, 1.0))
    return fig


def _legend_handles(colours: dict, senses: Sequence[str]) -> list:
    """One entry per sense (its colour and count), then the two marker shapes."""
    counts = Counter(senses)
    handles = [Line2D([], [], ls="", marker="o", color=colours[s], label=f"{s} ({counts[s]})") for s in counts]
    return handles + [Line2D([], [], ls="", marker=m, color="#555555", mfc="none", label=lab)
                      for m, lab in (("o", "petitions"), ("^", "YNAT"))]  # fmt: skip


def pos_colours() -> dict[str, tuple]:
    """One distinct colour per POS group (tab10 without its grey, then black and light blue);
    grey only for unseen/other."""
    tab = matplotlib.colormaps["tab10"]
    palette = [tab(i) for i in (0, 1, 2, 3, 4, 5, 6, 8, 9)] + ["#000000", matplotlib.colormaps["tab20"](1)]
    out = {name: palette[i % len(palette)] for i, (name, _) in enumerate(POS_GROUPS)}
    out.update({"unseen": "#c8c8c8", "other": "#9a9a9a"})
    return out


def pos_umap_figure(coords: np.ndarray, words: Sequence[str], groups: Sequence[str], per_group: int = 3,
                    title: str = "GloVe (petitions): top words by part of speech") -> Figure:
    """The static space in 2-d: coords (n, 2) for `words` (most frequent first), coloured by POS
    group; the `per_group` most frequent words of each group are written beside their points."""
    fig = Figure(figsize=(9, 7), constrained_layout=True)
    ax = fig.subplots()
    colours, groups = pos_colours(), np.asarray(groups)
    for g in sorted(set(groups), key=lambda g: -int((groups == g).sum())):
        m = groups == g
        ax.scatter(coords[m, 0], coords[m, 1], s=7, color=colours[g], alpha=0.7, linewidths=0,
                   label=f"{g} ({int(m.sum())})")
    ax.grid(False)
    for g in set(groups) - {"unseen", "other"}:
        for i in np.flatnonzero(groups == g)[:per_group]:
            ax.annotate(words[i], coords[i], fontsize=8, color=colours[g], xytext=(2, 2), textcoords="offset points")
    ax.set(xticks=[], yticks=[], title=title)
    ax.legend(fontsize=7, frameon=False, markerscale=2, loc="best")
    return fig


def geometry_figure(geometry: pd.DataFrame, glove_anisotropy: float | None = None,
                    homographs: pd.DataFrame | None = None) -> Figure:
    """Left: anisotropy, mean self-similarity and adjusted self-similarity by layer (GloVe's
    anisotropy as a dashed line). Right: each homograph's adjusted self-similarity by layer.

    geometry : `layer_geometry`'s frame. homographs : `word_self_similarity`'s frame.
    """
    fig = Figure(figsize=(10.5, 4), constrained_layout=True)
    left, right = fig.subplots(1, 2)
    layers = geometry.index.to_numpy()
    for col, label in (("anisotropy", "anisotropy (random pairs)"),
                       ("self_similarity", "self-similarity (frequent words)"),
                       ("adjusted", "self-sim. - anisotropy")):  # fmt: skip
        left.plot(layers, geometry[col], marker="o", label=label)
    if glove_anisotropy is not None:
        left.axhline(glove_anisotropy, color="#7f7f7f", ls="--", lw=1, label="GloVe anisotropy")
    left.set(xticks=layers, xlabel="layer (0 = char-CNN)", ylabel="mean cosine", title="Anisotropy and self-similarity")
    left.legend(fontsize=8, frameon=False)
    if homographs is not None and len(homographs):
        for w, g in homographs.groupby("word", sort=False):
            right.plot(g["layer"], g["adjusted"], marker="o", label=f"{w} (n={int(g['n'].iloc[0])})")
        if "adjusted" in geometry:
            right.plot(layers, geometry["adjusted"], color="k", ls=":", lw=1.5, label="frequent words (mean)")
        right.set(xticks=layers, xlabel="layer (0 = char-CNN)", ylabel="self-sim. - anisotropy",
                  title="Homographs: adjusted self-similarity")
        right.legend(fontsize=8, frameon=False)
    return fig


def agreement_table(bank: ContextBank, words: Sequence[str]) -> pd.DataFrame:
    """Per homograph: labelled occurrences, and the 1-NN proxy-sense agreement of each layer
    among them against the chance level. Words with fewer than 2 labelled senses are skipped."""
    rows = []
    for w in words:
        r = np.array([x for x in bank.rows(w) if bank.sense(int(x)) != UNLABELLED], dtype=np.int64)
        senses = [bank.sense(int(x)) for x in r]
        if len(set(senses)) < 2:
            continue
        row = {"word": w, "labelled": len(r), "senses": dict(Counter(senses).most_common()),
               "chance": chance_agreement(senses)}  # fmt: skip
        for layer in range(bank.n_layers):
            row[f"layer {layer}"] = nn_sense_agreement(bank.vectors[layer, r], senses)
        rows.append(row)
    return pd.DataFrame(rows).set_index("word") if rows else pd.DataFrame()
