"""What more text buys: petitions only vs petitions + Wikipedia, same biLM and pretraining minutes.

    python -m elmo.corpus_mix --profile cpu [--arms petitions petitions+wiki] [--minutes 14]
        [--stage tokenize|pretrain|evaluate|all]

Stages, so that the timed parts can run alone under the exclusive CPU lock: `tokenize` reads and
tokenizes each arm's corpus (cached) and records its seconds; `pretrain` trains each arm's biLM
for the same minutes; `evaluate` (untimed) scores the perplexities and trains YNAT over the
profile's seeds. Writes runs/<profile>/corpus_mix.json and the figure 02_corpus_mix.
The measurement: `elmo.ablations.corpus_mix`.
"""

from __future__ import annotations

import argparse
import json
from typing import Sequence

from elmo.ablations.corpus_mix import (
    ARMS,
    arm_config,
    held_out,
    mix_figure,
    perplexities,
    preferred,
    pretrain_record,
    pretrained,
    read,
    tokenize,
    write,
    ynat,
)
from elmo.core.config import get_config
from elmo.core.figures import save_figure
from elmo.data.corpus import load_corpus
from elmo.ynat.data import YnatData


def main(argv: Sequence[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--profile", default="cpu")
    ap.add_argument("--arms", nargs="+", default=list(ARMS))
    ap.add_argument("--minutes", type=float, default=14.0)
    ap.add_argument("--stage", choices=("tokenize", "pretrain", "evaluate", "all"), default="all")
    args = ap.parse_args(argv)
    record = read(args.profile)
    record.update(minutes=args.minutes)
    record.setdefault("arms", {})
    if args.stage in ("tokenize", "all"):
        record["tokenize_seconds"] = {**record.get("tokenize_seconds", {}), **tokenize(args.profile, args.arms)}
        write(args.profile, record)
    if args.stage in ("pretrain", "all"):
        for arm in args.arms:
            pretrained(args.profile, arm, args.minutes)
    if args.stage in ("evaluate", "all"):
        corpora = {arm: load_corpus(arm_config(args.profile, arm, args.minutes).data, progress=False) for arm in args.arms}
        sets = held_out(corpora)
        data = YnatData.load(get_config(args.profile))
        for arm in args.arms:
            artifact = pretrained(args.profile, arm, args.minutes)
            row = {"pretrain": pretrain_record(artifact, corpora[arm]), "perplexity": perplexities(artifact, corpora[arm], sets)}
            row["ynat"] = ynat(args.profile, arm, artifact, data)
            record["arms"][arm] = row
            write(args.profile, record)
            print(json.dumps({arm: row}, default=float), flush=True)
        record["preferred"] = preferred(record["arms"])
        write(args.profile, record)
        save_figure(mix_figure(record), "02_corpus_mix", get_config(args.profile), source=record)
        print(f"the holdout prefers: {record['preferred']}")


if __name__ == "__main__":
    main()
