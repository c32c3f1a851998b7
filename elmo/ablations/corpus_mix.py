"""What more text buys: the same biLM, the same pretraining minutes, petitions only vs petitions + Wikipedia.

    python -m elmo.corpus_mix --profile cpu [--arms petitions petitions+wiki] [--minutes 14] [--stage ...]

Each arm (a named corpus of `elmo.core.sources.CORPORA`) pretrains the profile's biLM for the
same wall-clock budget (`TrainConfig.max_minutes`, validated every `VALID_EVERY` steps on the
arm's own valid split, the best such checkpoint kept), in `runs/<profile>-mix-<arm>/`. Then:

* perplexity on the same held-out documents for both arms: the petitions' valid/test (the same
  petitions in every arm: split by petition id, petitions read first) and Wikipedia's valid/test
  of the largest arm, per direction, beside a Kneser–Ney 3-gram fitted on that arm's training
  tokens with its vocabulary, and the share of held-out tokens outside that vocabulary (<unk>
  targets are easier to predict: a perplexity is comparable across arms only beside its OOV);
* YNAT: 03's protocol for the main model (ELMo at input and output), its seeds, selection on the
  train holdout, scored on the full dev set, singly and as a seed ensemble.

`preferred` picks the arm by mean *holdout* macro-F1 (never dev), which decides the cpu default.
Writes `runs/<profile>/corpus_mix.json` (README table via `python -m elmo.results --readme`).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Sequence

import numpy as np
from matplotlib.figure import Figure

from elmo.bilm.datamodule import EncodedSentences
from elmo.bilm.evaluate import ngram_by_source
from elmo.bilm.model import BiLM
from elmo.bilm.train import evaluate, pretrain
from elmo.core.config import Config, get_config
from elmo.core.runs import REPO, run_dir
from elmo.core.sources import CORPORA
from elmo.data.batching import BucketBatchSampler
from elmo.data.corpus import Corpus, load_corpus
from elmo.data.stats import oov_rate
from elmo.embed.layer_cache import LayerCache
from elmo.ynat.data import YnatData
from elmo.ynat.ensemble import scored, seed_probabilities
from elmo.ynat.jobs import Job, run_jobs
from elmo.ynat.train import resolve_variant, summarize

ARMS = ("petitions", "petitions+wiki")
VALID_EVERY = 200  # optimizer steps between validations (an epoch of the larger arm outlasts the budget)
FILE = "corpus_mix.json"


def arm_config(profile: str, arm: str, minutes: float) -> Config:
    """The profile's biLM and training, on the arm's corpus, for `minutes` of wall clock."""
    # Epochs and patience out of the way: the clock alone ends both arms.
    return get_config(profile, data={"sources": CORPORA[arm]}, train={"max_minutes": minutes, "max_epochs": 50,
                                                                      "patience": 1000})  # fmt: skip


def arm_home(profile: str, arm: str) -> Path:
    return REPO / "runs" / f"{profile}-mix-{arm.replace('+', '-')}"


def tokenize(profile: str, arms: Sequence[str] = ARMS) -> dict[str, float]:
    """Each arm's corpus read and tokenized (or read back from the cache): seconds per arm."""
    seconds = {}
    for arm in arms:
        t0 = time.perf_counter()
        load_corpus(arm_config(profile, arm, 1).data)
        seconds[arm] = time.perf_counter() - t0
    return seconds


def pretrained(profile: str, arm: str, minutes: float) -> Path:
    """The arm's biLM, trained for `minutes` (or reused when that exact run finished before)."""
    cfg = arm_config(profile, arm, minutes)
    return pretrain(cfg, out=arm_home(profile, arm), val_check_interval=VALID_EVERY, check_val_every_n_epoch=None)


def held_out(corpora: dict[str, Corpus]) -> dict[str, dict[str, list]]:
    """{source: {split: sentences}}: every source's non-empty valid/test split, from the arm that
    has the most sources."""
    widest = max(corpora.values(), key=lambda c: len(c.sources))
    return {src: {s: widest.split(s, src) for s in ("valid", "test") if widest.split(s, src)} for src in widest.sources}


def perplexity_on(model: BiLM, sentences: list, batch_size: int = 128) -> dict[str, float]:
    """Held-out perplexity per direction of `model` on tokenized sentences (its own vocabulary)."""
    ds = EncodedSentences(sentences, model.encoder)
    sampler = BucketBatchSampler(ds.lengths(), batch_size, shuffle=False)
    loader = [ds.collate([ds[i] for i in batch]) for batch in sampler]
    return evaluate(model.float().eval(), loader)


def perplexities(artifact: Path, corpus: Corpus, sets: dict) -> dict:
    """The biLM, the n-gram on the arm's training tokens, and the OOV share, per source and split."""
    model = BiLM.from_pretrained(artifact)
    vocab = set(model.encoder.tokens.itos)
    ngram = ngram_by_source(corpus.train, sets, model.encoder, order=3)
    return {src: {s: {"biLM": perplexity_on(model, sents), "ngram3": ngram[src][s], "oov": oov_rate(vocab, sents)}
                  for s, sents in splits.items()} for src, splits in sets.items()}  # fmt: skip


