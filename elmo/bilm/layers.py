"""Layers of the biLM's token encoder (`Highway`, the character CNN `CharCNN`) and the `Dropout`
the biLM, ELMo and the task model share.

`CharCNN` follows bilm-tf (Peters et al. 2018, Section 3.4; Józefowicz et al. 2016): character
embeddings, one convolution per width, max over positions, highway layers, a linear projection.
"""
from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from elmo.bilm.shapes import round_up
from elmo.data.text import PAD_ID

_ACTIVATIONS = {"relu": F.relu, "tanh": torch.tanh}
WIDTH_STEP = 4  # trim_char_width keeps a multiple of this many columns


class Dropout(nn.Dropout):
    """nn.Dropout with the same semantics, ~4x cheaper on CPU: its mask comes from `torch.rand`.

    Hand-written because on CPU torch's dropout draws its mask with `bernoulli_`, which costs
    ~5x `torch.rand` for the same number of draws (measured in torch 2.13, one thread: 21.7 ms
    against 4.2 ms for a (256, 21, 356) tensor); in the YNAT task model that was a fifth of a
    training step. In train mode each entry is kept with probability 1 - p and scaled by
    1 / (1 - p); the gradient flows through the same mask. The uniforms are float32 even for a
    bfloat16 input, so p is not rounded to bfloat16's 8 bits. On CUDA (where torch's fused
    kernel is fast) and in eval mode it is nn.Dropout itself; tested against it in
    tests/bilm/test_layers.py.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0.0 or x.device.type != "cpu" or self.inplace:
            return super().forward(x)
        if self.p == 1.0:
            return x * 0.0
        # (same shape as x) kept entries scaled by 1 / (1 - p), dropped ones 0; one multiply.
        keep = (torch.rand(x.shape, device=x.device) >= self.p).to(x.dtype)
        return x * keep.mul_(1.0 / (1.0 - self.p))


class Highway(nn.Module):
    """Highway layers (Srivastava et al. 2015): y = t * f(W_h x) + (1 - t) * x.

    t = sigmoid(W_t x + b_t) is the transform gate and 1 - t the carry gate. b_t is initialised
    to `gate_bias` (-2, as in bilm-tf), so t ~ 0.12 and a fresh layer is close to the identity:
    the projected character features pass through almost unchanged early in training.

    # Parameters
    dim : input and output size.
    n_layers : number of stacked highway layers.
    activation : "relu" or "tanh", applied to the transform branch.
    gate_bias : initial bias of the transform gate.
    """

    def __init__(self, dim: int, n_layers: int, activation: str = "relu", gate_bias: float = -2.0):
        super().__init__()
        # One Linear per layer gives both the transform branch and the gate: (dim) -> (2 * dim).
        self.layers = nn.ModuleList(nn.Linear(dim, 2 * dim) for _ in range(n_layers))
        self.activation = _ACTIVATIONS[activation]
        for layer in self.layers:
            nn.init.constant_(layer.bias[dim:], gate_bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(..., dim) -> (..., dim)."""
        for layer in self.layers:
            transform, gate = layer(x).chunk(2, dim=-1)
            t = torch.sigmoid(gate)
            x = t * self.activation(transform) + (1 - t) * x
        return x


