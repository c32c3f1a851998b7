"""The YNAT task model: token embedding (+ ELMo mixes), a biLSTM, masked max-pool, 7 classes.
"""
from __future__ import annotations

import pytorch_lightning as pl
import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence
from torchmetrics.classification import MulticlassF1Score

from elmo.bilm.layers import Dropout
from elmo.data.text import PAD_ID, UNK_ID
from elmo.embed.scalar_mix import ScalarMix
from elmo.embed.top_layer import TopLayer
from elmo.ynat.data import MONITOR, N_CLASSES, TaskBatch


POOLINGS = ("max", "max_mean")  # FinetuneConfig.pooling
LR_SCHEDULES = ("constant", "linear")  # FinetuneConfig.lr_schedule


def make_mix(spec: dict) -> ScalarMix:
    """The ScalarMix of an ELMo spec: learned/uniform/single-layer weights, learned/fixed gamma."""
    n, w, learn_gamma = spec["n_layers"], spec["weights"], spec["gamma"] == "learned"
    if spec["gamma"] not in ("learned", "fixed"):
        raise ValueError(f"gamma must be 'learned' or 'fixed', not {spec['gamma']!r}")
    if w == "learned":
        return ScalarMix(n, trainable=True, gamma=learn_gamma, layer_norm=spec.get("layer_norm", False))
    if w == "uniform" or (isinstance(w, int) and not isinstance(w, bool) and -n <= w < n):
        mix = ScalarMix.fixed(n, None if w == "uniform" else w, gamma=learn_gamma)
        mix.layer_norm = spec.get("layer_norm", False)
        return mix
    raise ValueError(f"weights must be 'learned', 'uniform' or a layer index in [-{n}, {n}), not {w!r}")


