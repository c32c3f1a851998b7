"""Runs spread over worker processes give exactly the in-process results, in job order."""

import pytest
from task_fixtures import make_data, tiny_cfg

from elmo.ynat.jobs import Job, run_jobs

ELMO = {"elmo": True}


def _key(r):
    return (r["seed"], r["variant"], r["macro_f1"], r["accuracy"], r["holdout_macro_f1"], r["mix_weights"])


@pytest.mark.slow
def test_two_workers_reproduce_in_process_runs(tmp_path):
    data = make_data(n_per_class=12, n_dev_per_class=4)
    cfg = tiny_cfg(max_epochs=2)
    few = tuple(data.fit[::2])
    jobs = [Job(ELMO, 0), Job({}, 1), Job(ELMO, 1, few)]
    here = run_jobs(cfg, data, jobs, tmp_path / "a", logger=False, workers=1)
    there = run_jobs(cfg, data, jobs, tmp_path / "b", logger=False, workers=2)
    assert [_key(r) for r in there] == [_key(r) for r in here]  # same numbers, same order
    assert [r["seed"] for r in there] == [0, 1, 1] and all(r["wall_seconds"] > 0 for r in there)


def test_fit_rows_of_a_job_are_the_rows_trained_on(tmp_path):
    data = make_data(n_per_class=12, n_dev_per_class=4)
    cfg = tiny_cfg(max_epochs=1)
    full, few = run_jobs(cfg, data, [Job({}, 0), Job({}, 0, tuple(data.fit[:7]))], tmp_path, logger=False)
    assert (full["n_fit"], few["n_fit"]) == (len(data.fit), 7)
    assert (full["macro_f1"], full["accuracy"]) != (few["macro_f1"], few["accuracy"])


def test_command_line_pairs_parse_json_values():
    from elmo.jobs import _pairs

    assert _pairs(["lr=0.006", "elmo=true", "placement=input_output", "seeds=[0, 1]"]) == {
        "lr": 0.006, "elmo": True, "placement": "input_output", "seeds": [0, 1]}
    with pytest.raises(SystemExit, match="key=value"):
        _pairs(["lr"])
