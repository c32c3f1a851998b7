"""Interactive versions of notebook 05's maps (plotly), and the export to the Embedding Projector.

The UMAP figures of `elmo.senses.figures` are static PNGs; the same coordinates here become
plotly figures to explore: hovering a point shows its context, source and proxy sense, the
mouse zooms and pans, and a menu switches word and layer. In JupyterLab they render through the
labextension that ships with plotly (`application/vnd.plotly.v1+json`, ~0.4 MB per map in the
notebook); `elmo.core.figures.save_html` writes each as one self-contained HTML file (plotly.js
inside, ~5 MB) that opens in a browser with no server. Plotly rather than bokeh: bokeh needs
the jupyter_bokeh extension in JupyterLab and its JavaScript in every notebook; its standalone
file is smaller (~2 MB against ~5 MB for the same map).

`projector_tsv` writes a layer's vectors as the TensorFlow Embedding Projector reads them
(projector.tensorflow.org → Load): one TSV of vectors, one TSV of metadata with a header row.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Sequence

import numpy as np
import plotly.graph_objects as go
import plotly.io as pio
from matplotlib.colors import to_hex

from elmo.senses.bank import ContextBank
from elmo.senses.figures import _colours, pos_colours
from elmo.senses.occurrences import HOMOGRAPHS

# In a kernel plotly's default renderers are "plotly_mimetype+notebook": the second embeds all of
# plotly.js (~4.8 MB) in every executed notebook. JupyterLab needs only the first.
pio.renderers.default = "plotly_mimetype"

SOURCE_SYMBOLS = {"ynat": "triangle-up"}  # every other source: a circle (as in the PNG)
SNIPPET_WIDTH = 8  # tokens either side of the word in a hover


def layer_name(layer: int) -> str:
    return f"layer {layer}" + (" (char-CNN)" if layer == 0 else "")


def occurrence_hovers(bank: ContextBank, rows: Sequence[int]) -> list[str]:
    """One hover text per token row: its context (the word in brackets), source and proxy sense."""
    out = []
    for r in rows:
        s, _ = bank.locate(int(r))
        context = html.escape(bank.snippet(int(r), SNIPPET_WIDTH))
        out.append(f"{context}<br>source: {bank.sources[s]} · proxy sense: {html.escape(bank.sense(int(r)))}")
    return out


def occurrences_map(panels: dict[str, list[np.ndarray | None]], senses: dict[str, Sequence[str]],
                    sources: dict[str, Sequence[str]], hovers: dict[str, Sequence[str]]) -> go.Figure:
    """Each word's occurrences in 2-d, one view per (word, layer), chosen from a menu.

    panels, senses, sources : as `umap_panels` returns them (None panels, e.g. layer 0, are
    left out of the menu); hovers : word -> one text per occurrence (`occurrence_hovers`).
    Colour: proxy sense; marker: ▲ YNAT, ● the others. The first view is the first word's top layer.
    """
    fig, views = go.Figure(), []  # views: (label, indices of its traces)
    for w in panels:
        colours = _colours(HOMOGRAPHS.get(w, ()) + tuple(senses[w]))
        sense_arr, src_arr, hover_arr = np.asarray(senses[w]), np.asarray(sources[w]), np.asarray(hovers[w])
        for j in reversed(range(len(panels[w]))):
            coords = panels[w][j]
            if coords is None:
                continue
            first = len(fig.data)
            for sense in dict.fromkeys(senses[w]):
                m = sense_arr == sense
                fig.add_trace(go.Scatter(
                    x=coords[m, 0], y=coords[m, 1], mode="markers", name=f"{sense} ({int(m.sum())})",
                    text=hover_arr[m], hovertemplate="%{text}<extra></extra>", visible=not views,
                    marker=dict(color=to_hex(colours[sense]), size=8, opacity=0.8,
                                symbol=[SOURCE_SYMBOLS.get(s, "circle") for s in src_arr[m]]),
                ))  # fmt: skip
            views.append((f"{w} · {layer_name(j)}", range(first, len(fig.data))))
    buttons = [dict(label=label, method="update",
                    args=[{"visible": [i in idx for i in range(len(fig.data))]},
                          {"title.text": f"{label}: occurrences by proxy sense (UMAP; ▲ YNAT, ● petitions)"}])
               for label, idx in views]  # fmt: skip
    fig.update_layout(
        title=dict(text=f"{views[0][0]}: occurrences by proxy sense (UMAP; ▲ YNAT, ● petitions)" if views
                   else "no projections"),
        updatemenus=[dict(buttons=buttons, direction="down", x=1.0, xanchor="right", y=1.16, yanchor="top")],
        legend=dict(title="proxy sense"), template="simple_white", height=560, width=820,
        xaxis=dict(showticklabels=False, title=""), yaxis=dict(showticklabels=False, title=""),
        margin=dict(t=90),
    )  # fmt: skip
    return fig


def pos_map(coords: np.ndarray, words: Sequence[str], groups: Sequence[str], title: str) -> go.Figure:
    """The static space in 2-d: coords (n, 2) for `words` (most frequent first), one trace per POS
    group (click the legend to hide one); hover: the word, its group and frequency rank."""
    fig, colours, groups = go.Figure(), pos_colours(), np.asarray(groups)
    ranks = np.arange(1, len(words) + 1)
    for g in sorted(set(groups), key=lambda g: -int((groups == g).sum())):
        m = groups == g
        text = [f"{html.escape(words[i])}<br>{g} · frequency rank {ranks[i]:,}" for i in np.flatnonzero(m)]
        fig.add_trace(go.Scatter(x=coords[m, 0], y=coords[m, 1], mode="markers", name=f"{g} ({int(m.sum())})",
                                 text=text, hovertemplate="%{text}<extra></extra>",
                                 marker=dict(color=to_hex(colours[g]), size=6, opacity=0.75)))  # fmt: skip
    fig.update_layout(title=title, template="simple_white", height=620, width=860, legend=dict(title="POS group"),
                      xaxis=dict(showticklabels=False), yaxis=dict(showticklabels=False))  # fmt: skip
    return fig


def _cell(value: str) -> str:
    """A TSV field: tabs and line breaks would split it, so they become spaces."""
    return " ".join(str(value).split())


def projector_tsv(bank: ContextBank, layer: int, directory: str | Path, words: Sequence[str] | None = None,
                  name: str | None = None) -> tuple[Path, Path]:
    """Write one layer's token vectors for the TensorFlow Embedding Projector.

    # Parameters
    bank : the embedded contexts; layer : which biLM layer (0 = char-CNN).
    words : only the occurrences of these tokens (default: every token row of the bank).
    name : file stem (default `layer<k>`).

    # Returns
    (vectors, metadata) paths: `<name>_vectors.tsv` holds one row per occurrence, D tab-separated
    floats and no header; `<name>_metadata.tsv` has the header "token, source, sense, context"
    (the Projector's multi-column format) and one row per occurrence, in the same order.
    """
    rows = (np.concatenate([bank.rows(w) for w in words]) if words else np.arange(bank.vectors.shape[1]))
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    stem = name or f"layer{layer}"
    vectors, metadata = directory / f"{stem}_vectors.tsv", directory / f"{stem}_metadata.tsv"
    np.savetxt(vectors, bank.vectors[layer, rows], delimiter="\t", fmt="%.5f")
    lines = ["token\tsource\tsense\tcontext"]
    for r in rows:
        s, _ = bank.locate(int(r))
        fields = (bank.token(int(r)), bank.sources[s], bank.sense(int(r)), bank.snippet(int(r), SNIPPET_WIDTH))
        lines.append("\t".join(_cell(f) for f in fields))
    metadata.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return vectors, metadata
