"""Collect what the notebooks measured into `results.json` and the README's results tables.

    python -m elmo.results --profile cpu [--readme]
    python -m elmo.results --from ../clone/results.json --readme   # a run made in another checkout

`--from` takes the results a run collected where it ran (e.g. `make reproduce` in a fresh
clone), so the README names that run's commit, not the one of this checkout; what only separate
command lines measure (`python -m elmo.bench --compare step`, ...) and that run lacks comes from
this checkout's `runs/<profile>/`.

The collection and the tables: `elmo.report.results`.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from elmo.core.figures import COMMITTED_PROFILE
from elmo.core.runs import REPO
from elmo.report.results import (
    collect,
    command_outputs,
    markdown,
    update_readme,
    write,
)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--profile", default=COMMITTED_PROFILE)
    ap.add_argument("--readme", action="store_true", help="rewrite the results block of README.md")
    ap.add_argument("--from", dest="source", type=Path, default=None,
                    help="a results.json collected by a run elsewhere, instead of collecting runs/<profile>/")  # fmt: skip
    args = ap.parse_args(argv)
    if args.source:
        # The run's own results; what separate command lines measured (the bench, ...) and the run
        # did not, from this checkout's runs/<profile>/ (each record carries its own provenance).
        results = json.loads(args.source.read_text())
        results = {**results, **{k: v for k, v in command_outputs(results["profile"]).items() if k not in results}}
    else:
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
