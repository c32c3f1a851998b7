"""The corpus-mix comparison: what is held fixed, what decides, what is drawn."""

from __future__ import annotations

import dataclasses

from elmo.ablations import corpus_mix as M
from elmo.core.sources import CORPORA
from elmo.data.corpus import Corpus
from elmo.report.results import corpus_mix_markdown


def test_arms_differ_only_in_their_sources():
    a, b = (M.arm_config("cpu", arm, 14) for arm in M.ARMS)
    assert a.model == b.model and a.train == b.train and a.train.max_minutes == 14
    assert dataclasses.replace(a.data, sources=()) == dataclasses.replace(b.data, sources=())
    assert a.data.sources == CORPORA["petitions"] and b.data.sources == CORPORA["petitions+wiki"]


def test_held_out_sets_come_from_the_widest_arm_without_empty_splits():
    narrow = Corpus([["a"]], [["p", "v"]], [["p", "t"]], documents={"petitions": {}},
                    spans={"valid": {"petitions": [0, 1]}, "test": {"petitions": [0, 1]}})  # fmt: skip
    wide = Corpus([["a"]], [["p", "v"]], [["p", "t"], ["w", "t"]], documents={"petitions": {}, "wiki": {}},
                  spans={"valid": {"petitions": [0, 1], "wiki": [1, 1]}, "test": {"petitions": [0, 1], "wiki": [1, 2]}})
    sets = M.held_out({"petitions": narrow, "petitions+wiki": wide})
    assert sets == {"petitions": {"valid": [["p", "v"]], "test": [["p", "t"]]}, "wiki": {"test": [["w", "t"]]}}


def _arm(dev, holdout):
    ppl = {"forward_ppl": 100.0, "backward_ppl": 90.0, "ppl": 95.0, "n_predicted": 10}
    return {
        "pretrain": {"minutes": 14.0, "steps": 700, "train_tokens": 2.2e6},
        "perplexity": {"petitions": {"test": {"biLM": ppl, "ngram3": ppl, "oov": 0.05}}},
        "ynat": {"dev_macro_f1": {"mean": sum(dev) / 3, "std": 1.0, "n": 3, "values": dev},
                 "holdout_macro_f1": {"mean": holdout, "std": 0.5, "n": 3, "values": [holdout] * 3},
                 "ensemble": {"macro_f1": max(dev)}},
    }  # fmt: skip


def test_the_holdout_decides_never_dev():
    rows = {"petitions": _arm([80.0, 80.5, 81.0], holdout=84.0), "petitions+wiki": _arm([78.0, 78.5, 79.0], holdout=84.6)}
    assert M.preferred(rows) == "petitions+wiki"  # though its dev macro-F1 is lower


def test_figure_and_readme_table_draw_from_the_record():
    record = {"minutes": 14, "arms": {"petitions": _arm([80.0, 80.5, 81.0], 84.0), "petitions+wiki": _arm([79.0, 79.5, 80.0], 83.0)},
              "preferred": "petitions"}  # fmt: skip
    fig = M.mix_figure(record)
    assert len(fig.axes) == 2
    table = corpus_mix_markdown(record)
    assert "| petitions+wiki | 14.0 min, 700 steps; 2.20 M train tokens | 94.9 / 94.9 (5.0 %) | 79.5 ± 1.0 | 83.0 ± 0.5 | 80.0 |" in table
    assert "prefers **petitions**" in table
