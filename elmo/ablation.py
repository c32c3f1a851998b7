"""Ablations of ELMo on YNAT (issue #5): γ, layer weights, λ, placement, data size, domain adaptation.

Every variant is the task model of `elmo.classify` under the finetuning protocol (epochs selected
on the fixed 10 % holdout of train; macro-F1 and accuracy over the full dev set), trained over
several seeds on the cached biLM layers, so only the small task models train here.

    GRID              name -> variant (a `classify.DEFAULT_VARIANT` update)
    paired            seed-matched differences and a paired t-test between two variants
    subsample_fit     a stratified fraction of the `fit` rows (holdout and dev unchanged)
    sample_efficiency macro-F1 against that fraction, with and without ELMo
    adapt_bilm        continue the biLM's LM training on YNAT train titles; a new artifact
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import shutil
import time
import warnings
from dataclasses import asdict
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from elmo import finetune_report
from elmo.bilm import BiLM
from elmo.classify import YnatData, resolve_variant, saved_runs
from elmo.config import Config
from elmo.corpus import Corpus
from elmo.jobs import Job, run_jobs
from elmo.lm_data import EncodedSentences, PetitionsLM
from elmo.metrics import mean_std
from elmo.pretrain import BiLMTask, evaluate, make_trainer
from elmo.runs import seed_everything
from elmo.tokenize import TextEncoder, split_long

MAIN = "ELMo: learned s_j and γ (main)"
NO_ELMO = "no ELMo"
# Each variant names its own run folder ("abl-…"): the λ = 1 variant would otherwise share the
# main variant's derived name, and 03_finetune's checkpoints stay untouched.
# λ = 0.001 is FinetuneConfig.l2_coef, i.e. the main variant. With two biLSTM layers (every
# profile) the single layers are 0 (the char-CNN), 1, and 2 = "last" (index -1).
GRID: dict[str, dict] = {
    NO_ELMO: {"elmo": False, "name": "abl-no-elmo"},
    MAIN: {"elmo": True, "name": "abl-main"},
    "γ fixed at 1": {"elmo": True, "gamma": "fixed", "name": "abl-gamma-fixed"},
    "uniform average": {"elmo": True, "weights": "uniform", "name": "abl-uniform"},
    "last layer only": {"elmo": True, "weights": -1, "name": "abl-last"},
    "layer 0 only (char-CNN)": {"elmo": True, "weights": 0, "name": "abl-layer0"},
    "layer 1 only": {"elmo": True, "weights": 1, "name": "abl-layer1"},
    "λ = 1": {"elmo": True, "l2_coef": 1.0, "name": "abl-l2-1"},
    "input + output": {"elmo": True, "placement": "input_output", "name": "abl-input-output"},
}

# (A, B) pairs compared seed by seed: the difference reported is A − B.
PAIRS: dict[str, tuple[str, str]] = {
    "γ learned − γ fixed": (MAIN, "γ fixed at 1"),
    "learned s_j − uniform": (MAIN, "uniform average"),
    "learned s_j − last layer": (MAIN, "last layer only"),
    "uniform − last layer": ("uniform average", "last layer only"),
    "λ 0.001 − λ 1": (MAIN, "λ = 1"),
    "input+output − input": ("input + output", MAIN),
    "ELMo − no ELMo": (MAIN, NO_ELMO),
}

SAMPLE_SEED = 2024  # which fit rows a fraction keeps; fixed, so every model seed sees the same rows
EFFICIENCY_MODELS = {"with ELMo": MAIN, "without ELMo": NO_ELMO}


# ----------------------------------------------------------------------------- the grid


# 03_finetune's names for the two grid variants it trains with the very same settings.
FINETUNE_NAMES = {MAIN: "biLSTM + ELMo (input)", NO_ELMO: "biLSTM, no ELMo"}


def reuse_finetune_runs(path: Path, cfg: Config, artifact: str | Path) -> dict[str, list[dict]]:
    """The grid's main and no-ELMo runs from 03's `finetune_results.json`, when 03 made them
    with these exact settings and biLM (`classify.saved_runs`); {} otherwise."""
    saved = saved_runs(path, cfg, artifact)
    return {grid_name: saved[name] for grid_name, name in FINETUNE_NAMES.items() if name in saved}


def grid_seconds(results: dict[str, list[dict]]) -> float:
    """Summed wall time of every run in `results`."""
    return float(sum(r.get("wall_seconds", 0.0) for runs in results.values() for r in runs))


def ablation_table(results: dict[str, list[dict]]) -> pd.DataFrame:
    """`finetune_report.results_table` (macro-F1 and accuracy, mean ± std over seeds)."""
    return finetune_report.results_table(results)


def ablation_figure(table: pd.DataFrame, title: str = "YNAT dev macro-F1: ablations") -> Figure:
    """Horizontal bars of dev macro-F1 with std error bars, one per variant."""
    return finetune_report.results_figure(table, title=title)


# ----------------------------------------------------------------------------- paired comparison


def paired(results_a: Sequence[dict], results_b: Sequence[dict], key: str = "macro_f1") -> dict:
    """Seed-matched comparison of two variants: differences A − B and a paired t-test.

    Runs are matched by their "seed"; seeds present on one side only are ignored (listed under
    "unmatched"). With n seeds the test has n − 1 degrees of freedom: at n = 3 only a large,
    consistent difference reaches p < 0.05, and a large p says little.

    # Returns
    {"seeds", "a", "b", "diffs" (lists, by seed), "mean", "std" (ddof=1; 0 for n = 1) of the
    diffs, "n", "t", "p" (scipy.stats.ttest_rel, two-sided; NaN when n < 2 or the diffs are
    all equal), "unmatched"}.
    """
    from scipy.stats import ttest_rel

    a, b = _by_seed(results_a, key), _by_seed(results_b, key)
    seeds = sorted(set(a) & set(b))
    if not seeds:
        raise ValueError(f"no common seeds: {sorted(a)} vs {sorted(b)}")
    xa, xb = np.array([a[s] for s in seeds]), np.array([b[s] for s in seeds])
    diffs = xa - xb
    t = p = math.nan
    if len(seeds) > 1 and np.ptp(diffs) > 0:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            t, p = (float(v) for v in ttest_rel(xa, xb))
    summary = mean_std(diffs)
    unmatched = sorted(set(a) ^ set(b))
    return {
        "seeds": seeds, "a": xa.tolist(), "b": xb.tolist(), "diffs": diffs.tolist(),
        "mean": summary["mean"], "std": summary["std"], "n": len(seeds), "t": t, "p": p,
        "unmatched": unmatched,
    }  # fmt: skip


def _by_seed(results: Sequence[dict], key: str) -> dict[int, float]:
    out: dict[int, float] = {}
    for r in results:
        if r["seed"] in out:
            raise ValueError(f"seed {r['seed']} appears twice")
        out[r["seed"]] = float(r[key])
    return out


def paired_table(
    results: dict[str, list[dict]], pairs: dict[str, tuple[str, str]] = PAIRS, key: str = "macro_f1"
) -> pd.DataFrame:
    """One row per pair present in `results`: per-seed differences, mean ± std, t and p."""
    rows = []
    for label, (a, b) in pairs.items():
        if a in results and b in results:
            c = paired(results[a], results[b], key)
            diffs = ", ".join(f"{d:+.2f}" for d in c["diffs"])
            rows.append({
                "comparison (A − B)": label, "n seeds": c["n"], "per-seed diffs": diffs,
                "mean diff": c["mean"], "std": c["std"], "t": c["t"], "p (paired t)": c["p"],
            })  # fmt: skip
    return pd.DataFrame(rows).set_index("comparison (A − B)").round(3)


# ----------------------------------------------------------------------------- layer weights


def weights_heatmap_figure(results: dict[str, list[dict]], title: str = "Learned layer weights") -> Figure:
    """Heatmap of the softmax layer weights s_j: rows variant × seed (× mix), columns layers 0..L.

    Runs without a mix (no ELMo) are skipped; an input + output model gives two rows per seed.
    Each cell is annotated with s_j; the row label carries γ.
    """
    rows, labels = _weight_rows(results)
    if not rows:
        raise ValueError("no run with ELMo layer weights to show")
    w = np.array(rows)
    fig = Figure(figsize=(1.1 * w.shape[1] + 4.2, 0.36 * len(rows) + 1.4))
    ax = fig.subplots()
    # A fixed 0..1 scale: figures of different runs compare, and a uniform mix reads as pale.
    im = ax.imshow(w, cmap="Blues", vmin=0, vmax=1, aspect="auto")
    for i in range(w.shape[0]):
        for j in range(w.shape[1]):
            color = "white" if w[i, j] > 0.6 else "black"
            ax.text(j, i, f"{w[i, j]:.2f}", ha="center", va="center", fontsize=8, color=color)
    ax.set_xticks(range(w.shape[1]), [f"layer {j}" for j in range(w.shape[1])])
    ax.set_yticks(range(len(labels)), labels, fontsize=8)
    ax.set(title=title)
    ax.grid(False)
    fig.colorbar(im, ax=ax, fraction=0.046, label="s_j")
    return fig


def learned_weights(results: dict[str, list[dict]], grid: dict[str, dict] = GRID) -> dict[str, list[dict]]:
    """The runs of variants whose layer weights s_j are learned (the others' are fixed by design)."""
    return {k: v for k, v in results.items() if k in grid and _learns_weights(grid[k])}


def _learns_weights(variant: dict) -> bool:
    v = resolve_variant(variant)
    return bool(v["elmo"]) and v["weights"] == "learned"


def _weight_rows(results: dict[str, list[dict]]) -> tuple[list[list[float]], list[str]]:
    rows, labels = [], []
    for name, runs in results.items():
        for r in runs:
            for suffix, tag in (("", ""), ("_output", " (output mix)")):
                if r.get(f"mix_weights{suffix}") is not None:
                    rows.append(r[f"mix_weights{suffix}"])
                    labels.append(f"{name}{tag}, seed {r['seed']} (γ={r[f'gamma{suffix}']:.2f})")
    return rows, labels


# ----------------------------------------------------------------------------- sample efficiency


def subsample_fit(data: YnatData, fraction: float, seed: int = SAMPLE_SEED) -> YnatData:
    """A copy of `data` whose `fit` is a stratified `fraction` of its fit rows.

    Per class c, max(1, round(fraction * n_c)) rows are kept: the first ones of a permutation
    drawn with `seed`, so smaller fractions are subsets of larger ones and every class keeps at
    least one example. `holdout`, `dev`, the rows themselves and the LayerCache are unchanged.

    The task vocabulary stays the one built from the full fit set (labels play no part in it).
    This keeps every token id and cache row identical across fractions, so only the number of
    labelled examples varies. Its cost: words seen only in the dropped rows keep untrained
    (random) embeddings instead of mapping to <unk>; both arms, with and without ELMo, share it.
    """
    if not 0.0 < fraction <= 1.0:
        raise ValueError(f"fraction must be in (0, 1], not {fraction}")
    if fraction == 1.0:
        return dataclasses.replace(data)
    rng = np.random.default_rng(seed)
    fit = np.asarray(data.fit)
    labels = np.asarray([data.labels[i] for i in data.fit])
    kept: list[int] = []
    for c in np.unique(labels):  # sorted classes: the draws happen in a fixed order
        rows = fit[labels == c]
        kept += rng.permutation(rows)[: max(1, int(round(fraction * len(rows))))].tolist()
    return dataclasses.replace(data, fit=sorted(kept))


def sample_efficiency(
    cfg: Config,
    data: YnatData,
    fractions: Sequence[float],
    seeds: Sequence[int] | None = None,
    models: dict[str, str] = EFFICIENCY_MODELS,
    known: dict[float, dict[str, list[dict]]] | None = None,
    out_dir: Path | None = None,
    logger: bool = True,
    workers: int | None = None,
    equal_steps_as: float | None = None,
) -> pd.DataFrame:
    """Dev macro-F1 and accuracy per (model, fraction of fit rows, seed): one row per run.

    `models` maps a label to a GRID name. `known` ({fraction: {GRID name: results}}) supplies
    runs trained elsewhere with the same rows, seeds and settings (the grid's, 03's), so they
    are not trained twice. With `equal_steps_as` (a fraction), every smaller fraction trains for
    as many optimizer steps as that one (see `step_schedule`) instead of as many epochs.
    """
    seeds = cfg.finetune.seeds if seeds is None else seeds
    arms, jobs = [], []  # (label, fraction, n_fit, runs or None); the jobs of the arms to train
    n_ref = len(subsample_fit(data, equal_steps_as).fit) if equal_steps_as else 0
    for fraction in fractions:
        sub = subsample_fit(data, fraction)
        schedule = tuple(step_schedule(cfg, len(sub.fit), n_ref).items())
        for label, grid_name in models.items():
            runs = (known or {}).get(fraction, {}).get(grid_name)
            arms.append((label, fraction, len(sub.fit), runs))
            if runs is None:
                variant = {**GRID[grid_name], "name": f"{GRID[grid_name]['name']}-frac{fraction:g}"}
                jobs += [Job(variant, s, tuple(sub.fit), schedule) for s in seeds]
    trained = iter(run_jobs(cfg, data, jobs, out_dir, logger, workers))
    rows = []
    for label, fraction, n_fit, runs in arms:
        runs = runs if runs is not None else [next(trained) for _ in seeds]
        rows += [{"model": label, "fraction": fraction, "n_fit": n_fit, "seed": r["seed"],
                  "macro_f1": r["macro_f1"], "accuracy": r["accuracy"], "epochs": r.get("epochs")}
                 for r in runs]  # fmt: skip
    return pd.DataFrame(rows)


def step_schedule(cfg: Config, n_fit: int, n_ref: int) -> dict:
    """Trainer overrides that give a run on `n_fit` rows the optimizer steps of one on `n_ref`.

    With a fixed number of epochs, a small training set gets few steps (1 % of YNAT: 2 batches
    an epoch), which measures undertraining rather than how much data a model needs. Here k
    epochs of the small set count as one: max_epochs × k epochs, the holdout checked (and early
    stopping's patience counted) every k epochs, with k = ceil(steps per epoch on n_ref / on
    n_fit). {} when n_fit already has at least n_ref's steps per epoch.
    """
    bs = cfg.finetune.batch_size
    k = math.ceil(math.ceil(n_ref / bs) / max(1, math.ceil(n_fit / bs)))
    if k <= 1:
        return {}
    return {"max_epochs": cfg.finetune.max_epochs * k, "check_val_every_n_epoch": k}


def efficiency_table(df: pd.DataFrame) -> pd.DataFrame:
    """Mean ± std of dev macro-F1 per model and fraction (rows: fraction, n_fit; columns: model)."""
    return _efficiency_stats(df).unstack("model").round(2)


def _efficiency_stats(df: pd.DataFrame) -> pd.DataFrame:
    """Mean, std (ddof=1; 0 for one run) and runs of dev macro-F1 per (fraction, n_fit, model)."""
    g = df.groupby(["fraction", "n_fit", "model"], sort=True)["macro_f1"]
    return pd.DataFrame({"mean": g.mean(), "std": g.std(ddof=1).fillna(0.0), "runs": g.size()})


def sample_efficiency_figure(df: pd.DataFrame, title: str = "YNAT dev macro-F1 vs training data") -> Figure:
    """x: fraction of fit rows (log scale), y: macro-F1 mean ± std over seeds; one line per model."""
    fig = Figure(figsize=(6.2, 4.0))
    ax = fig.subplots()
    for label, part in df.groupby("model", sort=False):
        g = part.groupby("fraction")["macro_f1"]
        mean, std = g.mean(), g.std(ddof=1).fillna(0.0)
        ax.errorbar(mean.index, mean.values, yerr=std.values, marker="o", capsize=3, label=label)
    n_fit = df.drop_duplicates("fraction").set_index("fraction")["n_fit"]
    ax.set_xscale("log")
    ax.set_xticks(list(n_fit.index), [f"{f:g}\n({n:,})" for f, n in n_fit.items()])
    ax.set(xlabel="fraction of the fit rows (labelled headlines)", ylabel="dev macro-F1 (mean ± std)")
    ax.set_title(title)
    ax.legend(frameon=False)
    return fig


# ----------------------------------------------------------------------------- domain adaptation


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
    epochs : passes over the training titles (0: nothing trains, the weights are copied).
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
    task = BiLMTask(asdict(bilm.cfg), asdict(cfg.train), bilm.n_tokens, bilm.n_chars)
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
    corpus = Corpus(train=train, valid=valid, test=valid, petitions={})
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
    overrides = {"logger": False, "enable_progress_bar": False, "enable_model_summary": False, **overrides}
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


# ----------------------------------------------------------------------------- README


def ablation_markdown(summary: dict) -> str:
    """The README tables from `ablation_results.json` (for `elmo.results`): mean ± std per
    variant, then the paired differences, sample efficiency and domain adaptation when present."""
    rows = []
    if summary.get("grid_fit_rows"):
        rows += [f"Grid trained on {summary['grid_fit_rows']:,} fit headlines (a stratified "
                 f"{summary['grid_fraction']:g} of them); selection and scoring as in 03.", ""]  # fmt: skip
    rows += ["| variant | runs | dev macro-F1 | dev accuracy |", "|---|---:|---:|---:|"]
    rows += [finetune_report.markdown_row(name, t) for name, t in summary["table"].items()]
    if summary.get("paired"):
        rows += ["", "| paired comparison (A − B), dev macro-F1 | per-seed differences | mean ± std | p (paired t) |",
                 "|---|---|---:|---:|"]  # fmt: skip
        for label, c in summary["paired"].items():
            diffs = ", ".join(f"{d:+.2f}" for d in c["diffs"])
            rows.append(f"| {label} | {diffs} | {c['mean']:+.2f} ± {c['std']:.2f} | {c['p']:.3f} |")
    if summary.get("sample_efficiency"):
        stats = _efficiency_stats(pd.DataFrame(summary["sample_efficiency"]))
        cells = (stats["mean"].round(1).astype(str) + " ± " + stats["std"].round(1).astype(str)).unstack("model")
        rows += ["", "| fraction of train (rows) | " + " | ".join(cells.columns) + " |",
                 "|---|" + "---:|" * len(cells.columns)]  # fmt: skip
        for (fraction, n_fit), r in cells.iterrows():
            rows.append(f"| {fraction:g} ({n_fit:,}) | " + " | ".join(r.values) + " |")
        if summary.get("equal_steps_as"):
            rows += ["", f"Fractions below {summary['equal_steps_as']:g} train for as many optimizer steps "
                     "as the grid's runs (more epochs), not for as many epochs."]  # fmt: skip
    if summary.get("adaptation"):
        a = summary["adaptation"]
        ppl = f"{a['info']['valid_before']['ppl']:.1f} → {a['info']['valid_after']['ppl']:.1f}"
        c = a["change"]
        rows += ["", f"Domain adaptation (biLM further trained on YNAT train titles): held-out title "
                 f"perplexity {ppl}; dev macro-F1 change {c['mean']:+.2f} ± {c['std']:.2f} (paired over "
                 f"{c['n']} seeds, p = {c['p']:.3f})."]  # fmt: skip
    if summary.get("seconds"):
        rows += ["", f"Measured wall time of `04_ablations`: {summary['seconds']['total'] / 60:.1f} min."]
    return "\n".join(rows)
