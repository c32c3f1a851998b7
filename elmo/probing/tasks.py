"""Linear probes of each biLM layer, the learned ELMo mix, GloVe and a random-biLM control.

Peters et al. (2018, Section 5.3, Tables 5-6) ask what each biLM layer encodes by fitting a simple
classifier on its frozen vectors: the first biLSTM layer was best for POS tagging, the second for
word sense disambiguation. Here the same question on two Korean tasks:

  * POS: KLUE-DP dev, one reduced tag per eojeol (`elmo.data.readers.reduce_pos`);
  * NER: KLUE-NER dev, the entity type of each eojeol, or O (`elmo.data.readers.read_klue_ner`).

Features of every eojeol: layer 0 (the char-CNN token layer), each biLSTM layer, the s_j/gamma
mix that the YNAT model of 03_finetune learned, GloVe on the same petitions tokens, and the same
mix of a *randomly initialised* biLM of the same shape reading through the same TextEncoder. The
last is the control: random encoders are strong probing baselines (Zhang & Bowman 2018), so
"layer j scores 90" means something only next to what the untrained architecture already gives.

The probe is linear (standardised features -> multinomial LogisticRegression with a fixed C), so
a score measures what is *linearly* readable from the vectors, and every feature gets exactly the
same classifier. Scores are k-fold cross-validated over *sentences* (GroupKFold): the eojeols of
one sentence are never split between training and test, which would leak the sentence context.

Alignment of eojeols to morphemes: each eojeol is tokenized on its own, so every morpheme belongs
to exactly one eojeol (tokenizing the whole sentence at once can merge or re-split material across
spaces and leave no clean mapping); the biLM then reads the concatenated morphemes of the whole
sentence, so every vector is still computed in context; an eojeol is the *mean* of its morphemes'
vectors (see `pool_spans` for why the mean).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from elmo.core.config import ProbeConfig
from elmo.data.readers import TaggedSentence

# Feature keys beside the single layers ("layer0" .. "layerL"); display names: `feature_label`.
MIX, GLOVE, CONTROL = "mix", "glove", "control"
FEATURE_LABELS = {MIX: "ELMo mix", GLOVE: "GloVe", CONTROL: "random biLM (mix)"}
OUTSIDE = "O"  # the NER label of eojeols outside any entity


def layer_name(j: int) -> str:
    """The feature key of biLM layer j (0 = the char-CNN)."""
    return f"layer{j}"


def feature_label(key: str) -> str:
    """The display name of a feature key: "layer 1", "ELMo mix", ..."""
    if key.startswith("layer") and key[5:].isdigit():
        return f"layer {key[5:]}"
    return FEATURE_LABELS.get(key, key)


@dataclass
class ProbeTask:
    """One task's probed eojeols.

    sentences : S sentences, each a tuple of eojeols.
    labels : (N,) str, one gold label per eojeol, N = total eojeols.
    groups : (N,) int, the sentence (0..S-1) of each eojeol, for the sentence-level folds.
    f1_labels : {metric name: the classes that macro-F1 averages over}.
    """

    name: str
    sentences: list[tuple[str, ...]]
    labels: np.ndarray
    groups: np.ndarray
    f1_labels: dict[str, list[str]]


def sample_sentences(sentences: Sequence, n: int | None, seed: int) -> list:
    """A seeded sample of n sentences in their original order (all of them if n is None or larger)."""
    if n is None or n >= len(sentences):
        return list(sentences)
    keep = np.sort(np.random.default_rng(seed).choice(len(sentences), size=n, replace=False))
    return [sentences[i] for i in keep]


def flatten_labels(sentences: Sequence[TaggedSentence]) -> tuple[np.ndarray, np.ndarray]:
    """(labels (N,) str, groups (N,) int sentence index) over all eojeols of all sentences.

    Raises ValueError when a sentence has a different number of words and labels.
    """
    for i, s in enumerate(sentences):
        if len(s.words) != len(s.labels):
            raise ValueError(f"sentence {i} ({s.guid}): {len(s.words)} words but {len(s.labels)} labels")
    labels = np.array([lab for s in sentences for lab in s.labels], dtype=object)
    groups = np.repeat(np.arange(len(sentences)), [len(s.words) for s in sentences])
    return labels, groups


def frequent_labels(labels: Sequence[str], min_count: int, exclude: Sequence[str] = ()) -> list[str]:
    """Classes seen at least `min_count` times, most frequent first, without `exclude`."""
    values, counts = np.unique(np.asarray(labels, dtype=object), return_counts=True)
    order = np.lexsort((values.astype(str), -counts))  # by count, ties by name: deterministic
    return [str(values[i]) for i in order if counts[i] >= min_count and values[i] not in exclude]


def make_task(name: str, sentences: Sequence[TaggedSentence], settings: ProbeConfig) -> ProbeTask:
    """Sample the sentences and fix which classes each macro-F1 covers.

    POS: "macro-F1" over the tags with >= min_class_count eojeols. NER: "macro-F1" over all such
    labels including O, and "entity macro-F1" over the entity types only (O excluded), since O
    is three quarters of all eojeols and would dominate any average it is in.
    """
    chosen = sample_sentences(sentences, settings.max_sentences, settings.seed)
    labels, groups = flatten_labels(chosen)
    f1 = {"macro-F1": frequent_labels(labels, settings.min_class_count)}
    if OUTSIDE in set(labels):
        f1["entity macro-F1"] = [lab for lab in f1["macro-F1"] if lab != OUTSIDE]
    return ProbeTask(name, [tuple(s.words) for s in chosen], labels, groups, f1)
