"""Figure style, the one helper that saves figures, and the font check.

Figure functions live next to the analysis they show (e.g. `elmo.data.stats`) and return a
`matplotlib.figure.Figure`; `save_figure` writes it as PNG with a JSON sidecar naming the config
and git revision. The `cpu` profile (the committed one) saves to `figures/`, other profiles to
`runs/<profile>/figures/`, so `figures/` only ever holds what the committed profile produced.
Imported in a notebook, it also makes every `Figure` display inline as a PNG (`inline_figures`).
"""

from __future__ import annotations

import json
from pathlib import Path

import koreanize_matplotlib  # noqa: F401  (registers the bundled NanumGothic as the default)
import matplotlib.pyplot as plt
from fontTools.ttLib import TTFont
from IPython import get_ipython
from matplotlib import font_manager
from matplotlib.figure import Figure
from matplotlib_inline.backend_inline import set_matplotlib_formats

from elmo.core.config import Config
from elmo.core.runs import REPO, provenance, run_dir

COMMITTED_PROFILE = "cpu"
PALETTE = ("#3b6ea8", "#d1495b", "#edae49", "#66a182", "#8d6a9f", "#00798c", "#7f7f7f")


def style() -> None:
    """A quiet house style; the Korean font stays the default family."""
    plt.rcParams.update({
        "figure.dpi": 110, "savefig.dpi": 150, "axes.spines.top": False, "axes.spines.right": False,
        "axes.grid": True, "grid.alpha": 0.3, "axes.titleweight": "bold", "axes.unicode_minus": False,
        "axes.prop_cycle": plt.cycler(color=PALETTE),
    })  # fmt: skip


style()


def inline_figures() -> bool:
    """In an IPython kernel, display a `Figure` (a cell's last value, or `display(fig)`) as a PNG.

    Our figures are `matplotlib.figure.Figure` objects, not pyplot's, so no backend shows them and
    IPython would print their repr: only `%matplotlib inline` registers a PNG formatter for Figure.
    This registers that formatter (IPython's own, via matplotlib-inline) and nothing else: pyplot's
    state and backend are untouched. Returns whether a shell was found. Called on import.
    """
    if get_ipython() is None:
        return False
    set_matplotlib_formats("png", bbox_inches="tight")
    return True


inline_figures()


def figure_dir(profile: str) -> Path:
    if profile == COMMITTED_PROFILE:
        path = REPO / "figures"
        path.mkdir(exist_ok=True)
        return path
    return run_dir(profile, "figures")


def save_figure(fig: Figure, name: str, cfg: Config, **extra) -> Path:
    """Save `fig` as `<name>.png` and `<name>.json` (config, revision, extra facts)."""
    directory = figure_dir(cfg.profile)
    png = directory / f"{name}.png"
    fig.savefig(png, bbox_inches="tight")
    meta = {"figure": png.name, **provenance(cfg), **extra}
    meta.pop("time", None)  # a committed sidecar should change only when its inputs do
    png.with_suffix(".json").write_text(json.dumps(meta, indent=2, ensure_ascii=False, default=str))
    return png


def save_html(fig, name: str, cfg: Config) -> Path:
    """Save an interactive plotly figure as one self-contained `<name>.html` beside `<name>.png`
    (plotly.js embedded: it opens in a browser offline, with no server). A fixed div id keeps the
    file identical when the figure is."""
    path = figure_dir(cfg.profile) / f"{name}.html"
    fig.write_html(path, include_plotlyjs=True, full_html=True, div_id=name, config={"scrollZoom": True})
    return path


def korean_font_path() -> Path:
    """The font file matplotlib uses for the default family."""
    family = plt.rcParams["font.family"]
    return Path(font_manager.findfont(font_manager.FontProperties(family=family), fallback_to_default=False))


def font_covers(text: str, path: Path | None = None) -> bool:
    """Whether every character of `text` has a glyph in the font (read from its cmap)."""
    cmap = TTFont(str(path or korean_font_path()), fontNumber=0).getBestCmap()
    return all(ord(ch) in cmap for ch in text if not ch.isspace())
