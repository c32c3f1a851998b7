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
# # 05 · Word senses and the geometry of the biLM's layers
#
# Peters et al. (2018, §5.3, Table 4) show that the biLM's upper layer tells word senses apart:
# the nearest contexts of "play" in layer 2 use "play" in the same sense, while GloVe's nearest
# *words* mix the senses. Here the same question for Korean homographs — 배 (ship / pear / belly),
# 눈 (eye / snow), 말 (speech / horse / end), 차 (car / tea), 밤 (night / chestnut), 다리 (leg /
# bridge) — in the petitions and in YNAT headlines; then the geometry of each layer after
# Ethayarajh (2019): anisotropy (how similar two *random* token vectors are) and self-similarity
# (how similar the vectors of one word are across its contexts).
#
# **What the tokens are.** The corpus keeps kiwipiepy morpheme *forms* without tags, so a token
# such as 말 merges every analysis that spells 말: the noun (speech, horse, end of a period) and
# the auxiliary verb stem of 말다 ("하지 말고"); 차 also covers the counter "N차" and the verb 차다;
# 배 is mostly the counter "N배" (times). Longer tokens that contain the syllables (눈물, 기다리,
# 정말) are different tokens and are not counted. Senses are not annotated anywhere, so colours and
# agreement scores use a **proxy**: hand-written rules on neighbouring tokens
# (`elmo.senses.proxy.SENSE_RULES`), which leave an occurrence unlabelled ("?") when no cue fires.

# %% tags=["parameters"]
from elmo.core.config import profile_from_env

profile = profile_from_env()  # $ELMO_PROFILE, else "cpu"; papermill's `profile` parameter overrides it

# %%
import time
from collections import Counter
from dataclasses import asdict

import numpy as np
import pandas as pd
from IPython.display import display

from elmo.bilm.train import pretrain
from elmo.core.config import get_config
from elmo.core.figures import save_figure, save_html
from elmo.core.runs import run_dir, seed_everything
from elmo.data.corpus import load_corpus
from elmo.data.text import Tokenizer
from elmo.embed.elmo import Elmo
from elmo.embed.glove import glove_vectors
from elmo.senses.bank import ContextBank, nearest_context_table, pick_query
from elmo.senses.explorer import Explorer, render, sentence_tokens, show
from elmo.senses.figures import (
    agreement_table,
    geometry_figure,
    occurrences_umap_figure,
    pos_umap_figure,
    umap_2d,
    umap_panels,
)
from elmo.senses.geometry import (
    frequent_words,
    layer_geometry,
    self_similarity,
    static_anisotropy,
    word_self_similarity,
)
from elmo.senses.interactive import occurrence_hovers, occurrences_map, pos_map, projector_tsv
from elmo.senses.occurrences import HOMOGRAPHS, merge_sentences, sentences_with
from elmo.senses.pos import main_pos, petition_tag_counts, tag_table
from elmo.senses.results import SensesResults
from elmo.ynat.data import YnatData

t_start = time.perf_counter()
cfg = get_config(profile)
seed_everything(cfg.seed)
out = run_dir(profile)
pd.set_option("display.max_colwidth", 70)
sizes = cfg.senses  # how much is embedded and sampled: SensesConfig of the profile
WORDS = list(HOMOGRAPHS)
SEED = cfg.seed
print(sizes)

# %%
artifact = pretrain(cfg)  # the biLM of 02_pretrain (reused, not retrained)
elmo = Elmo(artifact).eval()
corpus = load_corpus(cfg.data)
ynat = YnatData.load(cfg)
static = glove_vectors(cfg, corpus=corpus)  # GloVe on the same petitions train tokens
petitions = [sent for split in ("train", "valid", "test") for sent in corpus.split(split, "petitions")]
held_out = corpus.split("valid", "petitions")  # petitions only, whatever else the corpus holds
print(f"{len(petitions):,} petition sentences, {len(ynat.tokens):,} YNAT headlines, GloVe vocabulary {len(static):,}")

# %% [markdown]
# ## Which tokens actually appear
# Counts of each homograph as a whole token, the longest-running tokens that merely contain it
# (so they are *not* occurrences), and the tags kiwipiepy gives the form in a sample of petitions
# analysed again with tags (`petition_tag_counts`: same splitter and tokenizer as the
# corpus, so the forms are the corpus's tokens).

