"""A prepared check of a machine with a GPU, in minutes: what the `gpu` profile would get there.

`run_check()` measures, on the first CUDA device (or, without one, on the CPU at `tiny` sizes,
so the same code runs in `make test` and cannot rot):

1. the device, and its bf16 and fp32 matmul peaks (square matmuls, best of repeated timings);
2. tokens/s of the profile's biLM training step (forward, backward, clipping, optimizer) on a
   synthetic batch shaped like text, its FLOPs (counted, with the LSTM's added analytically
   where the counter cannot see the fused kernels) and their fraction of the bf16 peak, and
   the peak memory of the step;
3. how long one epoch over the full corpus would take at that speed;
4. the causality check of both LM directions (`elmo.bilm.checks.causality`) on the device;
5. a short 03-style finetune: the biLM's layers of synthetic headlines cached on disk, then the
   YNAT task model trained on them with ELMo at the input.

It needs only the repository: no data, no download (the text is synthetic). Everything goes
into one JSON file. `python -m elmo.gpucheck --out DIR`.
"""

from __future__ import annotations

import json
import platform
import tempfile
import time
from contextlib import nullcontext
from pathlib import Path
from types import SimpleNamespace

import torch
from torch.utils.flop_counter import FlopCounterMode

from elmo.bilm.bench import lstm_flop_count, synthetic_batch
from elmo.bilm.checks import causality
from elmo.bilm.model import BiLM
from elmo.core.config import Config, get_config
from elmo.core.runs import provenance, seed_everything
from elmo.data.text import TextEncoder, TokenizerSettings
from elmo.embed.layer_cache import LayerCache
from elmo.ynat.data import YnatData, synthetic_headlines
from elmo.ynat.train import train_and_evaluate

# Tokens of the whole downloadable corpus (`make data`): the 25 petition months and the 700
# Wikipedia files. Wikipedia: 188 M Hangul syllables in ~265 M characters of article text,
# ~1.97 characters a morpheme token (shared/data/README.md, section 5); petitions: 2.47 M train
# tokens from 6 of 25 months here, the archive ~40x the months present.
FULL_CORPUS_TOKENS = int(265e6 / 1.97 + 2.47e6 * 40)
FILE = "gpucheck.json"


def device_info(device: torch.device) -> dict:
    info = {"device": str(device), "torch": torch.__version__, "python": platform.python_version()}
    if device.type == "cuda":
        p = torch.cuda.get_device_properties(device)
        info.update(name=p.name, capability=f"{p.major}.{p.minor}", memory_gib=round(p.total_memory / 2**30, 1),
                    cuda=torch.version.cuda, cudnn=torch.backends.cudnn.version())  # fmt: skip
    else:
        info.update(name=platform.processor() or platform.machine(), threads=torch.get_num_threads())
    return info


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def matmul_peak(device: torch.device, dtype: torch.dtype, n: int, seconds: float) -> float:
    """GFLOP/s of (n x n) @ (n x n) in `dtype` on `device`, best of repeated timings."""
    a, b = (torch.randn(n, n, device=device).to(dtype) for _ in range(2))
    for _ in range(3):
        a @ b
    sync(device)
    best, t_end = 0.0, time.perf_counter() + seconds
    while time.perf_counter() < t_end:
        t0 = time.perf_counter()
        for _ in range(4):
            a @ b
        sync(device)
        best = max(best, 4 * 2 * n**3 / (time.perf_counter() - t0) / 1e9)
    return best


def step_speed(cfg: Config, device: torch.device, batch: int, length: int, repeats: int) -> dict:
    """Tokens/s, FLOPs and peak memory of one training step of the profile's biLM on `device`."""
    seed_everything(cfg.seed)
    n_tokens, n_chars = cfg.data.max_vocab + 4, 3000
    model = BiLM(cfg.model, n_tokens, n_chars).to(device).train()
    t = cfg.train
    if t.optimizer == "adam":
        opt = torch.optim.Adam(model.parameters(), lr=t.lr)
    else:
        opt = torch.optim.Adagrad(model.parameters(), lr=t.lr, initial_accumulator_value=1.0)
    bf16 = t.precision.startswith("bf16")
    autocast = (lambda: torch.autocast(device.type, dtype=torch.bfloat16)) if bf16 else nullcontext
    chars, targets, mask = (x.to(device) for x in synthetic_batch(n_tokens, n_chars, batch, length, cfg.data.max_chars))

    def step():
        with autocast():
            loss = model.nll(chars, targets, mask)["loss"]
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), t.grad_clip)
        opt.step()
        opt.zero_grad(set_to_none=True)

    with FlopCounterMode(display=False) as counter:
        step()  # also the warm-up
    # The counter sees cuBLAS/oneDNN matmuls but not the fused LSTM kernels: count those by hand.
    lstm = lstm_flop_count(model, SimpleNamespace(autocast=autocast), chars)  # the bench's count, on this device
    flops = counter.get_total_flops() - lstm["counted"] + lstm["analytic"]
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    sync(device)
    t0 = time.perf_counter()
    for _ in range(repeats):
        step()
    sync(device)
    seconds = (time.perf_counter() - t0) / repeats
    memory = torch.cuda.max_memory_allocated(device) / 2**30 if device.type == "cuda" else None
    return {"batch": [batch, length], "params_millions": sum(p.numel() for p in model.parameters()) / 1e6,
            "step_seconds": seconds, "tokens_per_s": batch * length / seconds, "gflop_per_step": flops / 1e9,
            "achieved_gflops": flops / seconds / 1e9, "peak_memory_gib": memory, "precision": t.precision}  # fmt: skip


