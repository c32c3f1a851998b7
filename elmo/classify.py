"""YNAT topic classification with (or without) ELMo: the task model of Peters et al. 2018, §3.3.

    x_k = token embedding learned on the task
    ELMo_k = gamma * sum_j s_j h_{k,j}          (a ScalarMix over the L+1 cached biLM layers)
    h = biLSTM([x_k; ELMo_k])                   ("input"; "input_output" also concatenates a
                                                 second, independent mix to h before pooling)
    logits = W maxpool_k(h_k) + b               over real positions only

Protocol: a fixed, stratified 10 % of YNAT train (`holdout`, chosen with `HOLDOUT_SEED`, the
same for every model seed) selects the epoch (early stopping and checkpointing on its macro-F1);
the model trains on the rest (`fit`). The official dev set is only ever predicted once, by the
selected checkpoint, and scored over all its rows (`elmo.metrics.scores`); it never selects
anything. Layers come precomputed from an `elmo.embedder.LayerCache`, so the biLM is frozen.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, Callable, NamedTuple, Sequence

import numpy as np
import pytorch_lightning as pl
import torch
import torch.nn.functional as F
from pytorch_lightning.callbacks import EarlyStopping, ModelCheckpoint
from pytorch_lightning.loggers import CSVLogger
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence
from torch.utils.data import DataLoader
from torchmetrics.classification import MulticlassF1Score

from elmo.batching import BucketBatchSampler
from elmo.config import Config
from elmo.data import YNAT_LABELS, Headline, clean_text, read_ynat
from elmo.metrics import mean_std, scores
from elmo.modules import ScalarMix
from elmo.runs import run_dir, seed_everything, write_run_info
from elmo.tokenize import PAD, PAD_ID, UNK, UNK_ID, Tokenizer, TokenizerSettings, Vocab

MAX_TOKENS = 128  # YNAT titles are ~10-20 morphemes; longer inputs are cut here (never silently OOM)
HOLDOUT_SEED = 12345  # fixed: the holdout must not move with the model seed
SUBSET_SEED = 0  # which rows max_train / max_dev keep (tiny profile)
MONITOR = "holdout_macro_f1"  # the only quantity that selects epochs; computed on the holdout
N_CLASSES = len(YNAT_LABELS)

DEFAULT_VARIANT: dict[str, Any] = {
    "name": None,  # folder / MLflow run name; derived from the other keys when None
    "elmo": False,  # whether ELMo layers are used at all
    "gamma": "learned",  # "learned" or "fixed" (gamma = 1)
    "weights": "learned",  # "learned" (softmax-normalised s_j), "uniform", or a layer index j
    "placement": "input",  # "input" or "input_output"
    "layer_norm": False,  # normalise each layer before mixing (AllenNLP's do_layer_norm)
    "l2_coef": None,  # lambda on the raw mix weights; None: FinetuneConfig.l2_coef
}


# ----------------------------------------------------------------------------- data


class TaskVocab(Vocab):
    """The task's token vocabulary: `<pad>` = 0, `<unk>` = 1, then tokens seen >= min_freq times."""

    SPECIALS = (PAD, UNK)

    def __init__(self, itos: Sequence[str], specials: Sequence[str] = SPECIALS):
        super().__init__(itos, specials)

    @classmethod
    def from_tokens(cls, sentences: Sequence[Sequence[str]], min_freq: int = 2) -> "TaskVocab":
        counts = Counter(tok for sent in sentences for tok in sent)
        return cls.build(counts, cls.SPECIALS, min_freq)


