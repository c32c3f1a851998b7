"""Word senses and the geometry of the biLM's layers (notebook `05_senses`).

Three questions, each answered with plain functions on numpy arrays:

1. **Nearest contexts** (Peters et al. 2018, Table 4): for one occurrence of a homograph, which
   other occurrences of the same token are closest by cosine in each biLM layer (0 = char-CNN,
   1, 2 = LSTM layers), beside the GloVe nearest *words* of the token. Layer 0 sees one token at
   a time, so all occurrences of a token have the same layer-0 vector: a sanity check.
2. **Anisotropy and self-similarity** (Ethayarajh 2019): the mean cosine of random pairs of token
   vectors per layer (the layer's baseline), the mean pairwise cosine among the occurrences of one
   word (self-similarity), and their difference (anisotropy-adjusted self-similarity).
3. **Pictures**: UMAP of one homograph's occurrences by layer, and of the GloVe space coloured by
   part of speech.

Tokens are kiwipiepy morphemes *forms*: the corpus keeps no tags, so the token 배 merges every
reading kiwipiepy gives the syllable (ship, pear, belly, and the bound noun "times" of "2 배"),
and 말 merges the noun (speech, horse, end of a period) with the auxiliary verb 말다 ("하지 말고").
The sense labels used for colours and agreement scores are therefore a *proxy*: hand-written
rules on neighbouring tokens (`SENSE_RULES`), which leave an occurrence unlabelled ("?") when no
cue fires. They are a heuristic, not gold senses.

Shapes: L+1 layers, N tokens or occurrences, D = 2 * proj_dim.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Sequence

import numpy as np

UNLABELLED = "?"

# The six homographs of the notebook and the readings the proxy rules can tell apart.
HOMOGRAPHS: dict[str, tuple[str, ...]] = {
    "배": ("ship", "pear", "belly", "times (N배)"),
    "눈": ("eye", "snow"),
    "말": ("speech", "horse", "end (연말)", "말다 (verb)"),
    "차": ("car", "tea", "round (N차)", "difference (온도 차)", "차다 (verb)"),
    "밤": ("night", "chestnut"),
    "다리": ("leg", "bridge"),
}


@dataclass(frozen=True)
class Occurrence:
    """One token in one sentence: `sentences[sentence][position] == word` of a named source."""

    source: str
    sentence: int
    position: int


def find_occurrences(sentences: Sequence[Sequence[str]], word: str, source: str = "") -> list[Occurrence]:
    """Every position where a token *equals* `word` (a longer token containing it, such as
    눈물 for 눈 or 기다리 for 다리, is a different token and does not count)."""
    return [
        Occurrence(source, i, j) for i, sent in enumerate(sentences) for j, tok in enumerate(sent) if tok == word
    ]


def subsample(items: Sequence, k: int | None, seed: int = 0) -> list:
    """At most k of `items`, drawn without replacement with a fixed seed, in their original order."""
    if k is None or len(items) <= k:
        return list(items)
    keep = np.sort(np.random.default_rng(seed).choice(len(items), k, replace=False))
    return [items[i] for i in keep]


def sentences_with(sentences: Sequence[Sequence[str]], words: Iterable[str], per_word: int | None,
                   seed: int = 0) -> list[list[str]]:
    """For each word, at most `per_word` of the sentences that contain it as a token (a fixed-seed
    subsample of its occurrences; a sentence with several occurrences can be drawn once per
    occurrence but is returned once), words in the order given."""
    out: dict[int, None] = {}
    for w in words:
        for occ in subsample(find_occurrences(sentences, w), per_word, seed):
            out.setdefault(occ.sentence, None)
    return [list(sentences[i]) for i in out]


def merge_sentences(groups: Sequence[tuple[str, Sequence[Sequence[str]]]]) -> tuple[list[list[str]], list[str]]:
    """(source, sentences) groups -> one list of sentences and their sources, each distinct
    sentence once (the first group that has it names its source), so no context is its own
    duplicate neighbour."""
    seen: set[tuple[str, ...]] = set()
    sentences, sources = [], []
    for source, group in groups:
        for sent in group:
            key = tuple(sent)
            if sent and key not in seen:
                seen.add(key)
                sentences.append(list(sent))
                sources.append(source)
    return sentences, sources


def context_snippet(tokens: Sequence[str], position: int, width: int = 6) -> str:
    """The tokens around `position`, the word itself in brackets: '… 를 [배] 가 …'."""
    lo, hi = max(0, position - width), min(len(tokens), position + width + 1)
    left = ("… " if lo > 0 else "") + " ".join(tokens[lo:position])
    right = " ".join(tokens[position + 1 : hi]) + (" …" if hi < len(tokens) else "")
    return f"{left} [{tokens[position]}] {right}".strip()
