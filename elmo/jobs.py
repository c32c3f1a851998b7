"""Many task-model trainings at once: one job per (variant, seed, training rows), in worker processes.

The YNAT task model is small: its matrix products are too short to keep two threads busy, so
on a 2-core machine two single-threaded processes train about twice as many models per minute
as one process with two threads (and far more when other work shares the cores, where OpenMP
threads wait on each other). `run_jobs` therefore spreads independent jobs over
`FinetuneConfig.workers` processes, each with its share of the threads.

Every job seeds itself (`classify.train_and_evaluate`), so its result does not depend on which
worker ran it or in what order; results come back in the order of the jobs. The layer cache is
memory-mapped again in each worker from its directory, never copied through a pipe.
"""

from __future__ import annotations

import dataclasses
import json
import multiprocessing as mp
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import torch

from elmo.classify import YnatData, train_and_evaluate
from elmo.config import Config


@dataclass(frozen=True)
class Job:
    """One training run: a variant (a `classify.DEFAULT_VARIANT` update), a seed, optionally the
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

    A result is `classify.train_and_evaluate`'s dict plus "wall_seconds": the whole run of that
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
    from elmo.embedder import LayerCache

    torch.set_num_threads(threads)
    _WORKER_DATA = data.with_cache(LayerCache(cache) if isinstance(cache, str) else cache)


def _run_in_worker(args: tuple) -> dict:
    cfg, job, out_dir, logger = args
    assert _WORKER_DATA is not None, "worker used before _init_worker"
    return run_job(cfg, _WORKER_DATA, job, out_dir, logger)


# ----------------------------------------------------------------------------- command line


def _pairs(items: Sequence[str]) -> dict:
    """["lr=0.006", "placement=input_output"] -> {"lr": 0.006, "placement": "input_output"}."""
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep:
            raise SystemExit(f"expected key=value, got {item!r}")
        try:
            out[key] = json.loads(value)
        except json.JSONDecodeError:
            out[key] = value
    return out


def main(argv: Sequence[str] | None = None) -> None:
    """One task-model configuration over some seeds, on the profile's cached biLM layers; prints
    holdout and dev scores as JSON lines. For exploring settings outside the notebooks:

        python -m elmo.jobs --profile cpu --finetune lr=0.006 max_epochs=10 --variant elmo=true --seeds 0
    """
    import argparse

    from elmo.config import get_config
    from elmo.embedder import LayerCache
    from elmo.pretrain import pretrain
    from elmo.runs import run_dir

    ap = argparse.ArgumentParser(description=main.__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--profile", default="cpu")
    ap.add_argument("--finetune", nargs="*", default=[], help="FinetuneConfig overrides, key=value")
    ap.add_argument("--variant", nargs="*", default=["elmo=true"], help="variant keys, key=value")
    ap.add_argument("--seeds", nargs="*", type=int, default=None)
    ap.add_argument("--out", default=None, help="run folder (default runs/<profile>/explore)")
    ap.add_argument("--artifact", default=None, help="biLM artifact directory (default: the profile's pretrained one)")
    args = ap.parse_args(argv)
    cfg = get_config(args.profile, finetune=_pairs(args.finetune))
    variant = _pairs(args.variant)
    data = YnatData.load(cfg)
    if variant.get("elmo"):
        artifact = Path(args.artifact) if args.artifact else pretrain(cfg)
        data = data.with_cache(LayerCache.build(artifact, data.tokens, cache_root=run_dir(args.profile, "cache")))
    out = Path(args.out) if args.out else run_dir(args.profile, "explore")
    seeds = cfg.finetune.seeds if args.seeds is None else args.seeds
    runs = run_jobs(cfg, data, [Job(variant, s) for s in seeds], out, logger=False)
    keys = ("seed", "variant", "holdout_macro_f1", "macro_f1", "accuracy", "epochs", "wall_seconds", "mix_weights", "gamma")
    for r in runs:
        print(json.dumps({"finetune": _pairs(args.finetune), **{k: r.get(k) for k in keys}}))
    if len(runs) > 1:
        from elmo.ensemble import seed_ensemble

        e = seed_ensemble(data, out / "ynat", runs)
        print(json.dumps({"ensemble": e["members"], **{k: e[k] for k in ("holdout_macro_f1", "macro_f1", "accuracy")}}))


if __name__ == "__main__":
    main()
