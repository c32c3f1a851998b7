"""Many task-model trainings at once: one job per (variant, seed, training rows), in worker processes.

The YNAT task model is small: its matrix products are too short to keep two threads busy, so
on a 2-core machine two single-threaded processes train about twice as many models per minute
as one process with two threads (and far more when other work shares the cores, where OpenMP
threads wait on each other). `run_jobs` therefore spreads independent jobs over
`FinetuneConfig.workers` processes, each with its share of the threads.

Every job seeds itself (`elmo.ynat.train.train_and_evaluate`), so its result does not depend on which
worker ran it or in what order; results come back in the order of the jobs. The layer cache is
memory-mapped again in each worker from its directory, never copied through a pipe.
"""

from __future__ import annotations

import dataclasses
import multiprocessing as mp
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import torch

from elmo.core.config import Config
from elmo.embed.layer_cache import LayerCache
from elmo.ynat.data import YnatData
from elmo.ynat.train import train_and_evaluate


@dataclass(frozen=True)
class Job:
    """One training run: a variant (a `TaskVariant`, or a dict of its fields), a seed, optionally the
    rows to train on (default: the data's `fit` rows; holdout and dev never change) and Trainer
    overrides as (name, value) pairs, e.g. (("max_epochs", 90), ("check_val_every_n_epoch", 9))."""

    variant: dict
    seed: int
    fit: tuple[int, ...] | None = None
    trainer: tuple[tuple[str, Any], ...] = ()


def run_jobs(
    cfg: Config,
    data: YnatData,
    jobs: Sequence[Job],
    out_dir: Path | None = None,
    logger: bool = True,
    workers: int | None = None,
) -> list[dict]:
    """`train_and_evaluate` for every job -> results in job order, with "wall_seconds" and "n_fit".

    workers : processes to use (default `cfg.finetune.workers`); 1 runs everything here, in
        this process, which is also what happens for a single job.
    """
    workers = cfg.finetune.workers if workers is None else workers
    if workers <= 1 or len(jobs) <= 1:
        return [run_job(cfg, data, job, out_dir, logger) for job in jobs]
    # A LayerCache travels as its directory (reopened as a memory map); any other cache object
    # (e.g. a test's in-memory one) travels pickled.
    directory = getattr(data.cache, "directory", None)
    cache = str(directory) if directory is not None else data.cache
    threads = max(1, torch.get_num_threads() // workers)
    # spawn, not fork: a forked child of a process whose OpenMP pool is running can deadlock.
    ctx = mp.get_context("spawn")
    init = (dataclasses.replace(data, cache=None), cache, threads)
    with ProcessPoolExecutor(min(workers, len(jobs)), mp_context=ctx, initializer=_init_worker, initargs=init) as pool:
        return list(pool.map(_run_in_worker, [(cfg, job, out_dir, logger) for job in jobs]))


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
    done = run_jobs(cfg, data, [Job(grid[name], s) for name, s in keys], out_dir, logger, workers)
    results: dict[str, list[dict]] = {name: [] for name in grid}
    for (name, _), r in zip(keys, done):
        results[name].append(r)
    return results


def run_job(cfg: Config, data: YnatData, job: Job, out_dir: Path | None, logger: bool) -> dict:
    """One job in this process; "wall_seconds" covers build, training, selection and dev scoring,
    "n_fit" counts the rows trained on."""
    if job.fit is not None:
        data = dataclasses.replace(data, fit=list(job.fit))
    t0 = time.perf_counter()
    result = train_and_evaluate(cfg, data, job.seed, job.variant, out_dir, logger, **dict(job.trainer))
    return {**result, "wall_seconds": time.perf_counter() - t0, "n_fit": len(data.fit)}


_WORKER_DATA: YnatData | None = None


def _init_worker(data: YnatData, cache, threads: int) -> None:
    global _WORKER_DATA

    torch.set_num_threads(threads)
    _WORKER_DATA = data.with_cache(LayerCache(cache) if isinstance(cache, str) else cache)


def _run_in_worker(args: tuple) -> dict:
    cfg, job, out_dir, logger = args
    assert _WORKER_DATA is not None, "worker used before _init_worker"
    return run_job(cfg, _WORKER_DATA, job, out_dir, logger)
