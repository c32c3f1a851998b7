"""Pretrain the biLM of a profile (what notebook 02 runs) and print its held-out perplexities.

    python -m elmo.pretrain --profile cpu [--force]

The training itself: `elmo.bilm.train`.
"""

from __future__ import annotations

import argparse
import json
import os

from elmo.bilm.train import pretrain
from elmo.core.config import PROFILES, get_config


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--profile", default="cpu", choices=PROFILES)
    ap.add_argument("--force", action="store_true", help="retrain even if a matching artifact exists")
    ap.add_argument("--accelerator", help="Lightning accelerator: cpu, gpu, auto (TrainConfig.accelerator)")
    ap.add_argument("--devices", type=int, help="devices per node, e.g. 8 GPUs (TrainConfig.devices)")
    ap.add_argument("--num-nodes", type=int, help="machines, e.g. under torchrun or SLURM (TrainConfig.num_nodes)")
    ap.add_argument("--strategy", help="Lightning strategy, e.g. ddp (TrainConfig.strategy)")
    ap.add_argument("--global-batch-size", type=int, help="sentences per optimizer step (TrainConfig.global_batch_size)")
    args = ap.parse_args(argv)
    where = {k: getattr(args, k) for k in ("accelerator", "devices", "num_nodes", "strategy", "global_batch_size")}
    cfg = get_config(args.profile, train={k: v for k, v in where.items() if v is not None})
    artifact = pretrain(cfg, force=args.force)
    if os.environ.get("RANK", "0") == "0" and (artifact / "config.json").exists():  # one report, from rank 0
        print(json.dumps(json.loads((artifact / "config.json").read_text())["extra"]["results"], indent=1))


if __name__ == "__main__":
    main()
