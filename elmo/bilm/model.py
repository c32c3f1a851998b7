"""The bidirectional language model of ELMo (Peters et al. 2018, Section 3.1).

Two separate LMs share the char-CNN token encoder and the softmax head, nothing else:
    forward LM  p(t_{k+1} | t_1 .. t_k)  reads left to right,
    backward LM p(t_{k-1} | t_k .. t_N)  reads right to left.
Each direction is a stack of single-layer LSTMs (the paper's LSTMP, `nn.LSTM(proj_size=...)`, or
an LSTM with its projection outside the recurrence, see `elmo.bilm.recurrence`), with a residual
connection from layer 2 up, so no layer ever sees the other direction or its own target (the
seed's single bidirectional 2-layer LSTM leaked both).

Batches are right-padded: sequences are [<bos>, tok_1 .. tok_n, <eos>] followed by pads, with
`mask` (B, T) True on real positions.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import warnings
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file
from torch import nn

from elmo.bilm.layers import CharCNN, Dropout, trim_char_width, unique_rows
from elmo.bilm.recurrence import make_lstm
from elmo.bilm.shapes import bucket, pad_rows
from elmo.bilm.softmax import make_softmax
from elmo.core.config import Config, ModelConfig
from elmo.data.text import BOS_ID, EOS_ID, PAD_ID, TextEncoder

FORMAT_VERSION = 1
# PyTorch warns once per process that LSTMP has no oneDNN kernel; it is expected (KNOWN.md).
warnings.filterwarnings("ignore", message="LSTM with projections is not supported with oneDNN")

CONFIG_FILE, ENCODER_FILE, WEIGHTS_FILE = "config.json", "encoder.json", "model.safetensors"


@dataclass
class BiLMOutput:
    """`layers`: L + 1 tensors (B, T, 2 * proj_dim), zero at pads; `mask`: (B, T) bool.

    Layer 0 is the token encoder output tiled [x; x]; layer l is [h_fwd_l; h_bwd_l].
    """

    layers: list[torch.Tensor]
    mask: torch.Tensor


def reverse_padded(x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """Reverse each sequence within its length; pads stay at the end. Its own inverse.

    # Parameters
    x : (B, T, ...) right-padded sequences.
    lengths : (B,) long, real positions per sequence.

    # Returns
    (B, T, ...) with out[b, t] = x[b, lengths[b] - 1 - t] for t < lengths[b], else x[b, t].
    """
    t = torch.arange(x.shape[1], device=x.device)
    # (B, T) source index of each output position.
    idx = torch.where(t[None, :] < lengths[:, None], lengths[:, None] - 1 - t[None, :], t[None, :])
    # (B, T) -> (B, T, ...) so gather picks whole feature vectors.
    idx = idx.view(*idx.shape, *([1] * (x.dim() - 2))).expand_as(x)
    return x.gather(1, idx)


class BiLM(nn.Module):
    """Char-CNN encoder, separate forward/backward LSTM stacks, one shared softmax head.

    # Parameters
    cfg : sizes (char CNN, `lstm_layers` layers of `cfg.recurrence` from proj_dim through
        lstm_dim back to proj_dim, dropout, softmax kind).
    n_tokens : token vocabulary size (softmax output).
    n_chars : character vocabulary size.

    Dropout is applied to the input of every LSTM layer and to the top states fed to the softmax;
    the residual of layers >= 2 adds the layer's undropped input, and the representations
    returned by `forward` are undropped (as bilm-tf's DropoutWrapper(ResidualWrapper(cell))).

    Initialisation, done once in the constructor (loading never re-initialises): PyTorch defaults
    (LSTM uniform(+-1/sqrt(lstm_dim)), Linear/Conv Kaiming-uniform, char Embedding N(0, 1) with
    a zero pad row), except the highway gate biases (-2, see `Highway`), the LSTM biases (zero,
    with forget gates at +1 as TensorFlow's LSTMCell `forget_bias`) and the softmax head (see
    `elmo.bilm.softmax`).
    """

    def __init__(self, cfg: ModelConfig, n_tokens: int, n_chars: int):
        super().__init__()
        self.cfg = cfg
        self.n_tokens = n_tokens
        self.n_chars = n_chars
        p = cfg.proj_dim
        self.token_encoder = CharCNN(n_chars, cfg.char_dim, cfg.filters, cfg.highway_layers, p)
        self.token_norm = nn.LayerNorm(p) if cfg.token_norm else nn.Identity()
        self.forward_lstms = nn.ModuleList(_lstm(cfg) for _ in range(cfg.lstm_layers))
        self.backward_lstms = nn.ModuleList(_lstm(cfg) for _ in range(cfg.lstm_layers))
        self.dropout = Dropout(cfg.dropout)
        self.softmax = make_softmax(cfg, n_tokens, p)
        self.encoder: TextEncoder | None = None  # set by `from_pretrained`
        self.extra: dict = {}  # the `extra` metadata saved with the weights

    @property
    def output_dim(self) -> int:
        """Size of every returned layer: 2 * proj_dim."""
        return 2 * self.cfg.proj_dim

    @property
    def num_layers(self) -> int:
        """Number of returned layers (L + 1), i.e. what a `ScalarMix` mixes."""
        return self.cfg.lstm_layers + 1

    def forward(self, char_ids: torch.Tensor, mask: torch.Tensor) -> BiLMOutput:
        """
        # Parameters
        char_ids : (B, T, W) long.
        mask : (B, T) bool, right-padded.

        # Returns
        `BiLMOutput` with L + 1 layers (B, T, 2 * proj_dim), zeroed at pads.
        """
        x, fwd, bwd = self._encode(char_ids, mask)
        layers = [torch.cat([x, x], dim=-1)]
        layers += [torch.cat([f, b], dim=-1) for f, b in zip(fwd, bwd)]
        keep = mask[..., None].to(x.dtype)
        return BiLMOutput([h * keep for h in layers], mask)

    def nll(self, char_ids: torch.Tensor, token_ids: torch.Tensor, mask: torch.Tensor) -> dict:
        """Summed negative log-likelihoods (nats) of both LMs on a batch.

        The forward LM predicts token_ids[:, 1:] from positions :-1 (tok_1 .. tok_n and <eos>),
        the backward LM predicts token_ids[:, :-1] from positions 1: (tok_n .. tok_1 and <bos>);
        a pair counts only when both its source and target positions are real. A row may hold
        several sentences, [<bos>, s_1, <eos>, s_2, <eos>]: the forward LM predicts each <eos>,
        the backward LM predicts <bos> where an inner <eos> stands (the start of s_2).

        # Parameters
        char_ids : (B, T, W) long. token_ids : (B, T) long. mask : (B, T) bool.

        # Returns
        dict: "forward_nll", "backward_nll" (scalar sums), "n_predicted" (long scalar, per
        direction) and "loss" = mean per-token NLL over both directions (0.5 * (f + b) / n).
        """
        h_fwd, h_bwd = self._top_states(char_ids, mask)
        b, t, p = h_fwd.shape
        # (B, T-1): position t of the forward LM predicts t+1, position t+1 of the backward t.
        pairs = mask[:, :-1] & mask[:, 1:]
        # (n,) flat index into (B * T) of each pair's left position, row-major as a boolean mask
        # selects; `index_select` rather than boolean indexing, whose backward (index_put_ with
        # accumulation) cost ~1.5 ms of a 100 ms step.
        left = pairs.nonzero()
        left = left[:, 0] * t + left[:, 1]
        right = left + 1
        hidden = torch.cat([h_fwd.reshape(b * t, p).index_select(0, left),
                            h_bwd.reshape(b * t, p).index_select(0, right)])  # fmt: skip
        flat = token_ids.reshape(b * t)
        # Where sentences share a window (`DataConfig.context="document"`), the <eos> between two
        # sentences is, read right to left, where the second begins: the backward LM predicts
        # <bos> there, as at the start of a window. (No-op for one sentence a row: its <eos> is
        # never a backward target.)
        previous = flat[left]
        targets = torch.cat([flat[right], previous.masked_fill(previous == EOS_ID, BOS_ID)])
        # One call for both directions: a sampled head then shares its negatives.
        nll_fwd, nll_bwd = self.softmax(hidden, targets).chunk(2)
        n = pairs.sum()
        out = {"forward_nll": nll_fwd.sum(), "backward_nll": nll_bwd.sum(), "n_predicted": n}
        out["loss"] = 0.5 * (out["forward_nll"] + out["backward_nll"]) / n.clamp(min=1)
        return out

    def direction_log_probs(
        self, char_ids: torch.Tensor, mask: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Full log-distributions of both LMs at every position (pads included, meaningless).

        # Returns
        fwd (B, T, V): at t, over token t+1.  bwd (B, T, V): at t, over token t-1.
        """
        h_fwd, h_bwd = self._top_states(char_ids, mask)
        b, t, p = h_fwd.shape
        log_fwd = self.softmax.log_prob(h_fwd.reshape(b * t, p)).view(b, t, -1)
        log_bwd = self.softmax.log_prob(h_bwd.reshape(b * t, p)).view(b, t, -1)
        return log_fwd, log_bwd

    def _top_states(self, char_ids, mask) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, T, proj_dim) top forward and backward states, dropped out for the softmax."""
        _, fwd, bwd = self._encode(char_ids, mask)
        return self.dropout(fwd[-1]), self.dropout(bwd[-1])

    def _encode(self, char_ids, mask):
        """Token encodings (B, T, P) and the L per-layer states of each direction (B, T, P).

        Backward states are computed on sequences reversed within their lengths and mapped
        back, so both directions see pads only after their real positions (never before).
        """
        _check_right_padded(mask)
        x = self.encode_tokens(char_ids)
        lengths = mask.sum(dim=1)
        fwd = self._run_stack(self.forward_lstms, x)
        bwd = self._run_stack(self.backward_lstms, reverse_padded(x, lengths))
        return x, fwd, [reverse_padded(h, lengths) for h in bwd]

    def encode_tokens(self, char_ids: torch.Tensor) -> torch.Tensor:
        """The char-CNN once per distinct spelling in the batch: (B, T, W) -> (B, T, P).

        A batch of text repeats its frequent tokens many times; the encoder's output depends on
        the spelling alone, so encoding each distinct row once and gathering is exact and cuts
        the encoder's cost by the repetition factor (2-3x on petitions batches). With
        `cfg.token_norm` the LayerNorm follows, per distinct row too: this is layer 0 as the LSTMs
        and ELMo see it, so callers wanting token vectors use this, not `token_encoder`.
        """
        char_ids = trim_char_width(char_ids, self.token_encoder.max_width)  # exact, fewer columns
        b, t, w = char_ids.shape
        # (B*T, W) rows -> (U, W) distinct rows and, per position, the index of its row.
        uniq, inverse = unique_rows(char_ids.reshape(b * t, w))
        # (U, W) -> (bucket(U), W): all-pad rows, never gathered, so the char-CNN's matmuls see few
        # distinct shapes (elmo.bilm.shapes); the extra rows get no gradient.
        uniq = pad_rows(uniq, bucket(uniq.shape[0]), PAD_ID)
        return self.token_norm(self.token_encoder(uniq[None])[0])[inverse].view(b, t, -1)

    def _run_stack(self, lstms: nn.ModuleList, x: torch.Tensor) -> list[torch.Tensor]:
        """(B, T, P) -> L states (B, T, P), left to right, residual from layer 2 up."""
        states = []
        for i, lstm in enumerate(lstms):
            h, _ = lstm(self.dropout(x))
            x = h + x if i > 0 else h
            states.append(x)
        return states

    # ------------------------------------------------------------------ artifact

    def save_pretrained(
        self, directory: str | Path, encoder: TextEncoder, extra: dict | None = None
    ) -> Path:
        """Write config.json, encoder.json and model.safetensors into `directory`.

        config.json holds the ModelConfig, n_tokens, n_chars, the format version, the sha256 of
        the weights file, and `extra` (any JSON-serialisable metadata, e.g. perplexities).
        """
        if (len(encoder.tokens), len(encoder.chars)) != (self.n_tokens, self.n_chars):
            raise ValueError(
                f"encoder vocabularies ({len(encoder.tokens)} tokens, {len(encoder.chars)} chars)"
                f" do not match the model ({self.n_tokens} tokens, {self.n_chars} chars)"
            )
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        state = {k: v.detach().cpu().contiguous() for k, v in self.state_dict().items()}
        save_file(state, str(directory / WEIGHTS_FILE), metadata={"format": "elmo-ko-bilm"})
        config = {
            "format_version": FORMAT_VERSION,
            "model": dataclasses.asdict(self.cfg),
            "n_tokens": self.n_tokens,
            "n_chars": self.n_chars,
            "weights_sha256": _sha256(directory / WEIGHTS_FILE),
            "extra": extra or {},
        }
        _write_json(directory / CONFIG_FILE, config)
        _write_json(directory / ENCODER_FILE, encoder.to_dict())
        return directory

    @classmethod
    def from_pretrained(cls, directory: str | Path) -> "BiLM":
        """A BiLM in eval mode, exactly as saved, with `.encoder` (TextEncoder) and `.extra`.

        Reads safetensors only (never pickle). Raises FileNotFoundError for a missing directory
        or file and ValueError for a corrupt/truncated weights file, an unknown format, vocab
        sizes that disagree with the config, or weights whose keys/shapes do not fit it.
        """
        directory = Path(directory)
        for name in (CONFIG_FILE, ENCODER_FILE, WEIGHTS_FILE):
            if not (directory / name).is_file():
                raise FileNotFoundError(f"pretrained biLM {directory}: missing {name}")
        config = _read_json(directory / CONFIG_FILE)
        if config.get("format_version") != FORMAT_VERSION:
            raise ValueError(
                f"{directory / CONFIG_FILE}: format_version {config.get('format_version')!r},"
                f" expected {FORMAT_VERSION}"
            )
        encoder = TextEncoder.from_dict(_read_json(directory / ENCODER_FILE))
        n_tokens, n_chars = config["n_tokens"], config["n_chars"]
        if (len(encoder.tokens), len(encoder.chars)) != (n_tokens, n_chars):
            raise ValueError(
                f"{directory}: encoder.json has {len(encoder.tokens)} tokens and"
                f" {len(encoder.chars)} chars, config.json says {n_tokens} and {n_chars}"
            )
        state = _load_weights(directory / WEIGHTS_FILE, config["weights_sha256"])
        model = cls(Config.from_dict({"model": config["model"]}).model, n_tokens, n_chars)
        _check_state(model, state, directory)
        model.load_state_dict(state, strict=True)
        model.encoder = encoder
        model.extra = config.get("extra", {})
        return model.eval()


def _lstm(cfg: ModelConfig) -> nn.LSTM:
    """One layer of the configured recurrence, proj_dim -> proj_dim (see `elmo.bilm.recurrence`)."""
    return make_lstm(cfg.recurrence, cfg.proj_dim, cfg.lstm_dim, cfg.proj_dim)


def _check_right_padded(mask: torch.Tensor) -> None:
    if mask.dtype != torch.bool:
        raise TypeError(f"mask must be bool, not {mask.dtype}")
    # A real position after a pad means left or inner padding, which the backward LM mishandles.
    if (mask[:, 1:] & ~mask[:, :-1]).any():
        raise ValueError("mask must be right-padded (all real positions before any pad)")


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _write_json(path: Path, obj: dict) -> None:
    with open(path, "w", encoding="utf-8") as f:
        json.dump(obj, f, ensure_ascii=False, indent=2)


def _read_json(path: Path) -> dict:
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except json.JSONDecodeError as e:
        raise ValueError(f"{path} is not valid JSON: {e}") from e


def _load_weights(path: Path, expected_sha256: str) -> dict[str, torch.Tensor]:
    """The state dict in `path`, after checking its sha256 against config.json."""
    actual = _sha256(path)
    if actual != expected_sha256:
        raise ValueError(
            f"{path} is corrupt or truncated: sha256 {actual[:12]}... does not match"
            f" config.json's {str(expected_sha256)[:12]}..."
        )
    try:
        return load_file(str(path))
    except Exception as e:  # safetensors raises its own error types on a malformed header
        raise ValueError(f"{path} is not a readable safetensors file: {e}") from e


def _check_state(model: nn.Module, state: dict[str, torch.Tensor], directory: Path) -> None:
    """Refuse weights whose keys or shapes differ from what config.json builds."""
    expected = model.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    shapes = [
        f"{k}: weights {tuple(state[k].shape)} vs config {tuple(v.shape)}"
        for k, v in expected.items()
        if k in state and state[k].shape != v.shape
    ]
    if missing or unexpected or shapes:
        raise ValueError(
            f"{directory}: weights do not fit config.json; missing keys {missing[:5]},"
            f" unexpected keys {unexpected[:5]}, shape mismatches {shapes[:5]}"
        )
