"""Labels for new headlines from a trained YNAT task model.
"""
from __future__ import annotations

from typing import Callable, Sequence

import torch

from elmo.data.readers import YNAT_LABELS, clean_text
from elmo.data.text import UNK, Tokenizer, TokenizerSettings
from elmo.ynat.data import MAX_TOKENS, TaskVocab, encode_padded, fit_length
from elmo.ynat.model import TopicClassifier, to_device
from elmo.ynat.subwords import SubwordVocab


@torch.no_grad()
def predict(
    model: TopicClassifier,
    texts: Sequence[str],
    elmo=None,
    tokenize: Callable[[list[str]], list[list[str]]] | None = None,
    batch_size: int = 64,
) -> list[str]:
    """Label names (YNAT_LABELS) for new headlines.

    # Parameters
    model : a trained TopicClassifier (its checkpoint carries the vocabulary and tokenizer).
    texts : headlines; each must be a str (else TypeError). Empty or whitespace-only text, emoji
        and unseen characters are fine: unknown tokens map to `<unk>`, and a headline with no
        tokens at all is read as the single token `<unk>` (so it still gets a prediction, the
        model's guess for "no known content").
    elmo : required when the model reads the biLM's layers (ELMo, or char-CNN x_k): an object with `layers(list of token lists) ->
        (layers (L+1, B, T, D), mask (B, T))`, aligned with the tokens (no <bos>/<eos>).
    tokenize : texts -> token lists; default the model's own tokenizer settings.
    """
    token_lists = _tokenize_for_predict(model, texts, tokenize)
    if model.needs_layers and elmo is None:
        raise ValueError("this model reads the biLM's layers: pass elmo= (an object with .layers(token_lists))")
    vocab = TaskVocab(model.vocab_itos)
    grams = SubwordVocab(model.subword_itos) if model.uses_subwords else None
    was_training = model.training
    model.eval()
    ids: list[int] = []
    for i in range(0, len(token_lists), batch_size):
        ids.extend(_predict_batch(model, vocab, token_lists[i : i + batch_size], elmo, grams))
    model.train(was_training)
    return [YNAT_LABELS[j] for j in ids]


def _tokenize_for_predict(model: TopicClassifier, texts: Sequence[str], tokenize) -> list[list[str]]:
    """Type-checked, cleaned, tokenized, cut to MAX_TOKENS; an empty result becomes [<unk>]."""
    if isinstance(texts, str) or not isinstance(texts, Sequence):
        raise TypeError(f"predict expects a list of str headlines, got {type(texts).__name__}")
    for i, t in enumerate(texts):
        if not isinstance(t, str):
            raise TypeError(f"predict expects str headlines; item {i} is {type(t).__name__}")
    if model.vocab_itos is None or (model.uses_subwords and model.subword_itos is None):
        raise ValueError("the model carries no vocabulary (build it with build_model or load a checkpoint)")
    tokenize = tokenize or Tokenizer(TokenizerSettings(**(model.hparams.tokenizer or {}))).tokenize_many
    return [list(toks)[:MAX_TOKENS] or [UNK] for toks in tokenize([clean_text(t) for t in texts])]


def _predict_batch(
    model: TopicClassifier, vocab: TaskVocab, token_lists: list[list[str]], elmo, grams: SubwordVocab | None
) -> list[int]:
    ids, mask = encode_padded(token_lists, vocab)
    layers = None
    if model.needs_layers:
        layers, _ = elmo.layers(token_lists)
        layers = fit_length(layers.float(), ids.shape[1])
    subwords = grams.encode_tokens(token_lists, ids.shape[1]) if grams is not None else None
    logits = model(*(to_device(t, model.device) for t in (ids, mask, layers, subwords)))
    return logits.argmax(dim=-1).tolist()
