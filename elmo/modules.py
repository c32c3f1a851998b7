"""Building blocks of the biLM and of ELMo: the character CNN token encoder and the scalar mix.

`CharCNN` follows bilm-tf (Peters et al. 2018, Section 3.4; Józefowicz et al. 2016): character
embeddings, one convolution per width, max over positions, highway layers, a linear projection.
`ScalarMix` is the task-specific weighting of the biLM layers (Peters et al. 2018, Eq. 1):
ELMo_k = gamma * sum_j s_j h_{k,j} with s = softmax(w).
"""

from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from elmo.tokenize import PAD_ID

_ACTIVATIONS = {"relu": F.relu, "tanh": torch.tanh}


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
        b, t, w = char_ids.shape
        # (B*T, W, char_dim) -> (B*T, char_dim, W): Conv1d wants channels before positions.
        chars = self.embedding(char_ids.reshape(b * t, w)).transpose(1, 2)
        if w < self.max_width:
            # Right-pad with zero (= pad embedding) columns so the widest filter fits once.
            chars = F.pad(chars, (0, self.max_width - w))
        # Each conv: (B*T, n_filters, W - width + 1) -> max over positions -> (B*T, n_filters).
        features = [self.activation(conv(chars).amax(dim=-1)) for conv in self.convs]
        x = self.highway(torch.cat(features, dim=-1))
        return self.projection(x).reshape(b, t, self.output_dim)


class ScalarMix(nn.Module):
    """gamma * sum_j softmax(w)_j * h_j over the layers of a biLM (AllenNLP-style).

    # Parameters
    n_layers : number of layers mixed (L + 1 for an L-layer biLM).
    trainable : whether the raw weights w are learned; False keeps them fixed.
    gamma : True learns the scalar gamma (initialised to 1.0); False fixes it at 1.0.
    layer_norm : normalise each layer (mean/variance over its real positions and features, per
        sequence) before mixing, as AllenNLP's `do_layer_norm`.
    initial_weights : the raw (pre-softmax) weights w, default zeros (a uniform mix). A `-inf`
        entry gives that layer an exact zero weight, so `ScalarMix.fixed` can select one layer.
    """

    def __init__(
        self,
        n_layers: int,
        trainable: bool = True,
        gamma: bool = True,
        layer_norm: bool = False,
        initial_weights: Sequence[float] | None = None,
    ):
        super().__init__()
        init = torch.zeros(n_layers) if initial_weights is None else torch.tensor(
            [float(v) for v in initial_weights]
        )
        if init.shape != (n_layers,):
            raise ValueError(f"initial_weights must have {n_layers} entries, not {len(init)}")
        self.n_layers = n_layers
        self.layer_norm = layer_norm
        self.scalar_parameters = nn.Parameter(init, requires_grad=trainable)
        self.gamma = nn.Parameter(torch.ones(()), requires_grad=gamma)

    @classmethod
    def fixed(cls, n_layers: int, index: int | None = None, gamma: bool = False) -> "ScalarMix":
        """A non-trainable mix: uniform (index None) or exactly layer `index` (one-hot)."""
        weights = [0.0] * n_layers
        if index is not None:
            weights = [0.0 if j == index % n_layers else float("-inf") for j in range(n_layers)]
        return cls(n_layers, trainable=False, gamma=gamma, initial_weights=weights)

    @property
    def weights(self) -> torch.Tensor:
        """(n_layers,) the normalised layer weights s_j = softmax(w)_j."""
        return torch.softmax(self.scalar_parameters, dim=0)

    def l2_penalty(self) -> torch.Tensor:
        """sum_j w_j**2 over the raw weights: the lambda * ||w||^2 regulariser of the paper.

        A fixed mix is not regularised (its weights are constants, possibly -inf): returns 0.
        """
        if not self.scalar_parameters.requires_grad:
            return self.scalar_parameters.new_zeros(())
        return (self.scalar_parameters**2).sum()

    def forward(
        self, layers: Sequence[torch.Tensor] | torch.Tensor, mask: torch.Tensor | None = None
    ) -> torch.Tensor:
        """
        # Parameters
        layers : n_layers tensors (B, T, D), or one tensor (n_layers, B, T, D).
        mask : (B, T) bool, real positions; only used by layer norm (None: all real).

        # Returns
        (B, T, D) the mixed representation.
        """
        stacked = layers if isinstance(layers, torch.Tensor) else torch.stack(list(layers))
        if stacked.shape[0] != self.n_layers:
            raise ValueError(f"ScalarMix expects {self.n_layers} layers, got {stacked.shape[0]}")
        if self.layer_norm:
            stacked = _masked_layer_norm(stacked, mask)
        # (L,) -> (L, 1, 1, 1) to broadcast over (L, B, T, D), then sum out the layers.
        s = self.weights.to(stacked.dtype).view(-1, *([1] * (stacked.dim() - 1)))
        return self.gamma * (s * stacked).sum(dim=0)


def _masked_layer_norm(stacked: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    """(L, B, T, D) normalised per layer and sequence over its real (T, D) entries."""
    if mask is None:
        mask = torch.ones(stacked.shape[1:3], dtype=torch.bool, device=stacked.device)
    # (B, T) -> (1, B, T, 1) to broadcast over layers and features.
    m = mask[None, :, :, None].to(stacked.dtype)
    count = (m.sum(dim=(2, 3), keepdim=True) * stacked.shape[-1]).clamp(min=1)
    mean = (stacked * m).sum(dim=(2, 3), keepdim=True) / count
    var = (((stacked - mean) * m) ** 2).sum(dim=(2, 3), keepdim=True) / count
    return (stacked - mean) / torch.sqrt(var + 1e-12)