def ynat(profile: str, arm: str, artifact: Path, data: YnatData) -> dict:
    """03's main model over its seeds on the arm's biLM: dev macro-F1 (holdout-selected) and ensemble."""
    cfg = get_config(profile)
    cached = data.with_cache(LayerCache.build(artifact, data.tokens, cache_root=run_dir(profile, "cache")))
    out = arm_home(profile, arm)
    variant = resolve_variant(cfg.finetune.models[cfg.finetune.main_model])
    runs = run_jobs(cfg, cached, [Job(variant, s) for s in cfg.finetune.seeds], out, logger=False)
    ensemble = scored(cached, seed_probabilities(cached, out / "ynat", runs))
    return {
        "model": cfg.finetune.main_model,
        "dev_macro_f1": summarize(runs),
        "holdout_macro_f1": summarize(runs, "holdout_macro_f1"),
        "ensemble": {k: ensemble[k] for k in ("macro_f1", "accuracy", "holdout_macro_f1")},
        "finetune_minutes": sum(r["wall_seconds"] for r in runs) / max(1, cfg.finetune.workers) / 60,
    }


def pretrain_record(artifact: Path, corpus: Corpus) -> dict:
    extra = json.loads((Path(artifact) / "config.json").read_text())["extra"]
    r = extra["results"]
    return {"minutes": r["train_seconds"] / 60, "epochs": r["epochs"], "steps": r["global_step"],
            "train_tokens": corpus.n_tokens("train"), "documents": corpus.documents, "valid_ppl": r["valid"]["ppl"],
            "max_minutes": extra["config"]["train"]["max_minutes"]}  # fmt: skip


def preferred(rows: dict) -> str:
    """The arm with the higher mean YNAT holdout macro-F1 (the train holdout: never dev)."""
    return max(rows, key=lambda arm: rows[arm]["ynat"]["holdout_macro_f1"]["mean"])


def read(profile: str) -> dict:
    path = run_dir(profile) / FILE
    return json.loads(path.read_text()) if path.exists() else {}


def write(profile: str, record: dict) -> Path:
    path = run_dir(profile) / FILE
    path.write_text(json.dumps(record, indent=1, ensure_ascii=False, default=float))
    return path


def mix_figure(record: dict) -> Figure:
    """Left: test perplexity per source (biLM, and the 3-gram dashed) per arm. Right: YNAT dev
    macro-F1 per arm, each seed a dot, the seed ensemble a cross."""
    arms = [a for a in record["arms"] if "ynat" in record["arms"][a]]
    fig = Figure(figsize=(10, 3.8))
    ax1, ax2 = fig.subplots(1, 2)
    sources = list(record["arms"][arms[0]]["perplexity"])
    x = np.arange(len(sources))
    width = 0.8 / len(arms)
    for i, arm in enumerate(arms):
        ppl = record["arms"][arm]["perplexity"]
        b = [np.sqrt(ppl[s]["test"]["biLM"]["forward_ppl"] * ppl[s]["test"]["biLM"]["backward_ppl"]) for s in sources]
        n = [np.sqrt(ppl[s]["test"]["ngram3"]["forward_ppl"] * ppl[s]["test"]["ngram3"]["backward_ppl"]) for s in sources]
        pos = x + (i - (len(arms) - 1) / 2) * width
        ax1.bar(pos, b, width, label=f"biLM, {arm}", color=f"C{i}")
        ax1.scatter(pos, n, marker="_", s=600, color="k", zorder=3, label="3-gram, same tokens" if i == 0 else None)
        for p, v in zip(pos, b):
            ax1.annotate(f"{v:.0f}", (p, v), ha="center", va="bottom", fontsize=9)
        f1 = record["arms"][arm]["ynat"]
        ax2.scatter([i] * len(f1["dev_macro_f1"]["values"]), f1["dev_macro_f1"]["values"], color=f"C{i}", zorder=3)
        ax2.errorbar([i], [f1["dev_macro_f1"]["mean"]], yerr=[f1["dev_macro_f1"]["std"]], fmt="o", color="k", capsize=6)
        ax2.scatter([i], [f1["ensemble"]["macro_f1"]], marker="x", s=80, color="k")
    ax1.set_xticks(x, [f"{s} test" for s in sources])
    ax1.set(ylabel="perplexity (geometric mean of directions)", title=f"Same minutes ({record['minutes']:g}), held-out text")
    ax1.set_ylim(0, 1.35 * ax1.get_ylim()[1])  # room for the legend above the bars
    ax1.legend(frameon=False, fontsize=8, loc="upper left", ncol=2)
    ax2.set_xticks(range(len(arms)), arms)
    ax2.set(ylabel="YNAT dev macro-F1", title="ELMo (input + output): seeds, mean ± std, ensemble (x)")
    ax2.set_xlim(-0.6, len(arms) - 0.4)
    return fig
