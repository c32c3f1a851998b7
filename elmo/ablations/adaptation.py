"""Domain adaptation: the biLM further trained on YNAT train titles (no labels), a new artifact.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import shutil
import time
from dataclasses import asdict
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from elmo.bilm.datamodule import EncodedSentences, PetitionsLM
from elmo.bilm.model import BiLM
from elmo.bilm.train import BiLMTask, evaluate, make_trainer
from elmo.core.config import Config
from elmo.core.runs import run_dir, seed_everything
from elmo.data.corpus import Corpus
from elmo.data.text import TextEncoder, split_long
from elmo.embed.glove import glove_vectors
from elmo.embed.layer_cache import LayerCache
from elmo.ynat.data import YnatData
from elmo.ynat.metrics import mean_std
from elmo.ynat.train import resolve_variant


def task_data(cfg: Config, artifact: str | Path, data: YnatData, variants, out: str | Path) -> dict[str, YnatData]:
    """The data each task variant reads, by `TaskVariant.bilm`: {"pretrained": ...} and, only when
    a variant reads it, {"adapted": ...} (`adapt_bilm` on YNAT train titles, `adapt_epochs`
    epochs, saved in `out/bilm-ynat` and reused), every one with its LayerCache and, only when a
    variant starts x_k from GloVe, the GloVe vectors (`glove_vectors`, trained once and reused).

    data : YnatData with the pretrained `artifact`'s LayerCache. variants : TaskVariants or dicts.
    """
    resolved = [resolve_variant(v) for v in variants]
    if any(v["x_k"] == "glove" for v in resolved):
        data = data.with_static(glove_vectors(cfg))
    by_bilm = {"pretrained": data}
    if any(v["bilm"] == "adapted" for v in resolved):
        titles = [data.tokens[i] for i in sorted(data.fit + data.holdout)]  # train text, no labels, never dev
        adapted = adapt_bilm(cfg, artifact, titles, Path(out) / "bilm-ynat", epochs=cfg.finetune.adapt_epochs)
        by_bilm["adapted"] = data.with_cache(LayerCache.build(adapted, data.tokens, cache_root=run_dir(cfg.profile, "cache")))
    return by_bilm


def adapt_bilm(
    cfg: Config,
    artifact: str | Path,
    titles: Sequence[Sequence[str]],
    out: str | Path,
    epochs: int = 1,
    valid_fraction: float = 0.05,
    force: bool = False,
    **trainer_overrides,
) -> Path:
    """Continue the saved biLM's LM training on tokenized YNAT *train* titles; save a new artifact.

    # Parameters
    cfg : the profile; `cfg.train` gives the optimizer, learning rate, batch size, precision and
        clipping (the optimizer starts afresh: the artifact keeps weights, not optimizer state).
    artifact : a `BiLM.save_pretrained` directory. Its weights are the starting point (loaded,
        never re-initialised) and its TextEncoder is reused as is: no vocabulary is rebuilt, so
        the adapted biLM reads exactly the ids the original did.
    titles : N token lists, tokenized like the corpus (e.g. `data.tokens` of train rows; never
        dev). Titles longer than cfg.data.max_tokens are cut into windows; empty ones dropped.
    out : the new artifact directory; its Lightning files go to `<out>-train/`.
    epochs : passes over the training titles (0: nothing trains, the weights are copied); the
        checkpoint kept is the epoch with the lowest held-out title perplexity.
    valid_fraction : a fixed random slice of the titles (at least one) held out for perplexity
        and checkpoint selection; the rest trains.
    force : retrain even if `out` holds an adaptation of the same artifact, titles and settings.

    # Returns
    `out`. Its config.json "extra" has "adaptation": valid perplexity before and after, sizes,
    epochs, seconds and the source artifact (`adaptation_summary(out)` reads it).
    """
    out = Path(out)
    key = _adaptation_key(cfg, artifact, titles, epochs, valid_fraction)
    if not force and adaptation_summary(out).get("key") == key:
        print(f"reusing the adapted biLM in {out} (force=True retrains)")
        return out
    seed_everything(cfg.seed)
    bilm = BiLM.from_pretrained(artifact)
    dm = _titles_datamodule(cfg, bilm.encoder, titles, valid_fraction)
    before = evaluate(bilm, dm.loader("valid"))
    # The profile's optimizer and schedule, its length set to this run's: a linear schedule
    # decays to 0 at the last adaptation step, not at the end of pretraining's epochs.
    train = dataclasses.replace(cfg.train, max_epochs=max(1, epochs))
    task = BiLMTask(asdict(bilm.cfg), asdict(train), bilm.n_tokens, bilm.n_chars)
    task.model.load_state_dict(bilm.state_dict())  # the saved weights, not a fresh init
    t0 = time.perf_counter()
    model = _fit(cfg, task, dm, Path(f"{out}-train"), epochs, trainer_overrides)
    seconds = time.perf_counter() - t0
    after = evaluate(model, dm.loader("valid"))
    info = {
        "key": key, "source": str(artifact), "epochs": epochs, "seconds": seconds,
        "valid_before": before, "valid_after": after,
        "train_sentences": len(dm.datasets["train"]), "valid_sentences": len(dm.datasets["valid"]),
    }  # fmt: skip
    # The source's record is nested, not merged: its "config" must not make `pretrain.trained_with`
    # mistake the adapted weights for a plain pretraining run.
    extra = {"adaptation": info, "pretrained": bilm.extra}
    model.save_pretrained(out, bilm.encoder, extra=extra)
    return out


def _titles_datamodule(
    cfg: Config, encoder: TextEncoder, titles: Sequence[Sequence[str]], valid_fraction: float
) -> PetitionsLM:
    """PetitionsLM's loaders (length buckets, collation) over the titles, encoded by `encoder`.

    The datasets are set before `setup` runs, so PetitionsLM never builds an encoder of its own.
    """
    sents = [w for t in titles for w in split_long(list(t), cfg.data.max_tokens) if w]
    if len(sents) < 2:
        raise ValueError("need at least two non-empty titles (one to train on, one to validate)")
    order = np.random.default_rng(cfg.seed).permutation(len(sents))
    n_valid = min(len(sents) - 1, max(1, int(round(valid_fraction * len(sents)))))
    valid = [sents[i] for i in sorted(order[:n_valid])]
    train = [sents[i] for i in sorted(order[n_valid:])]
    corpus = Corpus(train=train, valid=valid, test=valid)
    dm = PetitionsLM(cfg, corpus=corpus)
    dm.encoder = encoder
    dm.datasets = {s: EncodedSentences(corpus.split(s), encoder) for s in ("train", "valid", "test")}
    return dm


def _fit(cfg: Config, task: BiLMTask, dm: PetitionsLM, work: Path, epochs: int, overrides: dict) -> BiLM:
    """Train `epochs` epochs (pretrain's trainer: clipping, precision, valid-ppl checkpointing);
    -> the best-valid BiLM in float32 eval mode (the starting weights when epochs is 0)."""
    if epochs <= 0:
        return task.model.float().eval()
    ckpt_dir = work / "checkpoints"
    shutil.rmtree(ckpt_dir, ignore_errors=True)  # never resume or select a stale run
    overrides = {"logger": False, "enable_model_summary": False, **overrides}
    trainer = make_trainer(cfg, work, ckpt_dir, max_epochs=epochs, max_time=None, **overrides)
    trainer.fit(task, datamodule=dm)
    best = trainer.checkpoint_callback.best_model_path
    if best:
        task = BiLMTask.load_from_checkpoint(best, map_location="cpu")
    return task.model.float().eval()


def _adaptation_key(cfg: Config, artifact, titles, epochs: int, valid_fraction: float) -> str:
    """What decides an adaptation's result: source weights, titles and training settings."""
    h = hashlib.sha256()
    source = json.loads((Path(artifact) / "config.json").read_text())["weights_sha256"]
    settings = [source, asdict(cfg.train), cfg.data.max_tokens, cfg.seed, epochs, valid_fraction]
    h.update(json.dumps(settings).encode())
    for t in titles:
        h.update("\x1f".join(t).encode() + b"\0")
    return h.hexdigest()[:16]


def adaptation_summary(artifact: str | Path) -> dict:
    """The "adaptation" record of an adapted artifact ({} when there is none)."""
    path = Path(artifact) / "config.json"
    if not path.exists():
        return {}
    return json.loads(path.read_text()).get("extra", {}).get("adaptation", {})


def adaptation_table(before: Sequence[dict], after: Sequence[dict], info: dict) -> pd.DataFrame:
    """Held-out title perplexity and dev scores (mean ± std) of the original vs the adapted biLM."""
    rows = {}
    arms = (
        ("original biLM", before, info["valid_before"]),
        ("adapted to YNAT train titles", after, info["valid_after"]),
    )
    for label, runs, ppl in arms:
        f1, acc = mean_std([r["macro_f1"] for r in runs]), mean_std([r["accuracy"] for r in runs])
        rows[label] = {"title valid ppl": ppl["ppl"], "dev macro-F1": f1["mean"], "± (std)": f1["std"],
                       "dev accuracy": acc["mean"], "± std": acc["std"], "runs": f1["n"]}  # fmt: skip
    return pd.DataFrame(rows).T.round(2)
