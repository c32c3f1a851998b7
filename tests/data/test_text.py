from collections import Counter

import pytest

from elmo.data.text import (
    BOS,
    EOS,
    PAD_ID,
    UNK_ID,
    TextEncoder,
    Tokenizer,
    TokenizerSettings,
    Vocab,
    pack_sentences,
    split_long,
)

SENTS = [["정부", "는", "국민", "의"], ["국민", "청원", "이", "다"], ["정부", "청원"]]


def encoder(**kw):
    return TextEncoder.build(SENTS, TokenizerSettings(tokenizer="eojeol", **kw), min_freq=1)


def test_min_freq_is_inclusive_and_order_deterministic():
    v = Vocab.build(Counter({"a": 2, "b": 1, "c": 2}), ("<pad>", "<unk>"), min_freq=2)
    assert v.itos == ["<pad>", "<unk>", "a", "c"]  # the seed's off-by-one dropped count == min_freq
    assert v["zzz"] == UNK_ID and len(v) == 4


def test_vocab_never_grows():
    v = encoder().tokens
    n = len(v)
    v.encode(["처음", "보는", "말"])
    assert len(v) == n


def test_char_vocab_from_the_tokens_the_model_sees():
    enc = encoder()
    seen = {ch for s in SENTS for t in s for ch in t}
    assert seen <= set(enc.chars.itos)
    for s in SENTS:
        for t in s:
            assert UNK_ID not in enc.char_ids(t)


def test_unseen_chars_and_emoji_get_unk_not_crash():
    ids = encoder().char_ids("😀뷁")
    assert ids[1] == UNK_ID and ids[2] == UNK_ID


def test_long_token_truncated_keeping_markers():
    enc = encoder(max_chars=5)
    ids = enc.char_ids("정부국민청원")
    bow, eow = enc.chars["<bow>"], enc.chars["<eow>"]
    assert len(ids) == 5 and ids[0] == bow and ids[-1] == eow
    assert enc.chars.decode(ids[1:4]) == ["정", "부", "국"]


def test_short_token_padded():
    enc = encoder(max_chars=6)
    ids = enc.char_ids("다")
    assert ids[3:] == [PAD_ID] * 3


def test_sentence_gets_bos_eos_with_their_own_spelling():
    enc = encoder()
    tok, chars = enc.encode_sentence(["정부", "청원"])
    assert enc.tokens.decode(tok) == [BOS, "정부", "청원", EOS]
    assert chars[0][1] == enc.chars[BOS] and chars[-1][1] == enc.chars[EOS]


def test_jamo_unit_decomposes():
    t = Tokenizer(TokenizerSettings(char_unit="jamo"))
    assert t.chars("한") == ["\u1112", "\u1161", "\u11ab"]
    assert Tokenizer().chars("한") == ["한"]


def test_encoder_round_trip(tmp_path):
    enc = encoder(char_unit="jamo")
    enc.save(tmp_path / "e.json")
    again = TextEncoder.load(tmp_path / "e.json")
    assert again.settings == enc.settings and again.tokens.itos == enc.tokens.itos
    assert again.char_ids("국민") == enc.char_ids("국민")


def test_split_long_drops_nothing():
    toks = [str(i) for i in range(10)]
    parts = split_long(toks, 4)
    assert [len(p) for p in parts] == [4, 4, 2] and sum(parts, []) == toks


def test_bad_settings_are_refused():
    with pytest.raises(ValueError, match="tokenizer"):
        TokenizerSettings(tokenizer="bpe")
    with pytest.raises(ValueError, match="max_chars"):
        TokenizerSettings(max_chars=2)


def test_morpheme_tokenizer_and_empty_text():
    tok = Tokenizer()
    assert tok("") == [] and tok("   \n ") == []
    out = tok.tokenize_many(["국민청원입니다.", "", "😀 ㅋㅋ"])
    assert "국민" in out[0] and out[1] == [] and "😀" in out[2]
    with pytest.raises(TypeError, match="text 0"):
        tok.tokenize_many([None])


def test_sentence_splitter():
    assert len(Tokenizer().split_sentences("첫 문장입니다. 두 번째 문장입니다.")) == 2
    assert Tokenizer().split_sentences("  ") == []


def test_pack_sentences_fills_windows_within_each_document_in_order():
    sents = [["a"] * 3, ["b"] * 2, ["c"] * 4, ["d"] * 1, ["e"] * 5, ["f"] * 2]
    windows = pack_sentences(sents, [0, 3], max_tokens=7)
    # Document 1: a+b fit (3+1+2), c does not; document 2 starts at d whatever room is left.
    assert windows == [["a"] * 3 + [EOS] + ["b"] * 2, ["c"] * 4, ["d"] + [EOS] + ["e"] * 5, ["f"] * 2]
    assert all(len(w) <= 7 for w in windows)
    # The same tokens in the same order, and one boundary per sentence in each direction:
    # (tokens + inner <eos>) + one <eos> per window = tokens + one per sentence.
    assert [t for w in windows for t in w if t != EOS] == [t for s in sents for t in s]
    assert sum(len(w) + 1 for w in windows) == sum(len(s) + 1 for s in sents)
    assert pack_sentences(sents, range(len(sents)), 7) == sents  # one sentence a document
    assert pack_sentences([], [], 7) == []


def test_pack_sentences_refuses_a_sentence_longer_than_a_window():
    with pytest.raises(ValueError, match="split_long"):
        pack_sentences([["a"] * 8], [0], max_tokens=7)
