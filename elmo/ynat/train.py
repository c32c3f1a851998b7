"""Training one YNAT task model under the protocol: fit on `fit`, select on `holdout`, score dev once.
"""
from __future__ import annotations

import copy
import shutil
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pytorch_lightning as pl
import torch
from lightning_fabric.plugins import TorchCheckpointIO
from pytorch_lightning.callbacks import EarlyStopping, EMAWeightAveraging, ModelCheckpoint
from pytorch_lightning.loggers import CSVLogger

from elmo.bilm.model import BiLM
from elmo.core.config import Config, TaskVariant
from elmo.core.runs import quiet_lightning, run_dir, seed_everything, write_run_info
from elmo.core.tracking import mlflow_logger
from elmo.embed.top_layer import TopLayer
from elmo.ynat.data import MONITOR, YnatData
from elmo.ynat.metrics import mean_std, scores
from elmo.ynat.model import TopicClassifier, init_from_static, to_device

CHECKPOINTS, BEST = "checkpoints", "best"  # each run keeps only its holdout-selected checkpoint


def resolve_variant(variant: TaskVariant | dict | None) -> dict:
    """A `TaskVariant` (or a dict of its fields over the defaults) as a dict with its name set;
    unknown keys are an error, not a silent no-op."""
    if isinstance(variant, TaskVariant):
        variant = asdict(variant)
    defaults = asdict(TaskVariant())
    variant = dict(variant or {})
    unknown = set(variant) - set(defaults)
    if unknown:
        raise ValueError(f"unknown variant key(s) {sorted(unknown)}; known: {sorted(defaults)}")
    v = {**defaults, **variant}
    if v["name"] is None:
        v["name"] = f"elmo-{v['weights']}-{v['gamma']}-{v['placement']}" if v["elmo"] else "no-elmo"
        if v["x_k"] != defaults["x_k"]:
            v["name"] += "-" + v["x_k"].replace("learned+", "").replace("_", "")
        if v["top"] != "frozen":
            v["name"] += f"-{v['top']}top"
        if v["bilm"] != "pretrained":  # its own run folder: the same model on another biLM
            v["name"] += f"-{v['bilm']}"
        if v["teacher"] is not None:  # its own run folder: its teacher may be the same variant
            v["name"] += f"-distilled-{v['teacher']}"
    return v


X_K = ("learned", "learned+char_cnn", "glove", "learned+subwords")  # TaskVariant.x_k
BILMS = ("pretrained", "adapted")  # TaskVariant.bilm
TOPS = ("frozen", "tuned")  # TaskVariant.top


def uses_layers(variant: dict) -> bool:
    """Whether a resolved variant's batches must carry the cached biLM layers."""
    return bool(variant["elmo"]) or "char_cnn" in variant["x_k"]


def build_model(cfg: Config, data: YnatData, variant: dict) -> TopicClassifier:
    """A fresh TopicClassifier for `data` and a resolved `variant` (call after seeding)."""
    f = cfg.finetune
    elmo = None
    if uses_layers(variant) and data.cache is None:
        raise ValueError("variant reads the biLM's layers (ELMo or char-CNN x_k) but the data has no LayerCache: data.with_cache(cache)")
    if variant["bilm"] not in BILMS:
        raise ValueError(f"bilm must be one of {BILMS}, not {variant['bilm']!r}")
    if variant["x_k"] not in X_K:
        raise ValueError(f"x_k must be one of {X_K}, not {variant['x_k']!r}")
    if variant["x_k"] == "glove" and data.static is None:
        raise ValueError("x_k 'glove' needs the GloVe vectors: data.with_static(glove_vectors(cfg))")
    if variant["x_k"] == "glove" and data.static.dim != f.token_dim:
        raise ValueError(f"x_k 'glove': GloVe has {data.static.dim} dimensions, the task's token_dim is {f.token_dim}")
    if variant["top"] not in TOPS:
        raise ValueError(f"top must be one of {TOPS}, not {variant['top']!r}")
    if variant["top"] == "tuned" and not variant["elmo"]:
        raise ValueError("top 'tuned' fine-tunes the biLM's top layer inside ELMo: it needs elmo=True")
    char_cnn_dim = data.cache.dim if variant["x_k"] == "learned+char_cnn" else 0
    if variant["x_k"] == "learned+subwords" and data.subwords is None:
        raise ValueError("x_k 'learned+subwords' needs the data's character n-gram vocabulary (YnatData.build makes it)")
    n_subwords = len(data.subwords) if variant["x_k"] == "learned+subwords" else 0
    if variant["elmo"]:
        keys = ("gamma", "weights", "placement", "layer_norm")
        elmo = {"n_layers": data.cache.n_layers, "dim": data.cache.dim, **{k: variant[k] for k in keys}}
    l2 = f.l2_coef if variant["l2_coef"] is None else variant["l2_coef"]
    top = None
    if variant["top"] == "tuned":
        top = TopLayer.from_bilm(BiLM.from_pretrained(data.cache.meta["bilm_dir"]))  # the cached layers' biLM
    model = TopicClassifier(len(data.vocab), f.token_dim, f.hidden_dim, f.dropout, f.lr, l2, elmo, data.tokenizer,
                            char_cnn_dim=char_cnn_dim, top=None if top is None else top.spec, top_lr_scale=f.top_lr_scale,
                            top_frozen_epochs=f.top_frozen_epochs, pooling=f.pooling, label_smoothing=f.label_smoothing,
                            lr_schedule=f.lr_schedule, word_dropout=f.word_dropout, n_subwords=n_subwords)  # fmt: skip
    if top is not None:
        model.top.load_state_dict(top.state_dict())
    model.vocab_itos = list(data.vocab.itos)
    if n_subwords:
        model.subword_itos = list(data.subwords.itos)
    if variant["x_k"] == "glove":
        init_from_static(model.embedding, model.vocab_itos, data.static)
    return model


