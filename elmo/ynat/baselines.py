"""Non-neural YNAT baselines: TF-IDF + logistic regression, and the majority class.

The TF-IDF model joins morpheme 1-2-grams (from the same tokens the neural models read) and
character 1-3-grams of the raw title (`char_wb`, so n-grams do not cross spaces), both with
sublinear tf. C is chosen on the fixed, stratified train holdout (`elmo.ynat.data.holdout_split`),
never on dev; the chosen C is then refit on all of train (KNOWN.md measured 82.1 dev macro-F1).
Scoring is `elmo.ynat.metrics.scores`, shared with the neural models.
"""

from __future__ import annotations

from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Sequence

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.multiclass import OneVsRestClassifier
from sklearn.pipeline import FeatureUnion, Pipeline

from elmo.ynat.data import N_CLASSES, YnatData, holdout_split
from elmo.ynat.metrics import scores

CS = (0.5, 1.0, 2.0, 4.0, 8.0)  # the C grid searched on the holdout


def morpheme_ngrams(tokens: Sequence[str]) -> list[str]:
    """Unigrams and bigrams of a token list (bigrams joined by a space, which no morpheme holds)."""
    return list(tokens) + [f"{a} {b}" for a, b in zip(tokens, tokens[1:])]


def _first(pair):
    return pair[0]


def _second(pair):
    return pair[1]


def tfidf_features(min_df: int = 1) -> FeatureUnion:
    """(text, tokens) pairs -> [morpheme 1-2-gram TF-IDF ; char_wb 1-3-gram TF-IDF], unfitted."""
    words = TfidfVectorizer(analyzer=lambda pair: morpheme_ngrams(_second(pair)), sublinear_tf=True, min_df=min_df)
    chars = TfidfVectorizer(
        analyzer="char_wb", ngram_range=(1, 3), sublinear_tf=True, min_df=min_df, preprocessor=_first, lowercase=False
    )
    return FeatureUnion([("morphemes", words), ("chars", chars)])


def _classifier(C: float) -> OneVsRestClassifier:
    """liblinear one-vs-rest: deterministic and fast on ~45k sparse rows."""
    return OneVsRestClassifier(LogisticRegression(C=C, solver="liblinear"))


def tfidf_pipeline(C: float, min_df: int = 1) -> Pipeline:
    """(text, tokens) pairs -> `tfidf_features` -> one-vs-rest logistic regression with C."""
    return Pipeline([("features", tfidf_features(min_df)), ("lr", _classifier(C))])


def select_C(
    texts, tokens, labels, Cs: Sequence[float] = CS, holdout_fraction: float = 0.1, min_df: int = 1, workers: int = 2,
    return_model: bool = False, rows: tuple[Sequence[int], Sequence[int]] | None = None,
):
    """The C with the best holdout macro-F1 (ties: the smaller C); -> (C, {C: holdout macro-F1}).

    The same as fitting `tfidf_pipeline(C)` on the fit rows for each C, but the features are
    fitted once (they do not depend on C) and the C's are fitted in `workers` threads
    (liblinear releases the GIL). With return_model, also that pipeline for the chosen C, as
    fitted on the fit rows: -> (C, f1, pipeline). rows : (fit, holdout) row indices to use
    instead of `holdout_split(labels, holdout_fraction)` (e.g. a subsample of the fit rows).
    """
    fit, held = holdout_split(labels, holdout_fraction) if rows is None else map(list, rows)
    pairs, labels = list(zip(texts, tokens)), np.asarray(labels)
    features = tfidf_features(min_df)
    x_fit = features.fit_transform([pairs[i] for i in fit])
    x_held = features.transform([pairs[i] for i in held])

    def holdout_f1(C: float) -> float:
        # Each thread fits and predicts on its own copies: sklearn may sort a sparse matrix's
        # indices in place, which races when two threads share one (measured: "indices array
        # has fewer than nnz elements" on the full YNAT).
        model = _classifier(C).fit(x_fit.copy(), labels[fit])
        return scores(labels[held], model.predict(x_held.copy()))["macro_f1"], model

    with ThreadPoolExecutor(max(1, workers)) as pool:
        fitted = dict(zip(Cs, pool.map(holdout_f1, Cs)))
    f1 = {C: score for C, (score, _) in fitted.items()}
    best = max(Cs, key=lambda C: (f1[C], -C))
    if return_model:
        return best, f1, Pipeline([("features", features), ("lr", fitted[best][1])])
    return best, f1


