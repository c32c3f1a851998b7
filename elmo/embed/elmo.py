"""ELMo representations for a downstream task (Peters et al. 2018, Section 3.2-3.3).

`Elmo` wraps a pretrained `BiLM` and `n_mixes` task-specific `ScalarMix`es:
    ELMo_k^task = gamma^task * sum_j s_j^task h_{k,j}.
Unlike the seed (KNOWN.md, fault 4), every token is read in the context of its whole sentence,
the layer weights s_j are learned, and the pretrained weights are loaded as saved, never
re-initialised; by default the biLM is frozen (no gradients, always in eval mode).

`elmo.embed.layer_cache.LayerCache` stores the L + 1 biLM layers of a fixed list of sentences
on disk once, so a frozen-biLM task model can train for many epochs without re-running the biLM:
it applies `Elmo.mix_cached` to `cache.batch(indices)`.

As AllenNLP does, the <bos>/<eos> positions the biLM reads are removed from every output: a
sentence of n tokens gives n vectors, and the returned `mask` (B, T') marks real tokens.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Sequence, Union

import torch
from torch import nn

from elmo.bilm.layers import Dropout
from elmo.bilm.model import BiLM
from elmo.data.text import PAD_ID, TextEncoder
from elmo.embed.scalar_mix import ScalarMix

Sentences = Sequence[Sequence[str]]
# Either tokenized sentences or what `batch_to_ids` made of them.
SentencesOrIds = Union[Sentences, tuple[torch.Tensor, torch.Tensor]]


def batch_to_ids(encoder: TextEncoder, sentences: Sentences) -> tuple[torch.Tensor, torch.Tensor]:
    """Right-padded character ids of [<bos>, tokens..., <eos>] for each sentence.

    # Parameters
    encoder : the biLM's `TextEncoder` (its character vocabulary and `max_chars`).
    sentences : B tokenized sentences; an empty one becomes [<bos>, <eos>].

    # Returns
    char_ids : (B, T, W) long, T = 2 + the longest sentence, W = max_chars; pads are all PAD_ID.
    mask : (B, T) bool, True on real positions (<bos> and <eos> included).
    """
    check_sentences(sentences)
    if len(sentences) == 0:
        raise ValueError("batch_to_ids needs at least one sentence")
    encoded = [encoder.encode_sentence(s)[1] for s in sentences]
    t, w = max(len(c) for c in encoded), encoder.settings.max_chars
    char_ids = torch.full((len(encoded), t, w), PAD_ID, dtype=torch.long)
    mask = torch.zeros(len(encoded), t, dtype=torch.bool)
    for b, chars in enumerate(encoded):
        char_ids[b, : len(chars)] = torch.tensor(chars, dtype=torch.long)
        mask[b, : len(chars)] = True
    return char_ids, mask


def remove_sentence_boundaries(
    layers: torch.Tensor, mask: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Drop the <bos> and <eos> positions of right-padded sequences.

    # Parameters
    layers : (L+1, B, T, D), sequence b is [<bos>, tok_1 .. tok_n_b, <eos>, pads].
    mask : (B, T) bool.

    # Returns
    layers : (L+1, B, T-2, D) with out[:, b, :n_b] = tok_1 .. tok_n_b and zeros after.
    mask : (B, T-2) bool, True on the n_b real tokens.
    """
    # Position t' of the output is input position t'+1; it is a real token iff input position
    # t'+2 is still real (the <eos> of sequence b sits at n_b + 1), hence mask[:, 2:].
    new_mask = mask[:, 2:]
    # (L+1, B, T-2, D): the slice still holds each <eos> vector (at t' = n_b); zero it and pads.
    trimmed = layers[:, :, 1:-1] * new_mask[None, :, :, None].to(layers.dtype)
    return trimmed, new_mask


