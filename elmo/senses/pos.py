"""Part of speech of words, from kiwipiepy tags of the petitions: for colouring the GloVe space.
"""
from __future__ import annotations

from collections import Counter
from typing import Sequence

import pandas as pd
from kiwipiepy import Kiwi

from elmo.data.corpus import dedupe
from elmo.data.readers import clean_text, read_petitions, split_of

# kiwipiepy (Sejong-style) tags grouped into a few classes for colouring.
POS_GROUPS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("common noun", ("NNG",)), ("proper noun", ("NNP",)), ("bound noun / pronoun / numeral", ("NNB", "NP", "NR")),
    ("verb", ("VV",)), ("adjective", ("VA",)), ("auxiliary / copula", ("VX", "VCP", "VCN")),
    ("adverb / determiner", ("MAG", "MAJ", "MM")), ("particle", ("J",)), ("ending", ("E",)),
    ("affix / root", ("X",)), ("symbol / number / foreign", ("S", "W")),
)  # fmt: skip


def coarse_pos(tag: str) -> str:
    """The group of a kiwipiepy tag ('VV-I' and 'VV-R', irregular and regular, count as VV)."""
    base = tag.split("-")[0]
    for name, prefixes in POS_GROUPS:
        if any(base == p or (len(p) == 1 and base.startswith(p)) for p in prefixes):
            return name
    return "other"


def tag_counts(texts: Sequence[str], num_workers: int = 2) -> dict[str, Counter]:
    """form -> Counter(tag) over the kiwipiepy analysis of `texts`, split and tokenized exactly as
    `elmo.data.corpus` does (so the forms are the corpus's tokens)."""
    counts: dict[str, Counter] = {}
    for doc in Kiwi(num_workers=num_workers).split_into_sents(list(texts), return_tokens=True):
        for sent in doc:
            for tok in sent.tokens:
                if tok.form.strip():
                    counts.setdefault(tok.form, Counter())[tok.tag] += 1
    return counts


def petition_tag_counts(cfg, n_petitions: int, root=None) -> dict[str, Counter]:
    """`tag_counts` of the first `n_petitions` (deduplicated) petitions of the *train* split."""
    d = cfg.data
    petitions = dedupe(read_petitions(root, d.max_petitions))
    train = [p for p in petitions if split_of(p.idx, d.split_fractions, d.split_seed) == "train"]
    return tag_counts([clean_text(p.text) for p in train[:n_petitions]])


def tag_table(counts: dict[str, Counter], words: Sequence[str]) -> pd.DataFrame:
    """For each word: occurrences in the tagged sample and the share of each tag, e.g. '말 NNG 74 %'."""
    rows = []
    for w in words:
        c = counts.get(w, Counter())
        n = sum(c.values())
        shares = ", ".join(f"{t} {100 * k / n:.0f} %" for t, k in c.most_common()) if n else "-"
        rows.append({"token": w, "tagged occurrences": n, "kiwipiepy tags": shares})
    return pd.DataFrame(rows).set_index("token")


def main_pos(counts: dict[str, Counter], words: Sequence[str]) -> list[str]:
    """The coarse group of each word's most frequent tag ('unseen' if the sample lacks it)."""
    return [coarse_pos(counts[w].most_common(1)[0][0]) if counts.get(w) else "unseen" for w in words]
