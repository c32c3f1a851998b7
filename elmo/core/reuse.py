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
nothing from it (no ELMo, 3 epochs, one thread: 19.3-19.9 s against 18.6-20.4 s), so the task
models leave it off.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys

# mallopt parameters (glibc's malloc.h).
M_TRIM_THRESHOLD, M_MMAP_MAX = -1, -4
_applied = False


def reuse_freed_memory() -> bool:
    """Serve every allocation from the heap and never give freed memory back (glibc only).

    Returns whether the setting is in force; a no-op returning False on other C libraries
    (macOS, musl, Windows), where nothing is changed.
    """
    global _applied
    if _applied:
        return True
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    # mallopt returns 1 on success. No mmap'd blocks; a trim threshold of 2**31 - 1 bytes.
    _applied = mallopt(M_MMAP_MAX, 0) == 1 and mallopt(M_TRIM_THRESHOLD, 2**31 - 1) == 1
    return _applied


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
