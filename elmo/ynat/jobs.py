"""Many task-model trainings at once: one job per (variant, seed, training rows), in worker processes.

The YNAT task model is small: its matrix products are too short to keep two threads busy, so
on a 2-core machine two single-threaded processes train about twice as many models per minute
as one process with two threads (and far more when other work shares the cores, where OpenMP
threads wait on each other). `run_jobs` therefore spreads independent jobs over
`FinetuneConfig.workers` processes, each with its share of the threads.

Every job seeds itself (`elmo.ynat.train.train_and_evaluate`), so its result does not depend on which
worker ran it or in what order; results come back in the order of the jobs. The layer cache is
memory-mapped again in each worker from its directory, never copied through a pipe.

A job may wait for others (`Job.after`): a distilled model for every seed of its teacher. It is
completed here from their results (`run_jobs`' `prepare`: the teacher ensemble's targets) and
joins the same pool as soon as they finish, while unrelated jobs keep both cores busy.

Progress: each training reports its finished epochs (a Lightning callback) through a queue from
the worker to this process, where one bar over the whole grid counts epochs and finished runs
(`GridProgress`), so a notebook cell shows live progress although the training is elsewhere.
"""

from __future__ import annotations

import dataclasses
import multiprocessing as mp
import queue as queue_module
import time
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

import pytorch_lightning as pl
import torch
from tqdm.auto import tqdm

from elmo.core.config import Config
from elmo.core.reuse import reuse_freed_memory
from elmo.core.runs import run_dir
from elmo.embed.layer_cache import LayerCache
from elmo.ynat.data import YnatData
from elmo.ynat.distill import teacher_targets
from elmo.ynat.train import best_checkpoint, resolve_variant, train_and_evaluate, uses_layers


@dataclass(frozen=True)
class Job:
    """One training run: a variant (a `TaskVariant`, or a dict of its fields), a seed, optionally the
    rows to train on (default: the data's `fit` rows; holdout and dev never change) and Trainer
    overrides as (name, value) pairs, e.g. (("max_epochs", 90), ("check_val_every_n_epoch", 9)).
    `data`: which of several datasets given to `run_jobs` as {name: YnatData} it trains on (e.g.
    "adapted": the layers of the adapted biLM); None when `run_jobs` gets one YnatData.
    `after`: indices of jobs (in the same `run_jobs` call) that must finish before this one starts;
    `run_jobs`' `prepare` then completes it from their results. `targets`: soft targets for the
    fit rows (`YnatData.with_targets`; a distilled model's, set by `run_models`' `prepare`).
    `init`: a checkpoint whose weights the model starts from instead of its random initialisation
    (a distilled model's own seed's teacher, `FinetuneConfig.distill_init` "teacher")."""

    variant: dict
    seed: int
    fit: tuple[int, ...] | None = None
    trainer: tuple[tuple[str, Any], ...] = ()
    data: str | None = None
    after: tuple[int, ...] = ()
    targets: np.ndarray | None = field(default=None, compare=False, repr=False)
    init: str | None = None


