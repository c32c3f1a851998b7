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
# # 04 · Ablations: γ, layer weights, λ, placement, data size, domain adaptation
#
# Each variant changes one thing of the main ELMo model of `03_finetune` (learned softmax
# weights s_j, learned γ, λ = 0.001 on the raw weights, ELMo at the task biLSTM's input):
# γ fixed at 1; the uniform average, the last layer only, or each single layer (0 = the
# char-CNN, 1, 2 = last); λ = 1; ELMo at the input and the output. Two more rows start the
# task's token embedding x_k from GloVe vectors (trained on the petitions, `elmo.embed.glove`)
# instead of at random, without and with ELMo: the paper's baselines start from GloVe. One
# gives the no-ELMo model the biLM's char-CNN token vectors (layer 0) beside its own x_k. Two
# drop the character n-grams from x_k (the task's token embedding alone), without and with ELMo.
#
# **Protocol** (as in 03): epochs selected on the fixed, stratified 10 % holdout of YNAT train;
# macro-F1 ×100 and accuracy over the full dev set, scored once per run; every variant over the
# profile's seeds (mean ± std). The biLM is frozen and its layers come from the cache that 03
# built, so only the small task models train here.

# %% tags=["parameters"]
from elmo.core.config import profile_from_env

profile = profile_from_env()  # $ELMO_PROFILE, else "cpu"; papermill's `profile` parameter overrides it

# %%
import time

from elmo.ablations.adaptation import adaptation_summary, adaptation_table, task_data
from elmo.ablations.efficiency import (
      efficiency_table,
      sample_efficiency,
      sample_efficiency_figure,
      subsample_fit,
)
from elmo.ablations.grid import (
      GRID,
      MAIN,
      PAIRS,
      ablation_figure,
      ablation_table,
      grid_seconds,
      learned_weights,
      reuse_finetune_runs,
      weights_heatmap_figure,
)
from elmo.ablations.results import AblationResults
from elmo.ablations.significance import paired, paired_figure, paired_table
from elmo.bilm.train import pretrain
from elmo.core.config import get_config
from elmo.core.figures import save_figure
from elmo.core.runs import run_dir, seed_everything
from elmo.embed.glove import glove_vectors
from elmo.embed.layer_cache import LayerCache
from elmo.ynat.data import YnatData
from elmo.ynat.jobs import run_grid

t_start = time.perf_counter()
cfg = get_config(profile)
seed_everything(cfg.seed)
out = run_dir(profile)
seeds = cfg.finetune.seeds
print(f"seeds {seeds}; {cfg.finetune}")

# %%
artifact = pretrain(cfg)  # the biLM of 02_pretrain (reused, not retrained)
data = YnatData.load(cfg)
cache = LayerCache.build(artifact, data.tokens, cache_root=run_dir(profile, "cache"))  # 03's cache: same key
static = glove_vectors(cfg)  # 03's GloVe (reused), for the x_k "glove" rows
data = data.with_cache(cache).with_static(static)
print(f"{len(data.fit):,} fit / {len(data.holdout):,} holdout / {len(data.dev):,} dev headlines")

# %% [markdown]
# ## The grid
# Fourteen variants (`elmo.ablations.grid.GRID`), each over every seed. Run folders are `ynat/abl-*`.
#
# **Budget.** One run of 03's task model on all 41k fit headlines takes several minutes on 2
# cores; 27 of them would take hours. The grid therefore trains on a fixed, stratified share of
# the fit rows (`FinetuneConfig.ablation_fraction`; the holdout that selects epochs and the dev
# set that scores them are unchanged). Absolute scores are lower than 03's, and ELMo's margin
# larger, because less labelled data is used; the sample-efficiency section below places the
# grid's data size between 1 % and all of it.

# %%
fraction = cfg.finetune.ablation_fraction
grid_data = subsample_fit(data, fraction)
print(f"grid trains on {len(grid_data.fit):,} of {len(data.fit):,} fit headlines ({fraction:g})")
results = run_grid(cfg, grid_data, GRID, seeds)
table = ablation_table(results)
print(f"grid: {len(results)} variants x {len(seeds)} seeds, {grid_seconds(results) / 60:.1f} min "
      f"of training summed over runs ({cfg.finetune.workers} side by side); "
      f"wall time so far {(time.perf_counter() - t_start) / 60:.1f} min")
table

# %%
fig = ablation_figure(results, title=f"YNAT dev macro-F1: ablations ({profile} profile)")
save_figure(fig, "04_ablations", cfg)
fig