def tfidf_logreg(
    train_texts: Sequence[str],
    train_tokens: Sequence[Sequence[str]],
    train_labels: Sequence[int],
    eval_texts: Sequence[str],
    eval_tokens: Sequence[Sequence[str]],
    Cs: Sequence[float] = CS,
    min_df: int = 1,
    return_details: bool = False,
):
    """Predicted label ids (N_eval,) of TF-IDF + LR; C picked on the train holdout, refit on all train.

    With return_details, also {"C": chosen C, "holdout_macro_f1": {C: score}, "fit_model": the
    pipeline with that C fitted on the fit rows only (for `tfidf_probabilities`)}.
    """
    C, f1, fit_model = select_C(train_texts, train_tokens, train_labels, Cs, min_df=min_df, return_model=True)
    model = tfidf_pipeline(C, min_df).fit(list(zip(train_texts, train_tokens)), np.asarray(train_labels))
    preds = model.predict(list(zip(eval_texts, eval_tokens))).astype(int)
    return (preds, {"C": C, "holdout_macro_f1": f1, "fit_model": fit_model}) if return_details else preds


def tfidf_probabilities(data: YnatData, C: float, min_df: int = 1, model: Pipeline | None = None) -> dict[str, np.ndarray]:
    """{"holdout", "dev"} -> (N, 7) probabilities of TF-IDF + LR trained on `data.fit` only: the
    rows the neural models train on, so the comparison (and a blend weighted on the holdout) is
    like for like. `model`: that pipeline already fitted (`tfidf_logreg`'s "fit_model", which
    `select_C` fitted on the same rows), so it is not fitted twice."""
    pairs, labels = list(zip(data.texts, data.tokens)), np.asarray(data.labels)
    if model is None:
        model = tfidf_pipeline(C, min_df).fit([pairs[i] for i in data.fit], labels[data.fit])
    elif model.named_steps["lr"].estimator.C != C:
        raise ValueError(f"the fitted model has C = {model.named_steps['lr'].estimator.C}, not {C}")
    out = {}
    for split in ("holdout", "dev"):
        rows = data.split(split)
        out[split] = np.zeros((len(rows), N_CLASSES))
        # predict_proba's columns are the classes seen in fit: place them by label id.
        out[split][:, model.classes_] = model.predict_proba([pairs[i] for i in rows])
    return out


def tfidf_on_fit(data: YnatData, Cs: Sequence[float] = CS, min_df: int = 1) -> dict:
    """TF-IDF + LR trained on `data.fit` (e.g. a subsample), C chosen on `data.holdout`, scored on
    dev: `scores` plus "holdout_macro_f1" and "C". Deterministic (liblinear), so one run."""
    C, f1, model = select_C(data.texts, data.tokens, data.labels, Cs, min_df=min_df, return_model=True,
                            rows=(data.fit, data.holdout))  # fmt: skip
    pairs = list(zip(data.texts, data.tokens))
    dev = data.split("dev")
    result = scores([data.labels[i] for i in dev], model.predict([pairs[i] for i in dev]).astype(int).tolist())
    return {**result, "holdout_macro_f1": f1[C], "C": C}


def majority_class(train_labels: Sequence[int], n: int) -> np.ndarray:
    """n predictions of train's most frequent label (ties: the smallest id)."""
    counts = Counter(int(y) for y in train_labels)
    top = max(sorted(counts), key=lambda y: counts[y])
    return np.full(n, top, dtype=int)
