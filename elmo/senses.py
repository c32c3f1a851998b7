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

import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Iterable, NamedTuple, Sequence

import numpy as np
import pandas as pd
import torch
from matplotlib.figure import Figure

from elmo.plots import PALETTE

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


# ---------------------------------------------------------------------------- occurrences


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


# ---------------------------------------------------------------------- the sense proxy

# Numerals that precede a counter (2 배, 세 배, 몇 차). Sino-Korean 일/이/삼/사/오 and 한 are left
# out on purpose: as tokens they are far more often a particle (이), a noun (일) or "a/one" (한).
NUMERALS = frozenset("두 세 네 몇 여러 수십 수백 수천 스무 십 백 천 만".split())
_NUMBER = re.compile(r"^\d+([.,]\d+)?$")
# Verb endings kiwipiepy splits off a stem (ᆫ, ᆯ and ᆸ are the jamo it uses for codas).
VERB_ENDINGS = frozenset(["어", "아", "었", "았", "고", "지", "게", "면", "서", "자", "라", "어라", "아라",
                          "어도", "아도", "어서", "아서", "ᆫ다", "\u11ab", "\u11af", "\u11b8니다", "습니다",
                          "어요", "아요", "겠", "시"])  # fmt: skip
PERIODS = frozenset("월 년 연 해 그해 분기 학기 시즌 임기 세기 학년 정권 올해 작년 내년 금년 지난해 이달 이번 주 회".split())


class Rule(NamedTuple):
    """`sense` applies when a token in `where` is in `cues`.

    where: "prev" (the token just before), "next" (just after), "after" (the `width` tokens after),
    or "window" (the `width` tokens on each side); "number" means the previous token is a numeral.
    """

    sense: str
    where: str
    cues: frozenset = frozenset()
    width: int = 4


def _cues(text: str) -> frozenset:
    return frozenset(text.split())


# Ordered: the first rule that fires wins, so the most specific (grammatical) cues come first.
SENSE_RULES: dict[str, tuple[Rule, ...]] = {
    "배": (
        Rule("times (N배)", "number"),
        Rule("ship", "window", _cues("세월호 선박 선장 선원 항구 바다 침몰 어선 해경 승선 항해 여객선 해상 선체 인양 해군 어민 낚시 부두 선주")),
        Rule("ship", "after", _cues("타 띄우 몰"), 3),
        Rule("pear", "window", _cues("사과 과일 농가 수확 과수원 나주 포도 복숭아 귤 배즙")),
        Rule("belly", "window", _cues("아프 고프 부르 통증 복부 배꼽 설사 허리 굶 채우 불리 주먹 뱃살 배탈")),
    ),
    "눈": (
        Rule("snow", "window", _cues("폭설 겨울 쌓이 대설 한파 제설 눈사람 빙판 강설 눈길 녹 비 산간 한때 적설 기온 영하 예보 날씨 ㎝")),
        Rule("snow", "after", _cues("오 내리"), 3),
        Rule("eye", "window", _cues("뜨 감 귀 코 입 시력 마주 멀 안과 얼굴 띄 동공 똑바로 쳐다보 눈물 눈빛 시선 속이")),
        Rule("eye", "after", _cues("보 보이"), 4),
        Rule("eye", "prev", _cues("의")),  # "X 의 눈": someone's eyes (or gaze)
    ),
    "말": (
        Rule("말다 (verb)", "prev", _cues("지")),
        Rule("말다 (verb)", "next", VERB_ENDINGS),
        Rule("end (연말)", "prev", PERIODS),
        Rule("horse", "window", _cues("경마 승마 기수 마사회 경주마 목장 조련 마필 말굽 기마"), 3),
        Rule("speech", "after", _cues("하 듣 씀 전하 믿 들 쓰 바꾸 잘하"), 3),
        Rule("speech", "window", _cues("한마디 거짓 이야기 뜻 표현 대답 막말 발언 약속"), 3),
        Rule("speech", "prev", _cues("라는 다는 이라는 무슨 그런 이런 저런 어떤 좋 거친 입")),
    ),
    "차": (
        Rule("round (N차)", "number"),
        Rule("round (N차)", "prev", _cues("주 년 일 개월 달 회 단계")),  # "2 주 차", "3 년 차"
        Rule("difference (온도 차)", "prev", _cues("온도 기온 시 점 점수 표 세대 빈부 연령 인식 견해 의견 성별 임금 격")),
        Rule("차다 (verb)", "next", VERB_ENDINGS),
        Rule("tea", "window", _cues("마시 커피 녹차 찻잔 홍차 다도 음료 찻집 한잔 잔"), 2),
        Rule("car", "prev", _cues("톤 대포 전기 승용 소방 경찰 구급 화물 통학 렌터 자율 수소 중고 신")),
        Rule("car", "window", _cues("운전 주차 사고 도로 자동차 운전자 차량 택시 버스 신호 속도 트럭 음주 골목 "
                                     "정차 차선 보행자 주행 경적 탑승 세우 막히 타 몰 치 견인"), 4),
    ),
    "밤": (
        Rule("chestnut", "window", _cues("굽 군밤 줍 도토리 대추 밤나무 밤송이 알밤 재배 과일 껍질")),
        Rule("night", "next", _cues("에 늦 새 중 마다 까지 부터 사이 낮")),
        Rule("night", "prev", _cues("일 날 그날 여름 가을 겨울 봄 첫날")),  # "12 일 밤", "여름 밤"
        Rule("night", "window", _cues("낮 늦 새벽 잠 야간 아침 저녁 깊 오늘 어제 매일 야근 퇴근 잠들 어둡 달 별 하룻 새 뜬눈 시")),
    ),
    "다리": (
        Rule("leg", "window", _cues("팔 아프 부러지 다치 허리 무릎 발 절 양팔 수술 골절 장애 걷 저리 통증 꼬 뻗 오른쪽 왼쪽 "
                                     "불편 마비 멍 부상 휠체어")),
        Rule("bridge", "window", _cues("건너 한강 건설 붕괴 교량 강 육교 하천 철교 대교 통행 설계 잇 연결 유람선 밑 흔들")),
        Rule("bridge", "after", _cues("놓"), 2),
    ),
}


