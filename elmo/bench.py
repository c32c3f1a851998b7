"""Speed of a biLM training step on this machine, against this machine's own matmul peak.

    python -m elmo.bench --profile cpu [--precision bf16-mixed] [--softmax adaptive] [--compile]
    python -m elmo.bench --profile cpu --compare softmax --seconds 150   # quality per second

The measurements: `elmo.bilm.bench`.
"""

from __future__ import annotations

import argparse
import json

from elmo.bilm.bench import (
    OPTIMIZER_VARIANTS,
    SOFTMAX_VARIANTS,
    bench,
    compare_training,
    embedding_throughput,
)
from elmo.core.config import PROFILES


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--profile", default="cpu", choices=PROFILES)
    ap.add_argument("--precision", choices=("32-true", "bf16-mixed"))
    ap.add_argument("--softmax", choices=("full", "adaptive", "sampled"))
    ap.add_argument("--compile", action=argparse.BooleanOptionalAction, default=None)
    ap.add_argument("--batch", type=int)
    ap.add_argument("--length", type=int, default=32)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--json", action="store_true", help="print one JSON line instead of a report")
    ap.add_argument("--compare", choices=("softmax", "optimizer"),
                    help="instead: train each softmax head / optimizer for --seconds, compare valid perplexity")  # fmt: skip
    ap.add_argument("--seconds", type=float, default=150.0)
    args = ap.parse_args(argv)
    if args.compare:
        variants = SOFTMAX_VARIANTS if args.compare == "softmax" else OPTIMIZER_VARIANTS
        print(json.dumps(compare_training(args.profile, args.seconds, variants), indent=1))
        return
    r = bench(args.profile, args.precision, args.softmax, args.compile, args.batch, args.length, args.repeats)
    if args.json:
        print(json.dumps(r))
        return
    total = sum(r["seconds_by_part"].values())
    print(f"biLM {r['profile']} profile: {r['params_millions']:.1f} M parameters, batch {r['batch']}, "
          f"{r['precision']}, {r['softmax']} softmax, compile={r['compile']}, {r['threads']} threads")  # fmt: skip
    print(f"  training step      {r['step_seconds'] * 1e3:8.1f} ms   {r['tokens_per_s']:8.0f} tokens/s")
    print(f"  counted FLOPs      {r['gflop_per_step']:8.2f} GFLOP/step -> {r['achieved_gflops']:.0f} GFLOP/s")
    print(
        f"  matmul peak        fp32 {r['peak_gflops']['fp32']:.0f} GFLOP/s, bf16 {r['peak_gflops']['bf16']:.0f} GFLOP/s"
    )
    print(
        f"  fraction of peak   {r['fraction_of_peak']:.1%} (of the {'bf16' if 'bf16' in r['precision'] else 'fp32'} peak)"
    )
    print(f"  LSTM FLOP share    {r['lstm_flop_share']:.1%}: even at the fp32 peak for the LSTM and the bf16 peak for "
          f"the rest, a step reaches at most {r['bf16_ceiling']:.1%} of the bf16 peak")  # fmt: skip
    e = embedding_throughput(args.profile)
    print(
        f"  ELMo embedding     {e['sentences_per_s']:8.0f} sentences/s ({e['tokens_per_s']:.0f} tokens/s, frozen biLM, all layers)"
    )
    print("  time by part (each timed alone, forward + backward):")
    for k, v in r["seconds_by_part"].items():
        print(f"    {k:10s} {v * 1e3:8.1f} ms  {v / total:6.1%}")


if __name__ == "__main__":
    main()
