# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 06 · What each layer knows: linear probes for POS and named entities
#
# Peters et al. (2018, §5.3, Tables 5–6) probe each biLM layer with a simple classifier: the
# **first** biLSTM layer was best for POS tagging, the **second** (top) layer for word sense
# disambiguation — lower layers syntactic, higher layers more semantic. Here the same question
# for the Korean biLM of `02_pretrain`, on
#
# * **POS**: KLUE-DP dev, one reduced tag per eojeol (its first content morpheme's tag);
# * **NER**: KLUE-NER dev, the entity type of each eojeol (PS, LC, OG, DT, TI, QT) or O.
#
# **Features** of an eojeol: layer 0 (the char-CNN token layer), layer 1 and layer 2 (the
# biLSTMs), the ELMo mix γ Σ s_j h_j with the s_j and γ learned by 03's main YNAT model (its input mix),
# GloVe trained on the same petition tokens (`elmo.embed.glove`), and a **control**: the same mix of a
# randomly initialised biLM of the same shape reading through the same character vocabulary —
# what the architecture gives without any language-model training.
#
# **Alignment.** KLUE sentences are eojeols, the biLM reads kiwipiepy morphemes. Each eojeol is
# tokenized on its own (so each morpheme belongs to exactly one eojeol), the biLM reads all
# morphemes of the sentence at once (every vector is in context), and an eojeol is the mean of
# its morphemes' vectors. GloVe: the mean of its in-vocabulary morphemes, a zero vector if none.
#
# **Protocol.** A linear probe (features standardised on the training folds, multinomial logistic
# regression, C = 1 for every feature), k-fold over *sentences* (no sentence is split between
# training and test), accuracy and macro-F1 ×100, mean ± std over folds. Macro-F1 averages over
# the classes with enough gold eojeols in the sample (rare POS tags are listed below); for NER it
# is reported twice: over all labels including O, and over the six entity types without O
# ("entity macro-F1": O is three quarters of all eojeols). These are per-eojeol scores, not KLUE's
# span-level entity F1. To keep the notebook at minutes, each task probes a seeded sample of its
# sentences (sizes printed below).

# %% tags=["parameters"]
from elmo.core.config import profile_from_env

profile = profile_from_env()  # $ELMO_PROFILE, else "cpu"; papermill's `profile` parameter overrides it

# %%
import time
from dataclasses import asdict

import torch

from elmo.bilm.train import pretrain
from elmo.core.config import get_config
from elmo.core.figures import save_figure
from elmo.core.runs import run_dir, seed_everything
from elmo.data.corpus import settings_of
from elmo.data.readers import read_klue_dp, read_klue_ner
from elmo.data.text import Tokenizer
from elmo.embed.elmo import Elmo
from elmo.embed.glove import glove_vectors
from elmo.probing.align import align_sentences
from elmo.probing.features import learned_mix, random_bilm, task_features
from elmo.probing.probes import probe_task
from elmo.probing.report import (
    layer_verdict,
    metric_names,
    paired_difference,
    results_figure,
    results_table,
)
from elmo.probing.results import ProbeResults
from elmo.probing.tasks import CONTROL, GLOVE, MIX, feature_label, make_task

t_start = time.perf_counter()
# One thread: on a shared 2-core machine two torch threads waiting on each other made the biLM
# 4-8x slower (measured here: 1.2 s vs 5-10 s for 300 sentences); one thread takes seconds.
torch.set_num_threads(1)
cfg = get_config(profile)
seed_everything(cfg.seed)
out = run_dir(profile)
settings = cfg.probe  # ProbeConfig of the profile
settings

# %% [markdown]
# ## The models: the trained biLM, its random twin, GloVe, and the learned mix

# %%
artifact = pretrain(cfg)  # the biLM of 02_pretrain (reused, not retrained)
elmo = Elmo(artifact).eval()
control = Elmo(random_bilm(elmo.bilm, seed=cfg.seed)).eval()
static = glove_vectors(cfg)  # trained once on the petitions train split, then reused
tokenizer = Tokenizer(settings_of(cfg.data))
assert tokenizer.settings == elmo.encoder.settings, "the biLM was trained with other tokenizer settings"
mix = learned_mix(out, elmo.num_layers, key=cfg.finetune.probe_model)
print("mix weights from:", mix["source"])
if mix["n_runs"] == 0:
    print("NOTE: 03_finetune has not been run for this profile, so the 'ELMo mix' row and the control use the uniform mix.")
