"""ELMo vectors for a file: one raw sentence per line in, every sentence's layers out.

    python -m elmo.embed --artifact DIR INPUT OUTPUT [--layers all|mix|N] [--batch-size 64]

OUTPUT ends in .h5/.hdf5 (HDF5) or .npz; each line's vectors are stored under its 0-based index
with its tokens. DIR is a biLM artifact (`runs/cpu/bilm`, or `OUT/bilm` of `python -m
elmo.pretrain --text`). What is written, exactly: `elmo.embed.vectors`.

A command line inside a stage package, not at elmo/*.py: `python -m elmo.embed` names the
package (tests/test_layout.py allows this one and holds it to the same rule: parse and call).
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import asdict
from pathlib import Path

from elmo.data.readers import DataFormatError
from elmo.embed.vectors import embed_file, parse_layers


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--artifact", type=Path, required=True, help="biLM artifact directory (or a folder holding bilm/)")
    ap.add_argument("input", type=Path, help="UTF-8 text, one sentence per line")
    ap.add_argument("output", type=Path, help="*.h5, *.hdf5 or *.npz")
    ap.add_argument("--layers", default="all", help="all (L+1 layers), mix (their mean) or a layer number")
    ap.add_argument("--batch-size", type=int, default=64)
    args = ap.parse_args(argv)
    artifact = args.artifact / "bilm" if (args.artifact / "bilm" / "config.json").exists() else args.artifact
    try:
        summary = embed_file(artifact, args.input, args.output, parse_layers(args.layers), args.batch_size)
    except (DataFormatError, ValueError, FileNotFoundError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    print(asdict(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