class CharCNN(nn.Module):
    """Context-independent token representations from characters.

    # Parameters
    n_chars : size of the character vocabulary; id `PAD_ID` (0) embeds to a fixed zero vector.
    char_dim : character embedding size.
    filters : (width, n_filters) of each convolution; features are their concatenation.
    highway_layers : number of highway layers on the concatenated features.
    proj_dim : output size (the biLM's LSTM input and projection size).
    activation : applied after the max over positions ("relu", or "tanh" as in some bilm-tf
        options; max-then-activation equals activation-then-max for these monotone functions).

    Weights keep PyTorch's default initialisation (Embedding N(0, 1) with a zero pad row,
    Conv1d/Linear Kaiming-uniform), except the highway gate biases (see `Highway`).
    """

    def __init__(
        self,
        n_chars: int,
        char_dim: int,
        filters: Sequence[tuple[int, int]],
        highway_layers: int,
        proj_dim: int,
        activation: str = "relu",
    ):
        super().__init__()
        if not filters:
            raise ValueError("CharCNN needs at least one (width, n_filters) convolution")
        self.embedding = nn.Embedding(n_chars, char_dim, padding_idx=PAD_ID)
        self.convs = nn.ModuleList(nn.Conv1d(char_dim, n, kernel_size=w) for w, n in filters)
        self.max_width = max(w for w, _ in filters)
        n_features = sum(n for _, n in filters)
        self.activation = _ACTIVATIONS[activation]
        self.highway = Highway(n_features, highway_layers, activation)
        self.projection = nn.Linear(n_features, proj_dim)
        self.output_dim = proj_dim

    def forward(self, char_ids: torch.Tensor) -> torch.Tensor:
        """
        # Parameters
        char_ids : (B, T, W) long, character ids of each token (W = max_chars).

        # Returns
        (B, T, proj_dim) float. Pad tokens (all-zero ids) get a constant vector; callers mask.
        """
        if not torch.compiler.is_compiling():  # a data-dependent width would recompile
            char_ids = trim_char_width(char_ids, self.max_width)
        b, t, w = char_ids.shape
        # (B*T, W, char_dim) -> (B*T, char_dim, W): Conv1d wants channels before positions.
        chars = self.embedding(char_ids.reshape(b * t, w)).transpose(1, 2)
        if w < self.max_width:
            # Right-pad with zero (= pad embedding) columns so the widest filter fits once.
            chars = F.pad(chars, (0, self.max_width - w))
        x = self.highway(self.activation(self._max_over_positions(chars)))
        return self.projection(x).reshape(b, t, self.output_dim)

    def _max_over_positions(self, chars: torch.Tensor) -> torch.Tensor:
        """(N, char_dim, W) -> (N, n_features): each filter's max over its W - width + 1 windows.

        What one Conv1d per width and a max over positions compute, as one matmul over the
        unfolded windows: every kernel gets zero taps up to the widest width k, the input k - 1
        zero columns, and the windows a narrower filter does not have are masked to -inf before
        the max. Features come innermost, (N, W, F), and `max` (whose backward is a scatter)
        replaces `amax` (whose backward compares every position again); a bias is the same at
        every position, so it is added after the max. Fwd + bwd of the cpu profile's char-CNN on
        a bench batch (bf16): 77 -> 66 ms; then, without the view below, 41 -> 28 ms on 960
        distinct spellings. Forward equal to the per-width reference to rounding; where windows
        tie, the gradient goes to one of them (a valid subgradient) rather than being split. The
        per-width `convs` stay the parameters, so artifacts are unchanged.
        """
        n, d, w = chars.shape
        k = self.max_width
        # (F, char_dim * k) kernels, taps right-padded with zeros: row f is filter f's weights.
        weight = torch.cat([F.pad(c.weight, (0, k - c.kernel_size[0])) for c in self.convs]).flatten(1)
        # (N, W, char_dim, k) windows: window p holds columns p .. p + k - 1 (zeros past the end).
        windows = F.pad(chars, (0, k - 1)).unfold(2, k, 1).transpose(1, 2)
        # (N, W, char_dim * k) @ (char_dim * k, F) -> (N, W, F): every filter at every position. A 3-d
        # matmul, not a 2-d one and a `view`: adding in place to a view makes autograd copy the
        # whole (N, W, F) gradient three times (CopySlices), ~30 % of the char-CNN's fwd + bwd.
        out = windows.reshape(n, w, d * k) @ weight.t()
        # In place: the matmul's backward needs its inputs, not its output, and the mask is constant.
        out.add_(self._past_end_mask(w, out))
        # A bias is the same at every position, so it is added after the max (max(x + b) = max(x) + b).
        return out.max(dim=1).values + torch.cat([c.bias for c in self.convs])

    def _past_end_mask(self, w: int, like: torch.Tensor) -> torch.Tensor:
        """(W, F): 0 where filter f's window at p fits (p <= W - width_f), -inf past the end."""
        widths = torch.cat([torch.full((c.out_channels,), c.kernel_size[0]) for c in self.convs]).to(like.device)
        past_end = torch.arange(w, device=like.device)[:, None] > (w - widths)[None, :]
        return torch.zeros(past_end.shape, dtype=like.dtype, device=like.device).masked_fill_(past_end, float("-inf"))


def trim_char_width(char_ids: torch.Tensor, max_width: int) -> torch.Tensor:
    """(B, T, W) -> (B, T, W') with the pad columns the CharCNN's output cannot depend on cut.

    Keeping W' = min(W, L + max_width rounded up to a multiple of WIDTH_STEP), L the longest token (its last non-pad column + 1), is
    exact: every window that overlaps a real character is kept, and each token keeps at least
    one all-pad window wherever it had one (all-pad windows have one value: the conv bias,
    the pad embedding being zero), so every max over positions is unchanged. Tokens are mostly
    far shorter than `max_chars`, so this cuts most of the convolutions' work.
    """
    used = (char_ids != PAD_ID).flatten(0, -2).any(dim=0)  # (W,) columns holding any character
    length = int(used.nonzero().max()) + 1 if used.any() else 0
    # Any width from L + max_width up is exact; rounding it up to a multiple of WIDTH_STEP leaves
    # oneDNN a few shapes to compile (elmo.bilm.shapes) instead of one per longest-token length.
    return char_ids[..., : min(char_ids.shape[-1], round_up(length + max_width, WIDTH_STEP))]


def unique_rows(rows: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """`torch.unique(rows, dim=0, return_inverse=True)` for a (N, W) integer tensor, faster.

    torch.unique(dim=0) on CPU compares rows one pair at a time (thousands of tiny ops per
    batch); here a lexicographic order comes from W stable sorts, last column first. Same
    output: the distinct rows in lexicographic order, and for each row its index among them.
    """
    order = torch.arange(rows.shape[0], device=rows.device)
    for c in reversed(range(rows.shape[1])):
        order = order[torch.sort(rows[order, c], stable=True).indices]
    ranked = rows[order]
    first = torch.ones(rows.shape[0], dtype=torch.bool, device=rows.device)  # (N,) starts a new row
    first[1:] = (ranked[1:] != ranked[:-1]).any(dim=1)
    inverse = torch.empty_like(order)
    inverse[order] = first.cumsum(0) - 1
    return ranked[first], inverse

