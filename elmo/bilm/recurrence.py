"""The recurrent layers of the biLM: the paper's LSTMP, or an LSTM with its projection outside.

    "lstmp": nn.LSTM(proj_dim, lstm_dim, proj_size=proj_dim), the LSTM with a recurrent
        projection of Peters et al. (2018) / bilm-tf. cuDNN runs it; on CPU PyTorch never sends
        it to oneDNN ("LSTM with projections is not supported with oneDNN"), so it runs in fp32
        matmuls one step at a time.
    "lstm": nn.LSTM(proj_dim, lstm_dim) and then a Linear(lstm_dim -> proj_dim) applied to every
        output at once. The recurrence carries the full lstm_dim state (h_t is not projected
        before it re-enters the cell), and the LSTM takes PyTorch's oneDNN path on CPU
        (`aten::mkldnn_rnn_layer`, bf16 under autocast): no proj_size, unpacked input.

Both map (B, T, proj_dim) -> (B, T, proj_dim), so the rest of the biLM does not care which.
"""

from __future__ import annotations

import torch
from torch import nn

RECURRENCES = ("lstmp", "lstm")


class ProjectedLSTM(nn.LSTM):
    """A single-layer nn.LSTM(input_dim, hidden_dim) followed by Linear(hidden_dim, output_dim).

    A subclass of nn.LSTM, so its recurrent weights keep nn.LSTM's names (`weight_ih_l0`, ...)
    and the projection adds `proj.weight` and `proj.bias`. `forward` returns (y, (h_n, c_n)) as
    nn.LSTM does, with y (B, T, output_dim) the projected outputs.
    """

    def __init__(self, input_dim: int, hidden_dim: int, output_dim: int):
        super().__init__(input_dim, hidden_dim, batch_first=True)
        self.proj = nn.Linear(hidden_dim, output_dim)

    def forward(self, x, hx=None):
        h, state = super().forward(x, hx)
        return self.proj(h), state


def make_lstm(kind: str, input_dim: int, hidden_dim: int, output_dim: int) -> nn.LSTM:
    """One layer of `kind`; biases zero except the forget gates (+1, TensorFlow's forget_bias)."""
    if kind == "lstmp":
        lstm = nn.LSTM(input_dim, hidden_dim, proj_size=output_dim, batch_first=True)
    elif kind == "lstm":
        lstm = ProjectedLSTM(input_dim, hidden_dim, output_dim)
    else:
        raise ValueError(f"unknown recurrence {kind!r}; choose one of {RECURRENCES}")
    with torch.no_grad():
        lstm.bias_ih_l0.zero_()
        lstm.bias_hh_l0.zero_()
        # Gate order in PyTorch is (input, forget, cell, output): the second block.
        lstm.bias_ih_l0[hidden_dim : 2 * hidden_dim].fill_(1.0)
    return lstm


def lstm_flops(kind: str, input_dim: int, hidden_dim: int, output_dim: int, positions: int) -> float:
    """Matmul FLOPs of one layer over `positions` (B * T) steps, forward + backward.

    Per step forward: gates 2 * (input + recurrent) * 4 * hidden, where the recurrent input is
    the projected state (lstmp) or the full hidden state (lstm); the projection 2 * hidden *
    output. Backward costs twice the forward (gradients of inputs and of weights), hence 3x.
    `FlopCounterMode` misses oneDNN's fused LSTM entirely, so the bench counts it this way.
    """
    recurrent = output_dim if kind == "lstmp" else hidden_dim
    forward = 2 * (input_dim + recurrent) * 4 * hidden_dim + 2 * hidden_dim * output_dim
    return 3.0 * forward * positions
