"""Linear probes of each biLM layer, the learned ELMo mix, GloVe and a random-biLM control.

Peters et al. (2018, Section 5.3, Tables 5-6) ask what each biLM layer encodes by fitting a simple
classifier on its frozen vectors: the first biLSTM layer was best for POS tagging, the second for
word sense disambiguation. Here the same question on two Korean tasks:

  * POS: KLUE-DP dev, one reduced tag per eojeol (`elmo.data.reduce_pos`);
  * NER: KLUE-NER dev, the entity type of each eojeol, or O (`elmo.data.read_klue_ner`).

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

import json
import time
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, Mapping, Sequence

import numpy as np
import pandas as pd
import torch
from matplotlib.figure import Figure
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score, make_scorer
from sklearn.model_selection import GroupKFold, cross_validate
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from elmo.bilm import BiLM
from elmo.data import TaggedSentence
from elmo.metrics import mean_std
from elmo.plots import PALETTE

MAIN_MODEL = "biLSTM + ELMo (input)"  # the 03_finetune model whose learned mix is probed
MIX, GLOVE, CONTROL = "ELMo mix", "GloVe", "random biLM (mix)"
OUTSIDE = "O"  # the NER label of eojeols outside any entity


# --------------------------------------------------------------------------- settings


@dataclass(frozen=True)
class ProbeSettings:
    """How much is probed and how.

    folds : k of the sentence-level k-fold.
    max_sentences : a seeded sample of each task's sentences (None: all of them). KLUE-DP dev has
        2,000 sentences, KLUE-NER dev 5,000; 1,000 of each (11-13 k eojeols) keeps the probes of
        the cpu notebook at a few minutes on 2 cores (a fit on 9 k eojeols takes 1-9 s).
    min_class_count : macro-F1 is averaged over the classes with at least this many gold eojeols
        in the probed sample (KLUE-DP has tags seen once or twice; their F1 over five folds is
        noise). Every class is still trained on and counted by accuracy.
    C, max_iter : LogisticRegression's inverse L2 strength (sklearn's default, not tuned: the
        same for every feature, so differences come from the features) and its lbfgs iteration
        cap (layer 0 of the cpu biLM needs ~800 iterations on POS; folds that hit the cap are
        counted in the results as "not_converged").
    batch_size : sentences per biLM forward pass.
    """

    folds: int = 5
    max_sentences: int | None = 1000
    min_class_count: int = 20
    C: float = 1.0
    max_iter: int = 1000
    batch_size: int = 64
    seed: int = 0


def probe_settings(cfg) -> ProbeSettings:
    """The profile's probe sizes: `tiny` probes ~1,000 eojeols per task over 3 folds, the others
    1,000 sentences per task over 5 folds."""
    if cfg.profile == "tiny":
        return ProbeSettings(folds=3, max_sentences=120, min_class_count=5, seed=cfg.seed)
    return ProbeSettings(seed=cfg.seed)


# --------------------------------------------------------------------------- task data


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


def make_task(name: str, sentences: Sequence[TaggedSentence], settings: ProbeSettings) -> ProbeTask:
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


# --------------------------------------------------------------------------- alignment


@dataclass
class Aligned:
    """One sentence as the biLM reads it.

    tokens : the T morphemes of all its eojeols, concatenated.
    spans : (n_words, 2) int, eojeol i is tokens[spans[i, 0]:spans[i, 1]] (never empty).
    """

    tokens: list[str]
    spans: np.ndarray


def word_spans(pieces_per_word: Sequence[int]) -> np.ndarray:
    """(n_words, 2) [start, end) of each word in the concatenation of its pieces.

    >>> word_spans([2, 1, 3]).tolist()
    [[0, 2], [2, 3], [3, 6]]
    """
    n = np.asarray(pieces_per_word, dtype=np.int64).reshape(-1)
    if (n < 1).any():
        raise ValueError("every word needs at least one piece")
    ends = np.cumsum(n)
    return np.stack([ends - n, ends], axis=1)


def align_sentences(sentences: Sequence[Sequence[str]],
                    tokenize_many: Callable[[list[str]], list[list[str]]]) -> list[Aligned]:
    """Tokenize each eojeol on its own and concatenate its sentence's morphemes.

    sentences : S sentences, each a sequence of eojeols.
    tokenize_many : texts -> token lists (e.g. `Tokenizer(...).tokenize_many`). Each distinct
        eojeol is tokenized once (KLUE repeats many), which keeps kiwipiepy to seconds.

    An eojeol that yields no token (possible for odd symbols the tokenizer drops) stands for
    itself as one token, so that every eojeol keeps a vector and the labels stay aligned.
    """
    for i, s in enumerate(sentences):
        if isinstance(s, str):
            raise TypeError(f"sentence {i} is a string; pass it as a sequence of eojeols")
    unique = sorted({w for s in sentences for w in s})
    pieces = dict(zip(unique, tokenize_many(unique)))
    out = []
    for s in sentences:
        per_word = [pieces[w] or [w] for w in s]
        out.append(Aligned([t for p in per_word for t in p], word_spans([len(p) for p in per_word])))
    return out


def pool_spans(vectors: np.ndarray, spans: np.ndarray) -> np.ndarray:
    """Mean of the vectors in each span.

    vectors : (..., T, D), e.g. (L+1, T, D) for all layers of one sentence.
    spans : (N, 2) int [start, end), 0 <= start < end <= T.
    Returns (..., N, D) float32.

    The mean, not the first or last morpheme: the reduced POS tag is the eojeol's first *content*
    morpheme, which is not its first morpheme when it opens with a quote or bracket, and the
    ending or particle at its end carries category evidence too (a verb ending, a case marker);
    the mean keeps all of them, and the same pooling for every feature keeps the comparison fair.
    """
    spans = np.asarray(spans, dtype=np.int64).reshape(-1, 2)
    return (span_sums(vectors, spans) / (spans[:, 1] - spans[:, 0])[:, None]).astype(np.float32)


def span_sums(vectors: np.ndarray, spans: np.ndarray) -> np.ndarray:
    """Sum of the vectors in each span: (..., T, D), (N, 2) -> (..., N, D) float64."""
    vectors = np.asarray(vectors, dtype=np.float64)
    spans = np.asarray(spans, dtype=np.int64).reshape(-1, 2)
    T = vectors.shape[-2]
    start, end = (spans[:, 0], spans[:, 1])
    if (start < 0).any() or (end > T).any() or (end <= start).any():
        raise ValueError(f"spans must satisfy 0 <= start < end <= {T} (the number of vectors)")
    # Prefix sums turn each span into one subtraction, for all spans and layers at once.
    zero = np.zeros(vectors.shape[:-2] + (1, vectors.shape[-1]))
    csum = np.concatenate([zero, np.cumsum(vectors, axis=-2)], axis=-2)
    return csum[..., spans[:, 1], :] - csum[..., spans[:, 0], :]


# --------------------------------------------------------------------------- features


def contextual_features(elmo, aligned: Sequence[Aligned], batch_size: int = 64) -> np.ndarray:
    """Every biLM layer of every eojeol, each sentence read as a whole.

    elmo : an `elmo.embedder.Elmo` (its mixes are not used here).
    aligned : S sentences from `align_sentences`.
    Returns (L+1, N, D) float32, N = total eojeols in sentence order, D = 2 * proj_dim.
    """
    n_words = np.array([len(a.spans) for a in aligned], dtype=np.int64)
    offsets = np.concatenate([[0], np.cumsum(n_words)])
    out = np.zeros((elmo.num_layers, int(offsets[-1]), elmo.output_dim), dtype=np.float32)
    # Batches of similar lengths waste little on padding; the order does not change the vectors.
    order = np.argsort([len(a.tokens) for a in aligned], kind="stable")
    for start in range(0, len(order), batch_size):
        batch = order[start:start + batch_size]
        layers, _ = elmo.layers([aligned[i].tokens for i in batch])  # (L+1, B, T', D)
        layers = layers.float().cpu().numpy()
        for b, i in enumerate(batch):
            t = len(aligned[i].tokens)
            out[:, offsets[i]:offsets[i + 1]] = pool_spans(layers[:, b, :t], aligned[i].spans)
    return out


def mix_layers(layers: np.ndarray, weights: Sequence[float], gamma: float = 1.0) -> np.ndarray:
    """gamma * sum_j s_j * layers[j]: (L+1, N, D) -> (N, D), with s_j already normalised."""
    w = np.asarray(weights, dtype=np.float64)
    if w.shape != (layers.shape[0],):
        raise ValueError(f"{len(w)} mix weights for {layers.shape[0]} layers")
    return (gamma * np.tensordot(w, layers, axes=1)).astype(np.float32)


def static_features(static, aligned: Sequence[Aligned]) -> tuple[np.ndarray, dict]:
    """GloVe per eojeol: the mean of its in-vocabulary morphemes' vectors, zero if it has none.

    static : `elmo.static.StaticVectors` (vocab, vectors (V, dim)).
    Returns (features (N, dim) float32, {"token_oov_rate", "word_oov_rate"}), the rates in %:
    the share of morphemes outside the GloVe vocabulary, and of eojeols with none inside it
    (those are the zero vectors).
    """
    index = {w: i for i, w in enumerate(static.vocab)}
    table = np.vstack([static.vectors, np.zeros((1, static.dim), np.float32)])  # row -1: OOV, zero
    feats, n_tok, n_oov, n_word, n_zero = [], 0, 0, 0, 0
    for a in aligned:
        ids = np.array([index.get(t, -1) for t in a.tokens], dtype=np.int64)
        # Sum of the known vectors (OOV rows are zero) over the count of known morphemes.
        counts = span_sums((ids >= 0)[:, None], a.spans)[:, 0]
        feats.append(span_sums(table[ids], a.spans) / np.maximum(counts, 1)[:, None])
        n_tok, n_oov = n_tok + len(ids), n_oov + int((ids < 0).sum())
        n_word, n_zero = n_word + len(a.spans), n_zero + int((counts == 0).sum())
    dim = static.dim
    features = np.concatenate(feats).astype(np.float32) if feats else np.zeros((0, dim), np.float32)
    return features, {"token_oov_rate": 100.0 * n_oov / max(n_tok, 1),
                      "word_oov_rate": 100.0 * n_zero / max(n_word, 1)}


def random_bilm(bilm: BiLM, seed: int = 0) -> BiLM:
    """A freshly initialised biLM of the same shape, reading through the same TextEncoder.

    The control of the probes: whatever it scores comes from the architecture (character CNN over
    the same characters, LSTMs over the same token sequence), not from language-model training.
    The global RNG is left as it was.
    """
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = BiLM(bilm.cfg, bilm.n_tokens, bilm.n_chars)
    model.encoder = bilm.encoder
    return model.eval()


def learned_mix(results_path: Path, n_layers: int, key: str = MAIN_MODEL) -> dict:
    """The main ELMo model's softmax-normalised s_j and gamma, averaged over its seeds.

    results_path : `runs/<profile>/finetune_results.json` (written by 03_finetune).
    Returns {"weights": [s_0..s_L], "gamma", "n_runs", "source"}; the uniform mix with gamma 1
    (and a `source` that says so) when the file or the model is missing.
    """
    path = Path(results_path)
    runs = []
    if path.exists():
        runs = [r for r in json.loads(path.read_text()).get(key, {}).get("runs", [])
                if r.get("mix_weights") is not None]
    if not runs:
        return {"weights": [1.0 / n_layers] * n_layers, "gamma": 1.0, "n_runs": 0,
                "source": f"uniform mix, gamma 1: no '{key}' runs in {path}"}
    weights = np.mean([r["mix_weights"] for r in runs], axis=0)
    if weights.shape != (n_layers,):
        raise ValueError(f"{path}: {len(weights)} mix weights, the biLM has {n_layers} layers")
    return {"weights": weights.tolist(), "gamma": float(np.mean([r["gamma"] for r in runs])),
            "n_runs": len(runs), "source": f"'{key}' in {path}, mean of {len(runs)} seed(s)"}


def layer_name(j: int) -> str:
    return f"layer {j}"


def task_features(aligned: Sequence[Aligned], elmo, control, static, mix: Mapping,
                  batch_size: int = 64) -> tuple[dict[str, np.ndarray], dict]:
    """All probed features of one task's eojeols.

    Returns ({name: (N, D_name) float32} for "layer 0".."layer L", MIX, GLOVE, CONTROL, in that
    order; {"token_oov_rate", "word_oov_rate"} of GloVe). The control uses the same s_j and gamma
    as the ELMo mix, applied to the random biLM's layers.
    """
    layers = contextual_features(elmo, aligned, batch_size)
    feats = {layer_name(j): layers[j] for j in range(len(layers))}
    feats[MIX] = mix_layers(layers, mix["weights"], mix["gamma"])
    feats[GLOVE], oov = static_features(static, aligned)
    control_layers = contextual_features(control, aligned, batch_size)
    feats[CONTROL] = mix_layers(control_layers, mix["weights"], mix["gamma"])
    return feats, oov


# --------------------------------------------------------------------------- probes


def sentence_folds(groups: Sequence[int], n_splits: int,
                   seed: int = 0) -> list[tuple[np.ndarray, np.ndarray]]:
    """(train, test) eojeol indices of each fold; a sentence's eojeols are all in one test fold.

    groups : (N,) sentence id of each eojeol. GroupKFold, shuffled with `seed`, balances folds by
    eojeol count.
    """
    groups = np.asarray(groups)
    if len(np.unique(groups)) < n_splits:
        raise ValueError(f"{len(np.unique(groups))} sentences cannot make {n_splits} folds")
    cv = GroupKFold(n_splits=n_splits, shuffle=True, random_state=seed)
    return list(cv.split(np.zeros(len(groups)), groups=groups))


def linear_probe(C: float = 1.0, max_iter: int = 1000, seed: int = 0):
    """Standardise each feature (on the training fold only), then multinomial logistic regression.

    Standardising makes the probe blind to a feature's overall scale, so gamma and the very
    different norms of the layers cannot favour one layer over another.
    """
    return make_pipeline(StandardScaler(), LogisticRegression(C=C, max_iter=max_iter, random_state=seed))


def probe_scores(X: np.ndarray, y: Sequence[str], groups: Sequence[int],
                 f1_labels: Mapping[str, Sequence[str]],
                 folds: int = 5, seed: int = 0, C: float = 1.0, max_iter: int = 1000) -> dict:
    """Cross-validated scores (x100) of a linear probe.

    X : (N, D) features; y : (N,) labels; groups : (N,) sentence ids.
    f1_labels : {metric name: classes averaged by that macro-F1}.
    Returns {"accuracy": [per fold], <each f1 name>: [per fold], "not_converged": folds whose
    lbfgs hit max_iter}.
    """
    X, y, groups = np.asarray(X), np.asarray(y, dtype=object), np.asarray(groups)
    if X.ndim != 2 or not len(X) == len(y) == len(groups):
        raise ValueError(f"X must be (N, D) with one label and one group per row: X {X.shape}, "
                         f"{len(y)} labels, {len(groups)} groups")
    scoring = {"accuracy": "accuracy"}
    for name, labels in f1_labels.items():
        scoring[name] = make_scorer(f1_score, average="macro", labels=list(labels), zero_division=0)
    # One BLAS/OpenMP thread: on a shared 2-core machine two threads that wait for each other made
    # each fit 10x slower (measured: 12.8 s vs 1.0 s for 100 lbfgs iterations on 9 k x 256).
    with warnings.catch_warnings(record=True) as caught, threadpool_limits(1):
        warnings.simplefilter("always", ConvergenceWarning)
        cv = cross_validate(linear_probe(C, max_iter, seed), X, y, cv=sentence_folds(groups, folds, seed),
                            scoring=scoring)
    out = {name: (100.0 * cv[f"test_{name}"]).tolist() for name in scoring}
    out["not_converged"] = sum(issubclass(w.category, ConvergenceWarning) for w in caught)
    return out


def probe_task(task: ProbeTask, features: Mapping[str, np.ndarray], settings: ProbeSettings) -> dict:
    """{feature: {metric: mean_std over folds, ..., "not_converged", "seconds"}} for one task."""
    out = {}
    for name, X in features.items():
        t0 = time.perf_counter()
        folds = probe_scores(X, task.labels, task.groups, task.f1_labels, settings.folds, settings.seed,
                             settings.C, settings.max_iter)
        nc = folds.pop("not_converged")
        out[name] = {m: mean_std(v) for m, v in folds.items()}
        out[name].update(not_converged=nc, seconds=time.perf_counter() - t0)
    return out


# --------------------------------------------------------------------------- reporting


def metric_names(results: Mapping[str, Mapping]) -> dict[str, list[str]]:
    """{task: [its metrics]} in the order they were scored."""
    return {task: [m for m, v in next(iter(feats.values())).items() if isinstance(v, dict)]
            for task, feats in results.items()}


def scores_frame(results: Mapping[str, Mapping]) -> pd.DataFrame:
    """Long table: one row per (task, feature, metric) with mean, std and number of folds."""
    metrics = metric_names(results)
    rows = [{"task": task, "feature": feat, "metric": m, "mean": s[m]["mean"], "std": s[m]["std"],
             "folds": s[m]["n"]}
            for task, feats in results.items() for feat, s in feats.items() for m in metrics[task]]
    return pd.DataFrame(rows)


def results_table(results: Mapping[str, Mapping]) -> pd.DataFrame:
    """One row per feature, one column per task and metric: "mean ± std" over folds (x100)."""
    df = scores_frame(results)
    df["score"] = [f"{m:.1f} ± {s:.1f}" for m, s in zip(df["mean"], df["std"])]
    df["column"] = df["task"] + " " + df["metric"]
    table = df.pivot(index="feature", columns="column", values="score")
    return table.loc[list(dict.fromkeys(df["feature"])), list(dict.fromkeys(df["column"]))]


def best_layer(results: Mapping[str, Mapping], task: str, metric: str = "accuracy",
               candidates: Sequence[str] | None = None) -> tuple[str, float]:
    """(name, mean score) of the best of `candidates` (default: the biLSTM layers 1..L)."""
    feats = results[task]
    if candidates is None:
        candidates = [f for f in feats if f.startswith("layer ") and f != layer_name(0)]
    name = max(candidates, key=lambda f: feats[f][metric]["mean"])
    return name, feats[name][metric]["mean"]


def paired_difference(results: Mapping[str, Mapping], task: str, metric: str, a: str, b: str) -> dict:
    """Feature a minus feature b, fold by fold (every feature is probed on the same folds).

    Returns {"mean", "std" (ddof=1), "n", "values"} of the per-fold differences and "wins", the
    folds where a scored higher: a sharper comparison than two separate fold stds, because the
    fold-to-fold variation that both features share cancels out.
    """
    va, vb = (np.asarray(results[task][f][metric]["values"]) for f in (a, b))
    diff = va - vb
    return {**mean_std(diff), "wins": int((diff > 0).sum())}


def results_figure(results: Mapping[str, Mapping], title: str | None = None) -> Figure:
    """One panel per task and metric: each feature's mean score, fold std as error bars.

    Panels have their own x range (a shared 0-100 axis would flatten the few-point differences
    between layers that the probe is about); the mix, GloVe and the control are coloured apart
    from the biLM's single layers.
    """
    df = scores_frame(results)
    panels = [(task, m) for task, ms in metric_names(results).items() for m in ms]
    features = list(dict.fromkeys(df["feature"]))
    special = {CONTROL: PALETTE[6], GLOVE: PALETTE[2], MIX: PALETTE[4]}
    colors = [special.get(f, PALETTE[0]) for f in features]
    fig = Figure(figsize=(2.6 * len(panels) + 1.2, 0.42 * len(features) + 1.6))
    axes = fig.subplots(1, len(panels), sharey=True, squeeze=False)[0]
    y = np.arange(len(features))[::-1]
    for ax, (task, m) in zip(axes, panels):
        sub = df[(df.task == task) & (df.metric == m)].set_index("feature").loc[features]
        # Points, not bars: the x axis does not start at 0, and a bar's length would lie.
        for yi, c, mean, std in zip(y, colors, sub["mean"], sub["std"]):
            ax.errorbar(mean, yi, xerr=std, fmt="o", color=c, ms=6, capsize=3)
            ax.annotate(f"{mean:.1f}", (mean + std, yi), xytext=(4, 4), textcoords="offset points",
                        fontsize=8)
        lo, hi = float((sub["mean"] - sub["std"]).min()), float((sub["mean"] + sub["std"]).max())
        pad = max(1.5, 0.1 * (hi - lo))
        ax.set_xlim(max(0.0, lo - pad), min(100.0, hi + 2.5 * pad) if hi + pad < 100 else 100.5)
        ax.set_title(f"{task}: {m}", fontsize=10)
        ax.grid(axis="y", visible=False)
    axes[0].set_yticks(y, features)
    fig.supxlabel("score ×100 (mean ± std over sentence folds)", fontsize=9)
    fig.suptitle(title or "Linear probes of each feature")
    fig.tight_layout()
    return fig


def write_results(path: Path, results: Mapping, **extra) -> Path:
    """`results` ({task: {feature: scores}}) and any extra facts, as JSON."""
    extra = {k: asdict(v) if hasattr(v, "__dataclass_fields__") else v for k, v in extra.items()}
    payload = {"results": results, **extra}
    Path(path).write_text(json.dumps(payload, indent=1, ensure_ascii=False, default=float))
    return Path(path)
