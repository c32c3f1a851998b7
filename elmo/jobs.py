"""One task-model setting over seeds, on the profile's cached biLM layers (exploration outside the notebooks).

    python -m elmo.jobs --profile cpu --finetune lr=0.006 max_epochs=10 --variant elmo=true --seeds 0

Prints holdout and dev scores as JSON lines. The worker pool: `elmo.ynat.jobs`. With `--teacher
<key>=<value> ...` the variant is distilled (`elmo.ynat.distill`) from the seed ensemble of the
teacher variant, which trains first over the same seeds; both models' lines are printed.
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
from elmo.ynat.jobs import run_models
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
    ap.add_argument("--teacher", nargs="*", default=None, help="distil from this variant's seed ensemble, key=value")
    ap.add_argument("--seeds", nargs="*", type=int, default=None)
    ap.add_argument("--out", default=None, help="run folder (default runs/<profile>/explore)")
    ap.add_argument(
        "--artifact", default=None, help="biLM artifact directory (default: the profile's pretrained one)"
    )
    args = ap.parse_args(argv)
    cfg = get_config(args.profile, finetune=_pairs(args.finetune))
    models = {"model": _pairs(args.variant)}
    if args.teacher is not None:
        models = {"teacher": _pairs(args.teacher), "model": {**models["model"], "teacher": "teacher"}}
    data = YnatData.load(cfg)
    resolved = {key: resolve_variant(v) for key, v in models.items()}
    artifact = None
    if any(uses_layers(v) or v["bilm"] != "pretrained" for v in resolved.values()):  # ELMo, or the char-CNN's layer 0 in x_k
        artifact = Path(args.artifact) if args.artifact else pretrain(cfg)
        data = data.with_cache(
            LayerCache.build(artifact, data.tokens, cache_root=run_dir(args.profile, "cache"))
        )
    out = Path(args.out) if args.out else run_dir(args.profile, "explore")
    # The adapted biLM (bilm=adapted) and GloVe (x_k=glove) when the variant reads them.
    data_by_bilm = task_data(cfg, artifact, data, list(models.values()), out)
    seeds = cfg.finetune.seeds if args.seeds is None else args.seeds
    results = run_models(cfg, data_by_bilm, models, seeds, out, logger=False)
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
    for model, runs in results.items():
        for r in runs:
            print(json.dumps({"finetune": _pairs(args.finetune), **{k: r.get(k) for k in keys}, "model": model}))
        if len(runs) > 1:
            e = seed_ensemble(data_by_bilm[resolved[model]["bilm"]], out / "ynat", runs)
            scored = {k: e[k] for k in ("holdout_macro_f1", "macro_f1", "accuracy")}
            print(json.dumps({"ensemble": e["members"], **scored, "model": model}))


if __name__ == "__main__":
    main()
