"""Seeding, run folders and what every run writes beside its outputs.

One seeding function, `seed_everything`, is called at the start of every run; with it a CPU run
repeats exactly. Every run folder gets `run.json`: the resolved config, the git revision (and
whether the tree was dirty) and the versions of the packages that shape the numbers.
"""

from __future__ import annotations

import json
import logging
import os
import platform
import random
import subprocess
import warnings
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import torch

from elmo.core.config import Config
from elmo.core.hardware import machine
from elmo.core.reuse import keep_compiled_kernels, reuse_freed_memory

REPO = Path(__file__).resolve().parents[2]  # elmo/core/runs.py -> the repository
PACKAGES = (
    "torch", "pytorch-lightning", "torchmetrics", "numpy", "scipy", "scikit-learn", "kiwipiepy",
    "kiwipiepy-model", "safetensors", "matplotlib", "umap-learn", "mlflow",
)  # fmt: skip


def seed_everything(seed: int, keep_freed_memory: bool = False, keep_kernels: bool = True) -> None:
    """Seed Python, NumPy and torch (all devices) and make cuDNN deterministic.

    It also sets the process up for speed (`elmo.core.reuse`; none of it changes a result):
    denormals flushed; oneDNN keeps more compiled kernels unless `keep_kernels` is False (the
    bench's measurement of the code before issue 14); freed memory is kept for reuse only when
    `keep_freed_memory` is True, which the biLM's training asks for (its large temporaries come
    back every step). The task models leave glibc as it is (see `elmo.core.reuse`).
    """
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    os.environ["PYTHONHASHSEED"] = str(seed)
    torch.backends.cudnn.deterministic = True
    torch.backends.cudnn.benchmark = False
    # Lightning's deterministic=True also turns on this NaN-filling of every fresh tensor (a
    # debugging aid; nothing here reads uninitialised memory). On these CPUs it made some biLM
    # steps 10-50x slower (seconds instead of ~0.3 s), so epochs took twice as long.
    torch.utils.deterministic.fill_uninitialized_memory = False
    # Denormal floats (Adam's decaying moments, vanishing gradients) are 10-100x slower on these
    # CPUs; flushing them to zero costs no accuracy a biLM can notice and keeps runs exact.
    torch.set_flush_denormal(True)
    if keep_kernels:
        keep_compiled_kernels()
    if keep_freed_memory:
        reuse_freed_memory()


def run_dir(profile: str, *parts: str) -> Path:
    """`runs/<profile>/<parts...>` under the repo (created), the home of a profile's outputs."""
    path = REPO.joinpath("runs", profile, *parts)
    path.mkdir(parents=True, exist_ok=True)
    return path


def git_revision() -> dict[str, Any]:
    def git(*args: str) -> str:
        out = subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True, timeout=10)
        return out.stdout.strip() if out.returncode == 0 else ""

    return {"commit": git("rev-parse", "HEAD") or None, "dirty": bool(git("status", "--porcelain"))}


def package_versions() -> dict[str, str | None]:
    versions: dict[str, str | None] = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def provenance(cfg: Config | None = None) -> dict[str, Any]:
    """What produced an output: config, git revision, packages, machine, time."""
    return {
        "config": cfg.to_dict() if cfg is not None else None,
        "git": git_revision(),
        "packages": package_versions(),
        "machine": machine(),
        "time": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }


def write_run_info(directory: Path, cfg: Config, **extra: Any) -> Path:
    """Write `run.json` (provenance plus any extra fields) into a run folder."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "run.json"
    path.write_text(json.dumps({**provenance(cfg), **extra}, indent=2, ensure_ascii=False))
    return path


# Lightning's info lines that say nothing about this run: hardware banners (always "no GPU" here),
# an advertisement, the end-of-fit notice, the echo of the default "use every batch", and the
# MLflow logger's note that it creates an experiment on first use (a "warning" only by level).
# Matched at the start of the message.
LIGHTNING_CHATTER = ("GPU available:", "TPU available:", "HPU available:", "💡 Tip:", "`Trainer.fit` stopped:",
                     "`Trainer(limit_train_batches=1.0)` was configured so 100%", "Experiment with name ",
                     "Using bfloat16 Automatic Mixed Precision")  # fmt: skip
# Deprecations raised inside the pinned libraries, not by our code (nothing for us to fix).
KNOWN_DEPRECATIONS = (r"`isinstance\(treespec, LeafSpec\)` is deprecated",)


class _DropChatter:
    """A logging filter that drops the records in LIGHTNING_CHATTER and keeps all others."""

    def filter(self, record) -> bool:
        return not str(record.getMessage()).startswith(LIGHTNING_CHATTER)


def quiet_lightning() -> None:
    """Silence Lightning's banners, tips and the known deprecations; every other message and
    warning still shows. Idempotent; the trainer factories call it, so notebooks, worker
    processes and `make reproduce` are all covered."""
    for name in ("pytorch_lightning.utilities.rank_zero", "lightning.pytorch.utilities.rank_zero",
                 "lightning_fabric.utilities.rank_zero", "pytorch_lightning.loggers.mlflow"):  # fmt: skip
        log = logging.getLogger(name)
        if not any(isinstance(f, _DropChatter) for f in log.filters):
            log.addFilter(_DropChatter())
    for message in KNOWN_DEPRECATIONS:
        warnings.filterwarnings("ignore", message=message, category=FutureWarning)
