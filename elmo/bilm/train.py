"""biLM pretraining with Lightning: the LightningModule, the trainer, held-out perplexity.

`pretrain(cfg)` trains the profile's biLM on the petitions, selects the checkpoint with the best
valid perplexity, measures valid/test perplexity per direction, and saves the artifact
(`runs/<profile>/bilm/`). Re-running resumes from `last.ckpt` at the same step with the same
optimizer state, so an interrupted run loses nothing.
"""

from __future__ import annotations

import hashlib
import json
import math
import random
import time
from dataclasses import asdict
from functools import partial
from pathlib import Path

import numpy as np
import pytorch_lightning as pl
import torch
from pytorch_lightning.callbacks import EarlyStopping, ModelCheckpoint
from pytorch_lightning.loggers import CSVLogger

from elmo.bilm.datamodule import Batch, PetitionsLM
from elmo.bilm.model import BiLM
from elmo.core.config import Config, ModelConfig, TrainConfig, from_dict
from elmo.core.runs import quiet_lightning, run_dir, seed_everything, write_run_info
from elmo.core.tracking import mlflow_logger
from elmo.data.corpus import CACHE_VERSION


class BiLMTask(pl.LightningModule):
    """Trains a `BiLM`; logs per-token NLL and perplexity per direction (pads never counted)."""

    def __init__(self, model: dict, train: dict, n_tokens: int, n_chars: int):
        super().__init__()
        self.save_hyperparameters()  # plain dicts, so checkpoints rebuild the task without code
        self.train_cfg = TrainConfig(**train)
        self.model = BiLM(from_dict(ModelConfig, model), n_tokens, n_chars)
        self._sums: dict[str, float] = {}

    @classmethod
    def from_config(cls, cfg: Config, n_tokens: int, n_chars: int) -> "BiLMTask":
        return cls(asdict(cfg.model), asdict(cfg.train), n_tokens, n_chars)

    def configure_model(self) -> None:
        # Compiling only the char-CNN and the softmax: Dynamo cannot trace nn.LSTM (KNOWN.md).
        if self.train_cfg.compile and not getattr(self, "_compiled", False):
            self.model.token_encoder.compile()
            self.model.softmax.compile()
            self._compiled = True

    def training_step(self, batch: Batch, batch_idx: int) -> torch.Tensor:
        out = self.model.nll(batch.char_ids, batch.token_ids, batch.mask)
        self.log("train_loss", out["loss"], prog_bar=True, batch_size=int(out["n_predicted"]))
        return out["loss"]

    def on_validation_epoch_start(self) -> None:
        self._sums = {"forward_nll": 0.0, "backward_nll": 0.0, "n_predicted": 0}

    def validation_step(self, batch: Batch, batch_idx: int) -> None:
        out = self.model.nll(batch.char_ids, batch.token_ids, batch.mask)
        for k in self._sums:
            self._sums[k] += float(out[k])

    def on_validation_epoch_end(self) -> None:
        sums = self._sums
        if self.trainer.world_size > 1:  # every rank saw a different share of valid
            t = torch.tensor([sums["forward_nll"], sums["backward_nll"], sums["n_predicted"]], dtype=torch.float64)
            t = self.all_gather(t).sum(0)
            sums = dict(zip(("forward_nll", "backward_nll", "n_predicted"), t.tolist()))
        for k, v in perplexities(sums).items():
            # Identical on every rank after the gather; sync_dist only silences Lightning's warning.
            self.log(f"valid_{k}", v, prog_bar=(k == "ppl"), sync_dist=self.trainer.world_size > 1)

    def on_fit_start(self) -> None:
        self._fit_start = time.perf_counter()

    def train_seconds(self) -> float:
        """Wall time spent in `fit`, summed over every (re)start of this run."""
        return getattr(self, "_seconds_before", 0.0) + time.perf_counter() - getattr(self, "_fit_start", time.perf_counter())

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        checkpoint["train_seconds"] = self.train_seconds()
        # Lightning restores weights, optimizer and loop state; the RNGs (dropout masks) are ours
        # to keep, so that a resumed run repeats an uninterrupted one exactly. Tensors and plain
        # tuples only: checkpoints load with weights_only=True.
        name, keys, pos, has_gauss, cached = np.random.get_state()
        checkpoint["rng"] = {
            "torch": torch.get_rng_state(),
            "numpy": (name, torch.from_numpy(keys.astype(np.int64)), pos, has_gauss, cached),
            "python": random.getstate(),
        }

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        self._seconds_before = float(checkpoint.get("train_seconds", 0.0))
        if "rng" in checkpoint:
            rng = checkpoint["rng"]
            torch.set_rng_state(rng["torch"])
            name, keys, pos, has_gauss, cached = rng["numpy"]
            np.random.set_state((name, keys.numpy().astype(np.uint32), pos, has_gauss, cached))
            random.setstate(rng["python"])

    def configure_gradient_clipping(self, optimizer, gradient_clip_val=None, gradient_clip_algorithm=None) -> None:
        # Lightning's mixed-precision plugin refuses to clip for a fused optimizer, assuming the
        # optimizer unscales fp16 gradients inside `step`. Without a loss scaler (bf16-mixed,
        # 32-true) the gradients are already unscaled, so clipping them here is what Lightning
        # would do; with one (16-mixed) Lightning keeps the decision, and its error.
        if gradient_clip_val and getattr(self.trainer.precision_plugin, "scaler", None) is None:
            if gradient_clip_algorithm not in (None, "norm"):
                raise ValueError(f"the biLM clips by norm, not {gradient_clip_algorithm!r}")
            torch.nn.utils.clip_grad_norm_(self.parameters(), gradient_clip_val)
        else:
            super().configure_gradient_clipping(optimizer, gradient_clip_val, gradient_clip_algorithm)

    def configure_optimizers(self):
        c = self.train_cfg
        opt = make_optimizer(c.optimizer, self.parameters(), c.lr)
        if c.lr_schedule == "constant":
            return opt
        if c.lr_schedule != "linear":
            raise ValueError(f"unknown lr_schedule {c.lr_schedule!r}: use 'constant' or 'linear'")
        total = max(1, self.steps_per_epoch() * c.max_epochs)
        schedule = torch.optim.lr_scheduler.LambdaLR(opt, partial(linear_schedule, warmup=c.warmup_steps, total=total))
        return {"optimizer": opt, "lr_scheduler": {"scheduler": schedule, "interval": "step"}}


    def steps_per_epoch(self) -> int:
        """Optimizer steps in one epoch, from the config (not from `max_steps`, which an
        interrupted or capped run sets: the schedule must not depend on where a run stops)."""
        n = len(self.trainer.datamodule.train_dataloader())
        limit = self.train_cfg.limit_train_batches
        return min(n, limit) if isinstance(limit, int) else int(n * limit)


