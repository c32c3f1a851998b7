"""Tokens (kiwipiepy morphemes or whitespace eojeols), characters, and frozen vocabularies.

The character vocabulary is built from exactly the tokens the model sees (the seed built it from
the first characters of raw sentences, so 2 % of its tokens became all-unknown characters), and
both vocabularies are frozen dicts: an unseen string maps to `<unk>`, it never grows the table.
"""

from __future__ import annotations

import json
import unicodedata
from collections import Counter
from dataclasses import asdict, dataclass
from functools import cached_property
from typing import Iterable, Sequence

from kiwipiepy import Kiwi

PAD, UNK, BOS, EOS = "<pad>", "<unk>", "<bos>", "<eos>"
TOKEN_SPECIALS = (PAD, UNK, BOS, EOS)  # ids 0..3 in every token vocabulary
BOW, EOW = "<bow>", "<eow>"
# Character specials: pad/unk, begin/end of word, and one "character" for each sentence marker,
# so <bos>/<eos> get a character spelling of their own ([<bow>, <bos>, <eow>]), as in bilm-tf.
CHAR_SPECIALS = (PAD, UNK, BOW, EOW, BOS, EOS)
PAD_ID, UNK_ID, BOS_ID, EOS_ID = 0, 1, 2, 3


@dataclass(frozen=True)
class TokenizerSettings:
    """Everything needed to turn text into the tokens and characters a model was trained on."""

    tokenizer: str = "morpheme"
    char_unit: str = "syllable"
    max_chars: int = 16

    def __post_init__(self) -> None:
        if self.tokenizer not in ("morpheme", "eojeol"):
            raise ValueError(f"tokenizer must be 'morpheme' or 'eojeol', not {self.tokenizer!r}")
        if self.char_unit not in ("syllable", "jamo"):
            raise ValueError(f"char_unit must be 'syllable' or 'jamo', not {self.char_unit!r}")
        if self.max_chars < 3:
            raise ValueError("max_chars must leave room for <bow>, one character and <eow>")


class Tokenizer:
    """Text -> list of token strings. Morphemes come from kiwipiepy, eojeols from whitespace.

    Empty or whitespace-only text gives an empty list (the caller decides whether that is an
    error); the tokenizer itself never raises on odd characters such as emoji.
    """

    def __init__(self, settings: TokenizerSettings | None = None, num_workers: int = 0):
        self.settings = settings or TokenizerSettings()
        self.num_workers = num_workers

    @cached_property
    def _kiwi(self):
        return Kiwi(num_workers=self.num_workers)

    def __call__(self, text: str) -> list[str]:
        return self.tokenize_many([text])[0]

    def tokenize_many(self, texts: Sequence[str]) -> list[list[str]]:
        for i, t in enumerate(texts):
            if not isinstance(t, str):
                raise TypeError(f"text {i} is {type(t).__name__}, expected str")
        if self.settings.tokenizer == "eojeol":
            return [t.split() for t in texts]
        out: list[list[str]] = [[] for _ in texts]
        nonempty = [i for i, t in enumerate(texts) if t.strip()]
        chosen = [texts[i] for i in nonempty]
        # kiwipiepy analyses a list only with worker threads; without them, one text at a time.
        results = self._kiwi.tokenize(chosen) if self.num_workers else [self._kiwi.tokenize(t) for t in chosen]
        for i, toks in zip(nonempty, results):
            out[i] = [tok.form for tok in toks if tok.form.strip()]
        return out

    def chars(self, token: str) -> list[str]:
        """The character units of one token: syllables, or jamo from Unicode decomposition."""
        if self.settings.char_unit == "jamo":
            return list(unicodedata.normalize("NFD", token))
        return list(token)

    def split_sentences(self, text: str) -> list[str]:
        """Sentences of a document (kiwipiepy's splitter), empty ones dropped."""
        if not text.strip():
            return []
        return [s.text.strip() for s in self._kiwi.split_into_sents(text) if s.text.strip()]


class Vocab:
    """A frozen string <-> id table; ids of `specials` come first, unseen strings map to unk."""

    def __init__(self, itos: Sequence[str], specials: Sequence[str]):
        if list(itos[: len(specials)]) != list(specials):
            raise ValueError(f"vocabulary must start with its specials {list(specials)}")
        if len(set(itos)) != len(itos):
            raise ValueError("vocabulary has duplicate entries")
        self.itos = list(itos)
        self.specials = tuple(specials)
        self.stoi = {s: i for i, s in enumerate(self.itos)}

    def __len__(self) -> int:
        return len(self.itos)

    def __contains__(self, s: str) -> bool:
        return s in self.stoi

    def __getitem__(self, s: str) -> int:
        return self.stoi.get(s, UNK_ID)

    def encode(self, items: Iterable[str]) -> list[int]:
        return [self.stoi.get(s, UNK_ID) for s in items]

    def decode(self, ids: Iterable[int]) -> list[str]:
        return [self.itos[i] for i in ids]

    @classmethod
    def build(
        cls,
        counts: Counter,
        specials: Sequence[str],
        min_freq: int = 1,
        max_size: int | None = None,
    ) -> "Vocab":
        """Most frequent first, ties broken by the string, so the table is deterministic.

        A string enters when its count is >= min_freq (the seed's `min_freq` was off by one).
        """
        kept = [(s, c) for s, c in counts.items() if c >= min_freq and s not in specials]
        kept.sort(key=lambda sc: (-sc[1], sc[0]))
        if max_size is not None:
            kept = kept[:max_size]
        return cls(list(specials) + [s for s, _ in kept], specials)

    def to_dict(self) -> dict:
        return {"itos": self.itos, "specials": list(self.specials)}

    @classmethod
    def from_dict(cls, d: dict) -> "Vocab":
        return cls(d["itos"], d["specials"])


