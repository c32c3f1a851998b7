"""GloVe static vectors: co-occurrence counting by hand, training behaviour, storage."""

import numpy as np
import pytest
import torch

from elmo.embed.glove import StaticVectors, build_vocab, cooccurrence, fit_static, train_glove, weighting


def test_cooccurrence_hand_example():
    # "x" is out of vocabulary: skipped, but it still separates c and a by two positions.
    # The boundary between sentences 1 and 2 must not pair the two adjacent c's.
    sentences = [["a", "b", "c"], ["c", "x", "a"], ["a", "a"]]
    X = cooccurrence(sentences, ["a", "b", "c"], window=10)
    assert X.shape == (3, 3)
    expected = np.array([
        # a: a-b at d=1 (1), a-c at d=2 in sentence 1 (1/2) and across x in sentence 2 (1/2);
        #    "a a" adds 1 from each side to the diagonal.
        [2.0, 1.0, 1.0],
        [1.0, 0.0, 1.0],  # b: b-a, b-c at d=1
        [1.0, 1.0, 0.0],  # c: no c-c pair, the sentences are separate
    ])
    np.testing.assert_allclose(X.toarray(), expected)
    np.testing.assert_allclose(X.toarray(), X.toarray().T)


def test_cooccurrence_window_and_distance_weights():
    X = cooccurrence([["a", "b", "c", "d"]], ["a", "b", "c", "d"], window=2).toarray()
    assert X[0, 1] == 1.0 and X[0, 2] == 0.5 and X[0, 3] == 0.0  # d=3 is outside the window
    X = cooccurrence([["a", "b", "c", "d"]], ["a", "d"], window=3).toarray()
    np.testing.assert_allclose(X, [[0, 1 / 3], [1 / 3, 0]])
    assert cooccurrence([], ["a"]).nnz == 0


def test_weighting():
    x = torch.tensor([0.5, 10.0, 100.0, 1000.0])
    np.testing.assert_allclose(weighting(x).numpy(), [(0.5 / 100) ** 0.75, 0.1 ** 0.75, 1, 1],
                               rtol=1e-6)


def _two_clusters(n_sentences=1500, seed=0):
    """Random filler words f0..f29 around one "lA Ak rA" or "lB Bk rB" phrase per sentence, k=1..5.

    A1..A5 are interchangeable (same contexts), as are B1..B5; the fillers give every word a
    shared background so that only the phrase contexts tell the groups apart.
    """
    rng = np.random.default_rng(seed)
    sentences = []
    for _ in range(n_sentences):
        sentence = [f"f{k}" for k in rng.integers(0, 30, size=6)]
        group = "A" if rng.random() < 0.5 else "B"
        pos = int(rng.integers(0, 7))
        sentence[pos:pos] = [f"l{group}", f"{group}{int(rng.integers(1, 6))}", f"r{group}"]
        sentences.append(sentence)
    return sentences


def test_loss_decreases_and_seed_determinism():
    sentences = _two_clusters(300)
    vocab = build_vocab(sentences, min_freq=1)
    X = cooccurrence(sentences, vocab, window=4)
    v1, losses = train_glove(X, dim=10, epochs=15, seed=3, batch_size=64)
    assert len(losses) == 15 and losses[-1] < 0.5 * losses[0]
    assert v1.shape == (len(vocab), 10) and v1.dtype == np.float32
    v2, losses2 = train_glove(X, dim=10, epochs=15, seed=3, batch_size=64)
    np.testing.assert_array_equal(v1, v2)
    assert losses == losses2
    v3, _ = train_glove(X, dim=10, epochs=15, seed=4, batch_size=64)
    assert not np.array_equal(v1, v3)


def test_interchangeable_words_are_neighbours():
    sv = fit_static(_two_clusters(), min_freq=1, dim=20, window=3, epochs=30, seed=0,
                    batch_size=128)
    a_words = {f"A{k}" for k in range(2, 6)}
    neighbours = [w for w, _ in sv.most_similar("A1", k=len(sv.vocab))]
    assert "A1" not in neighbours
    # Every other A-word ranks above every B-word.
    rank = {w: r for r, w in enumerate(neighbours)}
    assert max(rank[w] for w in a_words) < min(rank[f"B{k}"] for k in range(1, 6))
    sims = dict(sv.most_similar("A1", k=4))
    assert set(sims) == a_words
    assert list(sims.values()) == sorted(sims.values(), reverse=True)


def test_vocab_by_frequency():
    sentences = [["z", "y", "y", "x", "x", "x", "w"], ["y", "z"]]
    assert build_vocab(sentences, min_freq=2) == ["x", "y", "z"]
    assert build_vocab(sentences, max_vocab=2, min_freq=1) == ["x", "y"]


def test_save_load_roundtrip_and_lookup(tmp_path):
    rng = np.random.default_rng(0)
    sv = StaticVectors(["가", "나", "다"], rng.standard_normal((3, 4)).astype(np.float32))
    loaded = StaticVectors.load(sv.save(tmp_path / "glove"))
    assert loaded.vocab == sv.vocab
    np.testing.assert_array_equal(loaded.vectors, sv.vectors)
    assert "나" in loaded and "라" not in loaded
    np.testing.assert_array_equal(loaded["다"], sv.vectors[2])
    with pytest.raises(KeyError, match="not in the static vocabulary"):
        loaded["라"]
    with pytest.raises(KeyError, match="라"):
        loaded.most_similar("라")
    with pytest.raises(ValueError):
        StaticVectors(["a"], np.zeros((2, 3)))