# %%
tags = petition_tag_counts(cfg, sizes.tag_petitions)
pet_counts, ynat_counts = Counter(t for s in petitions for t in s), Counter(t for s in ynat.tokens for t in s)
token_table = tag_table(tags, WORDS)
token_table.insert(0, "YNAT", [ynat_counts[w] for w in WORDS])
token_table.insert(0, "petitions", [pet_counts[w] for w in WORDS])
token_table["other tokens containing it (petitions)"] = [
    ", ".join([f"{t} {c}" for t, c in pet_counts.most_common() if w in t and t != w][:4]) for w in WORDS
]
print(f"tags from {sizes.tag_petitions} train petitions")
token_table

# %% [markdown]
# ## Contexts: a bank of embedded sentences
# For each homograph and source, at most `per_word` occurrences (fixed seed); plus a random sample
# of held-out petition sentences (valid split) for the geometry, since sentences chosen for
# containing a homograph would bias a "random pair" baseline. Every distinct sentence is embedded
# once, in full (each token in its whole sentence), with the frozen biLM.

# %%
rng = np.random.default_rng(SEED)
n_sample = min(sizes.random_sentences, len(held_out))
sample = [held_out[i] for i in np.sort(rng.choice(len(held_out), n_sample, replace=False))]
sentences, sources = merge_sentences([
    ("petitions (sample)", sample),
    ("petitions", sentences_with(petitions, WORDS, sizes.per_word, SEED)),
    ("ynat", sentences_with(ynat.tokens, WORDS, sizes.per_word, SEED)),
])  # fmt: skip
t0 = time.perf_counter()
bank = ContextBank.build(elmo, sentences, sources)
embed_seconds = time.perf_counter() - t0
print(f"{len(bank):,} sentences, {bank.vectors.shape[1]:,} tokens embedded in {embed_seconds:.0f} s; "
      f"layers × tokens × dim = {bank.vectors.shape}")
occurrence_counts = pd.DataFrame(
    {src: [len(bank.rows(w, [src])) for w in WORDS] for src in dict.fromkeys(sources)}, index=WORDS
)
occurrence_counts

# %% [markdown]
# The proxy senses of those occurrences (all sources); "?" = no rule fired.

# %%
proxy = {w: Counter(bank.sense(int(r)) for r in bank.rows(w)) for w in WORDS}
pd.DataFrame(proxy).T.fillna(0).astype(int)

# %% [markdown]
# **Sanity check: layer 0 is context-free.** The char-CNN reads one token at a time, so every
# occurrence of a token has the same layer-0 vector: its self-similarity must be 1.

# %%
layer0 = {w: self_similarity(bank.vectors[0, bank.rows(w)]) for w in WORDS if len(bank.rows(w)) >= 2}
assert all(abs(v - 1) < 1e-4 for v in layer0.values()), layer0
print("layer-0 self-similarity of each homograph:", {w: round(v, 6) for w, v in layer0.items()})

# %% [markdown]
# ## Nearest contexts by layer, beside GloVe's nearest words (Table 4)
# For one query occurrence, the five nearest *other* occurrences of the same token by cosine in
# each layer (the query's own sentence and exact repeats of it excluded). Each cell: the context,
# then (cosine, proxy sense). In layer 0 all cosines are 1.00 (see above): its order is merely
# the bank's order.

# %%
QUERIES = [("배", "ship"), ("차", "car"), ("말", "말다 (verb)"), ("눈", "snow"), ("밤", "night"), ("다리", "leg")]
tables = {}
for word, sense in QUERIES:
    try:
        row = pick_query(bank, word, sense)
    except KeyError as e:
        print(e)
        continue
    tables[f"{word} ({sense})"] = nearest_context_table(bank, row, static, k=5)
    print(f"\nquery: {bank.snippet(row)}   [{bank.sources[bank.locate(row)[0]]}, proxy sense {sense}]")
    display(tables[f"{word} ({sense})"])

# %% [markdown]
# How often is the nearest other occurrence of the same proxy sense? Leave-one-out 1-NN
# agreement among the *labelled* occurrences of each homograph, per layer, against the chance of
# a random neighbour. Ties count fractionally, so layer 0 (all tied) scores exactly chance.
# **Caveat:** the proxy is itself read off neighbouring tokens ("2 배", "하지 말고"), which is just
# what an LSTM state encodes, so high agreement shows that layers 1–2 carry those local cues; it
# is not evidence of sense disambiguation beyond them. A word whose rules label only one sense
# (밤: no chestnut cue fired) is left out.

