"""Runs spread over worker processes give exactly the in-process results, in job order."""

import json

import pytest
from task_fixtures import make_data, tiny_cfg

import elmo.ynat.jobs
from elmo.jobs import main
from elmo.ynat.jobs import GridProgress, Job, run_jobs

ELMO = {"elmo": True}


def _key(r):
    return (r["seed"], r["variant"], r["macro_f1"], r["accuracy"], r["holdout_macro_f1"], r["mix_weights"])


@pytest.mark.slow
def test_two_workers_reproduce_in_process_runs(tmp_path):
    data = make_data(n_per_class=12, n_dev_per_class=4)
    cfg = tiny_cfg(max_epochs=2)
    few = tuple(data.fit[::2])
    jobs = [Job({}, 1), Job(ELMO, 0), Job(ELMO, 1, few)]
    assert elmo.ynat.jobs.submission_order(cfg, {None: data}, jobs) == [1, 0, 2]  # the pool starts job 1 first
    here = run_jobs(cfg, data, jobs, tmp_path / "a", logger=False, workers=1)
    there = run_jobs(cfg, data, jobs, tmp_path / "b", logger=False, workers=2)
    assert [_key(r) for r in there] == [_key(r) for r in here]  # same numbers, in job order
    assert [r["seed"] for r in there] == [1, 0, 1] and all(r["wall_seconds"] > 0 for r in there)


def test_the_pool_starts_the_longest_jobs_first():
    """Estimated cost: rows x epochs x what the model reads; ties keep the job order."""
    data = make_data(n_per_class=12, n_dev_per_class=4)
    cfg = tiny_cfg(max_epochs=4)
    io = {"elmo": True, "placement": "input_output"}
    jobs = [Job({}, 0), Job(ELMO, 0), Job({}, 1), Job(io, 0), Job(ELMO, 1, tuple(data.fit[:5])),
            Job({"x_k": "learned+char_cnn"}, 0), Job({}, 2, trainer=(("max_epochs", 40),))]  # fmt: skip
    assert elmo.ynat.jobs.submission_order(cfg, {None: data}, jobs) == [6, 3, 1, 5, 0, 2, 4]


@pytest.mark.parametrize("workers", [1, 2])
def test_a_waiting_job_is_prepared_from_the_results_it_waits_for(tmp_path, workers):
    """`after` + `prepare`: the job starts once the jobs it names are done, as `prepare` makes it
    from their results; awaited jobs are submitted first; results stay in job order."""
    data = make_data(n_per_class=12, n_dev_per_class=4)
    cfg = tiny_cfg(max_epochs=1)
    jobs = [Job({"name": "late"}, 0, after=(2, 3)), Job(ELMO, 0), Job({}, 0), Job({}, 1)]
    assert elmo.ynat.jobs.submission_order(cfg, {None: data}, jobs) == [2, 3, 1, 0]
    seen = []

    def prepare(job, results):
        seen.append([(r["variant"], r["seed"]) for r in results])
        return Job({"name": f"late-after-{len(results)}"}, job.seed)

    out = run_jobs(cfg, data, jobs, tmp_path, logger=False, workers=workers, prepare=prepare)
    assert seen == [[("no-elmo", 0), ("no-elmo", 1)]]
    assert [r["variant"] for r in out] == ["late-after-2", "elmo-learned-learned-input", "no-elmo", "no-elmo"]
    for bad in ([Job({}, 0, after=(0,))], [Job({}, 0, after=(5,))], [Job({}, 0), Job({}, 1, after=(0,))]):
        with pytest.raises(ValueError, match="after"):
            run_jobs(cfg, data, bad, tmp_path, logger=False, prepare=prepare if len(bad) == 1 else None)
    chain = [Job({}, 0), Job({"name": "b"}, 0, after=(0,)), Job({"name": "c"}, 0, after=(1,))]
    with pytest.raises(ValueError, match="one level"):
        run_jobs(cfg, data, chain, tmp_path, logger=False, prepare=prepare)


def test_fit_rows_of_a_job_are_the_rows_trained_on(tmp_path):
    data = make_data(n_per_class=12, n_dev_per_class=4)
    cfg = tiny_cfg(max_epochs=1)
    full, few = run_jobs(cfg, data, [Job({}, 0), Job({"name": "few-rows"}, 0, tuple(data.fit[:7]))], tmp_path, logger=False)
    assert (full["n_fit"], few["n_fit"]) == (len(data.fit), 7)
    assert (full["macro_f1"], full["accuracy"]) != (few["macro_f1"], few["accuracy"])


def test_command_line_pairs_parse_json_values():
    from elmo.jobs import _pairs

    assert _pairs(["lr=0.006", "elmo=true", "placement=input_output", "seeds=[0, 1]"]) == {
        "lr": 0.006, "elmo": True, "placement": "input_output", "seeds": [0, 1]}
    with pytest.raises(SystemExit, match="key=value"):
        _pairs(["lr"])


class RecordingProgress(GridProgress):
    """The grid's bar, keeping every epoch each job reported (here: from the worker processes)."""

    made: list = []

    def __init__(self, totals, disable=False):
        super().__init__(totals, disable=True)
        self.reported = [0] * len(totals)
        RecordingProgress.made.append(self)

    def epoch(self, job):
        self.reported[job] += 1
        super().epoch(job)


@pytest.mark.slow
@pytest.mark.parametrize("workers", [1, 2])
def test_progress_counts_every_epoch_of_every_job(tmp_path, monkeypatch, workers):
    monkeypatch.setattr(elmo.ynat.jobs, "GridProgress", RecordingProgress)
    RecordingProgress.made.clear()
    data = make_data(n_per_class=12, n_dev_per_class=4)
    cfg = tiny_cfg(max_epochs=3)
    jobs = [Job({}, 0), Job(ELMO, 1, trainer=(("max_epochs", 2),))]
    results = run_jobs(cfg, data, jobs, tmp_path, logger=False, workers=workers)
    bar = RecordingProgress.made[-1]
    assert bar.totals == [3, 2]
    assert bar.reported == [r["epochs"] for r in results] and all(n > 0 for n in bar.reported)
    assert bar.finished == 2 and sum(bar.seen) == 5  # full at the end, early-stopped jobs included


def test_command_line_distils_a_variant_from_its_teachers(data_root, tmp_path, capsys):
    """`python -m elmo.jobs --teacher ...` trains the teacher over the seeds, then the student
    against its ensemble; both models' runs (and ensembles) are printed as JSON lines."""
    main(["--profile", "tiny", "--variant", "elmo=false", "--teacher", "elmo=false", "--seeds", "0", "1",
          "--out", str(tmp_path)])  # fmt: skip
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    runs = [(r["model"], r["variant"], r["seed"]) for r in lines if "seed" in r]
    assert runs == [("teacher", "no-elmo", 0), ("teacher", "no-elmo", 1),
                    ("model", "no-elmo-distilled-teacher", 0), ("model", "no-elmo-distilled-teacher", 1)]  # fmt: skip
    assert [r["model"] for r in lines if "ensemble" in r] == ["teacher", "model"]
    assert (tmp_path / "ynat" / "no-elmo-distilled-teacher" / "seed1" / "checkpoints" / "best.ckpt").exists()
