"""Minutes against macro-F1: what a longer biLM pretraining buys on YNAT.

    python -m elmo.tradeoff --profile cpu --epochs 2 4 6

The measurement: `elmo.ablations.tradeoff`.
"""

from __future__ import annotations

import argparse
import json
from typing import Sequence

from elmo.ablations.tradeoff import measure
from elmo.core.config import get_config
from elmo.core.runs import run_dir
from elmo.ynat.data import YnatData


def main(argv: Sequence[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--profile", default="cpu")
    ap.add_argument("--epochs", nargs="+", type=int, default=[2, 4, 6])
    args = ap.parse_args(argv)
    data = YnatData.load(get_config(args.profile))
    path = run_dir(args.profile) / "tradeoff.json"
    rows = json.loads(path.read_text()) if path.exists() else {}
    for epochs in sorted(args.epochs):
        rows[str(epochs)] = measure(args.profile, epochs, data)
        path.write_text(json.dumps(rows, indent=1, default=float))
        print(json.dumps(rows[str(epochs)], default=float), flush=True)


if __name__ == "__main__":
    main()