def holdout_split(labels: Sequence[int], fraction: float = 0.1, seed: int = HOLDOUT_SEED) -> tuple[list[int], list[int]]:
    """(fit, holdout) row indices: round(fraction * n_c) rows of each class c are held out.

    Stratified so the holdout has train's class balance; the seed is a constant of the protocol,
    so every model seed (and the TF-IDF baseline) selects on exactly the same rows.
    """
    rng = np.random.default_rng(seed)
    labels = np.asarray(labels)
    held: list[int] = []
    for c in np.unique(labels):  # sorted classes: the draws happen in a fixed order
        rows = np.flatnonzero(labels == c)
        held.extend(rng.permutation(rows)[: int(round(fraction * len(rows)))].tolist())
    held_set = set(held)
    return [i for i in range(len(labels)) if i not in held_set], sorted(held)


class TaskBatch(NamedTuple):
    """token_ids (B, T) long; mask (B, T) bool; labels (B,) long; layers (L+1, B, T, D) or None."""

    token_ids: torch.Tensor
    mask: torch.Tensor
    labels: torch.Tensor
    layers: torch.Tensor | None = None


@dataclass
class YnatData:
    """YNAT train rows then dev rows: texts, tokens, labels, and the three index lists.

    `cache` (an `elmo.embedder.LayerCache`, or None) must hold the ELMo layers of `tokens` in
    the same row order: build it from `data.tokens`, then `data = data.with_cache(cache)`.
    """

    texts: list[str]
    tokens: list[list[str]]
    labels: list[int]
    vocab: TaskVocab
    fit: list[int]
    holdout: list[int]
    dev: list[int]
    tokenizer: dict = field(default_factory=lambda: asdict(TokenizerSettings()))
    cache: Any = None

    @classmethod
    def build(
        cls,
        train: Sequence[Headline],
        dev: Sequence[Headline],
        tokens: Sequence[Sequence[str]],
        holdout_fraction: float = 0.1,
        min_freq: int = 2,
        tokenizer: TokenizerSettings | None = None,
    ) -> "YnatData":
        """From headlines and their tokens (`tokens` covers train then dev, in order).

        The vocabulary comes from the `fit` rows only, so holdout words are as unseen as dev's.
        """
        rows = list(train) + list(dev)
        if len(tokens) != len(rows):
            raise ValueError(f"{len(tokens)} token lists for {len(rows)} headlines")
        fit, holdout = holdout_split([h.label for h in train], holdout_fraction)
        if not fit or not holdout or not dev:
            raise ValueError("fit, holdout and dev must all be non-empty (more train rows needed)")
        vocab = TaskVocab.from_tokens([tokens[i] for i in fit], min_freq)
        dev_rows = list(range(len(train), len(rows)))
        settings = asdict(tokenizer or TokenizerSettings())
        texts, labels = [h.text for h in rows], [h.label for h in rows]
        return cls(texts, [list(t) for t in tokens], labels, vocab, fit, holdout, dev_rows, settings)

    @classmethod
    def load(cls, cfg: Config, root: Path | None = None, cache_dir: Path | None = None) -> "YnatData":
        """The real YNAT of a profile (subsets for tiny), tokenized as the biLM's corpus."""
        from elmo.corpus import settings_of, tokenize_cached

        f = cfg.finetune
        train = _subset(read_ynat("train", root), f.max_train)
        dev = _subset(read_ynat("dev", root), f.max_dev)
        settings = settings_of(cfg.data)
        tokens = tokenize_cached([clean_text(h.text) for h in train + dev], settings, cache_dir)
        return cls.build(train, dev, tokens, f.holdout_fraction, cfg.data.min_freq, settings)

    def with_cache(self, cache) -> "YnatData":
        """A copy whose batches also carry the cached ELMo layers of the same rows."""
        if cache is not None and len(cache) != len(self.tokens):
            raise ValueError(f"LayerCache has {len(cache)} rows, the data {len(self.tokens)} (train then dev)")
        return dataclasses.replace(self, cache=cache)

    def split(self, name: str) -> list[int]:
        if name not in ("fit", "holdout", "dev"):
            raise ValueError(f"split must be 'fit', 'holdout' or 'dev', not {name!r}")
        return getattr(self, name)

    def batch(self, indices: Sequence[int], layers: bool = True) -> TaskBatch:
        """The rows `indices` as a padded batch; with the cached layers if `layers` and a cache."""
        indices = list(indices)
        token_ids, mask = encode_padded([self.tokens[i] for i in indices], self.vocab)
        labels = torch.tensor([self.labels[i] for i in indices], dtype=torch.long)
        if not layers or self.cache is None:
            return TaskBatch(token_ids, mask, labels)
        cached, cache_mask = self.cache.batch(indices)
        _check_alignment([self.tokens[i] for i in indices], cache_mask)
        return TaskBatch(token_ids, mask, labels, fit_length(cached, token_ids.shape[1]))

    def loader(self, name: str, batch_size: int, shuffle: bool = False, layers: bool = True, seed: int = 0) -> DataLoader:
        """Batches of the rows of split `name`. Evaluation (shuffle False) keeps the split's order;
        training (shuffle True) batches headlines of similar length, in an order fixed by
        (seed, epoch): 1.3-1.65x faster per epoch than random batches, which pad to the longest."""
        # The dataset is the list of row indices; collation builds the whole batch at once.
        rows, collate = self.split(name), partial(self.batch, layers=layers)
        if not shuffle:
            return DataLoader(rows, batch_size=batch_size, collate_fn=collate)
        lengths = np.array([min(len(self.tokens[i]), MAX_TOKENS) for i in rows])
        sampler = BucketBatchSampler(lengths, batch_size, shuffle=True, seed=seed)
        return DataLoader(rows, batch_sampler=sampler, collate_fn=collate)


