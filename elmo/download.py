"""Fetch and verify the raw data (petitions, KLUE YNAT / DP / NER, Korean Wikipedia) into the data root.

    python -m elmo.download [--full] [--root DIR] [--base-url URL]

Without --full: the files of shared/data (KLUE, six petition months, the 100 Wikipedia files of
wiki/text/AA). --full (`make data`): also the other 19 months and all 700 Wikipedia files. Each
file is verified by its sha256 or git blob id; a rerun fetches only what is missing.
What is fetched, from where, and how it is verified: `elmo.data.download`, `elmo.data.archive`.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from elmo.data.archive import base_sources, full_sources
from elmo.data.download import SUMS_NAME, DataError, data_root, download, is_complete, verify


def main(argv: list[str] | None = None) -> int:
    """Entry point of `python -m elmo.download`; returns the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--root", type=Path, default=None, help="data directory (default: $ELMO_DATA, else <repo>/data)"
    )
    parser.add_argument("--full", action="store_true", help="every petitions month and every Wikipedia file")
    parser.add_argument("--base-url", default=None, help="mirror serving <base-url>/<path>")
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds per network read")
    args = parser.parse_args(argv)
    root = args.root or data_root()
    sources = full_sources() if args.full else base_sources()
    if is_complete(root, sources):
        print(f"{root} already holds valid data (verified against {SUMS_NAME}).")
        return 0
    try:
        download(root, base_url=args.base_url, timeout=args.timeout, sources=sources)
        verify(root)
    except (DataError, OSError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    print(f"data ready in {root}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