OPTIMIZER_KERNELS = {"fused": {"fused": True}, "foreach": {"foreach": True}, "for-loop": {"foreach": False}}


def make_optimizer(name: str, params, lr: float, kernel: str = "fused") -> torch.optim.Optimizer:
    """The biLM's optimizer: "adam", or "adagrad" as bilm-tf (lr 0.2, accumulators started at 1.0).

    `kernel` "fused": one kernel updates every parameter. On CPU PyTorch's default is a loop over
    the parameters ("for-loop"), a handful of ops each; for the cpu profile's 48 tensors an Adam
    step took 6.0 ms that way, 5.4 ms with "foreach" and 1.1 ms fused (~4 % of a training step).
    Lightning refuses to clip the gradients of a fused optimizer under mixed precision, so
    `BiLMTask` clips them itself (`configure_gradient_clipping`). The bench's "before" step keeps
    the for-loop it ran with.
    """
    if kernel not in OPTIMIZER_KERNELS:
        raise ValueError(f"unknown optimizer kernel {kernel!r}: use one of {list(OPTIMIZER_KERNELS)}")
    if name == "adagrad":
        return torch.optim.Adagrad(params, lr=lr, initial_accumulator_value=1.0, **OPTIMIZER_KERNELS[kernel])
    if name == "adam":
        return torch.optim.Adam(params, lr=lr, **OPTIMIZER_KERNELS[kernel])
    raise ValueError(f"unknown optimizer {name!r}: use 'adagrad' or 'adam'")


def linear_schedule(step: int, warmup: int, total: int) -> float:
    """Learning-rate factor at `step`: linear warm-up over `warmup` steps, then linear decay to 0 at `total`."""
    return min(1.0, (step + 1) / max(1, warmup)) * max(0.0, 1.0 - step / total)