class TextEncoder:
    """Tokens -> (token ids, character ids): what a biLM consumes, and what it saves with itself.

    # Parameters
    settings : the tokenizer settings; `max_chars` includes <bow> and <eow>.
    tokens : the token vocabulary (TOKEN_SPECIALS first).
    chars : the character vocabulary (CHAR_SPECIALS first), built from the same tokens.
    """

    def __init__(self, settings: TokenizerSettings, tokens: Vocab, chars: Vocab):
        self.settings = settings
        self.tokens = tokens
        self.chars = chars
        self.tokenizer = Tokenizer(settings)

    @classmethod
    def build(
        cls,
        sentences: Iterable[Sequence[str]],
        settings: TokenizerSettings,
        min_freq: int = 2,
        max_vocab: int | None = None,
    ) -> "TextEncoder":
        """Both vocabularies from tokenized training sentences (never from valid/test)."""
        token_counts: Counter = Counter()
        for sent in sentences:
            token_counts.update(sent)
        tokens = Vocab.build(token_counts, TOKEN_SPECIALS, min_freq, max_vocab)
        # Characters come from every token the model reads, including those mapped to <unk>
        # in the token vocabulary: the char-CNN still sees their spelling.
        splitter = Tokenizer(settings)
        char_counts: Counter = Counter()
        for tok, c in token_counts.items():
            for ch in splitter.chars(tok)[: settings.max_chars - 2]:
                char_counts[ch] += c
        chars = Vocab.build(char_counts, CHAR_SPECIALS, min_freq=1)
        return cls(settings, tokens, chars)

    def char_ids(self, token: str) -> list[int]:
        """One token as [<bow>, c1, ..., <eow>, <pad>...] of length max_chars.

        Over-long tokens are truncated in the middle of the spelling, never at its markers: the
        first max_chars-2 characters are kept and <bow>/<eow> always frame them.
        """
        w = self.settings.max_chars
        if token in (BOS, EOS):
            inner = [self.chars[token]]
        else:
            inner = self.chars.encode(self.tokenizer.chars(token)[: w - 2])
        ids = [self.chars[BOW]] + inner + [self.chars[EOW]]
        return ids + [PAD_ID] * (w - len(ids))

    def encode_sentence(self, tokens: Sequence[str]) -> tuple[list[int], list[list[int]]]:
        """[<bos>] + tokens + [<eos>] as token ids (T,) and character ids (T, max_chars)."""
        seq = [BOS, *tokens, EOS]
        return [self.tokens[t] for t in seq], [self.char_ids(t) for t in seq]

    def to_dict(self) -> dict:
        return {
            "settings": asdict(self.settings),
            "tokens": self.tokens.to_dict(),
            "chars": self.chars.to_dict(),
        }

    @classmethod
    def from_dict(cls, d: dict) -> "TextEncoder":
        return cls(
            TokenizerSettings(**d["settings"]),
            Vocab.from_dict(d["tokens"]),
            Vocab.from_dict(d["chars"]),
        )

    def save(self, path) -> None:
        with open(path, "w", encoding="utf-8") as f:
            json.dump(self.to_dict(), f, ensure_ascii=False)

    @classmethod
    def load(cls, path) -> "TextEncoder":
        with open(path, encoding="utf-8") as f:
            return cls.from_dict(json.load(f))


def pack_sentences(sentences: Sequence[Sequence[str]], doc_starts: Sequence[int], max_tokens: int) -> list[list[str]]:
    """Consecutive sentences of each document in LM windows of at most `max_tokens` tokens.

    doc_starts : the index of each document's first sentence (ascending; sentences before the
    first start form a document of their own). A window takes the next sentence of its document
    while it fits, with one <eos> between two sentences; it never crosses a document, never splits
    a sentence (each is at most `max_tokens` already, `split_long`), and keeps their order. Every
    sentence still yields its tokens and one boundary as targets in each direction (the forward LM
    predicts that <eos>, the backward LM reads it as the next sentence's <bos>: `BiLM.nll`), so a
    packed split has exactly the predicted positions of the unpacked one.
    """
    bounds = sorted({0, *doc_starts, len(sentences)})
    windows: list[list[str]] = []
    for start, end in zip(bounds, bounds[1:]):
        window: list[str] = []
        for sent in sentences[start:end]:
            if len(sent) > max_tokens:
                raise ValueError(f"a sentence of {len(sent)} tokens does not fit max_tokens={max_tokens}: split_long it first")
            if window and len(window) + 1 + len(sent) > max_tokens:
                windows.append(window)
                window = []
            if window:
                window.append(EOS)
            window.extend(sent)
        if window:
            windows.append(window)
    return windows


def split_long(tokens: Sequence[str], max_tokens: int) -> list[list[str]]:
    """Split a token sequence into windows of at most max_tokens; nothing is dropped."""
    if max_tokens < 1:
        raise ValueError("max_tokens must be positive")
    return [list(tokens[i : i + max_tokens]) for i in range(0, len(tokens), max_tokens)]
