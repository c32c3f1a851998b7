"""The causality check that `python -m elmo.gpucheck` runs on a device: exact on a causal biLM,
and it catches the seed's leak (a forward LM that reads the backward states)."""

import pytest
import torch
from lm_fixtures import TOY_SENTENCES, toy_model_config

from elmo.bilm.checks import causality
from elmo.bilm.model import BiLM
from elmo.data.text import PAD_ID, TextEncoder, TokenizerSettings


def _batch():
    encoder = TextEncoder.build(TOY_SENTENCES, TokenizerSettings(tokenizer="eojeol"), min_freq=1)
    encoded = [encoder.encode_sentence(s) for s in TOY_SENTENCES]
    t, w = max(len(ids) for ids, _ in encoded), encoder.settings.max_chars
    char_ids = torch.full((len(encoded), t, w), PAD_ID, dtype=torch.long)
    mask = torch.zeros(len(encoded), t, dtype=torch.bool)
    for b, (ids, chars) in enumerate(encoded):
        char_ids[b, : len(ids)], mask[b, : len(ids)] = torch.tensor(chars), True
    torch.manual_seed(0)
    return BiLM(toy_model_config(), len(encoder.tokens), len(encoder.chars)), char_ids, mask


def test_a_causal_bilm_passes_exactly_and_the_probe_sees_its_own_token():
    model, char_ids, mask = _batch()
    r = causality(model, char_ids, mask)
    # Not bit-exact here: the char-CNN encodes each distinct spelling of the batch once, and a
    # batch of other spellings changes matmul shapes (float rounding of ~1e-7, not a leak).
    assert r["forward_max_change"] < 1e-5 and r["backward_max_change"] < 1e-5 and r["causal"]
    assert r["own_token_min_change"] > 1e-3 and len(r["positions"]) >= 2


def test_the_seed_leak_is_caught():
    model, char_ids, mask = _batch()
    top = model._top_states
    model._top_states = lambda c, m: (lambda f, b: (f + b, b))(*top(c, m))  # forward reads the future
    r = causality(model, char_ids, mask)
    assert r["forward_max_change"] > 1e-3 and r["backward_max_change"] < 1e-5 and not r["causal"]


def test_too_short_sentences_are_refused():
    model, char_ids, mask = _batch()
    with pytest.raises(ValueError, match="at least 3"):
        causality(model, char_ids[:, :2], mask[:, :2])
