"""An interactive explorer of contextual vectors: type a sentence, pick a word and a layer.

For the chosen word it shows the nearest contexts of the same token in a bank of pre-embedded
sentences (`elmo.senses.bank.ContextBank`), the nearest words of the static GloVe space, and the
token-by-token cosine similarity of the sentence in each biLM layer.

Everything the widget shows comes from plain functions (`explore`, `similarity_figure`,
`render`), so it is testable without a browser and works without widgets: when no interactive
frontend is attached (papermill, nbclient, a script) the notebook renders a fixed example with
ordinary outputs instead (`show`).
"""

from __future__ import annotations

import os
from typing import Sequence

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from elmo.senses.bank import ContextBank, embed_sentences, glove_neighbours, rank_contexts, unit
from elmo.senses.proxy import sense_proxy

LAYER_NAMES = {0: "layer 0 (char-CNN)", 1: "layer 1", 2: "layer 2"}


def sentence_tokens(sentence: str | Sequence[str], tokenizer=None) -> list[str]:
    """The tokens of a sentence: a string goes through `tokenizer` (kiwipiepy morphemes for the
    real biLM), a list of tokens is taken as is. Raises ValueError when nothing is left."""
    if isinstance(sentence, str):
        if tokenizer is None:
            raise ValueError("a string sentence needs a tokenizer (or pass a list of tokens)")
        tokens = tokenizer(sentence) if sentence.strip() else []
    else:
        tokens = [t for t in sentence if isinstance(t, str) and t.strip()]
    if not tokens:
        raise ValueError(f"the sentence {sentence!r} is empty: type at least one word")
    return list(tokens)


def resolve_word(tokens: Sequence[str], word: int | str) -> int:
    """The position of `word` in `tokens`: an index (negative allowed) or a token string (its
    first occurrence). Raises ValueError naming the tokens when it is not there."""
    if isinstance(word, (int, np.integer)) and not isinstance(word, bool):
        if not -len(tokens) <= word < len(tokens):
            raise ValueError(f"word index {word} is out of range for {len(tokens)} tokens {list(tokens)}")
        return int(word) % len(tokens)
    if isinstance(word, str):
        if word not in tokens:
            raise ValueError(f"{word!r} is not a token of the sentence; its tokens are {list(tokens)} "
                             "(kiwipiepy may split a word into several morphemes)")  # fmt: skip
        return list(tokens).index(word)
    raise TypeError(f"word must be an index or a token string, not {type(word).__name__}")


def similarity_matrices(layers: np.ndarray) -> np.ndarray:
    """Cosine similarity of every token pair, per layer: (L+1, T, D) -> (L+1, T, T)."""
    u = unit(layers)
    return np.einsum("ltd,lsd->lts", u, u)


def explore(sentence: str | Sequence[str], word: int | str, elmo, bank: ContextBank, static=None, k: int = 5,
            tokenizer=None, width: int = 6) -> dict:
    """Everything the explorer shows for one sentence and one of its tokens.

    # Parameters
    sentence : text (tokenized with `tokenizer`) or a list of tokens.
    word : the token's index in the sentence, or the token itself (first occurrence).
    elmo : an `elmo.embed.elmo.Elmo`; bank : a `ContextBank` embedded with the same biLM.
    static : `StaticVectors` for the nearest words (None: no neighbour table).

    # Returns
    dict with
      tokens : the T tokens; index : the word's position; word : the token; sense : its proxy sense,
      contexts : DataFrame (layer, rank, cosine, source, sense, context), the k nearest bank
          occurrences of the same token per layer (bank sentences identical to this one excluded),
      neighbours : DataFrame (rank, word, cosine) from the static vectors (empty if OOV),
      similarity : (L+1, T, T) float32 cosine similarity of the sentence's tokens per layer,
      vectors : (L+1, T, D) float32, the sentence's layers; bank_sentences : the bank's size.
    """
    tokens = sentence_tokens(sentence, tokenizer)
    index = resolve_word(tokens, word)
    vectors = embed_sentences(elmo, [tokens])[0]  # (L+1, T, D)
    same = [i for i, s in enumerate(bank.sentences) if s == tokens]
    contexts = rank_contexts(bank, tokens[index], vectors[:, index], k, exclude=same, width=width)
    return {
        "tokens": tokens, "index": index, "word": tokens[index], "sense": sense_proxy(tokens[index], tokens, index),
        "contexts": contexts, "neighbours": glove_neighbours(static, tokens[index], k),
        "similarity": similarity_matrices(vectors), "vectors": vectors, "bank_sentences": len(bank),
    }  # fmt: skip


