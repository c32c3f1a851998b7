"""Minutes against macro-F1: what a longer biLM pretraining buys on YNAT.

    python -m elmo.tradeoff --profile cpu --epochs 2 4 6

For each pretraining length N: the profile's biLM trained for N epochs, its YNAT layers cached,
and the main task model (ELMo at the input and output of the biLSTM, as in 03) trained over the
profile's seeds, scored on the full dev set, singly and as a seed ensemble. The profile's own
length reuses `runs/<profile>/bilm` (02's); other lengths live in `runs/<profile>-e<N>/`. At a
constant learning rate N epochs continue the checkpoint of the longest shorter run, exactly as an
N-epoch run from scratch would (`tests/bilm/test_train.py` checks that resuming repeats a run);
a schedule that ends with the run (the `cpu` profile's linear decay) makes every length its own
run from scratch (`config_hash` then holds the epochs). Writes `runs/<profile>/tradeoff.json`, which
`python -m elmo.results --readme` turns into a table.

Minutes are wall clock as measured, so they depend on what else the machine was doing: the
record says when each part ran.
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path
from typing import Sequence

from elmo.bilm.train import config_hash, pretrain
from elmo.core.config import Config, get_config
from elmo.core.runs import REPO, run_dir
from elmo.embed.layer_cache import LayerCache
from elmo.ynat.data import YnatData
from elmo.ynat.ensemble import scored, seed_probabilities
from elmo.ynat.jobs import Job, run_jobs
from elmo.ynat.results import reusable_runs
from elmo.ynat.train import resolve_variant, summarize


def bilm_home(profile: str, epochs: int, default_epochs: int) -> Path:
    """Where the biLM of `epochs` pretraining epochs lives (the profile's own run for its default)."""
    return REPO / "runs" / (profile if epochs == default_epochs else f"{profile}-e{epochs}")


def seed_checkpoints(cfg: Config, home: Path, shorter: Sequence[Path]) -> None:
    """Copy the checkpoints of the longest of the `shorter` runs (given shortest first) that has
    this config's checkpoints into `home`, so training resumes there; a run already in `home`
    is left alone."""
    name = f"checkpoints-{config_hash(cfg)}"
    target = home / "pretrain" / name
    if target.exists():
        return
    for prev in reversed(list(shorter)):
        if (prev / "pretrain" / name / "last.ckpt").exists():
            shutil.copytree(prev / "pretrain" / name, target)
            return


def pretrained(profile: str, epochs: int) -> tuple[Path, dict]:
    """(artifact, its pretraining record) for `epochs` epochs, training only what is missing."""
    base = get_config(profile)
    cfg = get_config(profile, train={"max_epochs": epochs})
    home = bilm_home(profile, epochs, base.train.max_epochs)
    shorter = [bilm_home(profile, e, base.train.max_epochs) for e in range(1, epochs)]
    seed_checkpoints(cfg, home, [p for p in shorter if p.exists()])
    artifact = pretrain(cfg, out=home)
    record = json.loads((artifact / "config.json").read_text())["extra"]
    return artifact, record


def measure(profile: str, epochs: int, data: YnatData) -> dict:
    """One row of the trade-off: pretraining minutes and valid perplexity, finetuning minutes
    and dev macro-F1 of the main model (mean ± std over seeds, and the seed ensemble)."""
    artifact, record = pretrained(profile, epochs)
    cfg = get_config(profile)
    t0 = time.perf_counter()
    cached = data.with_cache(LayerCache.build(artifact, data.tokens, cache_root=run_dir(profile, "cache")))
    cache_seconds = time.perf_counter() - t0
    # 03's runs of its main model, when 03 trained them on this very biLM and settings.
    main = cfg.finetune.main_model
    runs = reusable_runs(run_dir(profile), cfg, artifact).get(main, [])
    root = run_dir(profile, "ynat")
    if not runs:
        out = run_dir(profile, f"tradeoff-e{epochs}")
        runs, root = run_jobs(cfg, cached, [Job(resolve_variant(cfg.finetune.models[main]), s) for s in cfg.finetune.seeds], out, logger=False), out / "ynat"
    ensemble = scored(cached, seed_probabilities(cached, root, runs))
    # Runs train side by side in `workers` processes: their summed time over that is the wall time.
    finetune_seconds = sum(r["wall_seconds"] for r in runs) / max(1, cfg.finetune.workers)
    results = record.get("results", {})
    return {
        "pretrain_epochs": epochs,
        "pretrain_minutes": results.get("train_seconds", float("nan")) / 60,
        "valid_ppl": results.get("valid", {}).get("ppl"),
        "cache_minutes": cache_seconds / 60,
        "finetune_minutes": finetune_seconds / 60,
        "dev_macro_f1": summarize(runs),
        "ensemble": {k: ensemble[k] for k in ("macro_f1", "accuracy", "holdout_macro_f1")},
        "holdout_macro_f1": [r["holdout_macro_f1"] for r in runs],
        "finished": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