# %%
agreement = agreement_table(bank, WORDS)
agreement.round(3)

# %% [markdown]
# ## Each homograph's occurrences in 2-d (UMAP), by layer
# Colour: proxy sense (grey = unlabelled); marker: ▲ YNAT, ● petitions. Layer 0 has nothing to
# project (one point). UMAP keeps neighbourhoods, not distances: read clusters, not gaps.

# %%
UMAP_WORDS = [w for w in ("말", "차", "배") if len(bank.rows(w)) >= 4]
panels, panel_senses, panel_sources = umap_panels(bank, UMAP_WORDS, seed=SEED)
fig = occurrences_umap_figure(panels, panel_senses, panel_sources)
save_figure(fig, "05_homograph_umap", cfg, words=UMAP_WORDS, sense_proxy="elmo.senses.proxy.SENSE_RULES")
fig

# %% [markdown]
# The same maps to explore: hover a point for its context, source and proxy sense; drag to zoom
# (double-click resets); the menu switches word and layer. Also saved as one standalone HTML
# file beside the PNG (`05_homograph_umap.html`, opens in any browser offline).

# %%
hovers = {w: occurrence_hovers(bank, bank.rows(w)) for w in UMAP_WORDS}
homograph_map = occurrences_map(panels, panel_senses, panel_sources, hovers)
save_html(homograph_map, "05_homograph_umap", cfg)
homograph_map

# %% [markdown]
# ## The static space by part of speech
# The `glove_top` most frequent words of the GloVe vocabulary, coloured by the coarse group of
# each word's most frequent kiwipiepy tag in the tagged sample ("unseen": not in the sample).

# %%
top = static.vocab[: sizes.glove_top]
groups = main_pos(tags, top)
coords = umap_2d(static.vectors[: len(top)], seed=SEED, progress="UMAP of GloVe")
fig = pos_umap_figure(coords, top, groups, title=f"GloVe (petitions), top {len(top):,} words by part of speech")
save_figure(fig, "05_glove_pos_umap", cfg, n_words=len(top), tag_petitions=sizes.tag_petitions)
print(pd.Series(groups).value_counts().to_dict())
fig

# %%
glove_map = pos_map(coords, top, groups, title=f"GloVe (petitions), top {len(top):,} words: hover for the word")
save_html(glove_map, "05_glove_pos_umap", cfg)
glove_map

# %% [markdown]
# **Your own exploration in the Embedding Projector.** The top layer's vectors of every
# homograph occurrence, as the two TSV files that projector.tensorflow.org loads (Load →
# vectors, then metadata): colour by sense or source, search a context, try its t-SNE/UMAP/PCA.

# %%
projector_files = projector_tsv(bank, bank.n_layers - 1, out / "projector", words=WORDS, name="homographs_top_layer")
print("\n".join(str(p) for p in projector_files))

# %% [markdown]
# ## Anisotropy and self-similarity by layer (Ethayarajh 2019)
# *Anisotropy* of a layer: the mean cosine of `n_pairs` random pairs of token occurrences from
# the random sample (the same pairs in every layer). *Self-similarity* of a word: the mean
# cosine among its occurrences' vectors (at most 50 occurrences), averaged over the sample's
# most frequent words; *adjusted* = self-similarity − the layer's anisotropy. GloVe gives the
# anisotropy of a static space on the same token pairs; a static word's self-similarity is 1 by
# construction, so it has no self-similarity to compare.

# %%
baseline_rows = bank.source_rows(["petitions (sample)"])
sample_counts = bank.token_counts(["petitions (sample)"])
frequent = frequent_words(sample_counts, min_count=5, n_words=sizes.self_sim_words)
geometry = layer_geometry(bank, frequent, baseline_rows, sizes.n_pairs, seed=SEED,
                                 sources=["petitions (sample)"])  # fmt: skip
