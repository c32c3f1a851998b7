"""Pretrain a biLM: the profile's (what notebook 02 runs), or one on your own files.

    python -m elmo.pretrain --profile cpu [--corpus petitions+wiki] [--force]
    python -m elmo.pretrain --profile cpu --set model.lstm_dim=256 train.max_epochs=4 --out runs/lstm256
    python -m elmo.pretrain --text FILE_OR_DIR... [--profile cpu] --out DIR

--text: plain UTF-8 text (one document per blank-line-separated block) or `*.jsonl` with a
"text" field; folders are read recursively. The artifact goes to DIR/bilm (load it with
`BiLM.from_pretrained` or `Elmo`), checkpoints and logs to DIR/pretrain; a rerun resumes. Prints
what was kept and dropped per file, then the held-out perplexities.
The training itself: `elmo.bilm.train`; your own files: `elmo.bilm.own_corpus`.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path

from elmo.bilm.own_corpus import pretrain_on_files
from elmo.bilm.train import pretrain
from elmo.core.config import PROFILES, get_config, parse_overrides
from elmo.core.sources import CORPORA
from elmo.data.download import DataError
from elmo.data.readers import DataFormatError


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--profile", default="cpu", choices=PROFILES)
    ap.add_argument("--corpus", choices=sorted(CORPORA), default=None, help="a named corpus instead of the profile's")
    ap.add_argument("--text", nargs="+", default=None, metavar="FILE_OR_DIR", help="pretrain on these files")
    ap.add_argument("--out", type=Path, default=None, help="run folder (required with --text)")
    ap.add_argument("--force", action="store_true", help="retrain even if a matching artifact exists")
    ap.add_argument("--accelerator", help="Lightning accelerator: cpu, gpu, auto (TrainConfig.accelerator)")
    ap.add_argument("--devices", type=int, help="devices per node, e.g. 8 GPUs (TrainConfig.devices)")
    ap.add_argument("--num-nodes", type=int, help="machines, e.g. under torchrun or SLURM (TrainConfig.num_nodes)")
    ap.add_argument("--strategy", help="Lightning strategy, e.g. ddp (TrainConfig.strategy)")
    ap.add_argument("--global-batch-size", type=int, help="sentences per optimizer step (TrainConfig.global_batch_size)")
    ap.add_argument("--set", nargs="+", default=[], metavar="SECTION.FIELD=VALUE",
                    help="override any config field, e.g. model.lstm_dim=256 train.max_epochs=4")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if args.text and args.out is None:
        ap.error("--text needs --out DIR")
    where = {k: getattr(args, k) for k in ("accelerator", "devices", "num_nodes", "strategy", "global_batch_size")}
    try:
        overrides = parse_overrides(args.set)
    except ValueError as err:
        ap.error(str(err))
    train = {**overrides.pop("train", {}), **{k: v for k, v in where.items() if v is not None}}
    try:
        if args.text:
            if overrides:
                ap.error("--set with --text: only train.* fields are supported there")
            artifact = pretrain_on_files(args.text, args.out, args.profile, force=args.force, train=train)
        else:
            data = {**overrides.pop("data", {}), **({"sources": CORPORA[args.corpus]} if args.corpus else {})}
            cfg = get_config(args.profile, data=data, train=train, **overrides)
            artifact = pretrain(cfg, out=args.out, force=args.force)
    except (DataFormatError, DataError, ValueError, FileExistsError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    if os.environ.get("RANK", "0") == "0" and (artifact / "config.json").exists():  # one report, from rank 0
        print(f"artifact: {artifact}")
        print(json.dumps(json.loads((artifact / "config.json").read_text())["extra"]["results"], indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