def is_numeral(token: str) -> bool:
    return bool(_NUMBER.match(token)) or token in NUMERALS


def _fires(rule: Rule, tokens: Sequence[str], position: int) -> bool:
    before, after = tokens[max(0, position - rule.width) : position], tokens[position + 1 : position + 1 + rule.width]
    if rule.where == "number":
        return position > 0 and is_numeral(tokens[position - 1])
    if rule.where == "prev":
        return position > 0 and tokens[position - 1] in rule.cues
    if rule.where == "next":
        return position + 1 < len(tokens) and tokens[position + 1] in rule.cues
    if rule.where == "after":
        return any(t in rule.cues for t in after)
    if rule.where == "window":
        return any(t in rule.cues for t in (*before, *after))
    raise ValueError(f"unknown rule position {rule.where!r}")


def sense_proxy(word: str, tokens: Sequence[str], position: int, rules: dict | None = None) -> str:
    """The proxy sense of `tokens[position]` (= `word`): the first rule of `rules[word]` that
    fires, else `UNLABELLED`. Words without rules are always unlabelled."""
    if tokens[position] != word:
        raise ValueError(f"token {position} is {tokens[position]!r}, not {word!r}")
    for rule in (SENSE_RULES if rules is None else rules).get(word, ()):
        if _fires(rule, tokens, position):
            return rule.sense
    return UNLABELLED


# ----------------------------------------------------------------------------- the bank


def unit(x: np.ndarray, eps: float = 1e-12) -> np.ndarray:
    """Rows of `x` (..., D) scaled to length 1 (zero rows stay zero)."""
    x = np.asarray(x, dtype=np.float32)
    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), eps)


