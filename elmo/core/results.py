"""What every stage's results have in common: one typed record, one JSON file, one writer, one reader.

Each stage declares its results as a dataclass subclass of `StageResults` (e.g.
`elmo.ynat.results.FinetuneResults`) with stable machine keys; the notebook of that stage builds
it and calls `write`, later stages and the report call `read`. Display labels never appear in
these files as keys: a table may rename a row without changing what any other stage reads.

    results = FinetuneResults(runs=..., provenance=...)
    results.write(run_dir("cpu"))          # runs/cpu/finetune_results.json
    FinetuneResults.read(run_dir("cpu"))   # the same record, or None if 03 has not run
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import numpy as np

T = TypeVar("T", bound="StageResults")


class ResultsFormatError(ValueError):
    """A results file that this code cannot read: another format version, or unknown fields."""


@dataclasses.dataclass
class StageResults:
    """Base class: subclasses are dataclasses that set FILE (and bump FORMAT when fields change)."""

    FILE: ClassVar[str] = ""
    FORMAT: ClassVar[int] = 1

    def to_dict(self) -> dict[str, Any]:
        """The JSON-ready record: "format" plus every field (numpy scalars become Python numbers)."""
        return json.loads(json.dumps({"format": self.FORMAT, **dataclasses.asdict(self)}, default=_plain))

    @classmethod
    def from_dict(cls: type[T], d: dict[str, Any], source: str = "results") -> T:
        if d.get("format") != cls.FORMAT:
            raise ResultsFormatError(
                f"{source} has format {d.get('format')!r}, this code reads format {cls.FORMAT} of "
                f"{cls.__name__}: it was written by another version of elmo-ko; rerun the notebook that writes it"
            )
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = set(d) - names - {"format"}
        if unknown:
            raise ResultsFormatError(f"{source}: unknown {cls.__name__} field(s) {sorted(unknown)}")
        return cls(**{k: v for k, v in d.items() if k in names})

    def write(self, directory: str | Path) -> Path:
        """Write `directory/FILE` whole, atomically (a reader never sees half a file)."""
        path = Path(directory) / self.FILE
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_text(json.dumps(self.to_dict(), indent=1, ensure_ascii=False))
        tmp.replace(path)
        return path

    @classmethod
    def read(cls: type[T], directory: str | Path) -> T | None:
        """The record in `directory/FILE`; None when the stage has not written one there."""
        path = Path(directory) / cls.FILE
        if not path.exists():
            return None
        return cls.from_dict(json.loads(path.read_text()), source=str(path))


def _plain(x: Any) -> Any:
    if isinstance(x, np.generic):
        return x.item()
    if isinstance(x, np.ndarray):
        return x.tolist()
    if dataclasses.is_dataclass(x):
        return dataclasses.asdict(x)
    if isinstance(x, Path):
        return str(x)
    raise TypeError(f"not JSON-serialisable: {type(x).__name__}")
