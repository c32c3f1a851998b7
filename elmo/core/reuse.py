"""Keep what a CPU process would otherwise redo every step: freed memory and compiled kernels.

Neither changes a result; both are process-wide, set by `seed_everything` (which every run calls
first): the kernel cache always, freed memory where a run asks (the biLM's training, the bench).

Freed memory (`reuse_freed_memory`). glibc's malloc serves each block over 128 KB-32 MB with its
own `mmap` and returns it to the OS on `free`; the next step asks again, and the kernel
zero-fills every 4 KB page on first touch. A biLM step allocates and frees tens of such blocks
(logits, LSTM gates, char-CNN windows), so on this 2-core CPU about a fifth of a step went to
those faults: `python -m elmo.bench --profile cpu --compare step` timed the configuration before
issue 14 at 683.8 ms a step as glibc comes and 530.4 ms with this setting (its synthetic batch
repeats one shape, so the kernel cache below plays no part there). This is
what `MALLOC_MMAP_MAX_=0 MALLOC_TRIM_THRESHOLD_=...` in the environment do, or what jemalloc and
tcmalloc do through LD_PRELOAD, applied from inside the process so that notebooks, `python -m`
commands get it. The cost: the process keeps its peak heap until it exits, and a heap of
variously sized blocks can fragment. With it on in 03's pool workers (which also map the layer
caches) each worker held 6.4 GB after a dozen task models, and a single task model gained
nothing from it (no ELMo, 3 epochs, one thread: 19.3-19.9 s against 18.6-20.4 s).

The task models' pool workers (`elmo.ynat.jobs`) take a milder form, `reuse_freed_memory(32 MiB)`:
blocks under 32 MiB come from the heap, which is never trimmed, and larger ones are still
mapped and given back. ELMo's task models allocate (3, 256, T, 256) layer batches and their
mixes every step; two workers side by side on a 10 % grid run took 14.1 against 15.4 s a run
(ELMo at the input) and 18.7 against 19.7 s (input and output), with the same numbers.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys

# mallopt parameters (glibc's malloc.h).
M_TRIM_THRESHOLD, M_MMAP_THRESHOLD, M_MMAP_MAX = -1, -3, -4
MAX_MMAP_THRESHOLD = 32 * 2**20  # glibc's upper limit for M_MMAP_THRESHOLD on 64-bit systems
_applied: int | None = None  # the setting in force: 0 (every block from the heap) or the threshold


def reuse_freed_memory(mmap_above: int = 0) -> bool:
    """Serve allocations from the heap and never give freed memory back (glibc only).

    mmap_above : 0 serves every block from the heap (the biLM); a size in bytes (at most
        `MAX_MMAP_THRESHOLD`) still maps larger blocks on their own and gives them back on free.
    Returns whether the setting is in force; a no-op returning False on other C libraries
    (macOS, musl, Windows), where nothing is changed. A process keeps the first setting applied.
    """
    global _applied
    if not 0 <= mmap_above <= MAX_MMAP_THRESHOLD:
        raise ValueError(f"mmap_above must be in [0, {MAX_MMAP_THRESHOLD}] bytes, not {mmap_above}")
    if _applied is not None:
        return _applied == mmap_above
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    # mallopt returns 1 on success. A trim threshold of 2**31 - 1 bytes: the heap is never trimmed.
    mapped = mallopt(M_MMAP_MAX, 0) if mmap_above == 0 else mallopt(M_MMAP_THRESHOLD, mmap_above)
    if mapped == 1 and mallopt(M_TRIM_THRESHOLD, 2**31 - 1) == 1:
        _applied = mmap_above
    return _applied == mmap_above


# oneDNN compiles a kernel per matmul shape and keeps the last 1,024 (its default). A biLM epoch
# meets more than that even with bucketed row counts (elmo.bilm.shapes): LSTM projections per
# sentence length, tail clusters, small batches. With 8,192 the misses died out within the first
# epoch (ONEDNN_VERBOSE=profile_create over 300 real steps: 869, 237, 94, 60 misses per ~70 steps).
KERNEL_CACHE = 8192


def keep_compiled_kernels(capacity: int = KERNEL_CACHE) -> bool:
    """Ask oneDNN to keep `capacity` compiled kernels (ONEDNN_PRIMITIVE_CACHE_CAPACITY), unless the
    environment already says. oneDNN reads it when it compiles its first kernel, so this takes
    effect only if called before that; returns whether the variable now holds `capacity`."""
    os.environ.setdefault("ONEDNN_PRIMITIVE_CACHE_CAPACITY", str(capacity))
    return os.environ["ONEDNN_PRIMITIVE_CACHE_CAPACITY"] == str(capacity)