# %% [markdown]
# ## Paired comparisons across seeds
# Both variants of a pair ran with the same seeds (same initialisation stream, same batch order),
# so differences are taken seed by seed: mean ± std of the differences and a paired t-test
# (`scipy.stats.ttest_rel`). With n = 3 seeds the test has 2 degrees of freedom: only a large,
# consistent difference gets a small p, and a large p is no evidence that two variants are equal.

# %%
paired_table(results)

# %%
fig = paired_figure(results, title=f"Paired differences in dev macro-F1, seed by seed ({profile} profile)")
save_figure(fig, "04_paired", cfg)
fig

# %% [markdown]
# ## The learned layer weights
# The softmax-normalised s_j of every variant that learns them, per seed (the paper's Figure 2,
# for YNAT); the row label gives γ. λ = 1 pulls the raw weights towards 0, i.e. s_j towards uniform.

# %%
learned = learned_weights(results)  # variants whose s_j are learned, not fixed by design
fig = weights_heatmap_figure(learned, title=f"Learned layer weights s_j, YNAT ({profile})")
save_figure(fig, "04_layer_weights", cfg)
fig

# %% [markdown]
# ## Sample efficiency
# Macro-F1 against the fraction of the *fit* rows used (stratified, fixed seed, nested; holdout
# and dev unchanged; the task vocabulary stays the one of the full fit set — see
# `subsample_fit`), with ELMo (at input and output, 03's main model) and without, and TF-IDF + LR
# trained on the same rows (C chosen on the holdout): a learning curve over task data that shows
# where ELMo's gain goes as labelled data grows, and at which size a bag of n-grams catches up
# with the biLSTM. The grid's fraction
# reuses the grid's runs; the 100 % points are 03's runs when 03 ran with exactly these settings
# and biLM (else they are trained here).
#
# A fixed number of *epochs* would starve the smallest fraction of optimizer steps (at 1 %:
# 2 batches an epoch, ~20 steps in all) and measure undertraining instead. So fractions below
# the grid's train for as many **steps** as the grid's runs: k epochs of the small set count as
# one (`step_schedule`), and the holdout is checked every k epochs.

# %%
from_03 = reuse_finetune_runs(out, cfg, artifact)
print("100 % runs reused from 03_finetune:", list(from_03) or "none (03 has not run with these settings)")
known = {1.0: from_03, fraction: results}  # the grid's own runs win when its fraction is 1
fractions = sorted({*cfg.finetune.efficiency_fractions, fraction})
efficiency = sample_efficiency(cfg, data, fractions, seeds, known=known, equal_steps_as=fraction)
efficiency_table(efficiency)

# %%
fig = sample_efficiency_figure(efficiency, title=f"YNAT dev macro-F1 vs training data ({profile})")
save_figure(fig, "04_sample_efficiency", cfg)
fig

# %% [markdown]
# ## Domain adaptation
# The biLM continues its LM training on YNAT *train* titles (text only; dev is never read) for
# `FinetuneConfig.adapt_epochs` epochs (`elmo.ablations.adaptation.task_data`: trained on the
# first run, reused by later ones and by any 03 row or `elmo.jobs` run that reads it), reading
# the same token ids as the original; 5 % of the titles are held out for perplexity and for the
# epoch kept. Then its layers are cached again and the main configuration reruns over the same
# seeds, on the grid's rows, so the change is paired against the grid's main runs.

# %%
adapted_data = task_data(cfg, artifact, data, [{"bilm": "adapted"}], out)["adapted"]  # trained once, then reused
info = adaptation_summary(adapted_data.cache.meta["bilm_dir"])
main_adapted = {"main_adapted": {**GRID[MAIN], "name": "abl-main-adapted"}}
adapted_runs = run_grid(cfg, subsample_fit(adapted_data, fraction), main_adapted, seeds)["main_adapted"]
adaptation_table(results[MAIN], adapted_runs, info)

# %%
change = paired(adapted_runs, results[MAIN])
print(f"adapted − original, dev macro-F1 per seed: {[round(d, 2) for d in change['diffs']]}")
print(f"mean {change['mean']:+.2f} ± {change['std']:.2f}; paired t p = {change['p']:.3f}, n = {change['n']}")

# %%
total = time.perf_counter() - t_start
print(f"measured wall time of this notebook: {total / 60:.1f} min ({profile} profile, {len(seeds)} seed(s))")
AblationResults(
    runs=results,
    paired={key: paired(results[a], results[b]) for key, (a, b) in PAIRS.items()},
    sample_efficiency=efficiency.to_dict(orient="records"),
    adaptation={"info": info, "runs": adapted_runs, "change": change},
    seconds={"grid": grid_seconds(results), "total": total},
    grid_fraction=fraction,
    grid_fit_rows=len(grid_data.fit),
    equal_steps_as=fraction,
).write(out)
table
