"""Pretrain the biLM of a profile (what notebook 02 runs) and print its held-out perplexities.

    python -m elmo.pretrain --profile cpu [--force]

The training itself: `elmo.bilm.train`.
"""

from __future__ import annotations

import argparse
import json

from elmo.bilm.train import pretrain
from elmo.core.config import PROFILES, get_config


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--profile", default="cpu", choices=PROFILES)
    ap.add_argument("--force", action="store_true", help="retrain even if a matching artifact exists")
    args = ap.parse_args(argv)
    artifact = pretrain(get_config(args.profile), force=args.force)
    print(json.dumps(json.loads((artifact / "config.json").read_text())["extra"]["results"], indent=1))


if __name__ == "__main__":
    main()