def run_folder(run_root: Path, variant_name: str, seed: int) -> Path:
    """Where one seed of one variant keeps its checkpoints and logs: `run_root/<variant>/seed<k>/`
    (`run_root` is the profile's `ynat/` folder)."""
    return Path(run_root) / variant_name / f"seed{seed}"


def best_checkpoint(run_root: Path, result: dict) -> Path:
    """The holdout-selected checkpoint of one run (`train_and_evaluate`'s result dict)."""
    return run_folder(run_root, result["variant"], result["seed"]) / CHECKPOINTS / f"{BEST}.ckpt"


class WriteOnceCheckpointIO(TorchCheckpointIO):
    """Lightning's checkpoint IO, except that each path's latest checkpoint waits in memory and is
    written once, when the Trainer tears down (after `fit`, also after an error).

    A task run keeps one checkpoint (the holdout's best so far, one file name), saved again at
    every new best: 7 writes of 0.24 s each in a 20 s run of 04's grid (31 MB of embeddings
    pickled and written), and only the last one is ever read. A task run is never resumed, so
    nothing is lost by writing late; `load_checkpoint` writes a pending file first.
    """

    def __init__(self) -> None:
        super().__init__()
        self._pending: dict[str, dict] = {}

    def save_checkpoint(self, checkpoint: dict[str, Any], path, storage_options=None) -> None:
        # The state dict holds the live parameters: copy them, or later steps would change the best.
        # deepcopy: 15 ms for a task checkpoint, where lightning's apply_to_collection took 94 ms
        # walking the 77k vocabulary strings one by one.
        self._pending[str(path)] = copy.deepcopy(checkpoint)

    def remove_checkpoint(self, path) -> None:
        if self._pending.pop(str(path), None) is None:
            super().remove_checkpoint(path)

    def load_checkpoint(self, path, *args, **kwargs) -> dict[str, Any]:
        self._write(str(path))
        return super().load_checkpoint(path, *args, **kwargs)

    def teardown(self) -> None:
        for path in list(self._pending):
            self._write(path)

    def _write(self, path: str) -> None:
        if path in self._pending:
            super().save_checkpoint(self._pending.pop(path), path)


def make_trainer(cfg: Config, run: Path, loggers, **overrides) -> pl.Trainer:
    """Up to max_epochs; early stopping and the kept checkpoint both follow the holdout F1."""
    quiet_lightning()
    shutil.rmtree(run / CHECKPOINTS, ignore_errors=True)  # a rerun must not select a stale best
    callbacks = [
        # Weights only: a task run is minutes long and never resumed, and Adam's two moments made
        # each save 3x larger (a tenth of a 10 % grid run went to writing checkpoints). Not with
        # EMA: Lightning's weight averaging puts the average into the checkpoint in a hook that a
        # weights-only save skips.
        ModelCheckpoint(dirpath=run / CHECKPOINTS, filename=BEST, monitor=MONITOR, mode="max", save_top_k=1,
                        save_weights_only=cfg.finetune.ema_decay is None),  # fmt: skip
        EarlyStopping(monitor=MONITOR, mode="max", patience=cfg.finetune.patience),
    ]
    kwargs = dict(
        max_epochs=cfg.finetune.max_epochs, precision=cfg.finetune.precision, callbacks=callbacks, logger=loggers, default_root_dir=run,
        deterministic=True, num_sanity_val_steps=0, log_every_n_steps=1,
        enable_progress_bar=False, enable_model_summary=False, plugins=[WriteOnceCheckpointIO()],
    )  # fmt: skip
    if cfg.finetune.ema_decay is not None:  # validation and checkpoints then hold the average
        callbacks.append(EMAWeightAveraging(decay=cfg.finetune.ema_decay))
    callbacks += overrides.pop("callbacks", [])
    kwargs.update(overrides)
    return pl.Trainer(**kwargs)