def similarity_figure(tokens: Sequence[str], similarity: np.ndarray, layers: Sequence[int] | None = None,
                      highlight: int | None = None) -> Figure:
    """Heatmaps of token-by-token cosine similarity, one panel per layer.

    similarity : (L+1, T, T); layers : which to draw (default all); highlight : a token index
    whose row and column are outlined.
    """
    layers = list(range(similarity.shape[0])) if layers is None else list(layers)
    t = len(tokens)
    side = min(max(2.6, 0.32 * t + 1.2), 6.5)
    fig = Figure(figsize=(side * len(layers) + 0.8, side), constrained_layout=True)
    axes = np.atleast_1d(fig.subplots(1, len(layers), squeeze=False)[0])
    for ax, layer in zip(axes, layers):
        im = ax.imshow(similarity[layer], vmin=-1, vmax=1, cmap="RdBu_r")
        ax.set_xticks(range(t), tokens, rotation=90, fontsize=8)
        ax.set_yticks(range(t), tokens, fontsize=8)
        ax.grid(False)
        ax.set_title(LAYER_NAMES.get(layer, f"layer {layer}"))
        if highlight is not None:
            for spine in ("h", "v"):
                rect = (-0.5, highlight - 0.5) if spine == "h" else (highlight - 0.5, -0.5)
                size = (t, 1) if spine == "h" else (1, t)
                ax.add_patch(_rectangle(rect, *size))
    fig.colorbar(im, ax=list(axes), shrink=0.8, label="cosine")
    return fig


def _rectangle(xy, w, h):
    return Rectangle(xy, w, h, fill=False, edgecolor="k", lw=1.2)


def contexts_by_layer(result: dict, layer: int) -> pd.DataFrame:
    """One layer's nearest contexts of an `explore` result (rank as index)."""
    c = result["contexts"]
    return c[c["layer"] == layer].drop(columns="layer").set_index("rank")


# A layer whose token vectors nearly all point one way (mean pairwise cosine over the sentence's
# tokens above this) makes every cosine near 1; on the cpu biLM random pairs average 0.07-0.24.
ALIKE_COSINE = 0.95


def notes(result: dict, layers: Sequence[int]) -> list[str]:
    """Why parts of an `explore` result are empty or look uninformative, one line each: the word
    is not in the GloVe vocabulary; it occurs nowhere else in the bank; the shown layers give all
    the sentence's tokens nearly one direction (mean pairwise cosine above ALIKE_COSINE), what a
    barely trained biLM does."""
    word, out = result["word"], []
    if len(result["neighbours"]) == 0:
        out.append(f"{word!r} is not in the GloVe vocabulary, so it has no nearest GloVe words.")
    if len(result["contexts"]) == 0:
        out.append(f"{word!r} occurs nowhere else in the bank of {result['bank_sentences']:,} sentences, "
                   "so it has no nearest contexts.")  # fmt: skip
    t = len(result["tokens"])
    if t >= 2:
        off = ~np.eye(t, dtype=bool)
        alike = [(j, float(result["similarity"][j][off].mean())) for j in layers]
        alike = [(j, m) for j, m in alike if m > ALIKE_COSINE]
        if alike:
            names = ", ".join(_layer_name(j) for j, _ in alike)
            low = min(m for _, m in alike)
            out.append(f"{names}: the sentence's tokens have mean pairwise cosine ≥ {low:.3f}, so every cosine "
                       "here is near 1 whatever the token or context. Expected of a barely trained biLM such as "
                       "the tiny profile's (one epoch on 60 petitions); the cpu profile's layers differ.")  # fmt: skip
    return out


def _layer_name(layer: int) -> str:
    return LAYER_NAMES.get(layer, f"layer {layer}")


def _show(result: dict, layers: Sequence[int], display, header: bool) -> None:
    """Text, labelled tables and the heatmap of one result: shared by `render` and the widget."""
    word = result["word"]
    if header:
        print(f"sentence: {' '.join(result['tokens'])}")
    print(f"word: {word!r} (token {result['index']}), proxy sense: {result['sense']}")
    for line in notes(result, layers):
        print("note: " + line)
    if len(result["neighbours"]):
        print(f"nearest GloVe words to {word!r} (static: one vector per word, whatever the context):")
        display(result["neighbours"].set_index("rank"))
    for layer in layers:
        table = contexts_by_layer(result, layer)
        if len(table):
            print(f"nearest contexts of {word!r} in the bank, {_layer_name(layer)} (cosine of its vector here):")
            display(table)
    display(similarity_figure(result["tokens"], result["similarity"], layers, highlight=result["index"]))