def embed_sentences(elmo, sentences: Sequence[Sequence[str]], batch_size: int = 64) -> list[np.ndarray]:
    """The L+1 biLM layers of each sentence, each token read in its whole sentence.

    # Parameters
    elmo : an `elmo.embedder.Elmo` (only its `.layers` is used; the biLM is frozen).
    sentences : N non-empty tokenized sentences.
    batch_size : sentences per biLM call; sentences are grouped by length so little is padded.

    # Returns
    N arrays (L+1, T_i, D) float32, in the order of `sentences`.
    """
    if any(len(s) == 0 for s in sentences):
        raise ValueError("cannot embed an empty sentence")
    order = sorted(range(len(sentences)), key=lambda i: len(sentences[i]))
    out: list[np.ndarray | None] = [None] * len(sentences)
    with torch.no_grad():
        for start in range(0, len(order), batch_size):
            idx = order[start : start + batch_size]
            layers, mask = elmo.layers([list(sentences[i]) for i in idx])  # (L+1, B, T, D), (B, T)
            layers, lengths = layers.float().cpu().numpy(), mask.sum(1).tolist()
            for b, i in enumerate(idx):
                out[i] = layers[:, b, : lengths[b]].copy()
    return out  # type: ignore[return-value]


@dataclass
class ContextBank:
    """Pre-embedded sentences: every token's unit-length vector in every layer.

    sentences : N tokenized sentences; sources : N labels (e.g. "petitions", "ynat").
    vectors : (L+1, N_tokens, D) float32, unit length, sentences one after another.
    offsets : (N + 1,) int64: sentence i is token rows offsets[i]:offsets[i+1].
    """

    sentences: list[list[str]]
    sources: list[str]
    vectors: np.ndarray
    offsets: np.ndarray
    _rows: dict[str, np.ndarray] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if len(self.sources) != len(self.sentences) or len(self.offsets) != len(self.sentences) + 1:
            raise ValueError("sentences, sources and offsets do not match")
        if self.vectors.shape[1] != self.offsets[-1]:
            raise ValueError(f"{self.vectors.shape[1]} token vectors for {self.offsets[-1]} tokens")
        rows: dict[str, list[int]] = {}
        for r, tok in enumerate(t for s in self.sentences for t in s):
            rows.setdefault(tok, []).append(r)
        self._rows = {t: np.asarray(r, dtype=np.int64) for t, r in rows.items()}
        self._sentence_of = np.repeat(np.arange(len(self.sentences)), np.diff(self.offsets))

    @classmethod
    def build(cls, elmo, sentences: Sequence[Sequence[str]], sources: Sequence[str],
              batch_size: int = 64) -> "ContextBank":
        """Embed `sentences` with `elmo` (see `embed_sentences`)."""
        per_sentence = embed_sentences(elmo, sentences, batch_size)
        lengths = [len(s) for s in sentences]
        offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
        vectors = unit(np.concatenate(per_sentence, axis=1)) if per_sentence else np.zeros((0, 0, 0), np.float32)
        return cls([list(s) for s in sentences], list(sources), vectors, offsets)

    @property
    def n_layers(self) -> int:
        """L + 1."""
        return self.vectors.shape[0]

    def __len__(self) -> int:
        return len(self.sentences)

    def rows(self, word: str, sources: Iterable[str] | None = None) -> np.ndarray:
        """Token rows (n,) whose token is `word`, optionally only from some sources."""
        rows = self._rows.get(word, np.zeros(0, dtype=np.int64))
        if sources is None:
            return rows
        keep = set(sources)
        return rows[[self.sources[s] in keep for s in self._sentence_of[rows]]] if len(rows) else rows

    def source_rows(self, sources: Iterable[str]) -> np.ndarray:
        """All token rows (n,) of sentences from `sources`."""
        wanted = set(sources)
        keep = np.array([s in wanted for s in self.sources], dtype=bool)
        return np.flatnonzero(keep[self._sentence_of]) if len(self._sentence_of) else np.zeros(0, np.int64)

    def locate(self, row: int) -> tuple[int, int]:
        """(sentence, position) of a token row."""
        s = int(self._sentence_of[row])
        return s, int(row - self.offsets[s])

    def token(self, row: int) -> str:
        s, p = self.locate(row)
        return self.sentences[s][p]

    def snippet(self, row: int, width: int = 6) -> str:
        s, p = self.locate(row)
        return context_snippet(self.sentences[s], p, width)

    def sense(self, row: int) -> str:
        s, p = self.locate(row)
        return sense_proxy(self.sentences[s][p], self.sentences[s], p)

    def token_counts(self, sources: Iterable[str] | None = None) -> Counter:
        keep = None if sources is None else set(sources)
        return Counter(t for s, src in zip(self.sentences, self.sources) if keep is None or src in keep for t in s)