def fit_model(
    cfg: Config, data: YnatData, seed: int, variant: dict | None, out_dir: Path | None = None, logger: bool = True,
    init: Path | str | None = None, **overrides,
):
    """Seed, build, train on `fit` selecting on `holdout`; -> (best model, trainer, run folder, seconds).

    init : a task-model checkpoint of the same architecture and vocabulary to start from (a
        distilled model's teacher), instead of the random initialisation.
    Never touches `data.dev`.
    """
    variant = resolve_variant(variant)
    out_dir = Path(out_dir) if out_dir is not None else run_dir(cfg.profile)
    run = run_folder(out_dir / "ynat", variant["name"], seed)
    seed_everything(seed)
    model = build_model(cfg, data, variant)
    if init is not None:
        start_from(model, init)
    trainer = make_trainer(cfg, run, _loggers(out_dir, run, variant, seed) if logger else False, **overrides)
    bs, elmo, grams = cfg.finetune.batch_size, uses_layers(variant), model.uses_subwords
    t0 = time.perf_counter()
    trainer.fit(
        model,
        data.loader("fit", bs, shuffle=True, layers=elmo, seed=seed, subwords=grams),
        data.loader("holdout", bs, layers=elmo, subwords=grams),
    )
    return _best(trainer, model), trainer, run, time.perf_counter() - t0


def start_from(model: TopicClassifier, checkpoint: Path | str) -> None:
    """Load the weights of a saved task model into `model`: every parameter, strictly, and only
    if both read the same vocabularies (a row of an embedding means the same word in both)."""
    saved = torch.load(checkpoint, map_location="cpu", weights_only=False)
    for key, mine in (("vocab_itos", model.vocab_itos), ("subword_itos", model.subword_itos)):
        if saved.get(key) != mine:
            raise ValueError(f"{checkpoint}: its {key} differs from the model's; a model starts only from one of the same data")
    model.load_state_dict(saved["state_dict"])


def _loggers(out_dir: Path, run: Path, variant: dict, seed: int) -> list:
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
    loader = data.loader(split, batch_size, layers=model.needs_layers, subwords=model.uses_subwords)
    out = np.zeros((len(data.split(split)), model.hparams.n_classes), dtype=np.float32)
    for positions, batch in zip(loader.batch_sampler, loader):  # batches of similar length, not in order
        logits = model(*(to_device(t, model.device) for t in (batch.token_ids, batch.mask, batch.layers, batch.subwords)))
        out[positions] = torch.softmax(logits.float(), dim=-1).cpu().numpy()
    return out


def evaluate(model: TopicClassifier, data: YnatData, split: str = "dev", batch_size: int = 256) -> dict:
    """`scores` of the model's predictions over every row of `split`."""
    gold = [data.labels[i] for i in data.split(split)]
    return scores(gold, probabilities(model, data, split, batch_size).argmax(axis=1).tolist())


def mix_summary(model: TopicClassifier) -> dict:
    """The learned (or fixed) softmax weights s_j and gamma of each mix; None without ELMo."""
    out: dict[str, Any] = {"mix_weights": None, "gamma": None}
    for suffix, mix in (("", model.mix_in), ("_output", model.mix_out)):
        if mix is not None:
            out[f"mix_weights{suffix}"] = [float(s) for s in mix.weights.detach().cpu()]
            out[f"gamma{suffix}"] = float(mix.gamma.detach())
    return out


def train_and_evaluate(
    cfg: Config, data: YnatData, seed: int, variant: dict | None, out_dir: Path | None = None, logger: bool = True,
    init: Path | str | None = None, **overrides,
) -> dict:
    """Train one seed of one variant, select on the holdout, score the full dev set once.

    `out_dir` is the profile's run folder (default `runs/<profile>`): checkpoints and CSV logs go
    to `out_dir/ynat/<variant>/seed<k>/`, MLflow to `out_dir/mlflow.db` (experiment "ynat").
    `init`: a checkpoint to start from (`fit_model`). Returns dev `scores` plus holdout_macro_f1
    (best epoch), epochs, seconds, mix weights, gamma.
    """
    model, trainer, run, seconds = fit_model(cfg, data, seed, variant, out_dir, logger, init, **overrides)
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


def summarize(results: Sequence[dict], key: str = "macro_f1") -> dict:
    """{"mean", "std" (sample, ddof=1), "n", "values"} of `key` over per-seed results."""
    return mean_std([r[key] for r in results])