def perplexities(sums: dict) -> dict[str, float]:
    """Per-token perplexities from summed NLLs: forward, backward, and of the mean NLL."""
    n = max(sums["n_predicted"], 1)
    f, b = sums["forward_nll"] / n, sums["backward_nll"] / n
    return {"forward_ppl": math.exp(f), "backward_ppl": math.exp(b), "ppl": math.exp((f + b) / 2), "n_predicted": n}


@torch.no_grad()
def evaluate(model: BiLM, loader) -> dict[str, float]:
    """Held-out perplexity of both LMs (eval mode, exact full softmax, pads excluded)."""
    was_training = model.training
    model.eval()
    sums = {"forward_nll": 0.0, "backward_nll": 0.0, "n_predicted": 0}
    for batch in loader:
        out = model.nll(batch.char_ids, batch.token_ids, batch.mask)
        for k in sums:
            sums[k] += float(out[k])
    model.train(was_training)
    return perplexities(sums)


def batch_plan(batch_size: int, processes: int, global_batch_size: int | None) -> dict[str, int]:
    """How a global batch is made: `batch_size` sentences per process and step, `processes`
    (devices x nodes) in parallel, gradients accumulated over `accumulate` steps.

    >>> batch_plan(64, 4, 512)
    {'per_process': 64, 'processes': 4, 'accumulate': 2, 'global_batch_size': 512}
    """
    per_step = batch_size * processes
    if global_batch_size is None:
        return {"per_process": batch_size, "processes": processes, "accumulate": 1, "global_batch_size": per_step}
    if global_batch_size % per_step:
        raise ValueError(f"global_batch_size {global_batch_size} is not a multiple of batch_size {batch_size} "
                         f"x {processes} process(es) = {per_step}: change batch_size or global_batch_size")  # fmt: skip
    return {"per_process": batch_size, "processes": processes, "accumulate": global_batch_size // per_step,
            "global_batch_size": global_batch_size}  # fmt: skip


def make_trainer(cfg: Config, out: Path, ckpt_dir: Path, **overrides) -> pl.Trainer:
    """The Lightning trainer of a profile: clipping, precision, early stopping, CSV + MLflow,
    devices / nodes / strategy, and the accumulation that `batch_plan` asks for."""
    quiet_lightning()
    t = cfg.train
    callbacks = [
        ModelCheckpoint(dirpath=ckpt_dir, monitor="valid_ppl", mode="min", save_last=True, filename="best"),
        EarlyStopping(monitor="valid_ppl", mode="min", patience=t.patience),
    ]
    if "logger" in overrides:
        loggers = overrides.pop("logger")
    else:
        loggers = [CSVLogger(out, name="logs"), mlflow_logger("pretrain", cfg.profile, out.parent)]
    kwargs = dict(
        max_epochs=t.max_epochs, gradient_clip_val=t.grad_clip, precision=t.precision,
        callbacks=callbacks, logger=loggers, default_root_dir=out, deterministic=True,
        limit_train_batches=t.limit_train_batches, use_distributed_sampler=False,
        max_time={"minutes": t.max_minutes} if t.max_minutes else None, log_every_n_steps=20,
        accelerator=t.accelerator, devices=t.devices, num_nodes=t.num_nodes, strategy=t.strategy,
    )  # fmt: skip
    callbacks += overrides.pop("callbacks", [])  # extra callbacks add to ours, never replace them
    kwargs.update(overrides)
    if t.global_batch_size is not None:
        if not isinstance(kwargs["devices"], int):
            raise ValueError(f"global_batch_size needs a number of devices, not devices={kwargs['devices']!r}")
        plan = batch_plan(t.batch_size, kwargs["devices"] * kwargs["num_nodes"], t.global_batch_size)
        kwargs["accumulate_grad_batches"] = plan["accumulate"]
    return pl.Trainer(**kwargs)


