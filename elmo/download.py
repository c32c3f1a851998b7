"""Fetch and verify the raw data (petitions, KLUE YNAT / DP / NER) into the data root.

    python -m elmo.download [--root DIR] [--base-url URL]

What is fetched, from where, and how it is verified: `elmo.data.download`.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from elmo.data.download import (
    SUMS_NAME,
    DataError,
    data_root,
    download,
    is_complete,
    verify,
)


def main(argv: list[str] | None = None) -> int:
    """Entry point of `python -m elmo.download`; returns the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--root", type=Path, default=None, help="data directory (default: $ELMO_DATA, else <repo>/data)"
    )
    parser.add_argument("--base-url", default=None, help="mirror serving <base-url>/<path>")
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds per network read")
    args = parser.parse_args(argv)
    root = args.root or data_root()
    if is_complete(root):
        print(f"{root} already holds valid data (verified against {SUMS_NAME}).")
        return 0
    try:
        download(root, base_url=args.base_url, timeout=args.timeout)
        verify(root)
    except (DataError, OSError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    print(f"data ready in {root}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
