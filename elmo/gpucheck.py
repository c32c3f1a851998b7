"""A prepared check of a GPU machine in minutes (on a machine without one: the same code at `tiny` sizes).

    python -m elmo.gpucheck [--out DIR] [--profile gpu]

Prints and writes DIR/gpucheck.json: the device, its bf16 matmul peak, tokens/s of the profile's
biLM training step and its fraction of that peak, peak memory, the hours one epoch over the full
corpus would take, the causality check on the device, and a short finetune on cached layers.
What each measures: `elmo.report.gpucheck`.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from elmo.core.config import PROFILES
from elmo.report.gpucheck import run_check


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=Path("runs/gpucheck"), help="folder for gpucheck.json")
    ap.add_argument("--profile", choices=PROFILES, help="default: gpu with CUDA, tiny without")
    ap.add_argument("--batch", type=int, help="sentences per step (default: the profile's batch_size)")
    args = ap.parse_args(argv)
    r = run_check(args.profile, args.out, batch=args.batch)
    s, d = r["step"], r["device"]
    print(f"{d['name']} ({d['device']}), profile {r['profile']}, torch {d['torch']}")
    peak = r["matmul_peak_gflops"]
    print(f"  matmul peak        bf16 {_rate(peak['bf16'])}, fp32 {_rate(peak['fp32'])}")
    print(f"  biLM step          {s['params_millions']:.1f} M parameters, batch {s['batch']}, {s['precision']}: "
          f"{s['tokens_per_s']:,.0f} tokens/s, {_rate(s['achieved_gflops'])} = {s['fraction_of_bf16_peak']:.1%} of the "
          f"bf16 peak; peak memory " + (f"{s['peak_memory_gib']:.1f} GiB" if s["peak_memory_gib"] else "n/a (CPU)"))  # fmt: skip
    print(f"  one epoch          {r['full_corpus_tokens'] / 1e6:.0f} M tokens -> {r['epoch_hours_at_this_speed']:.2f} h at this speed")
    c = r["causality"]
    print(f"  causality          {'ok' if c['causal'] else 'LEAK'}: forward {c['forward_max_change']:.1e}, "
          f"backward {c['backward_max_change']:.1e} nats (own token {c['own_token_min_change']:.2f})")  # fmt: skip
    f = r["finetune"]
    print(f"  finetune           {f['headlines']} synthetic headlines, cache {f['cache_seconds']:.1f} s, "
          f"{f['epochs']} epochs in {f['train_seconds']:.1f} s, dev macro-F1 {f['dev_macro_f1']:.1f}")  # fmt: skip
    print(f"done in {r['seconds']:.0f} s -> {args.out / 'gpucheck.json'}")
    print(json.dumps({"causal": c["causal"], "tokens_per_s": s["tokens_per_s"]}))
    return 0 if c["causal"] else 1


def _rate(gflops: float) -> str:
    return f"{gflops / 1e3:.1f} TFLOP/s" if gflops >= 1e3 else f"{gflops:.0f} GFLOP/s"


if __name__ == "__main__":
    sys.exit(main())
