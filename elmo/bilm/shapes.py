"""Data-dependent sizes rounded to a few buckets, so oneDNN reuses the kernels it has compiled.

Under bf16 autocast on CPU every matmul goes to oneDNN, which compiles (JITs) a kernel for each
new shape and keeps the last 1,024 in a cache. A biLM batch brings new row counts every step:
the distinct spellings the char-CNN encodes, the predicted positions of the softmax, the rows of
each tail cluster. On the petitions that was ~24 kernel compilations a step, 1-6 ms each:
`ONEDNN_VERBOSE=profile_create` counted 2,424 cache misses and 7.5 s of compiling in 100
training steps, ~30 % of the step (the bench, which repeats one batch, never saw it). Padding
each such count up to `bucket(n)` (at most 1/8 more rows, which the callers discard) leaves a
few dozen shapes per matmul, compiled once and then reused.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

PER_OCTAVE = 8  # buckets per doubling of the size: at most 12.5 % padding


def bucket(n: int, per_octave: int = PER_OCTAVE) -> int:
    """The smallest size >= n among m * 2**e with per_octave <= m < 2 * per_octave (or n itself when
    smaller than per_octave): `per_octave` sizes between each power of two and the next.

    >>> [bucket(n) for n in (1, 7, 8, 9, 17, 100, 1000, 1025)]
    [1, 7, 8, 9, 18, 104, 1024, 1152]
    """
    if n <= per_octave:
        return n
    return round_up(n, 1 << (n.bit_length() - per_octave.bit_length()))  # n / step in [per_octave, 2 * per_octave)


def round_up(n: int, step: int) -> int:
    """The smallest multiple of `step` that is >= n."""
    return -(-n // step) * step


def pad_rows(x: torch.Tensor, rows: int, value: float = 0) -> torch.Tensor:
    """(N, ...) -> (rows, ...): `x` followed by rows - N rows filled with `value` (N <= rows)."""
    extra = rows - x.shape[0]
    if extra == 0:
        return x
    return F.pad(x, (0, 0) * (x.dim() - 1) + (0, extra), value=value)