class Elmo(nn.Module):
    """A pretrained biLM and `n_mixes` independent scalar mixes of its L + 1 layers.

    # Parameters
    bilm : a `BiLM` with its `.encoder`, or the directory of a saved one (loaded with
        `BiLM.from_pretrained`: the weights are exactly those saved, nothing is re-initialised).
    n_mixes : how many independent mixes to learn (e.g. 2: one for the task RNN's input, one
        for its output, as Peters et al. Section 3.3).
    gamma : learn each mix's scale gamma (else fixed at 1).
    trainable_weights : learn the layer weights s_j (else a fixed uniform mix).
    layer_norm : normalise each layer before mixing (AllenNLP's `do_layer_norm`).
    finetune : train the biLM too. When False (default) the biLM is frozen: requires_grad False,
        always in eval mode (no biLM dropout, even while this module is in train mode), and run
        under `torch.no_grad()` so no activations are kept for backward. A `BiLM` object passed
        in is frozen in place.
    dropout : applied to each mix's output in train mode.
    """

    def __init__(
        self,
        bilm: BiLM | str | Path,
        n_mixes: int = 1,
        gamma: bool = True,
        trainable_weights: bool = True,
        layer_norm: bool = False,
        finetune: bool = False,
        dropout: float = 0.0,
    ):
        super().__init__()
        if isinstance(bilm, (str, Path)):
            bilm = BiLM.from_pretrained(bilm)
        if bilm.encoder is None:
            raise ValueError("the biLM has no TextEncoder: load it with BiLM.from_pretrained")
        if n_mixes < 1:
            raise ValueError("n_mixes must be at least 1")
        self.bilm = bilm
        self.finetune = finetune
        if not finetune:
            bilm.requires_grad_(False)
        self.mixes = nn.ModuleList(
            ScalarMix(bilm.num_layers, trainable=trainable_weights, gamma=gamma, layer_norm=layer_norm)
            for _ in range(n_mixes)
        )
        self.dropout = Dropout(dropout)
        self.train(self.training)

    @property
    def encoder(self) -> TextEncoder:
        return self.bilm.encoder

    @property
    def output_dim(self) -> int:
        """D = 2 * proj_dim, the size of every layer and mix."""
        return self.bilm.output_dim

    @property
    def num_layers(self) -> int:
        """L + 1, the number of layers each mix combines."""
        return self.bilm.num_layers

    def train(self, mode: bool = True) -> "Elmo":
        """Set the mode of the mixes (and dropout); a frozen biLM stays in eval mode."""
        super().train(mode)
        if not self.finetune:
            self.bilm.eval()
        return self

    def batch_to_ids(self, sentences: Sentences) -> tuple[torch.Tensor, torch.Tensor]:
        """(char_ids (B, T, W) long, mask (B, T) bool) with <bos>/<eos> added; see `batch_to_ids`."""
        return batch_to_ids(self.encoder, sentences)

    def layers(self, inputs: SentencesOrIds) -> tuple[torch.Tensor, torch.Tensor]:
        """All biLM layers, each token in the context of its sentence.

        # Parameters
        inputs : B tokenized sentences, or `(char_ids (B, T, W), mask (B, T))` from
            `batch_to_ids` (they are moved to the biLM's device).

        # Returns
        layers : (L+1, B, T', D) float, <bos>/<eos> removed, zero at pads; T' = T - 2 (the
            longest sentence's token count when built from sentences).
        mask : (B, T') bool, True on real tokens.
        """
        char_ids, mask = self._ids(inputs)
        device = next(self.bilm.parameters()).device
        char_ids, mask = char_ids.to(device), mask.to(device)
        # no_grad, not inference_mode: the mixes' weights still need these layers for backward.
        grad = contextlib.nullcontext() if self.finetune else torch.no_grad()
        with grad:
            out = self.bilm(char_ids, mask)
            # L+1 tensors (B, T, D) -> (L+1, B, T, D).
            stacked = torch.stack(out.layers)
        return remove_sentence_boundaries(stacked, mask)

    def mix_cached(self, layers: torch.Tensor, mask: torch.Tensor) -> list[torch.Tensor]:
        """Apply every mix (and dropout) to layers computed earlier, e.g. from a `LayerCache`.

        # Parameters
        layers : (L+1, B, T, D) float. mask : (B, T) bool, real tokens.

        # Returns
        `n_mixes` tensors (B, T, D), zero at pads.
        """
        keep = mask[..., None].to(layers.dtype)
        # Zeroing after the mix matters only with layer norm, which shifts pads off zero.
        return [self.dropout(mix(layers, mask)) * keep for mix in self.mixes]

    def forward(self, inputs: SentencesOrIds) -> dict:
        """
        # Parameters
        inputs : B tokenized sentences, or `(char_ids, mask)` from `batch_to_ids`.

        # Returns
        dict: "mixes" (`n_mixes` tensors (B, T', D)) and "mask" (B, T') bool, <bos>/<eos> removed.
        """
        layers, mask = self.layers(inputs)
        return {"mixes": self.mix_cached(layers, mask), "mask": mask}

    def l2_penalty(self) -> torch.Tensor:
        """sum over mixes of ||w||^2, the paper's lambda-weighted regulariser on the layer weights."""
        return torch.stack([mix.l2_penalty() for mix in self.mixes]).sum()

    def _ids(self, inputs: SentencesOrIds) -> tuple[torch.Tensor, torch.Tensor]:
        if isinstance(inputs, tuple) and len(inputs) == 2 and isinstance(inputs[0], torch.Tensor):
            return inputs
        return self.batch_to_ids(inputs)


def check_sentences(sentences: Sentences) -> None:
    """Refuse a bare string where a list of tokens is expected (it would embed its characters)."""
    if isinstance(sentences, str):
        raise TypeError("sentences must be a list of token lists, not a string")
    for i, sent in enumerate(sentences):
        if isinstance(sent, str):
            raise TypeError(f"sentence {i} is a string; tokenize it into a list of tokens first")
        for tok in sent:
            if not isinstance(tok, str):
                raise TypeError(f"sentence {i} has a {type(tok).__name__} token, expected str")
