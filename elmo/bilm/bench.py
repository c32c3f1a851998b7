"""Speed of a biLM training step on this machine, against this machine's own matmul peak.

    python -m elmo.bench --profile cpu [--precision bf16-mixed] [--softmax adaptive] [--compile]
    python -m elmo.bench --profile cpu --compare step                    # today's config vs the profile
    python -m elmo.bench --profile cpu --compare lstm --seconds 150      # quality per second

Prints tokens/s of a full training step (forward, backward, clipping, optimizer), the FLOPs of
that step as counted by `torch.utils.flop_counter`, the achieved GFLOP/s, the matmul peak
measured in the same run (fp32 and bf16), the ratio, and where the time goes. A benchmark,
not a test: machines here are shared and noisy, so compare numbers from one run only.
"""

from __future__ import annotations

import dataclasses
import json
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import nullcontext
from pathlib import Path

import torch
from torch.utils.flop_counter import FlopCounterMode

from elmo.bilm.datamodule import PetitionsLM
from elmo.bilm.model import BiLM
from elmo.bilm.recurrence import lstm_flops
from elmo.bilm.train import make_optimizer, pretrain
from elmo.core.config import Config, get_config
from elmo.core.runs import provenance, seed_everything


def matmul_peak(dtype: torch.dtype, n: int = 2048, seconds: float = 2.0) -> float:
    """GFLOP/s of square matmuls in `dtype` (best of repeated timings)."""
    a, b = torch.randn(n, n, dtype=dtype), torch.randn(n, n, dtype=dtype)
    for _ in range(2):
        a @ b
    best, t_end = 0.0, time.perf_counter() + seconds
    while time.perf_counter() < t_end:
        t0 = time.perf_counter()
        a @ b
        best = max(best, 2 * n**3 / (time.perf_counter() - t0) / 1e9)
    return best


def synthetic_batch(n_tokens: int, n_chars: int, batch: int, length: int, width: int):
    """A full (unpadded) batch shaped like text: token types drawn from a Zipf law (s = 1).

    Each type has one random spelling of 1-4 characters, so frequent tokens repeat within a
    batch as they do in the petitions (which the encoder's per-spelling cache relies on).
    """
    g = torch.Generator().manual_seed(0)
    probs = 1.0 / torch.arange(1, n_tokens - 3, dtype=torch.float64)
    types = torch.multinomial(probs, batch * length, replacement=True, generator=g) + 4  # (B*T,)
    spell = torch.zeros(n_tokens, width, dtype=torch.long)
    n_ch = torch.randint(1, 5, (n_tokens,), generator=g)
    body = torch.randint(6, n_chars, (n_tokens, width), generator=g)
    pos = torch.arange(width)
    spell = torch.where(pos < n_ch[:, None] + 2, body, spell)
    spell[:, 0] = 2  # <bow>
    spell[torch.arange(n_tokens), n_ch + 1] = 3  # <eow>
    chars = spell[types].view(batch, length, width)
    return chars, types.view(batch, length), torch.ones(batch, length, dtype=torch.bool)


class Step:
    """One training step of a BiLM (the profile's optimizer), with the autocast of a precision."""

    def __init__(self, model: BiLM, precision: str, lr: float = 0.2, clip: float = 10.0, optimizer: str = "adagrad",
                 kernel: str = "fused"):  # fmt: skip
        self.model, self.clip = model, clip
        self.opt = make_optimizer(optimizer, model.parameters(), lr, kernel)
        bf16 = precision.startswith("bf16")
        self.autocast = (lambda: torch.autocast("cpu", dtype=torch.bfloat16)) if bf16 else nullcontext

    def __call__(self, chars, targets, mask) -> float:
        with self.autocast():
            loss = self.model.nll(chars, targets, mask)["loss"]
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.clip)
        self.opt.step()
        self.opt.zero_grad(set_to_none=True)
        return float(loss.detach())


def time_it(fn, repeats: int) -> float:
    """Seconds per call: the median of `repeats` timed calls after one warm-up (and compilation);
    a median, because on a shared host a single slow call moves a mean by tens of per cent."""
    fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def component_times(model: BiLM, step: Step, chars, targets, mask, repeats: int) -> dict[str, float]:
    """Seconds per step spent in each part (forward + backward of each, then the optimizer)."""
    x = model.encode_tokens(chars).detach().requires_grad_()
    with step.autocast():
        h = torch.cat(model._top_states(chars, mask)).detach()
    flat_h = h.reshape(-1, h.shape[-1]).requires_grad_()
    flat_t = torch.cat([targets, targets]).reshape(-1)

    def encoder():
        with step.autocast():
            y = model.encode_tokens(chars)
        y.float().sum().backward()

    def lstms():
        lstm_pass(model, step, x)

    def softmax():
        with step.autocast():
            nll = model.softmax(flat_h, flat_t)
        nll.sum().backward()

    def optimizer():
        for p in model.parameters():
            p.grad = torch.zeros_like(p)
        step.opt.step()

    parts = {"encoder": encoder, "lstm": lstms, "softmax": softmax, "optimizer": optimizer}
    times = {k: time_it(f, repeats) for k, f in parts.items()}
    model.zero_grad(set_to_none=True)
    return times


