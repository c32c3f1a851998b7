import numpy as np
import torch
from lm_fixtures import synthetic_corpus, tiny_config

from elmo.bilm.datamodule import EncodedSentences, PetitionsLM
from elmo.data.batching import BucketBatchSampler
from elmo.data.text import BOS, EOS, PAD_ID, TextEncoder, TokenizerSettings


def encoded():
    corpus = synthetic_corpus()
    enc = TextEncoder.build(corpus.train, TokenizerSettings(tokenizer="eojeol", max_chars=8), min_freq=1)
    return corpus, enc, EncodedSentences(corpus.train, enc)


def test_collate_matches_direct_encoding():
    corpus, enc, ds = encoded()
    batch = ds.collate([ds[0], ds[1], ds[2]])
    for i in range(3):
        tok, chars = enc.encode_sentence(corpus.train[i])
        n = len(tok)
        assert batch.mask[i].sum() == n and not batch.mask[i, n:].any()
        assert batch.token_ids[i, :n].tolist() == tok
        assert batch.char_ids[i, :n].tolist() == chars
        assert (batch.token_ids[i, n:] == PAD_ID).all() and (batch.char_ids[i, n:] == PAD_ID).all()
    assert enc.tokens.decode(batch.token_ids[0, :1].tolist()) == [BOS]
    assert batch.n_predicted == int(batch.mask.sum()) - 3


def test_bucket_sampler_covers_everything_once_and_repeats_by_epoch():
    lengths = np.random.default_rng(0).integers(3, 60, size=1000)
    s = BucketBatchSampler(lengths, 32, shuffle=True, seed=1)
    first = list(s)
    assert sorted(i for b in first for i in b) == list(range(1000))
    assert list(s) == first
    s.set_epoch(1)
    assert list(s) != first
    spread = np.mean([lengths[b].max() - lengths[b].min() for b in first])
    assert spread < 10  # buckets keep padding small


def test_datamodule_builds_vocab_from_train_only():
    corpus = synthetic_corpus()
    corpus.valid.append(["처음보는단어"])
    dm = PetitionsLM(tiny_config(), corpus=corpus)
    dm.setup()
    assert "처음보는단어" not in dm.encoder.tokens
    batch = next(iter(dm.val_dataloader()))
    assert batch.char_ids.dim() == 3 and batch.mask.dtype == torch.bool
    assert EOS in dm.encoder.tokens


def test_lightning_reaches_the_bucket_sampler_epoch():
    """Lightning sets the epoch through `loader.batch_sampler.sampler`; each epoch must reorder."""
    from lightning_fabric.utilities.data import _set_sampler_epoch
    from torch.utils.data import DataLoader

    lengths = np.random.default_rng(0).integers(3, 60, size=300)
    loader = DataLoader(list(range(300)), batch_sampler=BucketBatchSampler(lengths, 16, seed=0))
    first = list(loader.batch_sampler)
    _set_sampler_epoch(loader, 1)
    assert list(loader.batch_sampler) != first
    _set_sampler_epoch(loader, 0)
    assert list(loader.batch_sampler) == first
