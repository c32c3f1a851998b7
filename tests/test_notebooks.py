"""Every notebook runs top to bottom on the `tiny` profile, and 01's counts match the data."""

import json

import pytest

from elmo.core.runs import REPO
from elmo.data.corpus import dedupe
from elmo.data.readers import read_petitions
from elmo.notebooks import notebook_sources, run_all
from elmo.report.results import STAGES, collect, markdown

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def tiny_run(data_root):
    return run_all("tiny", progress=False)


def test_all_notebooks_execute_on_tiny(tiny_run):
    assert [p.stem for p in tiny_run] == [p.stem for p in notebook_sources()]


def test_01_counts_match_data_readme(tiny_run):
    stats = json.loads((REPO / "runs/tiny/data_stats.json").read_text())
    assert stats["petitions"] == 3691
    assert stats["ynat"]["train"]["rows"] == 45678 and stats["ynat"]["dev"]["rows"] == 9107
    assert list(stats["ynat"]["train"]["labels"].values()) == [5235, 6118, 5133, 5751, 8320, 7742, 7379]
    assert list(stats["ynat"]["dev"]["labels"].values()) == [554, 1348, 3701, 1369, 835, 578, 722]
    assert stats["petitions_unique"] == len(dedupe(read_petitions())) < 3691
    tiny_subset = dedupe(read_petitions()[:60])  # the tiny profile's petitions, split by petition
    assert sum(stats["corpus_petitions"].values()) == len(tiny_subset)


def test_figures_of_tiny_stay_out_of_figures_dir(tiny_run):
    assert (REPO / "runs/tiny/figures/01_zipf.png").exists()
    assert (REPO / "runs/tiny/figures/01_zipf.json").exists()


def test_results_block_renders_from_the_tiny_run(tiny_run):
    """Every stage's typed results read back, and the README block has each section."""
    results = collect("tiny")
    assert set(STAGES) <= set(results)
    block = markdown(results)
    for caption in ("biLM perplexity", "KLUE YNAT", "Ablations", "Linear probes", "Geometry", "Beside the paper"):
        assert caption in block


def figure_cells(notebook: dict) -> list[dict]:
    """Code cells that make a figure: they save one, or render the explorer (its heatmap)."""
    markers = ("save_figure(", "show(explorer", "render(explorer")
    return [c for c in notebook["cells"] if c["cell_type"] == "code" and any(m in "".join(c["source"]) for m in markers)]


def png_outputs(cell: dict) -> int:
    return sum("image/png" in o.get("data", {}) for o in cell.get("outputs", []))


def test_every_figure_cell_shows_its_figure_inline(tiny_run):
    n_figures = 0
    for path in tiny_run:
        cells = figure_cells(json.loads(path.read_text()))
        missing = ["".join(c["source"]).splitlines()[-1] for c in cells if png_outputs(c) == 0]
        assert not missing, f"{path.name}: figure cells without an image/png output, ending in {missing}"
        n_figures += len(cells)
    assert n_figures >= 15  # 01..06 make about twenty figures; a marker that stopped matching shows here


def test_notebooks_show_no_lightning_chatter(tiny_run):
    """Lightning's banners, tips and known deprecations are silenced (elmo.runs.quiet_lightning)."""
    from elmo.core.runs import LIGHTNING_CHATTER

    for path in tiny_run:
        for cell in json.loads(path.read_text())["cells"]:
            text = "".join("".join(o.get("text", "")) for o in cell.get("outputs", []) if o.get("output_type") == "stream")
            assert not any(c in text for c in (*LIGHTNING_CHATTER, "LeafSpec")), f"{path.name}: {text[:300]}"
