"""One task-model setting over seeds, on the profile's cached biLM layers (exploration outside the notebooks).

    python -m elmo.jobs --profile cpu --finetune lr=0.006 max_epochs=10 --variant elmo=true --seeds 0

Prints holdout and dev scores as JSON lines. The worker pool: `elmo.ynat.jobs`.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Sequence

from elmo.ablations.adaptation import task_data
from elmo.bilm.train import pretrain
from elmo.core.config import get_config, parse_pairs
from elmo.core.runs import run_dir
from elmo.embed.layer_cache import LayerCache
from elmo.ynat.data import YnatData
from elmo.ynat.ensemble import seed_ensemble
from elmo.ynat.jobs import Job, run_jobs
from elmo.ynat.train import resolve_variant, uses_layers


def _pairs(items: Sequence[str]) -> dict:
    """["lr=0.006", "placement=input_output"] -> {"lr": 0.006, "placement": "input_output"}."""
    try:
        return parse_pairs(list(items))
    except ValueError as err:
        raise SystemExit(str(err)) from None


def main(argv: Sequence[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--profile", default="cpu")
    ap.add_argument("--finetune", nargs="*", default=[], help="FinetuneConfig overrides, key=value")
    ap.add_argument("--variant", nargs="*", default=["elmo=true"], help="variant keys, key=value")
    ap.add_argument("--seeds", nargs="*", type=int, default=None)
    ap.add_argument("--out", default=None, help="run folder (default runs/<profile>/explore)")
    ap.add_argument(
        "--artifact", default=None, help="biLM artifact directory (default: the profile's pretrained one)"
    )
    args = ap.parse_args(argv)
    cfg = get_config(args.profile, finetune=_pairs(args.finetune))
    variant = _pairs(args.variant)
    data = YnatData.load(cfg)
    resolved = resolve_variant(variant)
    artifact = None
    if uses_layers(resolved) or resolved["bilm"] != "pretrained":  # ELMo, or the char-CNN's layer 0 as part of x_k
        artifact = Path(args.artifact) if args.artifact else pretrain(cfg)
        data = data.with_cache(
            LayerCache.build(artifact, data.tokens, cache_root=run_dir(args.profile, "cache"))
        )
    out = Path(args.out) if args.out else run_dir(args.profile, "explore")
    # The adapted biLM (bilm=adapted) and GloVe (x_k=glove) when the variant reads them.
    data_by_bilm = task_data(cfg, artifact, data, [variant], out)
    seeds = cfg.finetune.seeds if args.seeds is None else args.seeds
    jobs = [Job(variant, s, data=resolved["bilm"]) for s in seeds]
    runs = run_jobs(cfg, data_by_bilm, jobs, out, logger=False)
    data = data_by_bilm[resolved["bilm"]]
    keys = (
        "seed",
        "variant",
        "holdout_macro_f1",
        "macro_f1",
        "accuracy",
        "epochs",
        "wall_seconds",
        "mix_weights",
        "gamma",
    )
    for r in runs:
        print(json.dumps({"finetune": _pairs(args.finetune), **{k: r.get(k) for k in keys}}))
    if len(runs) > 1:
        e = seed_ensemble(data, out / "ynat", runs)
        print(
            json.dumps(
                {"ensemble": e["members"], **{k: e[k] for k in ("holdout_macro_f1", "macro_f1", "accuracy")}}
            )
        )


if __name__ == "__main__":
    main()