def finetune_check(cfg: Config, device: torch.device, work: Path) -> dict:
    """A biLM of the profile's shape (untrained) saved, its layers of synthetic headlines cached on
    `device`, and the task model trained on them with ELMo; the toy classes are separable from
    the task's own word vectors, so dev macro-F1 near 100 shows the whole path works."""
    train, dev = synthetic_headlines(40, 0), synthetic_headlines(10, 1)
    tokens = [h.text.split() for h in train + dev]
    settings = TokenizerSettings(tokenizer="eojeol", max_chars=cfg.data.max_chars)
    encoder = TextEncoder.build(tokens, settings, min_freq=1)
    seed_everything(cfg.seed)
    artifact = BiLM(cfg.model, len(encoder.tokens), len(encoder.chars)).save_pretrained(work / "bilm", encoder)
    t0 = time.perf_counter()
    cache = LayerCache.build(artifact, tokens, cache_root=work / "cache", progress=False, device=device)
    cache_seconds = time.perf_counter() - t0
    data = YnatData.build(train, dev, tokens, tokenizer=settings).with_cache(cache)
    task_cfg = get_config(cfg.profile, finetune={"max_epochs": 8, "patience": 8, "batch_size": 32, "lr": 1e-2, "workers": 1})
    accelerator = "gpu" if device.type == "cuda" else "cpu"
    result = train_and_evaluate(task_cfg, data, 0, {"elmo": True}, work, logger=False, accelerator=accelerator,
                                devices=1, enable_progress_bar=False)  # fmt: skip
    return {"cache_seconds": cache_seconds, "train_seconds": result["seconds"], "epochs": result["epochs"],
            "dev_macro_f1": result["macro_f1"], "holdout_macro_f1": result["holdout_macro_f1"],
            "headlines": len(train) + len(dev)}  # fmt: skip


def run_check(profile: str | None = None, out: Path | None = None, peak_seconds: float | None = None,
              repeats: int | None = None, batch: int | None = None, length: int = 32) -> dict:  # fmt: skip
    """The whole check (see the module docstring); writes `out/gpucheck.json` and returns it."""
    t_start = time.perf_counter()
    cuda = torch.cuda.is_available()
    device = torch.device("cuda:0" if cuda else "cpu")
    profile = profile or ("gpu" if cuda else "tiny")
    cfg = get_config(profile)
    n = 8192 if cuda else 512
    peak_seconds = peak_seconds if peak_seconds is not None else (3.0 if cuda else 0.5)
    peaks = {"bf16": matmul_peak(device, torch.bfloat16, n, peak_seconds),
             "fp32": matmul_peak(device, torch.float32, n, peak_seconds)}  # fmt: skip
    speed = step_speed(cfg, device, batch or cfg.train.batch_size, length, repeats or (10 if cuda else 2))
    speed["fraction_of_bf16_peak"] = speed["achieved_gflops"] / peaks["bf16"]
    seed_everything(cfg.seed)
    small = BiLM(cfg.model, cfg.data.max_vocab + 4, 3000).to(device)
    chars, _, mask = (x.to(device) for x in synthetic_batch(cfg.data.max_vocab + 4, 3000, 4, 12, cfg.data.max_chars))
    with tempfile.TemporaryDirectory() as work:
        finetune = finetune_check(cfg, device, Path(work))
    report = {
        "profile": profile, "device": device_info(device), "matmul_peak_gflops": peaks, "step": speed,
        "full_corpus_tokens": FULL_CORPUS_TOKENS,
        "epoch_hours_at_this_speed": FULL_CORPUS_TOKENS / speed["tokens_per_s"] / 3600,
        "causality": causality(small, chars, mask), "finetune": finetune,
        "seconds": time.perf_counter() - t_start, "provenance": provenance(cfg),
    }  # fmt: skip
    if out is not None:
        Path(out).mkdir(parents=True, exist_ok=True)
        (Path(out) / FILE).write_text(json.dumps(report, indent=1, default=str))
    return report
