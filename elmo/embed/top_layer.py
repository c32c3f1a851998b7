"""The biLM's top layer, recomputed from the cached layer below it so a task model can fine-tune it.

Issue 16's third lever: ELMo's layers are frozen features in the paper; ULMFiT (Howard & Ruder
2018) fine-tunes the pretrained LM itself, with a smaller learning rate for it (discriminative
rates) and the pretrained layers unfrozen only after the new ones have settled (gradual
unfreezing). Running the whole biLM in every task step would cost far more than the task model,
so only the top layer is tuned: its input, layer L-1, is in the `LayerCache` already, and its
two LSTMs (forward and backward, ~0.5 M weights) are cheap next to the char-CNN below.

Exactness. The cache has no <bos>/<eos> positions (`remove_sentence_boundaries`), but the biLM
read them: its forward top LSTM starts a sentence after one step on <bos>, its backward one after
one step on <eos>. Their layer-(L-1) states there do not depend on the sentence (the first step
of an LSTM from a zero state), so they are stored once (`start_fwd`, `start_bwd`) and every
forward pass first runs the top LSTMs one step on them to get the states the biLM had. In eval
mode `TopLayer(layers)` therefore equals the biLM's own top layer (tested to float precision).
The one-step start runs without dropout (a constant input; the biLM dropped it out at random).
"""

from __future__ import annotations

import dataclasses

import torch
from torch import nn

from elmo.bilm.layers import Dropout
from elmo.bilm.model import BiLM, reverse_padded
from elmo.bilm.recurrence import make_lstm
from elmo.core.config import ModelConfig
from elmo.embed.elmo import batch_to_ids


class TopLayer(nn.Module):
    """Layer L of a biLM as a trainable module over cached layers.

    # Parameters
    spec : {"recurrence", "proj_dim", "lstm_dim", "lstm_layers", "dropout"} of the biLM's
        ModelConfig (`TopLayer.spec_of(bilm)`); JSON-friendly, so a LightningModule can keep it
        in its hyperparameters and rebuild the module from a checkpoint.

    Build it with `TopLayer.from_bilm(bilm)`: that copies the weights and the two start inputs.
    """

    def __init__(self, spec: dict):
        super().__init__()
        self.spec = dict(spec)
        p, h = spec["proj_dim"], spec["lstm_dim"]
        self.forward_lstm = make_lstm(spec["recurrence"], p, h, p)
        self.backward_lstm = make_lstm(spec["recurrence"], p, h, p)
        self.dropout = Dropout(spec["dropout"])
        self.residual = spec["lstm_layers"] > 1  # the biLM adds a layer's input from layer 2 up
        # Layer L-1's forward state at <bos> and backward state at <eos> (see the module docstring).
        self.register_buffer("start_fwd", torch.zeros(p))
        self.register_buffer("start_bwd", torch.zeros(p))

    @staticmethod
    def spec_of(bilm: BiLM) -> dict:
        cfg: ModelConfig = bilm.cfg
        keys = ("recurrence", "proj_dim", "lstm_dim", "lstm_layers", "dropout")
        return {k: v for k, v in dataclasses.asdict(cfg).items() if k in keys}

    @classmethod
    @torch.no_grad()
    def from_bilm(cls, bilm: BiLM) -> "TopLayer":
        """The top layer of a pretrained `bilm` (with `.encoder`), its weights copied (not shared)."""
        top = cls(cls.spec_of(bilm))
        top.forward_lstm.load_state_dict(bilm.forward_lstms[-1].state_dict())
        top.backward_lstm.load_state_dict(bilm.backward_lstms[-1].state_dict())
        was_training = bilm.training
        bilm.eval()
        # The empty sentence [<bos>, <eos>]: layer L-1 (B=1, T=2, 2P) at position 0 (forward half)
        # and position 1 (backward half) are the starts of every sentence.
        char_ids, mask = batch_to_ids(bilm.encoder, [[]])
        below = bilm(char_ids, mask).layers[-2][0].float()
        p = top.spec["proj_dim"]
        top.start_fwd.copy_(below[0, :p])
        top.start_bwd.copy_(below[1, p:])
        bilm.train(was_training)
        return top

    def forward(self, layers: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """(L+1, B, T, 2P) cached layers, (B, T) right-padded mask -> the same with layer L recomputed.

        Pads of the new top layer are zero, as in the cache.
        """
        p = self.spec["proj_dim"]
        below = layers[-2]
        lengths = mask.sum(dim=1)
        fwd_in, bwd_in = below[..., :p], below[..., p:]
        fwd = self._run(self.forward_lstm, self.start_fwd, fwd_in)
        # The backward LSTM reads each sentence right to left: reverse within its length, run, map back.
        bwd = reverse_padded(self._run(self.backward_lstm, self.start_bwd, reverse_padded(bwd_in, lengths)), lengths)
        top = torch.cat([fwd, bwd], dim=-1) * mask[..., None].to(below.dtype)
        return torch.cat([layers[:-1], top[None].to(layers.dtype)])

    def _run(self, lstm: nn.LSTM, start: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """(B, T, P) -> (B, T, P): the LSTM from its state after the start step, plus the residual."""
        b = x.shape[0]
        # One step on the start input (1, 1, P) gives the (1, 1, H) states the biLM began from.
        _, (h, c) = lstm(start.to(x.dtype)[None, None])
        out, _ = lstm(self.dropout(x), (h.expand(-1, b, -1).contiguous(), c.expand(-1, b, -1).contiguous()))
        return out + x if self.residual else out