class TopicClassifier(pl.LightningModule):
    """Token embedding (+ ELMo), dropout, 1-layer biLSTM, masked max-pool, linear to 7 classes.

    # Parameters
    n_tokens : task vocabulary size (`<pad>` = 0 embeds to zeros).
    token_dim, hidden_dim, dropout, lr : FinetuneConfig's sizes, dropout rate and Adam rate.
    l2_coef : lambda; lambda * sum_j w_j^2 over each learned mix's raw weights joins the loss.
    elmo : None (no ELMo, no ScalarMix at all) or {"n_layers": L+1, "dim": D, "gamma",
        "weights", "placement", "layer_norm"} (see `elmo.core.config.TaskVariant`).
    tokenizer : TokenizerSettings as a dict, so `predict` tokenizes as in training.
    char_cnn_dim : 0, or D: x_k is then [learned embedding; the frozen biLM's layer 0] (the
        char-CNN token vectors, from the same cached layers as ELMo), the paper's pretrained
        context-independent representation beside the learned one (`TaskVariant.x_k`).
    top : None (every biLM layer frozen), or a `TopLayer.spec_of(bilm)` dict: the biLM's top
        layer is then recomputed from the cached layer below and trained (`TaskVariant.top`);
        load its pretrained weights with `self.top.load_state_dict(TopLayer.from_bilm(...))`.
    top_lr_scale, top_frozen_epochs : its learning rate as a fraction of `lr`, and the epochs
        before it is unfrozen (ULMFiT's discriminative rates and gradual unfreezing).

    n_subwords : 0, or the size of the character n-gram vocabulary: x_k then adds the mean of the
        token's n-gram embeddings to its own (`TaskVariant.x_k` "learned+subwords",
        `elmo.ynat.subwords`).
    word_dropout : the rate at which training tokens read `<unk>`'s embedding (`_drop_words`).

    The vocabularies travel in the checkpoint (`vocab_itos`, `subword_itos`), not in the hyperparameters,
    which loggers copy to MLflow (whose parameters are limited in length).
    """

    def __init__(
        self,
        n_tokens: int,
        token_dim: int = 100,
        hidden_dim: int = 256,
        dropout: float = 0.5,
        lr: float = 1e-3,
        l2_coef: float = 0.001,
        elmo: dict | None = None,
        tokenizer: dict | None = None,
        n_classes: int = N_CLASSES,
        char_cnn_dim: int = 0,
        top: dict | None = None,
        top_lr_scale: float = 0.1,
        top_frozen_epochs: int = 1,
        pooling: str = "max",
        label_smoothing: float = 0.0,
        lr_schedule: str = "constant",
        word_dropout: float = 0.0,
        n_subwords: int = 0,
    ):
        super().__init__()
        self.save_hyperparameters()
        self.embedding = nn.Embedding(n_tokens, token_dim, padding_idx=PAD_ID)
        # x_k "learned+subwords": the token's embedding plus the mean of its character n-grams'.
        # EmbeddingBag's mean leaves padding_idx out: 57 against 110 ms fwd + bwd for Embedding + a
        # masked mean at 256 x 20 x 24 ids (a throwaway timing beside other runs on the 2 cores).
        self.subword_embedding = (
            nn.EmbeddingBag(n_subwords, token_dim, mode="mean", padding_idx=PAD_ID) if n_subwords else None
        )
        elmo_dim = elmo["dim"] if elmo else 0
        self.mix_in = make_mix(elmo) if elmo else None
        self.mix_out = make_mix(elmo) if elmo and elmo["placement"] == "input_output" else None
        if elmo and elmo["placement"] not in ("input", "input_output"):
            raise ValueError(f"placement must be 'input' or 'input_output', not {elmo['placement']!r}")
        if top is not None and not elmo:
            raise ValueError("tuning the biLM's top layer needs ELMo (elmo=None here)")
        self.top = TopLayer(top) if top is not None else None
        if pooling not in POOLINGS:
            raise ValueError(f"pooling must be one of {POOLINGS}, not {pooling!r}")
        if lr_schedule not in LR_SCHEDULES:
            raise ValueError(f"lr_schedule must be one of {LR_SCHEDULES}, not {lr_schedule!r}")
        if not 0.0 <= word_dropout < 1.0:
            raise ValueError(f"word_dropout must be in [0, 1), not {word_dropout!r}")
        self.dropout = Dropout(dropout)
        self.lstm = nn.LSTM(token_dim + char_cnn_dim + elmo_dim, hidden_dim, batch_first=True, bidirectional=True)
        # A one-way LSTM of the same sizes whose own weights are never used: `_bilstm` runs it with
        # one direction of `self.lstm`'s at a time (functional_call). Set past nn.Module's
        # __setattr__, so it is no submodule: no parameters, nothing in the state dict.
        object.__setattr__(self, "_one_way", nn.LSTM(self.lstm.input_size, hidden_dim))  # time-major
        pooled_dim = (2 * hidden_dim + (elmo_dim if self.mix_out else 0)) * (2 if pooling == "max_mean" else 1)
        self.output = nn.Linear(pooled_dim, n_classes)
        self.holdout_f1 = MulticlassF1Score(num_classes=n_classes, average="macro")
        self.vocab_itos: list[str] | None = None
        self.subword_itos: list[str] | None = None

    @property
    def uses_elmo(self) -> bool:
        return self.mix_in is not None

    @property
    def uses_subwords(self) -> bool:
        """Whether x_k adds the tokens' character n-grams (forward then needs `subwords`)."""
        return self.subword_embedding is not None

    @property
    def needs_layers(self) -> bool:
        """Whether forward reads the cached biLM layers (ELMo, or layer 0 as part of x_k)."""
        return self.uses_elmo or self.hparams.char_cnn_dim > 0

    def forward(
        self,
        token_ids: torch.Tensor,
        mask: torch.Tensor,
        layers: torch.Tensor | None = None,
        subwords: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """(B, T) ids, (B, T) mask, (L+1, B, T, D) layers (ELMo only), (B, T, G) character n-gram
        ids (x_k "learned+subwords" only) -> (B, n_classes) logits."""
        x = self.embedding(self._drop_words(token_ids, mask))
        if self.needs_layers and layers is None:
            raise ValueError("this model reads the biLM's layers (ELMo or char-CNN x_k): pass the (L+1, B, T, D) layers")
        if self.uses_subwords:
            if subwords is None:
                raise ValueError("this model's x_k reads character n-grams: pass subwords (B, T, G)")
            x = x + self._subword_mean(subwords)
        if self.top is not None:
            layers = self.top(layers, mask)  # (L+1, B, T, D), layer L recomputed and trainable
        if self.hparams.char_cnn_dim:
            x = torch.cat([x, layers[0]], dim=-1)  # (B, T, token_dim + D): layer 0 is context-free
        if self.uses_elmo:
            x = torch.cat([x, self.mix_in(layers, mask)], dim=-1)
        parts = [self._bilstm(self.dropout(x), mask)]  # (B, T, 2H)
        if self.mix_out is not None:  # "input_output": [h; ELMo_k] goes into the pooling
            parts.append(self.dropout(self.mix_out(layers, mask)))
        return self.output(self.dropout(self._pool(parts, mask)))

    def _subword_mean(self, subwords: torch.Tensor) -> torch.Tensor:
        """(B, T, G) n-gram ids, 0 = none -> (B, T, token_dim) mean of each token's n-gram embeddings
        (zero for a token without any known n-gram)."""
        b, t, g = subwords.shape
        # (B*T, G) bags -> (B*T, token_dim) -> (B, T, token_dim)
        return self.subword_embedding(subwords.reshape(b * t, g)).view(b, t, -1)

    def _drop_words(self, token_ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """(B, T) ids with each real token replaced by `<unk>` at rate `word_dropout` (training only).

        Word dropout (Iyyer et al. 2015) on the token's own embedding alone: its character n-grams
        and the cached biLM layers still see every token, so the task model learns to read them
        where its embedding of a word is missing, as it is for the words a later month's headlines
        bring (dev is not train's time).
        """
        p = self.hparams.word_dropout
        if not self.training or p == 0.0:
            return token_ids
        drop = (torch.rand(token_ids.shape, device=token_ids.device) < p) & mask
        return token_ids.masked_fill(drop, UNK_ID)

    def _pool(self, parts: list[torch.Tensor], mask: torch.Tensor) -> torch.Tensor:
        """(B, T, F_i) parts of h -> (B, F) max over real positions of their concatenation along
        features (F = sum F_i), or (B, 2F) [max; mean] ("max_mean").

        Pooled part by part, then concatenated: the same numbers as pooling the concatenation,
        without building it (a (B, T, F) copy, ~6 % of an input + output model's CPU step).
        """
        # Pads become -inf, so the max over time only ever picks real positions.
        pooled = [h.masked_fill(~mask[..., None], float("-inf")).amax(dim=1) for h in parts]
        if self.hparams.pooling == "max":
            return torch.cat(pooled, dim=-1)
        counts = mask.sum(dim=1, keepdim=True).clamp(min=1)  # (B, 1) real positions
        means = [(h * mask[..., None].to(h.dtype)).sum(dim=1) / counts.to(h.dtype) for h in parts]
        return torch.cat([*pooled, *means], dim=-1)

    def _bilstm(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """(B, T, in) -> (B, T, 2H), zero at pads; what `self.lstm` computes on a packed batch.

        On CPU, PyTorch runs packed sequences (and bidirectional LSTMs in bf16) outside oneDNN;
        so each direction of `self.lstm` runs as a one-way LSTM on right-padded rows through
        oneDNN's fused bf16 kernel: forward on x (pads come after every real position, so they
        change nothing before them), backward on each row reversed within its length (as the
        biLM does, `reverse_padded`), mapped back. Same weights, same checkpoints; equal to the
        packed reference in fp32 (tests/ynat/test_task_model.py). Elsewhere (CUDA) packing.
        """
        if x.device.type != "cpu":
            lengths = mask.sum(dim=1).cpu()
            packed = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
            out, _ = self.lstm(packed)
            return pad_packed_sequence(out, batch_first=True, total_length=x.shape[1])[0]
        b, t = mask.shape
        lengths, steps, rows = mask.sum(dim=1), torch.arange(t), torch.arange(b)
        # (T, B) the position that the backward direction reads at each step: the row reversed
        # within its length, pads left in place (its own inverse, as `reverse_padded`).
        rev = torch.where(steps[:, None] < lengths[None, :], lengths[None, :] - 1 - steps[:, None], steps[:, None])
        # oneDNN runs time-major (T, B, in): one row gather builds the backward input already
        # time-major, where reversing (B, T, in) and then transposing it copied x twice.
        fwd, _ = functional_call(self._one_way, self._direction(""), (x.transpose(0, 1),))
        x_rev = x.reshape(b * t, -1).index_select(0, (rows[None, :] * t + rev).view(-1)).view(t, b, -1)
        bwd, _ = functional_call(self._one_way, self._direction("_reverse"), (x_rev,))  # (T, B, H) each
        # bwd's step rev[s, b] holds row b's position s: gathered back to (B, T, H).
        h_bwd = bwd.reshape(t * b, -1).index_select(0, (rev * b + rows[None, :]).T.reshape(-1)).view(b, t, -1)
        # -> (B, T, 2H), pads zeroed as pad_packed_sequence leaves them.
        return torch.cat([fwd.transpose(0, 1), h_bwd], dim=-1) * mask[..., None].to(fwd.dtype)

    def _direction(self, suffix: str) -> dict[str, torch.Tensor]:
        """One direction's parameters of `self.lstm` ("" forward, "_reverse" backward), by one-way names."""
        names = ("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0")
        return {n: getattr(self.lstm, n + suffix) for n in names}

    def mixes(self) -> list[ScalarMix]:
        return [m for m in (self.mix_in, self.mix_out) if m is not None]

    def mix_penalty(self) -> torch.Tensor:
        """sum over mixes of sum_j w_j^2 (0 without ELMo or with fixed weights)."""
        return sum((m.l2_penalty() for m in self.mixes()), self.output.weight.new_zeros(()))

    def loss(self, batch: TaskBatch) -> tuple[torch.Tensor, torch.Tensor]:
        """(cross-entropy + lambda * mix penalty, logits (B, n_classes)). In training, against the
        batch's soft targets where it has them (a distilled model), else against the labels."""
        logits = self(batch.token_ids, batch.mask, batch.layers, batch.subwords)
        soft = self.training and batch.targets is not None
        ce = F.cross_entropy(logits, batch.targets if soft else batch.labels,
                             label_smoothing=self.hparams.label_smoothing if self.training else 0.0)  # fmt: skip
        return ce + self.hparams.l2_coef * self.mix_penalty(), logits

    def training_step(self, batch: TaskBatch, batch_idx: int) -> torch.Tensor:
        loss, _ = self.loss(batch)
        self.log("train_loss", loss, on_step=False, on_epoch=True, batch_size=len(batch.labels))
        return loss

    def validation_step(self, batch: TaskBatch, batch_idx: int) -> None:
        loss, logits = self.loss(batch)
        # The metric accumulates counts over every batch; the F1 is computed once per epoch.
        self.holdout_f1.update(logits.argmax(dim=-1), batch.labels)
        self.log("holdout_loss", loss, on_step=False, on_epoch=True, batch_size=len(batch.labels))

    def on_validation_epoch_end(self) -> None:
        self.log(MONITOR, 100.0 * self.holdout_f1.compute(), prog_bar=True)
        self.holdout_f1.reset()

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        checkpoint["vocab_itos"] = self.vocab_itos
        checkpoint["subword_itos"] = self.subword_itos

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        self.vocab_itos = checkpoint.get("vocab_itos")
        self.subword_itos = checkpoint.get("subword_itos")

    def on_train_epoch_start(self) -> None:
        # Gradual unfreezing: no gradient reaches the pretrained top layer in its frozen epochs,
        # and Adam skips parameters without one.
        if self.top is not None:
            self.top.requires_grad_(self.current_epoch >= self.hparams.top_frozen_epochs)

    def configure_optimizers(self):
        # Fixed mix weights / gamma are frozen parameters: Adam only sees what is learned.
        # fused: one kernel per step instead of ~6 passes over each parameter (~7 ms of a
        # ~90 ms CPU step went to the 20k x 100 embedding's update); the same update.
        top = set(self.top.parameters()) if self.top is not None else set()
        groups = [{"params": [p for p in self.parameters() if p.requires_grad and p not in top]}]
        if top:  # the pretrained layer: its own, smaller learning rate
            groups.append({"params": list(self.top.parameters()), "lr": self.hparams.lr * self.hparams.top_lr_scale})
        optimizer = torch.optim.Adam(groups, lr=self.hparams.lr, fused=True)
        if self.hparams.lr_schedule == "constant":
            return optimizer
        # "linear": every group's rate falls linearly to 0 at the last step of max_epochs.
        total = max(1, int(self.trainer.estimated_stepping_batches))
        decay = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: max(0.0, 1.0 - step / total))
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": decay, "interval": "step"}}


@torch.no_grad()
def init_from_static(embedding: nn.Embedding, itos: list[str], static) -> int:
    """Start the rows of `embedding` whose word has a static vector (GloVe) from that vector.

    # Parameters
    embedding : (V, dim) the task's token embedding, freshly initialised (N(0, 1) rows).
    itos : the V words of its rows; `<pad>` (row 0) stays zero.
    static : an `elmo.embed.glove.StaticVectors` with `dim` dimensions.

    The vectors are rescaled by one factor so that their mean norm equals that of the random
    rows, sqrt(dim): words with and without a GloVe vector then start on the same scale (GloVe's
    own norms are ~10x smaller). The rows stay trainable. Returns how many rows were set.
    """
    rows = [(i, static.index(w)) for i, w in enumerate(itos) if i != PAD_ID and w in static]
    if not rows:
        return 0
    mine, theirs = map(list, zip(*rows))
    vectors = torch.as_tensor(static.vectors[theirs], dtype=embedding.weight.dtype)
    # (n, dim) scaled so the mean row norm is sqrt(dim), as for N(0, 1) rows.
    vectors *= embedding.weight.shape[1] ** 0.5 / vectors.norm(dim=1).mean().clamp(min=1e-12)
    embedding.weight[mine] = vectors
    return len(mine)


def to_device(x: torch.Tensor | None, device) -> torch.Tensor | None:
    return None if x is None else x.to(device)
