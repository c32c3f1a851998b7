"""What the machine computes fast: bf16 only where the hardware has it, fp32 elsewhere.

bf16 autocast pays off only on hardware with native bf16 arithmetic. The profiles were tuned on
an Intel CPU with AMX (bf16 matmul peak ~2,000-2,700 against ~396 GFLOP/s in fp32 on 2 cores,
../shared/KNOWN.md; the YNAT task model ~11 % faster in bf16). On an Ice Lake Xeon without AMX
or AVX512-BF16, where oneDNN emulates bf16 with fp32 instructions, the biLM's training step took
2.45x *longer* in bf16 than in fp32 (582 against 237 ms, `python -m elmo.bench --profile cpu
--precision bf16-mixed|32-true`; matmul peak bf16 65 against fp32 313 GFLOP/s) and a YNAT
task-model step 1.56x longer (95.7 against 61.4 ms; a throwaway script, one thread). So the profiles say `precision="auto"` and
`get_config` resolves it here, once, for the machine that runs: the resolved value is what a run
records (and what its cache keys hold), so a biLM trained in bf16 is never reused as if it were
the fp32 one, and the numbers of a seeded run repeat on machines of the same kind.
"""

from __future__ import annotations

import os
import platform
from pathlib import Path

import torch

AUTO = "auto"
PRECISIONS = (AUTO, "bf16-mixed", "32-true")


def native_bf16(accelerator: str = "auto") -> bool:
    """Whether the device a run lands on does bf16 matmuls in hardware: a CUDA GPU that supports
    bf16 (when `accelerator` lets Lightning pick one), else a CPU with AMX tiles or AVX512-BF16."""
    if accelerator in ("auto", "gpu", "cuda") and torch.cuda.is_available():
        # Without `including_emulation=False` torch also says yes for pre-Ampere GPUs, which
        # only emulate bf16: the case this function exists to catch.
        return torch.cuda.is_bf16_supported(including_emulation=False)
    # torch.cpu's feature probes (cpuinfo): private, but the only probes torch ships; absent -> False.
    probes = ("_is_amx_tile_supported", "_is_avx512_bf16_supported")
    return any(getattr(torch.cpu, name, lambda: False)() for name in probes)


def resolve_precision(precision: str, accelerator: str = "auto") -> str:
    """A Lightning precision: "auto" -> "bf16-mixed" with native bf16, else "32-true"; an explicit
    "bf16-mixed" or "32-true" is kept as given (to measure one against the other)."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, not {precision!r}")
    if precision != AUTO:
        return precision
    return "bf16-mixed" if native_bf16(accelerator) else "32-true"


def cpu_model() -> str:
    """The CPU's model name (Linux: /proc/cpuinfo), else what `platform` knows."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine() -> dict:
    """Which machine a run or a timing comes from: timings of different CPUs are not comparable
    (see this module's docstring), so every run records it."""
    return {"platform": platform.platform(), "cpu": cpu_model(), "cpus": os.cpu_count(),
            "torch_threads": torch.get_num_threads(), "native_bf16": native_bf16()}  # fmt: skip
