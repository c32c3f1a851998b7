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
# # 02 · Pretraining the biLM on petitions (and whatever else the profile's corpus holds)
#
# The biLM of Peters et al. (2018): a character-CNN token encoder (highway layers, linear
# projection), **separate** forward and backward stacks of LSTMs, each layer projected back to the
# token size (the paper's LSTMP on `gpu`; on `cpu` an LSTM with its projection outside the recurrence,
# which oneDNN runs in bf16: `elmo/bilm/recurrence.py`), a residual connection between layers, and one
# softmax shared by both directions. The forward
# LM predicts token *t+1* from tokens ≤ *t*; the backward LM predicts *t−1* from tokens ≥ *t*
# (the seed's single `bidirectional=True` LSTM let both read their target: `tests/bilm/test_model.py`).
# A training window is one sentence, as ELMo later reads a headline; with
# `DataConfig.context="document"` it holds a document's consecutive sentences instead (up to
# `max_tokens`, `<eos>` between them), and the table below scores that biLM both ways.
#
# Training runs once per config: a rerun reuses the saved artifact, and an interrupted run
# resumes from its last checkpoint at the same step with the same optimizer state.

# %% tags=["parameters"]
from elmo.core.config import profile_from_env

profile = profile_from_env()  # $ELMO_PROFILE, else "cpu"; papermill's `profile` parameter overrides it

# %%
import json

from elmo.bilm.evaluate import (
      held_out_sets,
      learning_curve_figure,
      nearest_neighbours,
      ngram_by_source,
      perplexity_figure,
      perplexity_table,
      read_metrics,
      source_perplexity_figure,
      source_perplexity_table,
)
from elmo.bilm.model import BiLM
from elmo.bilm.results import PretrainResults
from elmo.bilm.train import pretrain
from elmo.core.config import get_config
from elmo.core.figures import save_figure
from elmo.core.runs import run_dir, seed_everything
from elmo.data.corpus import load_corpus

cfg = get_config(profile)
seed_everything(cfg.seed)
print(cfg.model, cfg.train, sep="\n")

# %%
artifact = pretrain(cfg)
bilm = BiLM.from_pretrained(artifact)
results = bilm.extra["results"]
print(f"{sum(p.numel() for p in bilm.parameters()) / 1e6:.1f} M parameters, "
      f"{results['epochs']} epochs, {results['global_step']} steps in {results['train_seconds'] / 60:.1f} min")

# %% [markdown]
# ## Learning curves
# Training perplexity is per batch with dropout on; held-out perplexity is on the valid
# petitions (181 petitions never trained on), each direction separately.

# %%
metrics = read_metrics(run_dir(profile, "pretrain", "logs"))
fig = learning_curve_figure(metrics)
save_figure(fig, "02_learning_curves", cfg)
fig

# %% [markdown]
# ## Held-out perplexity beside a count-based reference
# Perplexity per predicted token, pads excluded: the forward LM predicts every token and `<eos>`,
# the backward LM every token and `<bos>`. Tokens outside the vocabulary are `<unk>` targets
# for both models. The reference is an interpolated modified Kneser–Ney trigram fitted on the
# same training sentences, with the same vocabulary and the same predicted tokens (a window of
# several sentences predicts exactly what its sentences do one by one). One fit scores the pooled
# held-out sentences ("all") and each source's own.

# %%
corpus = load_corpus(cfg.data, progress=False)
ngram_sources = ngram_by_source(corpus.train, {"all": {"valid": corpus.valid, "test": corpus.test}, **held_out_sets(corpus)},
                                bilm.encoder, order=3)
ngram = ngram_sources.pop("all")
table = perplexity_table(results, ngram, order=3)
table

# %%
fig = perplexity_figure(table)
save_figure(fig, "02_perplexity", cfg)
fig

# %% [markdown]
# ## Per source
# The same two models on each source's own held-out documents (for the `cpu` default only the
# petitions; with a Wikipedia share, its valid and test articles too).

# %%
source_table = source_perplexity_table(results, ngram_sources, order=3)
source_table

# %%
fig = source_perplexity_figure(source_table)
save_figure(fig, "02_perplexity_by_source", cfg)
fig

# %% [markdown]
# ## What the token encoder learned
# Nearest neighbours (cosine) of a few tokens among the 5,000 most frequent, by their layer-0
# vectors. Layer 0 sees only the spelling, so neighbours share characters *and* roles.

# %%
queries = ["정부", "대통령", "학교", "아이", "청원", "국민", "경찰", "했", "습니다", "부동산"]
neighbours = nearest_neighbours(bilm, [q for q in queries if q in bilm.encoder.tokens])
neighbours

# %%
summary = PretrainResults(biLM=results, ngram3=ngram, parameters=sum(p.numel() for p in bilm.parameters()),
                          vocab=len(bilm.encoder.tokens), chars=len(bilm.encoder.chars),
                          ngram3_sources=ngram_sources, corpus=corpus.documents)
summary.write(run_dir(profile))
print(json.dumps({k: summary.biLM[k] for k in ("valid", "test")}, indent=1))