def _subset(rows: list[Headline], n: int | None) -> list[Headline]:
    """n rows drawn with a fixed seed, in file order (all rows when n is None or too large)."""
    if n is None or n >= len(rows):
        return rows
    keep = np.sort(np.random.default_rng(SUBSET_SEED).choice(len(rows), n, replace=False))
    return [rows[i] for i in keep]


def encode_padded(token_lists: Sequence[Sequence[str]], vocab: Vocab) -> tuple[torch.Tensor, torch.Tensor]:
    """Token lists -> ids (B, T) long right-padded with <pad>, mask (B, T) bool; T <= MAX_TOKENS.

    An empty list becomes a single `<unk>`: the biLSTM needs one real position, and a headline
    with no known content carries no more information than an unknown word.
    """
    seqs = [vocab.encode(list(toks)[:MAX_TOKENS]) or [UNK_ID] for toks in token_lists]
    t = max(len(s) for s in seqs)
    ids = torch.full((len(seqs), t), PAD_ID, dtype=torch.long)
    for b, s in enumerate(seqs):
        ids[b, : len(s)] = torch.tensor(s)
    return ids, ids != PAD_ID


def fit_length(layers: torch.Tensor, t: int) -> torch.Tensor:
    """(L+1, B, T', D) cut or zero-padded to (L+1, B, t, D), to align with the token ids."""
    if layers.shape[2] >= t:
        return layers[:, :, :t]
    return F.pad(layers, (0, 0, 0, t - layers.shape[2]))


def _check_alignment(token_lists: Sequence[Sequence[str]], cache_mask: torch.Tensor) -> None:
    """Each row's cached length must equal its token count: catches a cache of other rows."""
    lengths = cache_mask.sum(dim=1).tolist()
    for b, (toks, n) in enumerate(zip(token_lists, lengths)):
        if 0 < len(toks) <= MAX_TOKENS and n != len(toks):
            raise ValueError(f"batch row {b}: {len(toks)} tokens but {n} cached ELMo positions")


