"""Speed of a biLM training step on this machine, against this machine's own matmul peak.

    python -m elmo.bench --profile cpu [--precision bf16-mixed] [--softmax adaptive] [--compile]
    python -m elmo.bench --profile cpu --compare step                    # today's config vs the profile
    python -m elmo.bench --profile cpu --compare lstm --seconds 150      # quality per second
    python -m elmo.bench --profile cpu --real-steps 300                  # tokens/s on the petitions

The measurements: `elmo.bilm.bench`. `--compare step` writes `runs/<profile>/bench_results.json`,
the `bench` section of results.json (`python -m elmo.results`).
"""

from __future__ import annotations

import argparse
import json

from elmo.bilm.bench import (
    TRAINING_COMPARISONS,
    bench,
    compare_step,
    compare_training,
    embedding_throughput,
    real_throughput,
    report,
    step_report,
)
from elmo.bilm.softmax import SOFTMAXES
from elmo.core.config import PROFILES
from elmo.core.runs import run_dir


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--profile", default="cpu", choices=PROFILES)
    ap.add_argument("--precision", choices=("32-true", "bf16-mixed"))
    ap.add_argument("--softmax", choices=SOFTMAXES)
    ap.add_argument("--compile", action=argparse.BooleanOptionalAction, default=None)
    ap.add_argument("--batch", type=int)
    ap.add_argument("--length", type=int, help="tokens a window (default: the profile's, elmo.bilm.bench.window_length)")
    ap.add_argument("--repeats", type=int, default=10)
    ap.add_argument("--rounds", type=int, default=3, help="--compare step: alternating rounds, each configuration's median kept")
    ap.add_argument("--json", action="store_true", help="print one JSON line instead of a report")
    ap.add_argument("--compare", choices=("step", *TRAINING_COMPARISONS),
                    help="step: today's configuration against the profile's, one step each, same batch "
                         "(saved to runs/<profile>/bench_results.json); otherwise train each variant for "
                         "--seconds and compare valid perplexity")  # fmt: skip
    ap.add_argument("--seconds", type=float, default=150.0)
    ap.add_argument("--real-steps", type=int, default=0,
                    help="time this many training steps on the real corpus (tokens/s per 100 steps) instead")
    ap.add_argument("--no-reuse", action="store_true",
                    help="with --real-steps: leave glibc's allocator and oneDNN's kernel cache as they come")
    args = ap.parse_args(argv)
    if args.real_steps:
        r = real_throughput(args.profile, args.real_steps, reuse=not args.no_reuse)
        print(json.dumps(r) if args.json else "real tokens/s per 100 steps: " + ", ".join(f"{x:,.0f}" for x in r["tokens_per_s_by_chunk"]))
        return
    if args.compare == "step":
        r = compare_step(args.profile, args.batch, args.length, args.repeats, args.rounds)
        path = run_dir(args.profile) / "bench_results.json"
        path.write_text(json.dumps(r, indent=1))
        print(json.dumps(r) if args.json else step_report(r))
        print(f"wrote {path}")
        return
    if args.compare:
        print(json.dumps(compare_training(args.profile, args.seconds, TRAINING_COMPARISONS[args.compare]), indent=1))
        return
    r = bench(args.profile, args.precision, args.softmax, args.compile, args.batch, args.length, args.repeats)
    if args.json:
        print(json.dumps(r))
        return
    print(report(r))
    e = embedding_throughput(args.profile)
    print(f"  ELMo embedding     {e['sentences_per_s']:8.0f} sentences/s ({e['tokens_per_s']:.0f} tokens/s, frozen biLM, all layers)")


if __name__ == "__main__":
    main()
