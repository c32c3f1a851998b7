"""The goal table (distances from the goal and the baseline, the holdout-to-dev drop) and the mix table."""

import pytest

from elmo.ynat.report import goal_table, mix_table, run_mixes


def test_goal_table_by_hand():
    results = {
        "base": [{"macro_f1": 80.0, "accuracy": 80.0, "holdout_macro_f1": 84.0}],
        "model": [{"macro_f1": 78.0, "accuracy": 77.0, "holdout_macro_f1": 83.0},
                  {"macro_f1": 80.0, "accuracy": 79.0, "holdout_macro_f1": 85.0}],
    }
    t = goal_table(results, goal=85.0, baseline="base")
    assert t.loc["model", "dev macro-F1"] == 79.0
    assert t.loc["model", "dev − holdout"] == -5.0
    assert t.loc["model", "dev − goal 85"] == -6.0
    assert t.loc["model", "dev − base"] == -1.0 and t.loc["base", "dev − base"] == 0.0
    with pytest.raises(KeyError):
        goal_table(results, goal=85.0, baseline="missing")


def test_results_figure_shows_every_seed_on_an_axis_framed_on_the_data():
    from elmo.ynat.report import results_figure

    runs = lambda *f1: [{"seed": s, "macro_f1": v} for s, v in enumerate(f1)]  # noqa: E731
    results = {"majority": runs(2.4), "TF-IDF": runs(82.1), "no ELMo": runs(78.0, 78.5, 77.9), "ELMo": runs(80.1, 80.6, 79.9)}
    fig = results_figure(results, reference={"KLUE-BERT (test)": 85.73}, baseline="TF-IDF", omit=["majority"])
    ax = fig.axes[0]
    dots = sum(len(c.get_offsets()) for c in ax.collections)
    assert dots >= 7  # one dot per run shown (the means are drawn as separate markers)
    lo, hi = ax.get_xlim()
    assert 75 < lo < 77.9 and 85.73 < hi < 90  # framed on the runs and lines, not 0..100
    texts = [t.get_text() for t in ax.texts]
    assert any("KLUE-BERT (test): 85.73" in t for t in texts) and any(t.startswith("TF-IDF: 82.1") for t in texts)
    assert any("majority (2.4)" in t for t in texts) and "78.1 ± 0.3" in texts


def test_paired_figure_draws_each_seed_difference():
    from elmo.ablations.significance import paired_figure

    runs = lambda *f1: [{"seed": s, "macro_f1": v} for s, v in enumerate(f1)]  # noqa: E731
    results = {"main": runs(58, 59, 57), "no_elmo": runs(56, 57, 56.5), "uniform": runs(57, 58, 57)}
    ax = paired_figure(results).axes[0]
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert labels == ["learned s_j – uniform", "ELMo – no ELMo"]
    assert any(t.get_text().startswith("+1.50 ± 0.87, p = ") for t in ax.texts)  # 2, 2, 0.5
    lo, hi = ax.get_xlim()
    assert lo < 0 < hi  # "no difference" is on the axis


def test_mix_table_lists_every_mix_of_every_run_by_hand():
    io = {"seed": 0, "mix_weights": [0.2, 0.3, 0.5], "gamma": 0.4, "mix_weights_output": [0.1, 0.1, 0.8], "gamma_output": 0.05}
    plain = {"seed": 1, "mix_weights": [0.25, 0.25, 0.5], "gamma": 1.0, "mix_weights_output": None, "gamma_output": None}
    assert run_mixes({"seed": 2, "mix_weights": None, "gamma": None}) == []  # no ELMo
    table = mix_table([io, plain])
    assert list(table.index) == [(0, "input"), (0, "output"), (1, "input")]
    assert list(table.columns) == ["s_0", "s_1", "s_2", "γ"]
    assert table.loc[(0, "output")].tolist() == [0.1, 0.1, 0.8, 0.05]
    assert table.loc[(1, "input"), "γ"] == 1.0
