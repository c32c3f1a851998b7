"""Collect what the notebooks measured into `results.json` and the README's results tables.

    python -m elmo.results --profile cpu [--readme]

The collection and the tables: `elmo.report.results`.
"""

from __future__ import annotations

import argparse

from elmo.core.figures import COMMITTED_PROFILE
from elmo.core.runs import REPO
from elmo.report.results import (
    collect,
    markdown,
    update_readme,
    write,
)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--profile", default=COMMITTED_PROFILE)
    ap.add_argument("--readme", action="store_true", help="rewrite the results block of README.md")
    args = ap.parse_args(argv)
    results = collect(args.profile)
    for p in write(results):
        print(f"wrote {p.relative_to(REPO)}")
    block = markdown(results)
    if args.readme:
        update_readme(block)
        print("updated README.md")
    else:
        print(block)


if __name__ == "__main__":
    main()