sample_tokens = [t for s, src in zip(bank.sentences, bank.sources) if src == "petitions (sample)" for t in s]
glove_aniso = static_anisotropy(static, sample_tokens, sizes.n_pairs, SEED)
# Homographs on the same protocol as the frequent words: petitions only, at most 50 occurrences.
homograph_sim = word_self_similarity(bank, WORDS, geometry["anisotropy"].tolist(), max_occurrences=50,
                                            seed=SEED, sources=["petitions", "petitions (sample)"])
print(f"GloVe anisotropy on the same sample: {glove_aniso:.3f}; {len(frequent)} frequent words, "
      f"{len(baseline_rows):,} sample tokens")
geometry.round(3)

# %%
homograph_sim.pivot(index="word", columns="layer", values="adjusted").round(3).assign(
    n=homograph_sim.groupby("word", sort=False)["n"].first()
)

# %%
fig = geometry_figure(geometry, glove_aniso, homograph_sim)
save_figure(fig, "05_anisotropy", cfg, n_pairs=sizes.n_pairs, n_words=len(frequent))
fig

# %% [markdown]
# ## Explorer
# In JupyterLab, `explorer.widget(sentence, word)` opens a live explorer: type a sentence, pick a
# token and a layer; it shows the nearest contexts of that token in the bank above, the nearest
# GloVe words, and the token-by-token cosine similarity of the sentence. Below is a fixed example
# with plain outputs (what a non-interactive run such as papermill keeps); the widget itself is
# shown only when a frontend is attached. Empty tables are explained ("note:" lines). On `tiny`,
# whose biLM trained one epoch on 60 petitions, layers 1–2 give nearly every token the same
# direction (cosines ≈ 1), so the explorer says so: expected there; the `cpu` biLM's layers differ.

# %%
explorer = Explorer(elmo, bank, static, tokenizer=Tokenizer(elmo.encoder.settings), k=5)
EXAMPLE = "어제 배를 타고 섬에 갔는데 배가 너무 아팠다."  # 배 twice: a ship, then a belly
show(explorer, EXAMPLE, "배")

# %% [markdown]
# The second 배 of the same sentence (the belly), in the top layer only:

# %%
example_tokens = sentence_tokens(EXAMPLE, explorer.tokenizer)
second = [i for i, t in enumerate(example_tokens) if t == "배"][-1]
render(explorer.compute(EXAMPLE, second), layers=[bank.n_layers - 1])

# %% [markdown]
# ## What this shows (cpu profile; the numbers are in `runs/cpu/senses_results.json`, `SensesResults`)
# - Layer 0 is context-free by construction (self-similarity exactly 1, nearest contexts all tied
#   at cosine 1), and GloVe's neighbours of a homograph follow its most frequent reading in the
#   petitions (for 배, counters and numerals: "N배" dominates).
# - In layers 1 and 2, occurrences group by construction and proxy sense (the UMAP panels and the
#   1-NN agreement far above chance), with the caveat above about the proxy's local cues.
# - Layers 1–2 are more anisotropic than the char-CNN layer but much less than 1 (unlike the
#   near-1 baselines Ethayarajh reports for the top layers of larger models), and self-similarity
#   falls with depth: upper layers are more context-specific. Measured the same way (petitions,
#   at most 50 occurrences), the homographs are compared with the frequent-word mean in the
#   right panel of the figure.

# %%
results = SensesResults(**{
    "profile": profile,
    "sizes": asdict(sizes),
    "bank": {"sentences": len(bank), "tokens": int(bank.vectors.shape[1]), "embed_seconds": embed_seconds,
             "sources": dict(Counter(bank.sources))},
    "geometry_by_layer": geometry.reset_index().to_dict(orient="records"),
    "glove_anisotropy": glove_aniso,
    "homograph_self_similarity": homograph_sim.to_dict(orient="records"),
    "layer0_self_similarity": layer0,
    "sense_agreement": agreement.reset_index().to_dict(orient="records") if len(agreement) else [],
    "occurrences": occurrence_counts.to_dict(),
    "proxy_senses": {w: dict(c) for w, c in proxy.items()},
    "token_counts": {"petitions": {w: pet_counts[w] for w in WORDS}, "ynat": {w: ynat_counts[w] for w in WORDS}},
    "kiwipiepy_tags": {w: dict(tags.get(w, {})) for w in WORDS},
    "seconds": time.perf_counter() - t_start,
})  # fmt: skip
print(f"done in {results.seconds:.0f} s -> {results.write(out)}")