print("s_j =", [round(s, 3) for s in mix["weights"]], " gamma =", round(mix["gamma"], 3),
      "(gamma cannot change a probe on standardised features; it is applied for completeness)")
print(f"GloVe: {len(static):,} words x {static.dim} dims")

# %% [markdown]
# ## Task data and alignment
# One example of the eojeol → morpheme alignment, then the sizes of what is probed.

# %%
readers = {"POS": read_klue_dp, "NER": read_klue_ner}
tasks, aligned, features, oov, timing = {}, {}, {}, {}, {}
for name, reader in readers.items():
    t0 = time.perf_counter()
    sentences = reader()
    tasks[name] = make_task(name, sentences, settings)
    aligned[name] = align_sentences(tasks[name].sentences, tokenizer.tokenize_many)
    features[name], oov[name] = task_features(aligned[name], elmo, control, static, mix, settings.batch_size)
    timing[f"{name} features s"] = time.perf_counter() - t0
    t, a = tasks[name], aligned[name]
    n_morph = sum(len(x.tokens) for x in a)
    print(f"{name}: {len(t.sentences):,} of {len(sentences):,} sentences, {len(t.labels):,} eojeols, "
          f"{n_morph:,} morphemes ({n_morph / len(t.labels):.2f} per eojeol); "
          f"GloVe OOV: {oov[name]['token_oov_rate']:.1f} % of morphemes, "
          f"{oov[name]['word_oov_rate']:.1f} % of eojeols have no known morpheme (zero vector)")
    rare = sorted(set(t.labels) - set(t.f1_labels["macro-F1"]))
    print(f"   macro-F1 over {len(t.f1_labels['macro-F1'])} classes; rarer than {settings.min_class_count} "
          f"(in accuracy only): {rare or 'none'}")

example = aligned["POS"][0]
[(w, example.tokens[s:e]) for w, (s, e) in zip(tasks["POS"].sentences[0], example.spans)]

# %% [markdown]
# ## The probes

# %%
results = {}
for name in tasks:
    t0 = time.perf_counter()
    results[name] = probe_task(tasks[name], features[name], settings)
    timing[f"{name} probes s"] = time.perf_counter() - t0
not_converged = {(t, f): r["not_converged"] for t, fs in results.items() for f, r in fs.items() if r["not_converged"]}
print("folds that hit max_iter:", not_converged or "none")
table = results_table(results)
table

# %%
title = f"Linear probes on KLUE dev ({profile} profile; mean ± std over {settings.folds} sentence folds)"
fig = results_figure(results, title=title)
save_figure(fig, "06_probing", cfg, settings=asdict(settings), mix=mix)
fig

# %% [markdown]
# ## Against the paper's pattern
# Peters et al. (Tables 5–6): for POS the first biLSTM layer beat the second; for WSD, a semantic
# task, the second beat the first. The paper has no NER probe; entity types are closer to the
# semantic end, so the paper's pattern would predict layer 2 ≥ layer 1 there. What our numbers
# say is printed below from the results. Every feature is probed on the same sentence folds, so
# layers are compared fold by fold: the mean and std of the per-fold difference, and in how many
# folds layer 1 won. A difference counts as clear only when it has the same sign in every fold
# and its mean exceeds its std; anything less is reported as not a clear difference.

# %%
paper = {"POS": "layer1", "NER": "layer2"}  # the best biLSTM layer the paper's pattern predicts
headline = {"POS": "accuracy", "NER": "entity macro-F1"}
for task, metrics in metric_names(results).items():
    for metric in metrics:
        expected = paper[task] if metric == headline[task] else None
        print(layer_verdict(results, task, metric, expected)["text"])
print()
for task, metric in headline.items():
    for a, b in (("layer2", CONTROL), (MIX, GLOVE), ("layer1", "layer0")):
        d = paired_difference(results, task, metric, a, b)
        print(f"{task} {metric}: {feature_label(a)} - {feature_label(b)} = {d['mean']:+.1f} ± {d['std']:.1f} "
              f"({d['wins']}/{d['n']} folds higher)")

# %%
timing["total s"] = time.perf_counter() - t_start
ProbeResults(
    results=results,
    tasks={n: {"sentences": len(t.sentences), "eojeols": int(len(t.labels)), "f1_labels": t.f1_labels,
               "glove_oov": oov[n]} for n, t in tasks.items()},
    mix=mix, settings=asdict(settings), timing=timing,
).write(out)
print({k: round(v, 1) for k, v in timing.items()})
table