def bench(profile: str = "cpu", precision: str | None = None, softmax: str | None = None, compile: bool | None = None,
          batch: int | None = None, length: int | None = None, repeats: int = 5, vocab: int | None = None,
          overrides: dict | None = None, peak: dict | None = None, reuse: bool = True,
          optimizer_kernel: str = "fused") -> dict:  # fmt: skip
    """Time one training step of `profile`'s biLM (with config `overrides`) on a synthetic batch.

    FLOPs are the matmul/convolution FLOPs `FlopCounterMode` counts, with the LSTM layers'
    replaced by `elmo.bilm.recurrence.lstm_flops` (the counter sees none of oneDNN's fused LSTM).
    `peak` (fp32/bf16 GFLOP/s) is measured here unless given, so compared runs share one.
    `reuse` False leaves glibc's allocator and oneDNN's kernel cache as they were before issue 14
    (`elmo.core.reuse`); they are process-wide, so `compare_step` gives each its own process.
    `optimizer_kernel` as `make_optimizer`'s (the code before issue 14 ran PyTorch's for-loop).
    `batch` x `length` tokens: by default the profile's batch and `window_length`.
    """
    cfg = get_config(profile, **{k: dict(v) for k, v in (overrides or {}).items()})
    m = cfg.model
    if softmax:
        m.softmax = softmax
    precision = precision or cfg.train.precision
    compile = cfg.train.compile if compile is None else compile
    batch = batch or cfg.train.batch_size
    length = length or window_length(cfg)
    n_tokens = vocab or cfg.data.max_vocab + 4
    seed_everything(0, keep_freed_memory=reuse, keep_kernels=reuse)  # as the biLM's training does
    model = BiLM(m, n_tokens, 3000).train()
    if compile:
        model.token_encoder.compile()
        model.softmax.compile()
    step = Step(model, precision, cfg.train.lr, cfg.train.grad_clip, cfg.train.optimizer, optimizer_kernel)
    data = synthetic_batch(n_tokens, 3000, batch, length, cfg.data.max_chars)
    with FlopCounterMode(display=False) as counter:
        step(*data)
    lstm = lstm_flop_count(model, step, data[0])
    flops = counter.get_total_flops() - lstm["counted"] + lstm["analytic"]
    seconds = time_it(lambda: step(*data), repeats)
    tokens = batch * length
    peak = peak or matmul_peaks()
    achieved = flops / seconds / 1e9
    parts = component_times(model, step, *data, repeats=max(2, repeats // 2))
    lstm_share = lstm["analytic"] / flops
    return {
        "profile": profile, "precision": precision, "softmax": m.softmax, "recurrence": m.recurrence,
        "compile": compile, "batch": [batch, length], "model": dataclasses.asdict(m),
        "params_millions": sum(p.numel() for p in model.parameters()) / 1e6,
        "threads": torch.get_num_threads(), "tokens_per_s": tokens / seconds, "step_seconds": seconds,
        "gflop_per_step": flops / 1e9, "lstm_gflop_counted": lstm["counted"] / 1e9,
        "achieved_gflops": achieved, "peak_gflops": peak,
        "fraction_of_peak": achieved / (peak["bf16"] if precision.startswith("bf16") else peak["fp32"]),
        "fraction_of_bf16_peak": achieved / peak["bf16"],
        "seconds_by_part": parts, "lstm_flop_share": lstm_share,
        "bf16_ceiling": peak_ceiling(lstm_share, peak["fp32"], peak["bf16"]) if m.recurrence == "lstmp" else 1.0,
        "reuse": reuse, "optimizer_kernel": optimizer_kernel,
    }  # fmt: skip


def matmul_peaks() -> dict[str, float]:
    return {"fp32": matmul_peak(torch.float32), "bf16": matmul_peak(torch.bfloat16)}


def lstm_flop_count(model: BiLM, step: Step, chars: torch.Tensor) -> dict[str, float]:
    """FLOPs of both directions' LSTM stacks, forward and backward, for one batch: as counted by
    `FlopCounterMode` ("counted": oneDNN's LSTM is invisible to it, only an outside projection
    is seen) and as `lstm_flops` computes them ("analytic")."""
    x = model.encode_tokens(chars).detach().requires_grad_()
    with FlopCounterMode(display=False) as counter:
        lstm_pass(model, step, x)
    model.zero_grad(set_to_none=True)
    c = model.cfg
    positions = x.shape[0] * x.shape[1]
    analytic = 2 * c.lstm_layers * lstm_flops(c.recurrence, c.proj_dim, c.lstm_dim, c.proj_dim, positions)
    return {"counted": float(counter.get_total_flops()), "analytic": float(analytic)}


def lstm_pass(model: BiLM, step: Step, x: torch.Tensor) -> None:
    """Forward and backward through both directions' LSTM stacks from token vectors x (B, T, D)."""
    with step.autocast():
        outs = model._run_stack(model.forward_lstms, x) + model._run_stack(model.backward_lstms, x)
    sum(o.float().sum() for o in outs).backward()


def peak_ceiling(lstm_share: float, fp32_peak: float, bf16_peak: float) -> float:
    """The best fraction of the bf16 peak a step can reach when its LSTM FLOPs run at most at
    the fp32 peak (`nn.LSTM(proj_size=...)` has no oneDNN, hence no bf16, path on CPU) and all
    the rest at the bf16 peak (Amdahl): 1 / (share / fp32 + (1 - share) / bf16) / bf16."""
    return 1.0 / (lstm_share / fp32_peak + (1.0 - lstm_share) / bf16_peak) / bf16_peak


def report(r: dict) -> str:
    """The lines `bench` prints for one configuration."""
    total = sum(r["seconds_by_part"].values())
    lines = [f"biLM {r['profile']} profile: {r['params_millions']:.1f} M parameters, batch {r['batch']}, "
             f"{r['precision']}, {r['recurrence']} recurrence, {r['softmax']} softmax, compile={r['compile']}, "
             f"{r['threads']} threads"]  # fmt: skip
    lines.append(f"  training step      {r['step_seconds'] * 1e3:8.1f} ms   {r['tokens_per_s']:8.0f} tokens/s")
    lines.append(f"  FLOPs (matmuls)    {r['gflop_per_step']:8.2f} GFLOP/step -> {r['achieved_gflops']:.0f} GFLOP/s "
                 f"(LSTM counted analytically: {r['lstm_flop_share']:.0%} of the step)")  # fmt: skip
    lines.append(f"  matmul peak        fp32 {r['peak_gflops']['fp32']:.0f} GFLOP/s, bf16 {r['peak_gflops']['bf16']:.0f} GFLOP/s")
    own = "bf16" if r["precision"].startswith("bf16") else "fp32"
    lines.append(f"  fraction of peak   {r['fraction_of_bf16_peak']:.1%} of the bf16 peak, "
                 f"{r['fraction_of_peak']:.1%} of the peak of its own precision ({own})")  # fmt: skip
    if r["recurrence"] == "lstmp":
        lines.append(f"  LSTMP ceiling      with the LSTM at the fp32 peak and the rest at the bf16 peak, "
                     f"a step reaches at most {r['bf16_ceiling']:.1%} of the bf16 peak")  # fmt: skip
    lines.append("  time by part (each timed alone, forward + backward):")
    for k, v in r["seconds_by_part"].items():
        lines.append(f"    {k:10s} {v * 1e3:8.1f} ms  {v / total:6.1%}")
    return "\n".join(lines)


# Today's `cpu` configuration before issue 14 (the LSTMP through fp32 matmuls, the adaptive
# softmax through nn.AdaptiveLogSoftmaxWithLoss in fp32), frozen here so that the profile can
# change and `--compare step` still measures against the same starting point.
BEFORE_ISSUE_14 = {
    "model": {
        "char_dim": 16, "filters": ((1, 32), (2, 32), (3, 64), (4, 128), (5, 256)), "highway_layers": 2,
        "proj_dim": 128, "lstm_dim": 512, "lstm_layers": 2, "dropout": 0.1, "recurrence": "lstmp",
        "softmax": "adaptive-torch", "adaptive_cutoffs": (2000, 8000),
    },
    "train": {"precision": "bf16-mixed", "compile": False, "optimizer": "adam", "lr": 2e-3},
    "data": {"max_vocab": 20000, "max_chars": 16},
}  # fmt: skip


def window_length(cfg: Config) -> int:
    """The tokens of a typical training window of the profile: 32 for one sentence a window (the
    petitions' sentences average ~31 tokens), `max_tokens` for a document's sentences (~50 on
    average, up to 64), so that a step is timed at the profile's batch shape."""
    return cfg.data.max_tokens if cfg.data.context == "document" else 32


def compare_step(profile: str = "cpu", batch: int | None = None, length: int | None = None, repeats: int = 5,
                 rounds: int = 3) -> dict:  # fmt: skip
    """Today's configuration (`BEFORE_ISSUE_14`) against the profile's, on the same batch and host.

    Three steps, each timed in a fresh process (the allocator setting of `elmo.core.reuse` is
    process-wide and cannot be undone): "before", the code as it ran before issue 14 (its
    configuration, glibc's allocator as it comes, PyTorch's for-loop optimizer); "before_kept_memory",
    the same configuration with freed memory kept, to show how much of the speed-up is the
    allocator's; and "after", the profile now. The three alternate for `rounds` rounds and each
    keeps its median round (by tokens/s): on a shared host the speed drifts between processes, and
    one round each moved the ratio by up to 8 % between two runs a minute apart. "ratios" lists
    every round's after / before. The matmul peak is measured before and after all rounds and the
    higher kept (a conservative fraction of it).
    """
    cfg = get_config(profile)
    batch, length = batch or cfg.train.batch_size, length or window_length(cfg)
    peak = matmul_peaks()
    common = {"profile": profile, "batch": batch, "length": length, "repeats": repeats, "peak": peak}
    old = {**common, "overrides": BEFORE_ISSUE_14, "optimizer_kernel": "for-loop"}
    runs: dict[str, list[dict]] = {"before": [], "before_kept_memory": [], "after": []}
    for _ in range(rounds):
        runs["before"].append(_bench_in_child(**old, reuse=False))
        runs["before_kept_memory"].append(_bench_in_child(**old))
        runs["after"].append(_bench_in_child(**common))
    again = matmul_peaks()
    peak = {k: max(peak[k], again[k]) for k in peak}
    ratios = [a["tokens_per_s"] / b["tokens_per_s"] for a, b in zip(runs["after"], runs["before"])]
    chosen = {k: sorted(v, key=lambda r: r["tokens_per_s"])[(len(v) - 1) // 2] for k, v in runs.items()}
    for r in chosen.values():
        r["peak_gflops"] = peak
        r["fraction_of_bf16_peak"] = r["achieved_gflops"] / peak["bf16"]
        r["fraction_of_peak"] = r["achieved_gflops"] / (peak["bf16"] if r["precision"].startswith("bf16") else peak["fp32"])
    before, after = chosen["before"], chosen["after"]
    return {
        "profile": profile, "batch": [batch, length], "peak_gflops": peak, **chosen, "rounds": rounds,
        "speedup": after["tokens_per_s"] / before["tokens_per_s"], "ratios": ratios,
        "provenance": provenance(get_config(profile)),
    }  # fmt: skip


def _bench_in_child(**kwargs) -> dict:
    """`bench(**kwargs)` in a fresh Python process (its own allocator and threads); its result."""
    code = "import json, sys; from elmo.bilm.bench import bench; print(json.dumps(bench(**json.loads(sys.argv[1]))))"
    done = subprocess.run([sys.executable, "-c", code, json.dumps(kwargs)], capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"the bench's child process failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def step_report(r: dict) -> str:
    kept = r["before_kept_memory"]
    return "\n".join([
        "today's configuration (before issue 14):", report(r["before"]), "",
        f"the same with freed memory and compiled kernels kept (elmo.core.reuse): {kept['step_seconds'] * 1e3:.1f} ms, "
        f"{kept['tokens_per_s']:.0f} tokens/s", "",
        f"the {r['profile']} profile now:", report(r["after"]), "",
        f"speed-up: {r['speedup']:.2f}x tokens/s ({r['before']['tokens_per_s']:.0f} -> {r['after']['tokens_per_s']:.0f}); "
        f"fraction of the bf16 peak {r['before']['fraction_of_bf16_peak']:.1%} -> {r['after']['fraction_of_bf16_peak']:.1%}",
        f"(median of {r['rounds']} alternating rounds; each round's ratio: "
        + ", ".join(f"{x:.2f}x" for x in r["ratios"]) + ")",
    ])  # fmt: skip


def compare_training(profile: str, seconds: float, variants: dict[str, dict]) -> dict:
    """Quality per second: train the profile's biLM under each variant for the same wall time.

    `variants` maps a name to config overrides, e.g. {"full": {"model": {"softmax": "full"}}}.
    Each variant trains from the same seed for `seconds` on the petitions and is scored by exact
    held-out perplexity on the valid petitions (every softmax head evaluates exactly).
    """
    out = {}
    for name, overrides in variants.items():
        sections = {k: dict(v) for k, v in overrides.items()}
        sections.setdefault("train", {}).update(max_minutes=seconds / 60, max_epochs=100)
        cfg = get_config(profile, **sections)
        with tempfile.TemporaryDirectory() as tmp:
            artifact = pretrain(cfg, out=Path(tmp), force=True, enable_progress_bar=False, logger=False)
            results = json.loads((artifact / "config.json").read_text())["extra"]["results"]
        out[name] = {"valid_ppl": results["valid"]["ppl"], "steps": results["global_step"]}
        print(f"{name:24s} {out[name]['steps']:5d} steps in {seconds:.0f} s -> valid perplexity {out[name]['valid_ppl']:.1f}", flush=True)
    return out


def real_throughput(profile: str = "cpu", steps: int = 300, chunk: int = 100, reuse: bool = True) -> dict:
    """Tokens/s of the profile's training step (the bench's `Step`, no Lightning) on the first
    `steps` shuffled batches of the real training corpus, per `chunk` of steps.

    Real batches change shape every step (sentence lengths, distinct spellings, rows per softmax
    cluster), which a repeated synthetic batch hides: oneDNN's kernel compilations and the
    allocator's page faults show up only here. Real tokens only (pads not counted).
    """
    cfg = get_config(profile)
    seed_everything(cfg.seed, keep_freed_memory=reuse, keep_kernels=reuse)
    dm = PetitionsLM(cfg)
    dm.prepare_data()
    dm.setup()
    model = BiLM(cfg.model, len(dm.encoder.tokens), len(dm.encoder.chars)).train()
    step = Step(model, cfg.train.precision, cfg.train.lr, cfg.train.grad_clip, cfg.train.optimizer)
    chunks, tokens, t0 = [], 0, time.perf_counter()
    for i, batch in enumerate(dm.train_dataloader()):
        if i == steps:
            break
        step(batch.char_ids, batch.token_ids, batch.mask)
        tokens += int(batch.mask.sum())
        if (i + 1) % chunk == 0:
            chunks.append(tokens / (time.perf_counter() - t0))
            tokens, t0 = 0, time.perf_counter()
    return {"profile": profile, "steps": steps, "chunk": chunk, "tokens_per_s_by_chunk": chunks,
            "reuse": reuse}  # fmt: skip


@torch.no_grad()
def embedding_throughput(profile: str = "cpu", sentences: int = 1024, length: int = 14, batch: int = 256) -> dict:
    """Sentences/s of the frozen biLM computing all L+1 layers (what `LayerCache.build` does).

    `length` 14 is the mean of [<bos>] + a YNAT headline's morphemes + [<eos>].
    """
    cfg = get_config(profile)
    model = BiLM(cfg.model, cfg.data.max_vocab + 4, 3000).eval()
    chars, _, mask = synthetic_batch(cfg.data.max_vocab + 4, 3000, batch, length, cfg.data.max_chars)
    model(chars, mask)  # warm-up
    t0 = time.perf_counter()
    for _ in range(max(1, sentences // batch)):
        model(chars, mask)
    seconds = time.perf_counter() - t0
    n = max(1, sentences // batch) * batch
    return {"sentences_per_s": n / seconds, "tokens_per_s": n * length / seconds, "batch": batch, "length": length}


SOFTMAX_VARIANTS = {head: {"model": {"softmax": head}} for head in ("adaptive", "full", "sampled")}
# The recurrence at several sizes: the paper's LSTMP against LSTMs whose projection is outside.
LSTM_VARIANTS = {
    "lstmp 512/128": {"model": {"recurrence": "lstmp", "lstm_dim": 512}},
    **{f"lstm {n}": {"model": {"recurrence": "lstm", "lstm_dim": n}} for n in (192, 256, 384)},
}
OPTIMIZER_VARIANTS = {
    "adagrad lr 0.2 (paper)": {"train": {"optimizer": "adagrad", "lr": 0.2}},
    "adam lr 2e-3": {"train": {"optimizer": "adam", "lr": 2e-3}},
}
TRAINING_COMPARISONS = {"softmax": SOFTMAX_VARIANTS, "optimizer": OPTIMIZER_VARIANTS, "lstm": LSTM_VARIANTS}