def render(result: dict, layers: Sequence[int] | None = None, display=None) -> None:
    """Show an `explore` result with plain outputs (text, tables, a figure): what a saved or
    papermill-executed notebook keeps. Empty parts are explained (`notes`)."""
    if display is None:
        from IPython.display import display
    n_layers = result["similarity"].shape[0]
    _show(result, list(range(n_layers)) if layers is None else list(layers), display, header=True)


def interactive_frontend() -> bool:
    """Whether widgets will be seen: a kernel that Jupyter Server started for JupyterLab or
    Notebook (it sets JPY_SESSION_NAME). papermill/nbclient kernels, plain Python and IPython
    terminals get False. ELMO_WIDGETS=1 or 0 overrides the guess."""
    forced = os.environ.get("ELMO_WIDGETS")
    if forced in ("0", "1"):
        return forced == "1"
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and hasattr(shell, "kernel") and bool(os.environ.get("JPY_SESSION_NAME"))


class Explorer:
    """The ipywidgets front end: a text box, a token dropdown, a layer choice and an output area.

    All computation is `explore`; the widget only re-runs it when the sentence or word changes
    and redraws the chosen layer.
    """

    def __init__(self, elmo, bank: ContextBank, static=None, tokenizer=None, k: int = 5):
        self.elmo, self.bank, self.static, self.tokenizer, self.k = elmo, bank, static, tokenizer, k
        self._result: dict | None = None

    def compute(self, sentence: str | Sequence[str], word: int | str) -> dict:
        self._result = explore(sentence, word, self.elmo, self.bank, self.static, self.k, self.tokenizer)
        return self._result

    def widget(self, sentence: str = "", word: int | str = 0):
        """An ipywidgets VBox; display it (or make it the cell's last expression) in JupyterLab."""
        import ipywidgets as w
        from IPython.display import display

        text = w.Text(value=sentence, description="sentence", continuous_update=False,
                      placeholder="type a Korean sentence, then Enter", layout=w.Layout(width="95%"))  # fmt: skip
        choice = w.Dropdown(description="word", options=[], layout=w.Layout(width="240px"))
        n_layers = self.bank.n_layers
        # Buttons as wide as their labels and no description (the labels say "layer"), so the
        # three fit on one line beside the dropdown.
        layer = w.ToggleButtons(options=[(_layer_name(j), j) for j in range(n_layers)], value=min(1, n_layers - 1),
                                style={"button_width": "auto"})  # fmt: skip
        out = w.Output()

        def draw(*_):
            with out:
                out.clear_output(wait=True)
                if self._result is None:
                    return
                _show(self._result, [layer.value], display, header=False)

        def recompute(*_):
            with out:
                try:
                    if choice.value is not None:
                        self.compute(text.value, choice.value)
                except (ValueError, TypeError) as e:
                    self._result = None
                    out.clear_output()
                    print(e)
                    return
            draw()

        def retokenize(*_):
            try:
                tokens = sentence_tokens(text.value, self.tokenizer)
            except ValueError as e:
                self._result = None
                with out:
                    out.clear_output()
                    print(e)
                choice.options = []
                return
            try:  # the initial word if this sentence has it, else its first token
                index = resolve_word(tokens, word)
            except (ValueError, TypeError):
                index = 0
            choice.unobserve(recompute, "value")
            choice.options = [(f"{i}: {t}", i) for i, t in enumerate(tokens)]
            choice.value = index
            choice.observe(recompute, "value")
            recompute()

        text.observe(retokenize, "value")
        choice.observe(recompute, "value")
        layer.observe(draw, "value")
        if sentence:
            retokenize()
        controls = w.HBox([choice, layer], layout=w.Layout(flex_flow="row wrap", align_items="center"))
        return w.VBox([text, controls, out])


def show(explorer: Explorer, sentence: str | Sequence[str], word: int | str, layers: Sequence[int] | None = None):
    """The fixed example as plain outputs, always; and the live widget when a frontend can show
    it. Returns the widget (or None), so a notebook cell can end with `show(...)`."""
    render(explorer.compute(sentence, word), layers)
    if not interactive_frontend():
        print("(no interactive frontend: the widget is not shown. In JupyterLab, run "
              "`explorer.widget(sentence, word)` to explore other sentences.)")  # fmt: skip
        return None
    return explorer.widget(sentence if isinstance(sentence, str) else " ".join(sentence), word)