def run_jobs(
    cfg: Config,
    data: YnatData | dict[str, YnatData],
    jobs: Sequence[Job],
    out_dir: Path | None = None,
    logger: bool = True,
    workers: int | None = None,
    progress: bool = True,
    prepare: Callable[[Job, list[dict]], Job] | None = None,
) -> list[dict]:
    """`train_and_evaluate` for every job -> results in job order, with "wall_seconds" and "n_fit".

    data : one YnatData for every job, or {name: YnatData} from which each job takes `job.data`
        (all jobs still share one pool, so no core idles while another dataset's jobs remain).

    workers : processes to use (default `cfg.finetune.workers`); 1 runs everything here, in
        this process, which is also what happens for a single job.
    progress : one live bar over all jobs' epochs (`GridProgress`), fed from the workers.
    prepare : for jobs with `after`: called here, as soon as the jobs it names have finished,
        with the job and their results (in `after` order); returns the job to run. The job then
        joins the pool while other jobs still train (no stage waits for the slowest of another).
    """
    workers = cfg.finetune.workers if workers is None else workers
    for i, job in enumerate(jobs):
        if not all(0 <= a < len(jobs) and a != i for a in job.after) or (job.after and prepare is None):
            raise ValueError(f"job {i}: `after` must name other jobs of this call, and needs `prepare` ({job.after})")
        if any(jobs[a].after for a in job.after):
            raise ValueError(f"job {i} waits for a job that waits itself: one level of `after` only")
    # Two jobs with one run folder (variant name, seed) would overwrite each other's checkpoints.
    folders = [(resolve_variant(job.variant)["name"], job.seed) for job in jobs]
    shared = sorted({f for f in folders if folders.count(f) > 1})
    if shared:
        raise ValueError(f"jobs share run folders (variant name, seed) {shared}: give the variants distinct names")
    datas = data if isinstance(data, dict) else {None: data}
    missing = {job.data for job in jobs} - set(datas)
    if missing:
        raise ValueError(f"job(s) ask for data {sorted(map(str, missing))}, given {sorted(map(str, datas))}")
    bar = GridProgress([max_epochs(cfg, job) for job in jobs], disable=not progress)
    with bar:
        if workers <= 1 or len(jobs) <= 1:
            done: dict[int, dict] = {}
            for i in sorted(range(len(jobs)), key=lambda i: bool(jobs[i].after)):  # waiting jobs last
                job = _prepared(jobs[i], done, prepare)
                done[i] = run_job(cfg, datas[job.data], job, out_dir, logger, EpochReporter(i, bar.epoch))
                bar.done(i)
            return [done[i] for i in range(len(jobs))]
        return _run_in_pool(cfg, datas, jobs, out_dir, logger, workers, bar, prepare)


def _portable(data: YnatData) -> tuple[YnatData, Any]:
    """(data without its cache, the cache as it travels to a worker): a LayerCache as its
    directory (reopened there as a memory map), any other cache object (a test's) pickled."""
    directory = getattr(data.cache, "directory", None)
    return dataclasses.replace(data, cache=None), str(directory) if directory is not None else data.cache


