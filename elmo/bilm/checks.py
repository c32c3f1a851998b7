"""Checks of a biLM's one promise the seed broke (KNOWN.md, fault 1): each LM reads only its past.

`causality(model, char_ids, mask)` replaces every token after position t (forward LM) or before
t (backward LM) by the spellings of other tokens of the batch and measures how far the
log-probabilities at t moved. A causal biLM moves them by float rounding at most (~1e-7 nats in
fp32: the char-CNN encodes each distinct spelling of a batch once, so other spellings change its
matmul shapes); the seed's shared bidirectional LSTM moved them by whole nats. The probe is not
vacuous: replacing the token at t itself must move both directions at t.

The unit tests (tests/bilm/test_model.py) prove the property exhaustively on a toy model; this
function is what `python -m elmo.gpucheck` runs on the device, at the profile's size.
"""

from __future__ import annotations

import torch

from elmo.bilm.model import BiLM


TOLERANCE = 1e-4  # nats: far above fp32 rounding, far below any real leak


@torch.no_grad()
def causality(model: BiLM, char_ids: torch.Tensor, mask: torch.Tensor, positions: int = 4, seed: int = 0) -> dict:
    """Largest change of each direction's log-probs at t when the other side of t is replaced.

    # Parameters
    char_ids : (B, T, W) long, right-padded; mask : (B, T) bool, every row >= 3 real tokens.
    positions : how many positions t to probe (spread over the shortest row).

    # Returns
    {"forward_max_change", "backward_max_change"} (nats; float noise for a causal model),
    "own_token_min_change" (the smaller direction's change when token t itself is replaced;
    > 0 shows the probe can see a change), "positions" (the t probed), and "causal": both
    changes below TOLERANCE while the own token's is above it.
    """
    was_training = model.training
    model.eval()
    n = int(mask.sum(dim=1).min())
    if n < 3:
        raise ValueError("every sentence needs at least 3 real tokens to probe causality")
    ts = sorted({int(t) for t in torch.linspace(1, n - 2, min(positions, n - 2)).round()})
    g = torch.Generator().manual_seed(seed)
    fwd, bwd = model.direction_log_probs(char_ids, mask)
    out = {"forward_max_change": 0.0, "backward_max_change": 0.0, "own_token_min_change": float("inf"), "positions": ts}
    for t in ts:
        positions_t = torch.arange(char_ids.shape[1], device=char_ids.device)
        f2, _ = model.direction_log_probs(_replace(char_ids, positions_t > t, g), mask)
        _, b2 = model.direction_log_probs(_replace(char_ids, positions_t < t, g), mask)
        f3, b3 = model.direction_log_probs(_replace(char_ids, positions_t == t, g), mask)
        out["forward_max_change"] = max(out["forward_max_change"], _max_diff(fwd[:, : t + 1], f2[:, : t + 1]))
        out["backward_max_change"] = max(out["backward_max_change"], _max_diff(bwd[:, t:n], b2[:, t:n]))
        own = min(_max_diff(fwd[:, t], f3[:, t]), _max_diff(bwd[:, t], b3[:, t]))
        out["own_token_min_change"] = min(out["own_token_min_change"], own)
    model.train(was_training)
    out["causal"] = max(out["forward_max_change"], out["backward_max_change"]) < TOLERANCE < out["own_token_min_change"]
    return out


def _replace(char_ids: torch.Tensor, where: torch.Tensor, g: torch.Generator) -> torch.Tensor:
    """A copy whose positions `where` (T,) hold the spellings of other, randomly drawn batch positions."""
    b, t, _ = char_ids.shape
    # (B, T): for every position, a random source position (row, column) of the same batch.
    rows = torch.randint(0, b, (b, t), generator=g).to(char_ids.device)
    cols = torch.randint(0, t, (b, t), generator=g).to(char_ids.device)
    donor = char_ids[rows, cols]
    same = (donor == char_ids).all(dim=-1)  # a donor that spells the same token changes nothing:
    donor[same] = char_ids.roll(1, dims=1)[same]  # take the neighbour's spelling instead
    out = char_ids.clone()
    out[:, where] = donor[:, where]
    return out


def _max_diff(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a.float() - b.float()).abs().max())