# --------------------------------------------------------------------- nearest contexts


def nearest(query: np.ndarray, candidates: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The k candidates most cosine-similar to `query`, best first; ties keep candidate order.

    # Parameters
    query : (D,). candidates : (n, D).

    # Returns
    index (min(k, n),) int64 into candidates; cosine (min(k, n),) float32.
    """
    sims = unit(candidates) @ unit(query)
    # A stable sort on -sims: equal cosines (all of layer 0) come out in candidate order.
    order = np.argsort(-sims, kind="stable")[:k]
    return order, sims[order]


CONTEXT_COLUMNS = ["layer", "rank", "cosine", "source", "sense", "context"]


def rank_contexts(bank: ContextBank, word: str, query: np.ndarray, k: int = 5, exclude: Iterable[int] = (),
                  layers: Sequence[int] | None = None, width: int = 6) -> pd.DataFrame:
    """The k occurrences of `word` in the bank nearest to a query vector, per layer.

    # Parameters
    query : (L+1, D), the query occurrence's vector in every layer.
    exclude : bank sentence ids whose occurrences are not candidates (the query's own sentence).

    # Returns
    Columns layer, rank, cosine, source, sense (proxy), context; empty if `word` has no candidates.
    """
    skip = set(exclude)
    cands = np.array([r for r in bank.rows(word) if bank.locate(int(r))[0] not in skip], dtype=np.int64)
    rows = []
    for layer in range(bank.n_layers) if layers is None else layers:
        if len(cands) == 0:
            continue
        idx, cos = nearest(query[layer], bank.vectors[layer, cands], k)
        for rank, (i, c) in enumerate(zip(idx, cos), 1):
            r = int(cands[i])
            rows.append({"layer": layer, "rank": rank, "cosine": round(float(c), 3),
                         "source": bank.sources[bank.locate(r)[0]], "sense": bank.sense(r),
                         "context": bank.snippet(r, width)})  # fmt: skip
    return pd.DataFrame(rows, columns=CONTEXT_COLUMNS)


def nearest_contexts(bank: ContextBank, query_row: int, k: int = 5, layers: Sequence[int] | None = None,
                     width: int = 6) -> pd.DataFrame:
    """The k nearest other occurrences of a bank token, per layer (Peters et al. Table 4).

    Candidates are the bank's rows with the same token, minus the rows of the query's sentence
    (and of any identical sentence). Columns as `rank_contexts`.
    """
    qsent, _ = bank.locate(query_row)
    # Repeated sentences (boilerplate re-posted in petitions) would be trivially nearest: skip them too.
    same = [i for i, sent in enumerate(bank.sentences) if sent == bank.sentences[qsent]]
    query = bank.vectors[:, query_row]
    return rank_contexts(bank, bank.token(query_row), query, k, exclude=same, layers=layers, width=width)


def glove_neighbours(static, word: str, k: int = 5) -> pd.DataFrame:
    """The static vectors' k nearest words (rank, word, cosine); empty when `word` is OOV."""
    if static is None or word not in static:
        return pd.DataFrame(columns=["rank", "word", "cosine"])
    return pd.DataFrame(
        [{"rank": i, "word": w, "cosine": round(c, 3)} for i, (w, c) in enumerate(static.most_similar(word, k), 1)]
    )


def nearest_context_table(bank: ContextBank, query_row: int, static=None, k: int = 5, width: int = 5) -> pd.DataFrame:
    """Table 4 of the paper, wide: rank 1..k down, GloVe neighbour words and then each layer's
    nearest contexts across. A cell reads 'context (cosine, sense)'."""
    long = nearest_contexts(bank, query_row, k, width=width)
    glove = glove_neighbours(static, bank.token(query_row), k)
    table = pd.DataFrame(index=pd.RangeIndex(1, k + 1, name="rank"))
    table["GloVe word"] = pd.Series({int(r["rank"]): f"{r['word']} ({r['cosine']:.2f})" for _, r in glove.iterrows()})
    for layer, group in long.groupby("layer"):
        cells = {int(r["rank"]): f"{r['context']} ({r['cosine']:.2f}, {r['sense']})" for _, r in group.iterrows()}
        table[f"layer {layer}"] = pd.Series(cells)
    return table.fillna("")


def pick_query(bank: ContextBank, word: str, sense: str | None = None, source: str | None = None) -> int:
    """The first bank row of `word` (with that proxy sense and source, if given); KeyError if none."""
    for r in bank.rows(word, None if source is None else [source]):
        if sense is None or bank.sense(int(r)) == sense:
            return int(r)
    raise KeyError(f"no occurrence of {word!r}" + (f" with sense {sense!r}" if sense else "") + " in the bank")


# ------------------------------------------------------------------------ geometry


def mean_pair_cosine(a: np.ndarray, b: np.ndarray) -> float:
    """Mean cosine of row i of `a` with row i of `b`; a, b (n, D)."""
    return float(np.mean(np.sum(unit(a) * unit(b), axis=-1)))


def random_pairs(n: int, n_pairs: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """n_pairs index pairs (i, j), i != j, uniform over [0, n); a fixed seed, so every layer (and
    GloVe) is measured on the same pairs of token occurrences."""
    if n < 2:
        raise ValueError("need at least two vectors to form a pair")
    rng = np.random.default_rng(seed)
    i = rng.integers(0, n, n_pairs)
    j = (i + rng.integers(1, n, n_pairs)) % n  # never equal to i
    return i, j


def anisotropy(vectors: np.ndarray, n_pairs: int = 10000, seed: int = 0) -> float:
    """Ethayarajh's baseline: the expected cosine of two random token vectors.

    vectors : (N, D), token occurrences (not types): frequent words weigh as in running text.
    Identical vectors give 1, mutually orthogonal ones 0.
    """
    i, j = random_pairs(len(vectors), n_pairs, seed)
    return mean_pair_cosine(vectors[i], vectors[j])


def self_similarity(vectors: np.ndarray) -> float:
    """Mean cosine over all distinct pairs of one word's occurrence vectors, (n, D) with n >= 2."""
    n = len(vectors)
    if n < 2:
        raise ValueError("self-similarity needs at least two occurrences")
    u = unit(vectors)
    sims = u @ u.T
    return float((sims.sum() - np.trace(sims)) / (n * (n - 1)))


def frequent_words(counts: Counter, min_count: int = 5, n_words: int = 200) -> list[str]:
    """The n_words most frequent tokens seen at least min_count times (ties by the string)."""
    kept = sorted((w for w, c in counts.items() if c >= min_count), key=lambda w: (-counts[w], w))
    return kept[:n_words]


def layer_geometry(bank: ContextBank, words: Sequence[str], baseline_rows: np.ndarray, n_pairs: int = 10000,
                   max_occurrences: int = 50, seed: int = 0, sources: Iterable[str] | None = None) -> pd.DataFrame:
    """Anisotropy, mean self-similarity and the adjusted self-similarity of each layer.

    # Parameters
    words : the words whose self-similarity is averaged (each with >= 2 occurrences in the bank).
    baseline_rows : token rows (n,) the random pairs are drawn from (e.g. randomly drawn
        sentences, not sentences picked for containing a homograph).
    max_occurrences : at most this many occurrences per word (a fixed-seed subsample).
    sources : take the words' occurrences only from sentences of these sources (default all).

    # Returns
    One row per layer: anisotropy, self_similarity (mean over words), adjusted (self-sim minus
    the layer's anisotropy, averaged over words), n_words.
    """
    srcs = None if sources is None else list(sources)
    word_rows = {w: subsample(list(bank.rows(w, srcs)), max_occurrences, seed) for w in words}
    word_rows = {w: r for w, r in word_rows.items() if len(r) >= 2}
    i, j = random_pairs(len(baseline_rows), n_pairs, seed)
    out = []
    for layer in range(bank.n_layers):
        v = bank.vectors[layer]
        base = mean_pair_cosine(v[baseline_rows[i]], v[baseline_rows[j]])
        sims = np.array([self_similarity(v[r]) for r in word_rows.values()]) if word_rows else np.array([np.nan])
        out.append({"layer": layer, "anisotropy": base, "self_similarity": float(np.mean(sims)),
                    "adjusted": float(np.mean(sims - base)), "n_words": len(word_rows)})  # fmt: skip
    return pd.DataFrame(out).set_index("layer")


def word_self_similarity(bank: ContextBank, words: Sequence[str], anisotropy_by_layer: Sequence[float],
                         max_occurrences: int = 50, seed: int = 0,
                         sources: Iterable[str] | None = None) -> pd.DataFrame:
    """Self-similarity per word and layer, raw and adjusted; words with < 2 occurrences are left out.

    sources : only occurrences from these sources (default all). Mixing sources (headlines and
    petitions) lowers self-similarity by itself, so compare words measured on the same sources.

    Columns: word, layer, n, self_similarity, adjusted.
    """
    srcs = None if sources is None else list(sources)
    rows = []
    for w in words:
        r = subsample(list(bank.rows(w, srcs)), max_occurrences, seed)
        if len(r) < 2:
            continue
        for layer in range(bank.n_layers):
            s = self_similarity(bank.vectors[layer, r])
            rows.append({"word": w, "layer": layer, "n": len(r), "self_similarity": s,
                         "adjusted": s - anisotropy_by_layer[layer]})  # fmt: skip
    return pd.DataFrame(rows, columns=["word", "layer", "n", "self_similarity", "adjusted"])


def static_anisotropy(static, tokens: Sequence[str], n_pairs: int = 10000, seed: int = 0) -> float:
    """The anisotropy of static vectors over running tokens (OOV tokens dropped): the same
    statistic as for a biLM layer. (A static word's self-similarity is 1 by construction.)"""
    vecs = np.stack([static[t] for t in tokens if t in static])
    return anisotropy(vecs, n_pairs, seed)


def nn_sense_agreement(vectors: np.ndarray, senses: Sequence[str], tol: float = 1e-6) -> float:
    """Leave-one-out 1-NN agreement of proxy senses: for each occurrence, the share of its
    nearest neighbours (all those tied within `tol` at the top cosine) that have its sense;
    averaged over occurrences. vectors (n, D), n >= 2. All-identical vectors (layer 0) give
    exactly `chance_agreement(senses)`."""
    senses = np.asarray(senses)
    if len(senses) < 2:
        raise ValueError("need at least two occurrences")
    u = unit(vectors)
    sims = u @ u.T
    np.fill_diagonal(sims, -np.inf)
    top = sims >= sims.max(axis=1, keepdims=True) - tol
    same = senses[:, None] == senses[None, :]
    return float(np.mean((top & same).sum(1) / top.sum(1)))


def chance_agreement(senses: Sequence[str]) -> float:
    """The agreement of a neighbour drawn at random among the other occurrences."""
    counts = np.array(list(Counter(senses).values()), dtype=float)
    n = counts.sum()
    return float((counts * (counts - 1)).sum() / (n * (n - 1)))


# ---------------------------------------------------------------------- part of speech

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
    `elmo.corpus` does (so the forms are the corpus's tokens)."""
    from kiwipiepy import Kiwi

    counts: dict[str, Counter] = {}
    for doc in Kiwi(num_workers=num_workers).split_into_sents(list(texts), return_tokens=True):
        for sent in doc:
            for tok in sent.tokens:
                if tok.form.strip():
                    counts.setdefault(tok.form, Counter())[tok.tag] += 1
    return counts


def petition_tag_counts(cfg, n_petitions: int, root=None) -> dict[str, Counter]:
    """`tag_counts` of the first `n_petitions` (deduplicated) petitions of the *train* split."""
    from elmo.corpus import dedupe
    from elmo.data import clean_text, read_petitions, split_of

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


# ------------------------------------------------------------------------------- UMAP


def umap_2d(vectors: np.ndarray, seed: int = 0, n_neighbors: int = 15, metric: str = "cosine") -> np.ndarray | None:
    """A 2-d UMAP of (n, D) vectors, (n, 2); None when it is meaningless: fewer than 4 points, or
    all points identical (layer 0, where every occurrence of a token has one vector)."""
    if len(vectors) < 4 or np.allclose(vectors, vectors[:1], atol=1e-5):
        return None
    import umap  # slow to import (numba): only when a projection is asked for

    reducer = umap.UMAP(n_neighbors=min(n_neighbors, len(vectors) - 1), n_components=2, metric=metric,
                        random_state=seed, init="random" if len(vectors) < 10 else "spectral")  # fmt: skip
    return reducer.fit_transform(np.asarray(vectors, dtype=np.float32))


def _colours(labels: Sequence[str]) -> dict[str, str]:
    """A stable colour per label, grey for the unlabelled/unseen."""
    import matplotlib

    names = [label for label in dict.fromkeys(labels) if label not in (UNLABELLED, "unseen", "other")]
    cmap = list(PALETTE[:6]) + [matplotlib.colormaps["tab20"](i) for i in range(20)]
    out = {label: cmap[i % len(cmap)] for i, label in enumerate(names)}
    out.update({UNLABELLED: "#c8c8c8", "unseen": "#c8c8c8", "other": "#9a9a9a"})
    return out


def occurrences_umap_figure(panels: dict[str, list[np.ndarray | None]], senses: dict[str, Sequence[str]],
                            sources: dict[str, Sequence[str]], layer_names: Sequence[str] | None = None) -> Figure:
    """One row per word, one panel per layer: its occurrences in 2-d, coloured by proxy sense,
    marker by source (^ YNAT, o the others). A None panel (identical vectors) says so in words.

    panels : word -> per-layer (n, 2) coordinates or None. senses, sources : word -> n labels.
    """
    words = list(panels)
    n_layers = max(len(v) for v in panels.values())
    names = layer_names or [f"layer {j}" + (" (char-CNN)" if j == 0 else "") for j in range(n_layers)]
    fig = Figure(figsize=(3.6 * n_layers + 1.8, 3.3 * len(words)), constrained_layout=True)
    axes = np.atleast_2d(fig.subplots(len(words), n_layers, squeeze=False))
    for row, w in enumerate(words):
        colours = _colours(HOMOGRAPHS.get(w, ()) + tuple(senses[w]))
        sense_arr, src_arr = np.asarray(senses[w]), np.asarray(sources[w])
        for col, coords in enumerate(panels[w]):
            ax = axes[row, col]
            ax.set(xticks=[], yticks=[], title=f"{w}: {names[col]}")
            if coords is None:
                ax.text(0.5, 0.5, f"all {len(sense_arr)} occurrences\nhave the same vector\n(context-free)",
                        ha="center", va="center", transform=ax.transAxes, fontsize=9)
                continue
            ax.grid(False)
            for sense in dict.fromkeys(sense_arr):
                for is_ynat in (False, True):
                    m = (sense_arr == sense) & ((src_arr == "ynat") == is_ynat)
                    if m.any():
                        ax.scatter(coords[m, 0], coords[m, 1], s=12, marker="^" if is_ynat else "o",
                                   color=colours[sense], alpha=0.75, linewidths=0)
        axes[row, -1].legend(handles=_legend_handles(colours, sense_arr), fontsize=7.5, frameon=False,
                             loc="upper left", bbox_to_anchor=(1.02, 1.0))
    return fig


def _legend_handles(colours: dict, senses: Sequence[str]) -> list:
    """One entry per sense (its colour and count), then the two marker shapes."""
    from matplotlib.lines import Line2D

    counts = Counter(senses)
    handles = [Line2D([], [], ls="", marker="o", color=colours[s], label=f"{s} ({counts[s]})") for s in counts]
    return handles + [Line2D([], [], ls="", marker=m, color="#555555", mfc="none", label=lab)
                      for m, lab in (("o", "petitions"), ("^", "YNAT"))]  # fmt: skip


def pos_colours() -> dict[str, tuple]:
    """One distinct colour per POS group (tab10 without its grey, then black and light blue);
    grey only for unseen/other."""
    import matplotlib

    tab = matplotlib.colormaps["tab10"]
    palette = [tab(i) for i in (0, 1, 2, 3, 4, 5, 6, 8, 9)] + ["#000000", matplotlib.colormaps["tab20"](1)]
    out = {name: palette[i % len(palette)] for i, (name, _) in enumerate(POS_GROUPS)}
    out.update({"unseen": "#c8c8c8", "other": "#9a9a9a"})
    return out


def pos_umap_figure(coords: np.ndarray, words: Sequence[str], groups: Sequence[str], per_group: int = 3,
                    title: str = "GloVe (petitions): top words by part of speech") -> Figure:
    """The static space in 2-d: coords (n, 2) for `words` (most frequent first), coloured by POS
    group; the `per_group` most frequent words of each group are written beside their points."""
    fig = Figure(figsize=(9, 7), constrained_layout=True)
    ax = fig.subplots()
    colours, groups = pos_colours(), np.asarray(groups)
    for g in sorted(set(groups), key=lambda g: -int((groups == g).sum())):
        m = groups == g
        ax.scatter(coords[m, 0], coords[m, 1], s=7, color=colours[g], alpha=0.7, linewidths=0,
                   label=f"{g} ({int(m.sum())})")
    ax.grid(False)
    for g in set(groups) - {"unseen", "other"}:
        for i in np.flatnonzero(groups == g)[:per_group]:
            ax.annotate(words[i], coords[i], fontsize=8, color=colours[g], xytext=(2, 2), textcoords="offset points")
    ax.set(xticks=[], yticks=[], title=title)
    ax.legend(fontsize=7, frameon=False, markerscale=2, loc="best")
    return fig


def geometry_figure(geometry: pd.DataFrame, glove_anisotropy: float | None = None,
                    homographs: pd.DataFrame | None = None) -> Figure:
    """Left: anisotropy, mean self-similarity and adjusted self-similarity by layer (GloVe's
    anisotropy as a dashed line). Right: each homograph's adjusted self-similarity by layer.

    geometry : `layer_geometry`'s frame. homographs : `word_self_similarity`'s frame.
    """
    fig = Figure(figsize=(10.5, 4), constrained_layout=True)
    left, right = fig.subplots(1, 2)
    layers = geometry.index.to_numpy()
    for col, label in (("anisotropy", "anisotropy (random pairs)"),
                       ("self_similarity", "self-similarity (frequent words)"),
                       ("adjusted", "self-sim. - anisotropy")):  # fmt: skip
        left.plot(layers, geometry[col], marker="o", label=label)
    if glove_anisotropy is not None:
        left.axhline(glove_anisotropy, color="#7f7f7f", ls="--", lw=1, label="GloVe anisotropy")
    left.set(xticks=layers, xlabel="layer (0 = char-CNN)", ylabel="mean cosine", title="Anisotropy and self-similarity")
    left.legend(fontsize=8, frameon=False)
    if homographs is not None and len(homographs):
        for w, g in homographs.groupby("word", sort=False):
            right.plot(g["layer"], g["adjusted"], marker="o", label=f"{w} (n={int(g['n'].iloc[0])})")
        if "adjusted" in geometry:
            right.plot(layers, geometry["adjusted"], color="k", ls=":", lw=1.5, label="frequent words (mean)")
        right.set(xticks=layers, xlabel="layer (0 = char-CNN)", ylabel="self-sim. - anisotropy",
                  title="Homographs: adjusted self-similarity")
        right.legend(fontsize=8, frameon=False)
    return fig


def agreement_table(bank: ContextBank, words: Sequence[str]) -> pd.DataFrame:
    """Per homograph: labelled occurrences, and the 1-NN proxy-sense agreement of each layer
    among them against the chance level. Words with fewer than 2 labelled senses are skipped."""
    rows = []
    for w in words:
        r = np.array([x for x in bank.rows(w) if bank.sense(int(x)) != UNLABELLED], dtype=np.int64)
        senses = [bank.sense(int(x)) for x in r]
        if len(set(senses)) < 2:
            continue
        row = {"word": w, "labelled": len(r), "senses": dict(Counter(senses).most_common()),
               "chance": chance_agreement(senses)}  # fmt: skip
        for layer in range(bank.n_layers):
            row[f"layer {layer}"] = nn_sense_agreement(bank.vectors[layer, r], senses)
        rows.append(row)
    return pd.DataFrame(rows).set_index("word") if rows else pd.DataFrame()