def _run_in_pool(cfg, datas: dict, jobs, out_dir, logger, workers, bar: "GridProgress", prepare=None) -> list[dict]:
    threads = max(1, torch.get_num_threads() // workers)
    # spawn, not fork: a forked child of a process whose OpenMP pool is running can deadlock.
    ctx = mp.get_context("spawn")
    epochs = ctx.Queue()  # (job index) per finished epoch, from the workers' EpochReporter
    init = ({name: _portable(d) for name, d in datas.items()}, threads, epochs)
    with ProcessPoolExecutor(min(workers, len(jobs)), mp_context=ctx, initializer=_init_worker, initargs=init) as pool:
        futures: dict = {}
        done: dict[int, dict] = {}

        def submit(i: int):
            # The workers hold every core by now: prepare on one thread. With two, OpenMP's threads
            # here and in the workers waited on each other (03's runs beside a two-thread prepare
            # took up to 231 s against 120-167).
            with _threads(1):
                job = _prepared(jobs[i], done, prepare)
            future = pool.submit(_run_in_worker, (cfg, job, out_dir, logger, i))
            futures[future] = i
            return future

        # The pool starts jobs in submission order; a waiting job is submitted when it can run.
        order = submission_order(cfg, datas, jobs)
        waiting = [i for i in order if jobs[i].after]
        pending = {submit(i) for i in order if not jobs[i].after}
        while pending:
            finished, pending = wait(pending, timeout=0.5, return_when=FIRST_COMPLETED)
            _drain(epochs, bar)
            for f in finished:
                done[futures[f]] = f.result()  # a failed job raises here, at once
                bar.done(futures[f])
            for i in [i for i in waiting if all(a in done for a in jobs[i].after)]:
                waiting.remove(i)
                pending.add(submit(i))
        _drain(epochs, bar)
        return [done[i] for i in range(len(jobs))]


def _prepared(job: Job, done: dict[int, dict], prepare) -> Job:
    """The job to run: as given, or `prepare`d from the results of the jobs it waits for."""
    return prepare(job, [done[a] for a in job.after]) if job.after else job


@contextmanager
def _threads(n: int):
    """torch's intra-op threads set to `n` inside, restored after."""
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


# Relative cost of one epoch over one row, by what the model reads (03's pool at 0123dd6, seconds
# per run: no ELMo 58, ELMo at the input 110, at input and output 145). Only the order in which
# the pool starts jobs depends on it, never a result.
COST_NO_ELMO, COST_ELMO_INPUT, COST_ELMO_INPUT_OUTPUT = 1.0, 1.9, 2.5


def job_cost(cfg: Config, data: YnatData, job: Job) -> float:
    """A rough estimate of a job's training time (arbitrary units): rows x epochs x model cost."""
    v = resolve_variant(job.variant)
    per_row = COST_NO_ELMO
    if v["elmo"]:
        per_row = COST_ELMO_INPUT_OUTPUT if v["placement"] == "input_output" else COST_ELMO_INPUT
    elif uses_layers(v):
        per_row = COST_ELMO_INPUT
    rows = len(job.fit) if job.fit is not None else len(data.fit)
    return rows * max_epochs(cfg, job) * per_row


def submission_order(cfg: Config, datas: dict, jobs: Sequence[Job]) -> list[int]:
    """Job indices: the jobs that others wait for (`Job.after`) first, then the rest; each group
    longest expected job first (ties: job order).

    The pool starts jobs in the order they are submitted; started longest first, the short jobs
    fill the end, so no worker sits idle while another finishes a long run (in job order, 03's
    last three jobs were its slowest kind). Awaited jobs first, so the jobs waiting for them
    (03's distilled models) can start while the others still train.
    """
    awaited = {a for job in jobs for a in job.after}
    return sorted(range(len(jobs)), key=lambda i: (i not in awaited, -job_cost(cfg, datas[jobs[i].data], jobs[i]), i))


def _drain(epochs, bar: "GridProgress") -> None:
    while True:
        try:
            bar.epoch(epochs.get_nowait())
        except queue_module.Empty:
            return


def max_epochs(cfg: Config, job: Job) -> int:
    return int(dict(job.trainer).get("max_epochs", cfg.finetune.max_epochs))


class GridProgress:
    """One tqdm bar over the epochs of many runs, "runs done k/N" as its postfix.

    totals : each job's max_epochs. A job that stops early (early stopping) jumps to its total
    when it finishes, so the bar ends full. Works as a context manager.
    """

    def __init__(self, totals: Sequence[int], disable: bool = False):
        self.totals, self.seen, self.finished = list(totals), [0] * len(totals), 0
        self.bar = tqdm(total=sum(self.totals), desc="task models", unit="epoch", disable=disable)
        self._postfix()

    def epoch(self, job: int) -> None:
        if self.seen[job] < self.totals[job]:
            self.seen[job] += 1
            self.bar.update(1)

    def done(self, job: int) -> None:
        self.bar.update(self.totals[job] - self.seen[job])
        self.seen[job] = self.totals[job]
        self.finished += 1
        self._postfix()

    def _postfix(self) -> None:
        self.bar.set_postfix_str(f"runs done {self.finished}/{len(self.totals)}", refresh=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.bar.close()


class EpochReporter(pl.Callback):
    """Calls `report(job)` after every training epoch (in a worker: puts it on the queue)."""

    def __init__(self, job: int, report):
        self.job, self.report = job, report

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        self.report(self.job)


def run_grid(
    cfg: Config,
    data: YnatData,
    grid: dict[str, dict],
    seeds: Sequence[int] | None = None,
    out_dir: Path | None = None,
    logger: bool = True,
    workers: int | None = None,
) -> dict[str, list[dict]]:
    """Each variant of `grid` over `seeds` (default FinetuneConfig.seeds) -> {name: [result per seed]}.

    A result is `elmo.ynat.train.train_and_evaluate`'s dict plus "wall_seconds": the whole run of that
    seed (build, train, select, score dev). All variant × seed runs share one pool of `workers`
    processes, so a slow variant does not leave a core idle.
    """
    seeds = cfg.finetune.seeds if seeds is None else seeds
    keys = [(name, s) for name in grid for s in seeds]
    return _by_key(grid, keys, run_jobs(cfg, data, [Job(grid[name], s) for name, s in keys], out_dir, logger, workers))


def _by_key(models: dict, keys: list[tuple[str, int]], done: list[dict]) -> dict[str, list[dict]]:
    """Job results in `keys` order ((model, seed) pairs) -> {model: [result per seed]}."""
    results: dict[str, list[dict]] = {key: [] for key in models}
    for (key, _), r in zip(keys, done):
        results[key].append(r)
    return results


def run_models(
    cfg: Config,
    data_by_bilm: dict[str, YnatData],
    models: dict[str, Any],
    seeds: Sequence[int] | None = None,
    out_dir: Path | None = None,
    logger: bool = True,
    workers: int | None = None,
) -> dict[str, list[dict]]:
    """`run_grid` over models that read different biLMs (`TaskVariant.bilm`): each model trains on
    its biLM's data (`data_by_bilm["pretrained"]`, `["adapted"]`), all of them in one pool.
    A model whose `TaskVariant.teacher` names another of `models` trains against that model's
    seed ensemble's probabilities (`elmo.ynat.distill`): its jobs wait for every seed of the
    teacher, then join the same pool while the other models still train. With
    `FinetuneConfig.distill_init` "teacher", each seed of it starts from the same seed's teacher
    weights and trains for at most `distill_epochs` epochs (the teacher must then be the same
    variant but for its name and teacher).
    -> {model key: [result per seed]} in the order of `models`."""
    seeds = cfg.finetune.seeds if seeds is None else seeds
    variants = {key: resolve_variant(variant) for key, variant in models.items()}
    bilms = {key: v["bilm"] for key, v in variants.items()}
    for key, bilm in bilms.items():
        if bilm not in data_by_bilm:
            raise ValueError(f"model {key!r} reads the {bilm!r} biLM, but only {sorted(data_by_bilm)} were given")
    teachers = {key: v["teacher"] for key, v in variants.items() if v["teacher"] is not None}
    for key, teacher in teachers.items():
        if teacher not in models or teacher in teachers:
            raise ValueError(f"model {key!r}: its teacher {teacher!r} must be another model of this run, not distilled itself")
    run_root = Path(out_dir if out_dir is not None else run_dir(cfg.profile)) / "ynat"
    warm = _warm_students(cfg, variants, teachers)

    def make_job(key: str, seed: int) -> Job:
        if key not in warm:
            return Job(models[key], seed, data=bilms[key])
        # From the holdout-selected checkpoint of its own seed's teacher (written before it starts).
        teacher_run = {"variant": variants[teachers[key]]["name"], "seed": seed}
        return Job(models[key], seed, data=bilms[key], trainer=(("max_epochs", cfg.finetune.distill_epochs),),
                   init=str(best_checkpoint(run_root, teacher_run)))  # fmt: skip

    pairs = [(key, s) for key in models for s in seeds]
    jobs = [make_job(key, s) for key, s in pairs]
    # A student waits for every seed of its teacher, then trains on its seed ensemble's targets.
    jobs = [dataclasses.replace(job, after=tuple(i for i, (k, _) in enumerate(pairs) if k == teachers[key]))
            if key in teachers else job for job, (key, _) in zip(jobs, pairs)]  # fmt: skip

    key_of = {v["name"]: key for key, v in variants.items()}
    made: dict[tuple, np.ndarray] = {}  # one teacher ensemble's targets serve all its student's seeds

    def with_targets(job: Job, teacher_runs: list[dict]) -> Job:
        teacher = key_of[teacher_runs[0]["variant"]]
        runs = (job.data, teacher, *(r["seed"] for r in teacher_runs))
        if runs not in made:
            made[runs] = teacher_targets(data_by_bilm[job.data], data_by_bilm[bilms[teacher]], run_root, teacher_runs,
                                         cfg.finetune.distill_weight)  # fmt: skip
        return dataclasses.replace(job, targets=made[runs])

    return _by_key(models, pairs, run_jobs(cfg, data_by_bilm, jobs, out_dir, logger, workers, prepare=with_targets))


DISTILL_INITS = ("teacher", "scratch")  # FinetuneConfig.distill_init


def _warm_students(cfg: Config, variants: dict[str, dict], teachers: dict[str, str]) -> set[str]:
    """The keys of the students that start from their teacher's weights (`FinetuneConfig.distill_init`
    "teacher"); none for "scratch". A student and its teacher must be the same model but for the
    targets, or the weights would not fit."""
    f = cfg.finetune
    if f.distill_init not in DISTILL_INITS:
        raise ValueError(f"distill_init must be one of {DISTILL_INITS}, not {f.distill_init!r}")
    if f.distill_init == "scratch":
        return set()
    for key, teacher in teachers.items():
        mine, theirs = ({k: v for k, v in variants[m].items() if k not in ("name", "teacher")} for m in (key, teacher))
        if mine != theirs:
            diff = sorted(k for k in mine if mine[k] != theirs[k])
            raise ValueError(f"model {key!r} starts from its teacher {teacher!r}'s weights (distill_init 'teacher'), "
                             f"but they differ in {diff}: use distill_init='scratch' or the same variant")  # fmt: skip
    return set(teachers)


def run_job(cfg: Config, data: YnatData, job: Job, out_dir: Path | None, logger: bool,
            reporter: pl.Callback | None = None) -> dict:
    """One job in this process; "wall_seconds" covers build, training, selection and dev scoring,
    "n_fit" counts the rows trained on. `reporter`: an extra callback (progress)."""
    if job.fit is not None:
        data = dataclasses.replace(data, fit=list(job.fit))
    if job.targets is not None:
        data = data.with_targets(job.targets)
    overrides = dict(job.trainer)
    if reporter is not None:
        overrides["callbacks"] = [*overrides.get("callbacks", []), reporter]
    t0 = time.perf_counter()
    result = train_and_evaluate(cfg, data, job.seed, job.variant, out_dir, logger, init=job.init, **overrides)
    return {**result, "wall_seconds": time.perf_counter() - t0, "n_fit": len(data.fit)}


_WORKER_DATA: dict | None = None  # {name: YnatData} of this worker
_WORKER_EPOCHS = None  # the queue of finished epochs back to the parent


# Each training step frees and asks again for blocks of the same sizes (ELMo's layer batches and
# mixes): kept on the worker's heap, not page-faulted in again (`elmo.core.reuse`; 5-8 % a run).
WORKER_MMAP_ABOVE = 32 * 2**20


def _init_worker(portable: dict, threads: int, epochs=None) -> None:
    global _WORKER_DATA, _WORKER_EPOCHS

    reuse_freed_memory(WORKER_MMAP_ABOVE)
    torch.set_num_threads(threads)
    _WORKER_DATA = {name: data.with_cache(LayerCache(cache) if isinstance(cache, str) else cache)
                    for name, (data, cache) in portable.items()}  # fmt: skip
    _WORKER_EPOCHS = epochs


def _run_in_worker(args: tuple) -> dict:
    cfg, job, out_dir, logger, index = args
    assert _WORKER_DATA is not None, "worker used before _init_worker"
    reporter = EpochReporter(index, _WORKER_EPOCHS.put) if _WORKER_EPOCHS is not None else None
    return run_job(cfg, _WORKER_DATA[job.data], job, out_dir, logger, reporter)
