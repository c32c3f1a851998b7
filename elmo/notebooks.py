"""Execute the numbered notebooks in order: jupytext source -> papermill -> `runs/<profile>/`.

`python -m elmo.notebooks --profile tiny [--only 01]` is what `make reproduce` calls. The `.py`
files in `notebooks/` are the source of truth; executed `.ipynb` files are build outputs.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import jupytext
import papermill
from jupyter_client import AsyncKernelManager
from traitlets import CaselessStrEnum

from elmo.core.config import PROFILES
from elmo.core.hardware import cpu_model, native_bf16
from elmo.core.runs import REPO, run_dir
from elmo.report.results import collect, write

NOTEBOOKS = REPO / "notebooks"
TIMES_FILE = "notebook_times.json"


class NotebookFailed(RuntimeError):
    pass


def notebook_sources(only: list[str] | None = None) -> list[Path]:
    """`notebooks/NN_*.py` in numeric order, optionally only those whose number is in `only`."""
    paths = sorted(p for p in NOTEBOOKS.glob("[0-9][0-9]_*.py"))
    if only:
        paths = [p for p in paths if p.name[:2] in only]
    return paths


class LocalKernelManager(AsyncKernelManager):
    """A kernel that talks to this runner over Unix sockets (IPC) instead of loopback TCP: no
    other user of the machine can connect to it, and ipykernel has nothing to warn about (over
    TCP it warns, at every start, that the traffic is unencrypted)."""

    transport = CaselessStrEnum(["tcp", "ipc"], default_value="ipc", config=True)


def execute(source: Path, profile: str, out_dir: Path, progress: bool = True) -> Path:
    """Convert one jupytext notebook and run it with papermill, `profile` as its parameter."""
    out_dir.mkdir(parents=True, exist_ok=True)
    nb = jupytext.read(source)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    src_ipynb = out_dir / f".{source.stem}.src.ipynb"
    jupytext.write(nb, src_ipynb)
    target = out_dir / f"{source.stem}.ipynb"
    try:
        papermill.execute_notebook(
            str(src_ipynb), str(target), parameters={"profile": profile}, kernel_name="python3",
            cwd=str(REPO), progress_bar=progress, log_output=False, kernel_manager_class=LocalKernelManager,
        )  # fmt: skip
    except papermill.PapermillExecutionError as e:
        raise NotebookFailed(
            f"{source.name} failed in cell {e.exec_count}: {e.ename}: {e.evalue}\n"
            f"The executed notebook with the traceback is {target}"
        ) from None
    finally:
        src_ipynb.unlink(missing_ok=True)
    return target


def run_all(profile: str, only: list[str] | None = None, progress: bool = True) -> list[Path]:
    """Run the notebooks in order; stop at the first failure."""
    sources = notebook_sources(only)
    if not sources:
        raise NotebookFailed(f"no notebooks matched {only!r} in {NOTEBOOKS}")
    out_dir = run_dir(profile)
    done = []
    for i, src in enumerate(sources, 1):
        print(f"[{i}/{len(sources)}] {src.name} (profile {profile})", flush=True)
        t0 = time.perf_counter()
        done.append(execute(src, profile, out_dir, progress))
        seconds = time.perf_counter() - t0
        record_time(out_dir, src.stem, seconds)
        print(f"      done in {seconds:.0f} s -> {done[-1].relative_to(REPO)}", flush=True)
    return done


def record_time(out_dir: Path, notebook: str, seconds: float) -> None:
    """Keep the latest wall time of each notebook in `out_dir/notebook_times.json`."""
    path = out_dir / TIMES_FILE
    times = json.loads(path.read_text()) if path.exists() else {}
    times[notebook] = {"seconds": round(seconds, 1), "finished": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                       "cpu": cpu_model(), "native_bf16": native_bf16()}  # timings differ by machine
    path.write_text(json.dumps(dict(sorted(times.items())), indent=1))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--profile", default="cpu", choices=PROFILES)
    ap.add_argument("--only", nargs="*", help="notebook numbers to run, e.g. 01 02")
    ap.add_argument("--no-progress", action="store_true")
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    try:
        run_all(args.profile, args.only, progress=not args.no_progress)
    except NotebookFailed as e:
        print(f"\nSTOPPED: {e}", file=sys.stderr)
        return 1
    print(f"all notebooks done in {(time.perf_counter() - t0) / 60:.1f} min")

    for path in write(collect(args.profile)):
        print(f"wrote {path.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
