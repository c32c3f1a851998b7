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
# # 01 · The data: Korean petitions, Korean Wikipedia and KLUE YNAT
#
# What the biLM reads (six months of Blue House petitions, CC0; optionally a share of Korean
# Wikipedia, CC BY-SA 3.0) and what ELMo is measured on (KLUE YNAT topic classification, CC BY-SA 4.0). Every number below is computed from the files
# in `$ELMO_DATA`, verified against `SHA256SUMS` before use. Run it with
# `make reproduce PROFILE=tiny` (seconds) or open it in JupyterLab.

# %% tags=["parameters"]
from elmo.core.config import profile_from_env

profile = profile_from_env()  # $ELMO_PROFILE, else "cpu"; papermill's `profile` parameter overrides it

# %%
import dataclasses
import json

from elmo.core.config import get_config
from elmo.core.figures import save_figure
from elmo.core.runs import run_dir, seed_everything, write_run_info
from elmo.data import readers
from elmo.data.corpus import dedupe, load_corpus, settings_of, tokenize_cached
from elmo.data.results import DataStats
from elmo.data.stats import (
    char_coverage,
    char_coverage_figure,
    corpus_table,
    coverage_by_source,
    label_counts,
    label_figure,
    mix_sources,
    oov_curve,
    oov_figure,
    sentence_length_figure,
    token_counts,
    zipf_figure,
)
from elmo.data.text import Tokenizer

cfg = get_config(profile)
seed_everything(cfg.seed)
out = run_dir(profile)
write_run_info(out / "01_data", cfg)
print(cfg.data)

# %% [markdown]
# ## Petitions
# The corpus is read whole (its counts are facts of the files); the `tiny` profile then
# tokenizes only its first petitions. Re-posted petitions (the same body under another id) are
# kept once, so no text sits on both sides of the split. Sentences come from kiwipiepy's
# splitter, tokens are kiwipiepy morphemes, and the split is by petition (a hash of its id),
# about 90/5/5.

# %%
petitions = readers.read_petitions()
corpus = load_corpus(cfg.data)
stats = DataStats(
    petitions=len(petitions),
    petitions_unique=len(dedupe(petitions)),
    characters=sum(len(p.title) + len(p.content) for p in petitions),
    corpus_petitions=corpus.petitions,
    sentences={s: len(corpus.split(s)) for s in ("train", "valid", "test")},
    tokens={s: corpus.n_tokens(s) for s in ("train", "valid", "test")},
)
stats

# %%
lengths = {s: [len(x) for x in corpus.split(s)] for s in ("train", "valid", "test")}
fig = sentence_length_figure(lengths, cfg.data.max_tokens)
save_figure(fig, "01_sentence_length", cfg)
fig

# %%
train_counts = token_counts(corpus.train)
fig = zipf_figure(train_counts)
save_figure(fig, "01_zipf", cfg)
fig

# %% [markdown]
# ## The corpus mix: petitions and Korean Wikipedia
# A corpus is a list of sources (`cfg.data.sources`). Shown here: the profile's sources when it
# has several, else the candidate mix that `python -m elmo.corpus_mix` measures against the
# petitions alone (the petitions plus a 10 M-character share of Korean Wikipedia, the oldest
# articles first). Each source's documents are cleaned (for Wikipedia: the title line the
# extractor repeats and the empty parentheses removed templates leave), de-duplicated across
# sources and split by document; the table counts what was kept and what was dropped.

# %%
mix = load_corpus(dataclasses.replace(cfg.data, sources=mix_sources(cfg.data.sources)))
mix_table = corpus_table(mix)
mix_table.T

# %%
fig = sentence_length_figure({src: [len(x) for x in mix.split("train", src)] for src in mix.sources}, cfg.data.max_tokens)
save_figure(fig, "01_source_lengths", cfg)
fig

# %% [markdown]
# ## OOV rate against vocabulary size
# A vocabulary of the *n* most frequent train tokens, measured on the held-out petitions and on
# YNAT dev headlines (news, a different domain) tokenized the same way. The char-CNN reads the
# spelling of every token, so OOV here costs the softmax, not the input.

# %%
ynat = {split: readers.read_ynat(split) for split in ("train", "dev")}
dev_tokens = tokenize_cached([h.text for h in ynat["dev"]], settings_of(cfg.data))
curve = oov_curve(train_counts, {"petitions valid": corpus.valid, "petitions test": corpus.test, "YNAT dev": dev_tokens})
fig = oov_figure(curve, chosen=cfg.data.max_vocab)
save_figure(fig, "01_oov", cfg)
fig

# %% [markdown]
# ## Which source's words do the evaluation sets use?
# Share of running tokens of YNAT dev and of the two probing sets (KLUE-DP and KLUE-NER dev,
# tokenized the same way) inside a vocabulary of the profile's size made of each source's most
# frequent training tokens, and of all sources together.

# %%
probe_tokens = {name: tokenize_cached([" ".join(s.words) for s in rows], settings_of(cfg.data))
                for name, rows in (("KLUE-DP dev", readers.read_klue_dp()), ("KLUE-NER dev", readers.read_klue_ner()))}
coverage_table = coverage_by_source(mix, {"YNAT dev": dev_tokens, **probe_tokens}, top=cfg.data.max_vocab)
coverage_table

# %%
coverage = char_coverage(train_counts, Tokenizer(settings_of(cfg.data)).chars)
fig = char_coverage_figure(coverage, cfg.data.char_unit)
save_figure(fig, "01_char_coverage", cfg)
fig

# %% [markdown]
# ## KLUE YNAT: train and dev are not alike
# Dev is dominated by 사회 (society); train is closer to balanced. Accuracy would reward
# predicting 사회, which is why macro-F1 is the metric.

# %%
labels = {split: label_counts(rows) for split, rows in ynat.items()}
fig = label_figure(labels["train"], labels["dev"])
save_figure(fig, "01_ynat_labels", cfg)
fig

# %%
stats.ynat = {split: {"rows": len(rows), "labels": dict(zip(readers.YNAT_LABELS, labels[split]))} for split, rows in ynat.items()}
stats.oov = curve
stats.chars = coverage["n_chars"]
stats.mix = mix_table.reset_index().to_dict("records")
stats.coverage = coverage_table.to_dict()
stats.write(out)
print(json.dumps(stats.ynat, ensure_ascii=False, indent=1))
