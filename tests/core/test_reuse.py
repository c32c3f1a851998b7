"""Freed memory is reused, not returned to the OS and page-faulted in again (elmo.core.reuse)."""

import os
import resource
import subprocess
import sys

import pytest
import torch

from elmo.core.reuse import keep_compiled_kernels, reuse_freed_memory


def _minor_faults() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="mallopt is glibc's")
def test_steady_state_allocations_cause_no_page_faults():
    """Rounds of 16 MB tensors, as a training step makes: glibc's default mmaps each and returns it
    on free, so every round faults ~65,000 pages in again; with the setting, later rounds reuse the
    heap (measured: 65,504 faults a round without it, 0 with it)."""
    assert reuse_freed_memory()

    def one_round():
        blocks = [torch.ones(4 * 2**20) * 2 for _ in range(8)]  # 8 x 16 MB, plus temporaries
        del blocks

    for _ in range(5):  # the heap grows to its high-water mark
        one_round()
    before = _minor_faults()
    one_round()
    # 256 MB of fresh pages would be ~65,000 faults; allow some (other threads, fragmentation).
    assert _minor_faults() - before < 16_000


MILD = """
import resource, torch
from elmo.core.reuse import reuse_freed_memory
assert reuse_freed_memory(32 * 2**20)
def faults(mb):
    def one_round():
        blocks = [torch.ones(mb * 2**18) * 2 for _ in range(4)]
        del blocks
    for _ in range(5):
        one_round()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    one_round()
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before
print(faults(16), faults(64))
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="mallopt is glibc's")
def test_the_workers_setting_keeps_blocks_under_its_size_and_maps_larger_ones():
    """`reuse_freed_memory(32 MiB)` (the task models' pool workers): rounds of 16 MB blocks stop
    faulting; 64 MB blocks are still mapped, returned and faulted in again (4 x 64 MB x 2 per
    round, ~130,000 pages). In a fresh process: a process keeps the first setting applied."""
    out = subprocess.run([sys.executable, "-c", MILD], capture_output=True, text=True, check=True).stdout.split()
    small, large = map(int, out)
    assert small < 16_000 and large > 60_000


def test_the_setting_is_checked_and_kept():
    with pytest.raises(ValueError, match="mmap_above"):
        reuse_freed_memory(64 * 2**20)


def test_is_idempotent():
    assert reuse_freed_memory() == reuse_freed_memory()


def test_kernel_cache_capacity_is_set_unless_the_environment_says(monkeypatch):
    monkeypatch.delenv("ONEDNN_PRIMITIVE_CACHE_CAPACITY", raising=False)
    assert keep_compiled_kernels(1234) and os.environ["ONEDNN_PRIMITIVE_CACHE_CAPACITY"] == "1234"
    monkeypatch.setenv("ONEDNN_PRIMITIVE_CACHE_CAPACITY", "99")  # a user's own choice wins
    assert not keep_compiled_kernels(1234)
