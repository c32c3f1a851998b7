"""03's typed results: machine keys on disk, labels only in tables; old files refused clearly."""

import json

import pytest

from elmo.ablations import grid
from elmo.ablations.grid import reuse_finetune_runs
from elmo.ablations.results import AblationResults
from elmo.core.config import get_config
from elmo.core.results import ResultsFormatError
from elmo.probing import tasks as probing_tasks
from elmo.probing.features import learned_mix
from elmo.probing.report import results_table as probe_table
from elmo.report.paper import comparison_rows
from elmo.ynat import results as ynat_results
from elmo.ynat.results import FinetuneResults, best_holdout_run, ensemble_key, run_provenance


def _runs(f1, mix=None):
    return [{"seed": s, "macro_f1": f1 + s, "accuracy": 70.0 + s, "holdout_macro_f1": 80.0,
             "mix_weights": mix, "gamma": 1.0 if mix else None} for s in range(3)]  # fmt: skip


@pytest.fixture
def artifact(tmp_path):
    path = tmp_path / "bilm"
    path.mkdir()
    (path / "config.json").write_text(json.dumps({"weights_sha256": "ab" * 32}))
    return path


def _stages(cfg, artifact, out):
    """What 03 writes and what 04, 06 and the report then read from it."""
    runs = {"tfidf": _runs(80.0)[:1], "no_elmo": _runs(70.0), "elmo_input": _runs(72.0, [0.2, 0.3, 0.5]),
            "elmo_input_output": _runs(73.0, [0.1, 0.1, 0.8])}  # fmt: skip
    runs[ensemble_key("elmo_input_output")] = _runs(75.0)[:1]
    results = FinetuneResults(runs, run_provenance(cfg, artifact), blend_weights={"elmo_input_output": 0.4})
    path = results.write(out)
    eff = [{"model": m, "fraction": f, "macro_f1": 40.0} for m in ("elmo", "no_elmo") for f in (0.01, 0.1)]
    ablation = AblationResults({k: _runs(60.0 + i) for i, k in enumerate(grid.GRID)}, sample_efficiency=eff, grid_fraction=0.1).to_dict()
    read_back = {
        "file": path.read_bytes(),
        "04 reuses": reuse_finetune_runs(out, cfg, artifact),
        "06 probes": learned_mix(out, 3, cfg.finetune.probe_model),
        "paper": comparison_rows({"finetune": FinetuneResults.read(out).to_dict(), "ablation": ablation}),
    }
    read_back["06 probes"]["source"] = read_back["06 probes"]["source"].replace(str(out), "<run folder>")
    return results, read_back


def test_results_round_trip_bit_exactly(tmp_path, artifact):
    cfg = get_config("tiny")
    results, _ = _stages(cfg, artifact, tmp_path)
    again = FinetuneResults.read(tmp_path)
    assert again == results and again.to_dict() == results.to_dict()
    assert again.summary["no_elmo"]["macro_f1"]["mean"] == 71.0 and again.summary["no_elmo"]["n"] == 3
    assert FinetuneResults.read(tmp_path / "nowhere") is None


def test_renaming_display_labels_changes_no_other_stage(tmp_path, artifact, monkeypatch):
    cfg = get_config("tiny")
    before_results, before = _stages(cfg, artifact, tmp_path / "before")
    monkeypatch.setitem(ynat_results.LABELS, "elmo_input", "a renamed row")
    monkeypatch.setitem(ynat_results.LABELS, "no_elmo", "another renamed row")
    monkeypatch.setitem(grid.GRID_LABELS, "main", "renamed main")
    monkeypatch.setitem(probing_tasks.FEATURE_LABELS, "mix", "renamed mix")
    after_results, after = _stages(cfg, artifact, tmp_path / "after")
    assert after == before  # the file, 04's reuse, 06's mix and the paper table are unchanged
    assert "a renamed row" in after_results.table().index  # ... while the table shows the new name
    scores = {"mean": 1.0, "std": 0.0, "n": 1, "values": [1.0]}
    assert "renamed mix" in probe_table({"POS": {"mix": {"accuracy": scores}}}).index


def test_files_of_another_format_are_refused_with_what_to_do(tmp_path):
    # The label-keyed format that 03 wrote before typed results (no "format" field).
    (tmp_path / FinetuneResults.FILE).write_text(json.dumps({"biLSTM, no ELMo": {"runs": []}, "_provenance": {}}))
    with pytest.raises(ResultsFormatError, match="rerun the notebook"):
        FinetuneResults.read(tmp_path)
    (tmp_path / FinetuneResults.FILE).write_text(json.dumps({"format": 2, "runs": {}, "provenance": {}, "extra": 1}))
    with pytest.raises(ResultsFormatError, match="unknown FinetuneResults field"):
        FinetuneResults.read(tmp_path)


def test_the_shown_model_is_chosen_on_the_holdout_never_on_dev():
    runs = {"a": [{"seed": 0, "holdout_macro_f1": 80.0, "macro_f1": 99.0}],
            "b": [{"seed": 0, "holdout_macro_f1": 85.0, "macro_f1": 10.0}, {"seed": 1, "holdout_macro_f1": None}],
            "c": [{"seed": 0, "holdout_macro_f1": 99.0, "macro_f1": 99.0}]}  # fmt: skip
    assert best_holdout_run(runs, ["a", "b"]) == runs["b"][0]  # c is not a candidate; dev is never looked at
    with pytest.raises(ValueError, match="no run with a holdout score"):
        best_holdout_run(runs, ["missing"])