# ----------------------------------------------------------------------------- model


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
        "weights", "placement", "layer_norm"} (see DEFAULT_VARIANT).
    tokenizer : TokenizerSettings as a dict, so `predict` tokenizes as in training.

    The vocabulary itself travels in the checkpoint (`vocab_itos`), not in the hyperparameters,
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
    ):
        super().__init__()
        self.save_hyperparameters()
        self.embedding = nn.Embedding(n_tokens, token_dim, padding_idx=PAD_ID)
        elmo_dim = elmo["dim"] if elmo else 0
        self.mix_in = make_mix(elmo) if elmo else None
        self.mix_out = make_mix(elmo) if elmo and elmo["placement"] == "input_output" else None
        if elmo and elmo["placement"] not in ("input", "input_output"):
            raise ValueError(f"placement must be 'input' or 'input_output', not {elmo['placement']!r}")
        self.dropout = nn.Dropout(dropout)
        self.lstm = nn.LSTM(token_dim + elmo_dim, hidden_dim, batch_first=True, bidirectional=True)
        self.output = nn.Linear(2 * hidden_dim + (elmo_dim if self.mix_out else 0), n_classes)
        self.holdout_f1 = MulticlassF1Score(num_classes=n_classes, average="macro")
        self.vocab_itos: list[str] | None = None

    @property
    def uses_elmo(self) -> bool:
        return self.mix_in is not None

    def forward(self, token_ids: torch.Tensor, mask: torch.Tensor, layers: torch.Tensor | None = None) -> torch.Tensor:
        """(B, T) ids, (B, T) mask, (L+1, B, T, D) layers (ELMo only) -> (B, n_classes) logits."""
        x = self.embedding(token_ids)
        if self.uses_elmo:
            if layers is None:
                raise ValueError("this model uses ELMo: pass the (L+1, B, T, D) layers")
            x = torch.cat([x, self.mix_in(layers, mask)], dim=-1)
        h = self._bilstm(self.dropout(x), mask)
        if self.mix_out is not None:
            h = torch.cat([h, self.dropout(self.mix_out(layers, mask))], dim=-1)
        # Pads become -inf, so the max over time only ever picks real positions.
        pooled = h.masked_fill(~mask[..., None], float("-inf")).amax(dim=1)
        return self.output(self.dropout(pooled))

    def _bilstm(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """(B, T, in) -> (B, T, 2H); packing keeps the backward LSTM from starting on pads."""
        lengths = mask.sum(dim=1).cpu()
        packed = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
        out, _ = self.lstm(packed)
        return pad_packed_sequence(out, batch_first=True, total_length=x.shape[1])[0]

    def mixes(self) -> list[ScalarMix]:
        return [m for m in (self.mix_in, self.mix_out) if m is not None]

    def mix_penalty(self) -> torch.Tensor:
        """sum over mixes of sum_j w_j^2 (0 without ELMo or with fixed weights)."""
        return sum((m.l2_penalty() for m in self.mixes()), self.output.weight.new_zeros(()))

    def loss(self, batch: TaskBatch) -> tuple[torch.Tensor, torch.Tensor]:
        """(cross-entropy + lambda * mix penalty, logits (B, n_classes))."""
        logits = self(batch.token_ids, batch.mask, batch.layers)
        return F.cross_entropy(logits, batch.labels) + self.hparams.l2_coef * self.mix_penalty(), logits

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

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        self.vocab_itos = checkpoint.get("vocab_itos")

    def configure_optimizers(self):
        # Fixed mix weights / gamma are frozen parameters: Adam only sees what is learned.
        return torch.optim.Adam([p for p in self.parameters() if p.requires_grad], lr=self.hparams.lr)


# ----------------------------------------------------------------------------- training


def resolve_variant(variant: dict | None) -> dict:
    """DEFAULT_VARIANT updated with `variant`; unknown keys are an error, not a silent no-op."""
    variant = dict(variant or {})
    unknown = set(variant) - set(DEFAULT_VARIANT)
    if unknown:
        raise ValueError(f"unknown variant key(s) {sorted(unknown)}; known: {sorted(DEFAULT_VARIANT)}")
    v = {**DEFAULT_VARIANT, **variant}
    if v["name"] is None:
        v["name"] = f"elmo-{v['weights']}-{v['gamma']}-{v['placement']}" if v["elmo"] else "no-elmo"
    return v


def build_model(cfg: Config, data: YnatData, variant: dict) -> TopicClassifier:
    """A fresh TopicClassifier for `data` and a resolved `variant` (call after seeding)."""
    f = cfg.finetune
    elmo = None
    if variant["elmo"]:
        if data.cache is None:
            raise ValueError("variant uses ELMo but the data has no LayerCache: data.with_cache(cache)")
        keys = ("gamma", "weights", "placement", "layer_norm")
        elmo = {"n_layers": data.cache.n_layers, "dim": data.cache.dim, **{k: variant[k] for k in keys}}
    l2 = f.l2_coef if variant["l2_coef"] is None else variant["l2_coef"]
    model = TopicClassifier(len(data.vocab), f.token_dim, f.hidden_dim, f.dropout, f.lr, l2, elmo, data.tokenizer)
    model.vocab_itos = list(data.vocab.itos)
    return model


def make_trainer(cfg: Config, run: Path, loggers, **overrides) -> pl.Trainer:
    """Up to max_epochs; early stopping and the kept checkpoint both follow the holdout F1."""
    shutil.rmtree(run / "checkpoints", ignore_errors=True)  # a rerun must not select a stale best
    callbacks = [
        ModelCheckpoint(dirpath=run / "checkpoints", filename="best", monitor=MONITOR, mode="max", save_top_k=1),
        EarlyStopping(monitor=MONITOR, mode="max", patience=cfg.finetune.patience),
    ]
    kwargs = dict(
        max_epochs=cfg.finetune.max_epochs, precision=cfg.finetune.precision, callbacks=callbacks, logger=loggers, default_root_dir=run,
        deterministic=True, num_sanity_val_steps=0, log_every_n_steps=1,
        enable_progress_bar=False, enable_model_summary=False,
    )  # fmt: skip
    callbacks += overrides.pop("callbacks", [])
    kwargs.update(overrides)
    return pl.Trainer(**kwargs)


def fit_model(
    cfg: Config, data: YnatData, seed: int, variant: dict | None, out_dir: Path | None = None, logger: bool = True, **overrides
):
    """Seed, build, train on `fit` selecting on `holdout`; -> (best model, trainer, run folder, seconds).

    Never touches `data.dev`.
    """
    variant = resolve_variant(variant)
    out_dir = Path(out_dir) if out_dir is not None else run_dir(cfg.profile)
    run = out_dir / "ynat" / variant["name"] / f"seed{seed}"
    seed_everything(seed)
    model = build_model(cfg, data, variant)
    trainer = make_trainer(cfg, run, _loggers(out_dir, run, variant, seed) if logger else False, **overrides)
    bs, elmo = cfg.finetune.batch_size, variant["elmo"]
    t0 = time.perf_counter()
    trainer.fit(model, data.loader("fit", bs, shuffle=True, layers=elmo, seed=seed), data.loader("holdout", bs, layers=elmo))
    return _best(trainer, model), trainer, run, time.perf_counter() - t0


def _loggers(out_dir: Path, run: Path, variant: dict, seed: int) -> list:
    from elmo.pretrain import mlflow_logger

    mlflow = mlflow_logger("ynat", f"{variant['name']}-seed{seed}", out_dir)
    mlflow.log_hyperparams({"variant": variant["name"], "seed": seed, **{f"variant_{k}": v for k, v in variant.items()}})
    return [CSVLogger(run, name="logs"), mlflow]


def _best(trainer: pl.Trainer, model: TopicClassifier) -> TopicClassifier:
    path = trainer.checkpoint_callback.best_model_path
    best = TopicClassifier.load_from_checkpoint(path, map_location="cpu") if path else model
    return best.eval()


@torch.no_grad()
def probabilities(model: TopicClassifier, data: YnatData, split: str = "dev", batch_size: int = 256) -> np.ndarray:
    """(N_split, n_classes) softmax probabilities of the model for every row of `split`, in order."""
    model.eval()
    out = []
    for batch in data.loader(split, batch_size, layers=model.uses_elmo):
        logits = model(batch.token_ids.to(model.device), batch.mask.to(model.device), _to(batch.layers, model.device))
        out.append(torch.softmax(logits.float(), dim=-1).cpu().numpy())
    return np.concatenate(out)


def evaluate(model: TopicClassifier, data: YnatData, split: str = "dev", batch_size: int = 256) -> dict:
    """`scores` of the model's predictions over every row of `split`."""
    gold = [data.labels[i] for i in data.split(split)]
    return scores(gold, probabilities(model, data, split, batch_size).argmax(axis=1).tolist())


def _to(x: torch.Tensor | None, device) -> torch.Tensor | None:
    return None if x is None else x.to(device)


def mix_summary(model: TopicClassifier) -> dict:
    """The learned (or fixed) softmax weights s_j and gamma of each mix; None without ELMo."""
    out: dict[str, Any] = {"mix_weights": None, "gamma": None}
    for suffix, mix in (("", model.mix_in), ("_output", model.mix_out)):
        if mix is not None:
            out[f"mix_weights{suffix}"] = [float(s) for s in mix.weights.detach().cpu()]
            out[f"gamma{suffix}"] = float(mix.gamma.detach())
    return out


def train_and_evaluate(
    cfg: Config, data: YnatData, seed: int, variant: dict | None, out_dir: Path | None = None, logger: bool = True, **overrides
) -> dict:
    """Train one seed of one variant, select on the holdout, score the full dev set once.

    `out_dir` is the profile's run folder (default `runs/<profile>`): checkpoints and CSV logs go
    to `out_dir/ynat/<variant>/seed<k>/`, MLflow to `out_dir/mlflow.db` (experiment "ynat").
    Returns dev `scores` plus holdout_macro_f1 (best epoch), epochs, seconds, mix weights, gamma.
    """
    model, trainer, run, seconds = fit_model(cfg, data, seed, variant, out_dir, logger, **overrides)
    best = trainer.checkpoint_callback.best_model_score
    result = {
        **evaluate(model, data, "dev"),
        "holdout_macro_f1": float(best) if best is not None else None,
        "epochs": int(trainer.current_epoch),
        "seconds": seconds,
        **mix_summary(model),
        "seed": seed,
        "variant": resolve_variant(variant)["name"],
    }
    _log_result(trainer, result)
    write_run_info(run, cfg, variant=resolve_variant(variant), result=result)
    return result


def _log_result(trainer: pl.Trainer, result: dict) -> None:
    """Dev scores (and mix weights) as final metrics of every logger of the run."""
    metrics = {"dev_macro_f1": result["macro_f1"], "dev_accuracy": result["accuracy"]}
    metrics.update({f"dev_f1_{i}": v for i, v in enumerate(result["per_class_f1"].values())})  # KLUE label ids
    metrics.update({f"mix_weight_{j}": s for j, s in enumerate(result["mix_weights"] or [])})
    if result["gamma"] is not None:
        metrics["gamma"] = result["gamma"]
    for lg in trainer.loggers:
        lg.log_metrics(metrics, step=trainer.global_step)
        lg.finalize("success")


def run_provenance(cfg: Config, artifact: str | Path) -> dict:
    """What decides a task-model run's numbers besides variant and seed: the finetuning
    settings and the biLM weights. 03 stores it with its results; 04 compares it before reuse."""
    sha = json.loads((Path(artifact) / "config.json").read_text())["weights_sha256"]
    return json.loads(json.dumps({"finetune": asdict(cfg.finetune), "bilm_sha256": sha}))


def saved_runs(path: Path, cfg: Config, artifact: str | Path) -> dict[str, list[dict]]:
    """{model name: runs} from 03's `finetune_results.json` at `path`, when 03 made them with these
    exact settings and biLM (each run seeds itself, so training them again would repeat them);
    {} when the file is missing or was made otherwise."""
    path = Path(path)
    if not path.exists():
        return {}
    saved = json.loads(path.read_text())
    if saved.get("_provenance") != run_provenance(cfg, artifact):
        return {}
    return {name: entry["runs"] for name, entry in saved.items() if not name.startswith("_")}


def summarize(results: Sequence[dict], key: str = "macro_f1") -> dict:
    """{"mean", "std" (sample, ddof=1), "n", "values"} of `key` over per-seed results."""
    return mean_std([r[key] for r in results])


# ----------------------------------------------------------------------------- inference


@torch.no_grad()
def predict(
    model: TopicClassifier,
    texts: Sequence[str],
    elmo=None,
    tokenize: Callable[[list[str]], list[list[str]]] | None = None,
    batch_size: int = 64,
) -> list[str]:
    """Label names (YNAT_LABELS) for new headlines.

    # Parameters
    model : a trained TopicClassifier (its checkpoint carries the vocabulary and tokenizer).
    texts : headlines; each must be a str (else TypeError). Empty or whitespace-only text, emoji
        and unseen characters are fine: unknown tokens map to `<unk>`, and a headline with no
        tokens at all is read as the single token `<unk>` (so it still gets a prediction, the
        model's guess for "no known content").
    elmo : required when the model uses ELMo: an object with `layers(list of token lists) ->
        (layers (L+1, B, T, D), mask (B, T))`, aligned with the tokens (no <bos>/<eos>).
    tokenize : texts -> token lists; default the model's own tokenizer settings.
    """
    token_lists = _tokenize_for_predict(model, texts, tokenize)
    if model.uses_elmo and elmo is None:
        raise ValueError("this model uses ELMo: pass elmo= (an object with .layers(token_lists))")
    vocab = TaskVocab(model.vocab_itos)
    was_training = model.training
    model.eval()
    ids: list[int] = []
    for i in range(0, len(token_lists), batch_size):
        ids.extend(_predict_batch(model, vocab, token_lists[i : i + batch_size], elmo))
    model.train(was_training)
    return [YNAT_LABELS[j] for j in ids]


def _tokenize_for_predict(model: TopicClassifier, texts: Sequence[str], tokenize) -> list[list[str]]:
    """Type-checked, cleaned, tokenized, cut to MAX_TOKENS; an empty result becomes [<unk>]."""
    if isinstance(texts, str) or not isinstance(texts, Sequence):
        raise TypeError(f"predict expects a list of str headlines, got {type(texts).__name__}")
    for i, t in enumerate(texts):
        if not isinstance(t, str):
            raise TypeError(f"predict expects str headlines; item {i} is {type(t).__name__}")
    if model.vocab_itos is None:
        raise ValueError("the model carries no vocabulary (build it with build_model or load a checkpoint)")
    tokenize = tokenize or Tokenizer(TokenizerSettings(**(model.hparams.tokenizer or {}))).tokenize_many
    return [list(toks)[:MAX_TOKENS] or [UNK] for toks in tokenize([clean_text(t) for t in texts])]


def _predict_batch(model: TopicClassifier, vocab: TaskVocab, token_lists: list[list[str]], elmo) -> list[int]:
    ids, mask = encode_padded(token_lists, vocab)
    layers = None
    if model.uses_elmo:
        layers, _ = elmo.layers(token_lists)
        layers = fit_length(layers.float(), ids.shape[1])
    logits = model(ids.to(model.device), mask.to(model.device), _to(layers, model.device))
    return logits.argmax(dim=-1).tolist()