def pretrain(
    cfg: Config, root: Path | None = None, out: Path | None = None, corpus=None, force: bool = False, **trainer_overrides
) -> Path:
    """Train (or resume) the profile's biLM; save and return the artifact directory `out/bilm`.

    Checkpoints live in `out/pretrain/checkpoints-<hash of the model/data config>`, so a changed
    config starts afresh instead of resuming weights of another shape.
    """
    seed_everything(cfg.seed, keep_freed_memory=True)  # its large temporaries recur every step (elmo.core.reuse)
    out = Path(out) if out is not None else run_dir(cfg.profile)
    if not force and trained_with(out / "bilm", cfg):
        print(f"reusing the biLM in {out / 'bilm'}, trained with this exact config (force=True retrains)")
        return out / "bilm"
    dm = PetitionsLM(cfg, root, corpus)
    dm.prepare_data()
    dm.setup()
    task = BiLMTask.from_config(cfg, len(dm.encoder.tokens), len(dm.encoder.chars))
    ckpt_dir = out / "pretrain" / f"checkpoints-{config_hash(cfg)}"
    write_run_info(ckpt_dir, cfg)
    trainer = make_trainer(cfg, out / "pretrain", ckpt_dir, **trainer_overrides)
    last = ckpt_dir / "last.ckpt"
    trainer.fit(task, datamodule=dm, ckpt_path=last if last.exists() else None)
    if not trainer.is_global_zero:
        return out / "bilm"
    return finish(cfg, dm, trainer, out / "bilm", task.train_seconds())


def trained_with(artifact: Path, cfg: Config) -> bool:
    """Whether `artifact` holds a finished biLM trained with exactly `cfg`."""
    path = Path(artifact) / "config.json"
    if not path.exists():
        return False
    extra = json.loads(path.read_text()).get("extra", {})
    # Compared as JSON (tuples come back as lists); finetuning settings do not change a biLM.
    saved, now = extra.get("config") or {}, json.loads(cfg.to_json())
    same_corpus = extra.get("corpus_version") == CACHE_VERSION
    return extra.get("complete", False) and same_corpus and all(saved.get(k) == now[k] for k in ("seed", "data", "model", "train"))


def completed(trainer: pl.Trainer) -> bool:
    """Whether fit ended as the config says (epochs, early stopping, time cap), not interrupted."""
    early = trainer.early_stopping_callback
    timed_out = trainer.max_epochs is not None and any(
        getattr(cb, "time_remaining", lambda: 1)() <= 0 for cb in trainer.callbacks if type(cb).__name__ == "Timer"
    )
    return trainer.current_epoch >= trainer.max_epochs or bool(early and early.stopped_epoch) or timed_out


def config_hash(cfg: Config) -> str:
    """What must match to resume: corpus, data, model and seed (not epochs or time limits)."""
    key = [CACHE_VERSION, asdict(cfg.data), asdict(cfg.model), cfg.train.optimizer, cfg.train.lr, cfg.seed]
    if cfg.train.lr_schedule != "constant":  # (kept out of the key otherwise: earlier runs resume)
        key.append([cfg.train.lr_schedule, cfg.train.warmup_steps, cfg.train.max_epochs])
    key = json.dumps(key, sort_keys=True)
    return hashlib.sha1(key.encode()).hexdigest()[:10]


def finish(cfg: Config, dm: PetitionsLM, trainer: pl.Trainer, artifact: Path, train_seconds: float) -> Path:
    """Best checkpoint -> held-out perplexities -> the safetensors artifact."""
    best = trainer.checkpoint_callback.best_model_path or None
    task = BiLMTask.load_from_checkpoint(best, map_location="cpu") if best else trainer.lightning_module
    model = task.model.float().eval()
    results = {split: evaluate(model, dm.loader(split)) for split in ("valid", "test")}
    if cfg.data.context != "sentence":  # what the context buys: the same model, one sentence at a time
        results["one_sentence"] = {split: evaluate(model, dm.loader(split, context="sentence")) for split in ("valid", "test")}
    for source, split in dm.held_out():  # each source's own held-out perplexity, beside the pooled one
        results.setdefault("sources", {}).setdefault(source, {})[split] = evaluate(model, dm.loader(split, source=source))
    results.update(train_seconds=train_seconds, epochs=trainer.current_epoch, global_step=trainer.global_step)
    extra = {"results": results, "config": cfg.to_dict(), "corpus_version": CACHE_VERSION, "complete": completed(trainer)}
    model.save_pretrained(artifact, dm.encoder, extra=extra)
    write_run_info(artifact, cfg, results=results)
    return artifact
