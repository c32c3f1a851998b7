"""The README results block is generated from the notebooks' JSON, and only that block changes."""

import pytest

from elmo.ablations.results import AblationResults
from elmo.report import results
from elmo.report.ablations import ablation_markdown
from elmo.report.paper import comparison_markdown, comparison_rows, headline_markdown, headline_rows
from elmo.report.results import timings_markdown
from elmo.ynat.results import FinetuneResults


def test_update_readme_rewrites_only_the_marked_block(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text(f"intro\n{results.BEGIN}\nold numbers\n{results.END}\noutro\n")
    results.update_readme("| new | 1 |", readme)
    assert readme.read_text() == f"intro\n{results.BEGIN}\n| new | 1 |\n{results.END}\noutro\n"
    readme.write_text("no markers")
    with pytest.raises(ValueError, match="results:begin"):
        results.update_readme("x", readme)


def test_timings_and_ablation_tables():
    times = {"01_data": {"seconds": 30.0}, "02_pretrain": {"seconds": 90.0}}
    md = results.timings_markdown(times)
    assert "| `01_data` | 0.5 min |" in md and "**2.0 min**" in md
    summary = AblationResults(
        runs={"main": [{"seed": 0, "macro_f1": 79.04, "accuracy": 78.5}, {"seed": 1, "macro_f1": 81.04, "accuracy": 79.5}]},
        paired={"elmo": {"diffs": [1.0, 3.0], "mean": 2.0, "std": 1.414, "p": 0.2}},
        sample_efficiency=[
            {"model": "elmo", "fraction": 0.1, "n_fit": 100, "seed": s, "macro_f1": f, "accuracy": 0.0}
            for s, f in ((0, 50.0), (1, 52.0))
        ],
        seconds={"total": 600.0},
    ).to_dict()
    md = ablation_markdown(summary)
    assert "| ELMo: learned s_j and γ (main) | 2 | 80.0 ± 1.4 | 79.0 ± 0.7 |" in md
    assert "| ELMo − no ELMo | +1.00, +3.00 | +2.00 ± 1.41 | 0.200 |" in md
    assert "| fraction of train (rows) | with ELMo |" in md and "| 0.1 (100) | 51.0 ± 1.4 |" in md
    assert "10.0 min" in md


def test_paper_comparison_reads_our_numbers_from_the_results():
    def runs(f1):
        return [{"seed": s, "macro_f1": f1 + d, "accuracy": 70.0} for s, d in enumerate((-0.5, 0.0, 0.5))]

    keys = ("no_elmo", "last_layer", "l2_1", "main", "input_output")
    eff = [
        {"model": m, "fraction": fr, "macro_f1": f}
        for m, fr, f in (("elmo", 0.01, 40.0), ("elmo", 0.01, 42.0), ("no_elmo", 0.01, 30.0), ("no_elmo", 0.1, 45.0))
    ]
    finetune = {"no_elmo": runs(70.0), "elmo_input": runs(72.0), "elmo_input_output": runs(73.5)}
    r = {
        "finetune": FinetuneResults(finetune, provenance={}).to_dict(),
        "ablation": AblationResults({k: runs(50.0 + i) for i, k in enumerate(keys)}, sample_efficiency=eff, grid_fraction=0.1).to_dict(),
    }
    found = {a: c for a, _, c in comparison_rows(r)}
    assert any("70.0 → 73.5 (+3.5" in c for c in found.values())
    assert any(c.startswith("50.0 / 51.0 / 52.0 / 53.0") for c in found.values())
    assert any("53.0 / 54.0 (10 % grid); all the data (03): 72.0 / 73.5" in c for c in found.values())
    assert any("41.0 with ELMo vs 30.0 without; the baseline at 10 % reaches 45.0" in c for c in found.values())
    assert not any("POS" in a or "perplexity" in a for a in found)  # parts without results are left out
    assert comparison_markdown(r).count("\n") == 1 + len(found)


def test_tradeoff_table_sorted_by_pretraining_length():
    row = {"pretrain_minutes": 20.0, "valid_ppl": 94.8, "finetune_minutes": 11.4,
           "dev_macro_f1": {"mean": 79.8, "std": 0.3}, "ensemble": {"macro_f1": 81.5}}  # fmt: skip
    md = results.tradeoff_markdown({"4": {**row, "pretrain_epochs": 4, "valid_ppl": 80.0}, "2": {**row, "pretrain_epochs": 2}})
    lines = md.splitlines()
    assert lines[2] == "| 2 epochs | 20 | 94.8 | 11 | 79.8 ± 0.3 | 81.5 |" and lines[3].startswith("| 4 epochs |")


def test_bench_table_reports_both_configurations_and_the_speedup():
    def run(tps, rec, sm):
        return {"recurrence": rec, "softmax": sm, "tokens_per_s": tps, "gflop_per_step": 10.0, "achieved_gflops": 100.0,
                "fraction_of_bf16_peak": 0.1, "threads": 2,
                "seconds_by_part": {"encoder": 1.0, "lstm": 2.0, "softmax": 1.0, "optimizer": 0.0}}  # fmt: skip

    b = {"before": run(8000.0, "lstmp", "adaptive-torch"), "after": run(24000.0, "lstm", "adaptive"),
         "speedup": 3.0, "batch": [128, 32], "peak_gflops": {"fp32": 230.0, "bf16": 1000.0}}  # fmt: skip
    md = results.bench_markdown(b)
    assert "| 8,000 |" in md and "| 24,000 |" in md and "**3.00x**" in md and "| 50% |" in md
    assert "bench" in results.OTHER_FILES


def test_headline_picks_each_model_on_the_holdout_not_dev():
    """The three numbers first: the ELMo and no-ELMo rows are the holdout's picks, even when dev
    would pick otherwise; every part names its split; parts without results are left out."""
    def runs(dev, hold):
        return [{"seed": s, "macro_f1": dev, "accuracy": 70.0, "holdout_macro_f1": hold} for s in range(2)]

    models = {"no_elmo": {"elmo": False}, "no_elmo_glove": {"elmo": False},
              "elmo_input": {"elmo": True}, "elmo_input_output_adapted": {"elmo": True}}  # fmt: skip
    finetune = {"tfidf": runs(82.0, 84.0), "no_elmo": runs(78.0, 80.0), "no_elmo_glove": runs(79.0, 79.5),
                "elmo_input": runs(81.0, 83.0), "elmo_input_output_adapted": runs(83.0, 82.0),
                "elmo_input_ensemble": runs(90.0, 99.0)}  # fmt: skip
    r = {"profile": "cpu", "finetune": FinetuneResults(finetune, provenance={"finetune": {"models": models}}).to_dict()}
    (question, ours, paper, seed), = headline_rows(r)
    assert "dev macro-F1" in question and "test sets" in paper and "76.39" in seed
    assert "ELMo **81.0** (biLSTM + ELMo (input))" in ours and "no ELMo **78.0** (biLSTM, no ELMo)" in ours
    assert "TF-IDF + LR **82.0**" in ours
    r["pretrain"] = {"biLM": {"test": {"ppl": 60.0}, "epochs": 5, "train_seconds": 840.0},
                     "ngram3": {"test": {"forward_ppl": 75.0, "backward_ppl": 75.0}}}  # fmt: skip
    assert "biLM **60.0** vs 3-gram **75.0** (the biLM 20% lower), after 5 epochs in 14 min" in headline_markdown(r)


def test_results_from_another_checkout_keep_that_runs_commit(tmp_path, monkeypatch, capsys):
    """`python -m elmo.results --from clone/results.json --readme`: the block names the commit the
    run was made at (a fresh clone's), not this checkout's, and writes exactly what it read."""
    import json

    import elmo.results as cli
    from elmo.core.runs import REPO

    run = json.loads((REPO / "results.json").read_text())
    run["git"] = {"commit": "abcdef1234567890", "dirty": False}
    run.pop("bench", None)
    run["notebook_times"] = {"01_data": {"seconds": 60.0}}
    source = tmp_path / "results.json"
    source.write_text(json.dumps(run))
    written, blocks = [], []
    monkeypatch.setattr(cli, "write", lambda r: written.append(r) or [])
    monkeypatch.setattr(cli, "update_readme", blocks.append)
    bench = {"speedup": 2.0}
    monkeypatch.setattr(cli, "command_outputs", lambda profile: {"bench": bench, "notebook_times": {"x": 1}})
    render = cli.markdown
    monkeypatch.setattr(cli, "markdown", lambda r: render({k: v for k, v in r.items() if k != "bench"}))  # a stub bench
    cli.main(["--from", str(source), "--readme"])
    # The run's own parts win; a separate command's output the run lacks is added.
    assert written == [{**run, "bench": bench}] and blocks[0].startswith("Profile `cpu`, commit `abcdef1234`.")


def test_notebook_times_say_which_machine_they_come_from():
    times = {"01_data": {"seconds": 60.0, "cpu": "Xeon X", "native_bf16": False}, "02_pretrain": {"seconds": 120.0}}
    table = timings_markdown(times)
    assert "| `01_data` | 1.0 min | Xeon X, no native bf16 |" in table
    assert "| `02_pretrain` | 2.0 min | not recorded |" in table and "**3.0 min**" in table
