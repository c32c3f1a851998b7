"""Typed configuration: one dataclass per concern, three profiles.

`tiny` runs every notebook in seconds (CI), `cpu` is the default (a 2-core laptop, tens of
minutes in all), `gpu` is paper-like in shape on one GPU. A profile is a function of overrides
on top of the defaults, never a cloned file: `get_config("cpu", train={"max_epochs": 3})`.
"""

from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import asdict, dataclass, field
from typing import Any

from elmo.core.hardware import resolve_precision
from elmo.core.sources import CORPORA, CorpusSource

PROFILES = ("tiny", "cpu", "gpu")


@dataclass
class DataConfig:
    """How raw text becomes token and character ids."""

    tokenizer: str = "morpheme"  # "morpheme" (kiwipiepy) or "eojeol" (whitespace, as the seed)
    char_unit: str = "syllable"  # "syllable" (Hangul syllables) or "jamo" (decomposed, NFD)
    max_chars: int = 16  # characters per token, begin/end-of-word included
    max_tokens: int = 64  # tokens per LM window (sentences longer than this are split)
    # What one LM window holds: "sentence" (one sentence, as ELMo later reads text) or "document"
    # (a document's consecutive sentences up to max_tokens, <eos> between them: context across
    # sentence boundaries, as bilm-tf's stream of sentences; elmo.data.text.pack_sentences).
    context: str = "sentence"
    min_freq: int = 2  # a token enters the vocabulary when seen at least this often in train
    max_vocab: int = 20000  # the most frequent tokens kept (specials not counted)
    max_petitions: int | None = None  # a subset of the corpus (tiny), None for all of it
    # What the biLM reads (elmo/core/sources.py); cpu: the six petition months only. At the same
    # 14 pretraining minutes, adding 10 M characters of Wikipedia left YNAT dev macro-F1 where it
    # was (80.1 vs 80.1) and lowered the holdout's (83.2 vs 83.5): `python -m elmo.corpus_mix`.
    sources: tuple[CorpusSource, ...] = CORPORA["petitions"]
    split_fractions: tuple[float, float, float] = (0.9, 0.05, 0.05)  # train/valid/test, by petition
    split_seed: int = 0


@dataclass
class ModelConfig:
    """Sizes of the biLM (Peters et al. 2018, Section 3.4 and Appendix)."""

    char_dim: int = 16
    # (width, filters) of the character convolutions; the paper: widths 1..7, 2048 filters in all
    filters: tuple[tuple[int, int], ...] = ((1, 32), (2, 32), (3, 64), (4, 128), (5, 256))
    highway_layers: int = 2
    proj_dim: int = 128  # token-encoder output = LSTM projection size (layer 0 is tiled to 2x)
    lstm_dim: int = 512  # LSTM cell size
    lstm_layers: int = 2
    # "lstmp": the paper's nn.LSTM(proj_size=proj_dim) (cuDNN has it; artifacts saved before this
    # field existed are LSTMPs). "lstm": nn.LSTM(lstm_dim) + a Linear to proj_dim outside the
    # recurrence, which CPU PyTorch runs through oneDNN in bf16 (see elmo/bilm/recurrence.py).
    recurrence: str = "lstmp"
    dropout: float = 0.1
    # A LayerNorm on the token encoder's output (layer 0), before the LSTMs; bilm-tf has none. Without
    # it the char-CNN's output grew a shared offset (mean |x| 44 against a spread of 4 across words at
    # lr 6e-3) that saturated the LSTM's gates: the biLM fell back to unigram perplexity (~530).
    token_norm: bool = False
    softmax: str = "adaptive"  # "full", "adaptive" (bf16 matmuls), "adaptive-torch" (fp32) or "sampled"
    adaptive_cutoffs: tuple[int, ...] = (2000, 8000)
    # Tail cluster i projects to proj_dim / div^i dimensions (nn.AdaptiveLogSoftmaxWithLoss's div_value).
    adaptive_div_value: float = 4.0
    sampled_negatives: int = 1024


@dataclass
class TrainConfig:
    """biLM pretraining."""

    # Sentences (~30 tokens each). On 2 cores 128 runs ~20 % more tokens/s than 64, but the cpu
    # profile's biLM learns more per second from twice the updates (see _PROFILE_OVERRIDES["cpu"]).
    batch_size: int = 128
    # The paper used Adagrad (lr 0.2) for 10 epochs of 1B words. On a 20-minute budget Adam
    # learns far faster: after 150 s on the cpu profile, valid perplexity 291 (Adam 2e-3) vs
    # 627 (Adagrad 0.2); `python -m elmo.bench --compare optimizer`. The gpu profile keeps Adagrad.
    optimizer: str = "adam"
    lr: float = 2e-3
    # "constant", or "linear": warm up over `warmup_steps`, then decay linearly to 0 at the last
    # step of `max_epochs` (a run that knows its length ends with a small learning rate).
    lr_schedule: str = "constant"
    warmup_steps: int = 0
    grad_clip: float = 10.0
    max_epochs: int = 2  # profiles set their own (cpu: see _PROFILE_OVERRIDES)
    # A wall-clock cap makes the result depend on the machine's load, so it is off by default:
    # epochs, not minutes, decide what a profile trains (and a seeded run repeats exactly).
    max_minutes: float | None = None
    patience: int = 2  # early stopping on valid perplexity
    # "auto": bf16-mixed where the hardware does bf16 natively (AMX, AVX512-BF16, a bf16 GPU), else
    # 32-true; resolved by get_config (elmo.core.hardware: emulated bf16 made the step 2.45x slower).
    precision: str = "auto"  # or "bf16-mixed", "32-true"
    compile: bool = False  # torch.compile the char encoder and softmax head
    limit_train_batches: float | int = 1.0
    num_workers: int = 0
    # Where it runs, as Lightning's Trainer arguments (`python -m elmo.pretrain --devices 8
    # --num-nodes 2 --strategy ddp`): processes = devices x num_nodes, each with `batch_size`
    # sentences a step. `global_batch_size` is what one optimizer step sees; gradients are
    # accumulated to reach it (None: batch_size x processes, no accumulation). See batch_plan.
    accelerator: str = "auto"
    devices: int | str = 1
    num_nodes: int = 1
    strategy: str = "auto"
    global_batch_size: int | None = None


@dataclass(frozen=True)
class TaskVariant:
    """One YNAT task model: with or without ELMo, and how the biLM layers are mixed in (§3.3).

    name : the run folder and MLflow name; derived from the other fields when None.
    gamma : "learned" or "fixed" (gamma = 1). weights : "learned" (softmax-normalised s_j),
    "uniform", or a layer index j. placement : "input" or "input_output" (a second mix
    concatenated to the biLSTM's output). layer_norm : normalise each layer before mixing
    (AllenNLP's do_layer_norm). l2_coef : lambda on the raw mix weights; None: FinetuneConfig's.
    x_k : the context-independent token representation beside ELMo (§3.3): "learned+subwords"
    (the recipe: an embedding trained from scratch on the task plus the mean of its character
    n-grams' embeddings, fastText-style, `elmo.ynat.subwords`), "learned" (the embedding alone),
    "learned+char_cnn" (the embedding concatenated with the frozen biLM's layer 0, its char-CNN
    token vectors) or "glove" (the embedding started from the GloVe vectors of
    `elmo.embed.glove` where a word has one, then fine-tuned, as the paper's baselines start
    from GloVe), with or without ELMo. Chosen on the holdout (README, "Levers of the task
    recipe"): "learned" 83.81, "learned+subwords" 84.00 (ELMo at input and output, 3 seeds).
    bilm : "pretrained" (02's biLM) or "adapted" (further trained on YNAT train titles, no labels,
    for `FinetuneConfig.adapt_epochs` epochs, §3.4 of the paper): which biLM's layers it reads.
    top : "frozen" (the paper: every biLM layer a fixed feature) or "tuned": the biLM's top layer
    is recomputed from the cached layer below it and fine-tuned with the task model, at
    `FinetuneConfig.top_lr_scale` times the task's learning rate and only after
    `top_frozen_epochs` epochs (ULMFiT's discriminative rates and gradual unfreezing; see
    `elmo.embed.top_layer`).
    teacher : None, or the key of another model of the same `FinetuneConfig.models` (of one
    `elmo.ynat.jobs.run_models` call): this model then learns from that model's seed ensemble
    (knowledge distillation, Hinton et al. 2015; `elmo.ynat.distill`): its training targets on
    the fit rows are the ensemble's class probabilities mixed with the labels at
    `FinetuneConfig.distill_weight`. It is still one model at prediction time; holdout and dev
    are read as for every model.
    """

    name: str | None = None
    elmo: bool = False
    gamma: str = "learned"
    weights: str | int = "learned"
    placement: str = "input"
    layer_norm: bool = False
    l2_coef: float | None = None
    x_k: str = "learned+subwords"
    bilm: str = "pretrained"
    top: str = "frozen"
    teacher: str | None = None


def _models_of_03() -> dict[str, TaskVariant]:
    return {
        "no_elmo": TaskVariant(elmo=False),
        # ELMo at the input only was a row here until its three runs (a third of 03's ELMo
        # training) were cut for 03's time budget (issue 16: ~12 minutes). Its last full-data
        # numbers (the c9edb26 fresh clone, fp32): holdout 84.71, dev 81.4 +- 0.3, as the input +
        # output model (84.61, 81.4 +- 0.3); `python -m elmo.jobs --profile cpu --variant elmo=true`
        # repeats them. Input against input + output is still a row pair of 04's grid.
        "elmo_input_output": TaskVariant(elmo=True, placement="input_output"),
        # The main model and the no-ELMo model again, each learning from its own seed ensemble
        # (elmo.ynat.distill; one model at prediction time), so that ELMo's gain is also shown
        # between two distilled models. Mean holdout / dev macro-F1, 3 seeds, distill_weight 0.5
        # (03 in the e2e517b fresh clone): ELMo (input + output) distilled 84.81 / 82.3 against
        # 84.56 / 81.9; no ELMo distilled 84.65 / 80.7 against 84.48 / 81.2. The holdout picks
        # both (README "Levers of the task recipe"); they cost 03 about 6 of its 18.7 minutes.
        "elmo_input_output_distilled": TaskVariant(elmo=True, placement="input_output", teacher="elmo_input_output"),
        "no_elmo_distilled": TaskVariant(elmo=False, teacher="no_elmo"),
        # Issue 16's other levers were rows here until they lost or tied on the holdout at e266298
        # (holdout / dev macro-F1, 3 seeds): the main model on the biLM adapted to the titles
        # (§3.4) 83.4 / 79.6; x_k from GloVe without ELMo 83.4 / 78.7, with ELMo 83.4 / 79.3,
        # against 83.3 / 80.2 for the main model. They cost 03 ~10 of its 20 minutes, so they
        # are README rows measured by `python -m elmo.jobs` and rows of 04's 10 % grid:
        #   "elmo_input_output_adapted": TaskVariant(elmo=True, placement="input_output", bilm="adapted"),
        #   "no_elmo_glove": TaskVariant(elmo=False, x_k="glove"),
        #   "elmo_input_output_glove": TaskVariant(elmo=True, placement="input_output", x_k="glove"),
    }


@dataclass
class FinetuneConfig:
    """The YNAT task model (Peters et al. 2018, Section 3.3)."""

    token_dim: int = 100  # x_k, learned on the task
    # Task-model settings of the cpu profile, chosen on the *holdout* macro-F1 of single-seed
    # runs (`python -m elmo.jobs`, ELMo at the input, seed 0; holdout / dev):
    #   lr 3e-3, 4 epochs: 81.2 / 76.3   lr 3e-3, 10 epochs: 82.9 / 78.8
    #   lr 6e-3, 10 epochs: 83.6 / 79.7  lr 1e-2, 12 epochs (stopped at 9): 83.3 / 80.0
    #   lr 6e-3, 10 epochs, hidden 64: 83.3 / 79.7 in about half the time of hidden 128,
    # so hidden 64: within seed noise of 128 on holdout, and it keeps 03 and 04 to minutes.
    hidden_dim: int = 64  # per direction
    dropout: float = 0.5
    batch_size: int = 256
    lr: float = 6e-3
    max_epochs: int = 10
    patience: int = 2
    # bf16 autocast: ~11 % less time per epoch than fp32 for the ELMo task model on an AMX CPU,
    # holdout macro-F1 83.0 / 83.4 against 83.3 / 82.9 (seeds 0 / 1; within seed noise); 1.56x more
    # on a CPU that emulates bf16. "auto" resolves as TrainConfig.precision does.
    precision: str = "auto"  # or "bf16-mixed", "32-true"
    workers: int = 2  # runs (seeds, ablation variants) trained side by side, see elmo.jobs
    # 04's grid trains on this stratified share of the fit rows (holdout and dev unchanged), so
    # its 14 variants x 3 seeds take minutes, not hours, on 2 cores; 03 always uses all of them.
    ablation_fraction: float = 0.1
    # 04's learning curve over task data (with and without ELMo, and TF-IDF + LR on the same
    # rows): these fractions of the fit rows and the grid's (`ablation_fraction`).
    efficiency_fractions: tuple[float, ...] = (0.01, 0.3, 1.0)
    # Epochs of LM training on YNAT train titles (text only) for the "adapted" biLM (§3.4; the
    # paper: 1), the epoch kept chosen on held-out title perplexity. One epoch took an earlier cpu
    # biLM's title perplexity from 1,844 to 219 (50 s) and was still falling: 3. On the biLM of 02
    # now (fresh clones at 42acfdc and 4360abe): 3 epochs 1,940 -> 121.6 in 134 s, 04's paired dev
    # change +7.24 +- 1.84 (p 0.02); 1 epoch -> 161.1 in 50 s, +2.46 +- 1.88 (p 0.15). The 1.4
    # minutes 1 epoch saves `make reproduce` are not worth that: 3 stays.
    adapt_epochs: int = 3
    holdout_fraction: float = 0.1  # of YNAT train, for model selection (never dev)
    seeds: tuple[int, ...] = (0, 1, 2)
    l2_coef: float = 0.001  # lambda on the ScalarMix weights
    # TaskVariant.top "tuned": the biLM's top layer learns at this fraction of `lr` (ULMFiT's
    # discriminative rates divide by 2.6 per layer below the head), and stays frozen for the
    # first `top_frozen_epochs` epochs while the fresh task layers settle (gradual unfreezing).
    top_lr_scale: float = 0.1
    top_frozen_epochs: int = 1
    # An exponential moving average of the task model's weights (Polyak averaging; Lightning's
    # EMAWeightAveraging), updated every step: the holdout selects among, and dev scores, the
    # averaged weights. Still one model (one set of weights), not an ensemble. None: off.
    ema_decay: float | None = None
    # Levers measured on all of YNAT (ELMo at input and output, 3 seeds, the cpu biLM of e266298;
    # `python -m elmo.jobs ... --finetune <key>=<value>`; README "Levers of the task recipe").
    # Label smoothing of the training loss (the holdout's loss and F1 stay plain), chosen by mean
    # holdout macro-F1: 0 83.26, 0.1 83.56, 0.2 83.64, 0.3 83.81, 0.5 83.72; with 0.3,
    # [max; mean] pooling 83.69 and layer_norm 83.52 added nothing. Pooling "max" or "max_mean"
    # ([max; mean], ULMFiT's concat pooling without the last state; alone 83.72, dev -0.5); the
    # learning rate "constant" or "linear" (to 0 at the last step of max_epochs; 82.94).
    pooling: str = "max"
    label_smoothing: float = 0.3
    lr_schedule: str = "constant"
    # Word dropout: each training token's own embedding is `<unk>`'s at this rate; its character
    # n-grams and ELMo's cached layers still see it (TopicClassifier._drop_words). Chosen by mean
    # holdout macro-F1 with n-grams in x_k: 0 84.00, 0.1 84.32, 0.25 84.32, 0.4 84.56, 0.6 84.19
    # (without n-grams: 0 83.81, 0.1 83.99, 0.25 83.90).
    word_dropout: float = 0.4
    # TaskVariant.teacher: a distilled model's target on a fit row is distill_weight x its
    # teacher ensemble's class probabilities + (1 - distill_weight) x the one-hot label (label
    # smoothing then applies to that mix). The same weight for every distilled model. Mean
    # holdout macro-F1 of the distilled main model (3 seeds): 0.5 84.81, 0.8 84.55.
    distill_weight: float = 0.5
    # How a distilled model starts: "teacher", from the holdout-selected weights of its own seed's
    # teacher (the same variant but for the targets), then up to `distill_epochs` epochs on the
    # mixed targets; or "scratch", a fresh model trained for `max_epochs` as every other model.
    # Chosen by mean holdout macro-F1 over seeds 0-2 (fp32 on a 2-core Ice Lake host, the teachers
    # of the 4456dc6 fresh clone; README, "Levers of the task recipe"): ELMo (input + output)
    # scratch 84.77, from the teacher 84.86 (4 epochs; 84.77 with 2); no ELMo 84.63 against 84.71
    # (84.52 with 2). A student from its teacher takes 35-45 % of a scratch student's time (69-95
    # against 181-216 s for ELMo, 32-45 against 96-105 s without, one core each; 03 of the c9edb26
    # and 4456dc6 fresh clones).
    distill_init: str = "teacher"
    distill_epochs: int = 4
    max_train: int | None = None  # subset of YNAT train (tiny)
    max_dev: int | None = None  # subset of YNAT dev (tiny only; real runs use all of it)
    # The task models 03 trains, by stable machine key (their display labels: elmo.ynat.results).
    models: dict[str, TaskVariant] = field(default_factory=_models_of_03)
    # Fixed before any result was seen: the model 03's ensemble and blend and the trade-off use
    # (ELMo at input and output, as the paper's SST-5 model), and the one whose mix 06 probes.
    main_model: str = "elmo_input_output"
    probe_model: str = "elmo_input_output"  # 06 probes its input mix (`mix_weights`)


@dataclass
class StaticConfig:
    """GloVe vectors on the biLM's own training tokens (the static baseline of 05/06)."""

    dim: int = 100
    window: int = 10
    epochs: int = 25
    min_freq: int = 2  # vocabulary: the data's max_vocab most frequent tokens seen this often


@dataclass
class SensesConfig:
    """How much notebook 05 embeds and samples (word senses and layer geometry)."""

    per_word: int = 150  # sentences per homograph and source (petitions, YNAT)
    random_sentences: int = 1500  # randomly drawn valid sentences: the geometry's baseline
    n_pairs: int = 20000  # random token pairs for anisotropy
    glove_top: int = 2000  # most frequent GloVe words in the POS map
    tag_petitions: int = 300  # train petitions tagged by kiwipiepy for the POS colours
    self_sim_words: int = 200  # frequent words whose self-similarity is measured


@dataclass
class ProbeConfig:
    """How much notebook 06 probes, and how.

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


@dataclass
class Config:
    profile: str = "cpu"
    seed: int = 0
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    finetune: FinetuneConfig = field(default_factory=FinetuneConfig)
    static: StaticConfig = field(default_factory=StaticConfig)
    senses: SensesConfig = field(default_factory=SensesConfig)
    probe: ProbeConfig = field(default_factory=ProbeConfig)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, ensure_ascii=False)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Config":
        return _build(cls, d)


_PROFILE_OVERRIDES: dict[str, dict[str, dict[str, Any]]] = {
    "tiny": {
        "data": {"max_petitions": 60, "max_vocab": 2000, "max_tokens": 32, "sources": CORPORA["tiny"]},
        "model": {
            "filters": ((1, 8), (2, 8), (3, 16)),
            "proj_dim": 32,
            "lstm_dim": 64,
            "recurrence": "lstm",
            "adaptive_cutoffs": (200, 800),
            "sampled_negatives": 64,
        },
        "train": {"batch_size": 32, "max_epochs": 1, "precision": "32-true"},
        "finetune": {
            "token_dim": 16,
            "hidden_dim": 32,
            "max_epochs": 1,
            "seeds": (0,),
            "max_train": 600,
            "max_dev": 300,
            "workers": 1,
            "ablation_fraction": 1.0,
            "efficiency_fractions": (0.01, 1.0),
            "adapt_epochs": 1,
            "distill_epochs": 1,
            "precision": "32-true",
        },
        "static": {"dim": 16, "epochs": 3},
        "senses": {"per_word": 40, "random_sentences": 200, "n_pairs": 5000, "glove_top": 300,
                   "tag_petitions": 20, "self_sim_words": 50},  # fmt: skip
        # ~1,000 eojeols per task over 3 folds
        "probe": {"folds": 3, "max_sentences": 120, "min_class_count": 5},
    },
    # The cpu biLM (issue 14): the LSTM with its projection outside the recurrence (oneDNN, bf16;
    # 1.82x the tokens/s of the LSTMP default it replaces, measured side by side by
    # `python -m elmo.bench --compare step`). Its size by quality per second, `python -m elmo.bench
    # --compare lstm --seconds 150` on an idle host (valid ppl after 150 s; steps): LSTM 192 144.1
    # (652), LSTM 256 158.4 (542), LSTMP 512/128 164.6 (392), LSTM 384 175.2 (389). 192 is also the
    # fastest, so it gets the most epochs into the 15-minute budget: 5, with a linear warm-up and decay.
    # At the full budget too: 5 epochs of LSTM 192 gave valid/test ppl 87.7 / 85.5 in 13.9 min (02),
    # 4 epochs of LSTM 256 90.9 / 88.4 in 13.9 min (`python -m elmo.pretrain --profile cpu --set
    # model.lstm_dim=256 train.max_epochs=4 --out runs/lstm256`). Both stay above the 3-gram (76.4 / 73.4).
    # torch.compile of the encoder and softmax made the step slower here (328 vs 252 ms).
    # With the bucketed shapes and kept kernels (elmo.bilm.shapes, elmo.core.reuse), the same 5 epochs
    # took 11.2 min on an Intel AMX host (fresh clone at 3725899, valid/test ppl 87.5 / 85.1).
    # Then the batch, the learning rate and a LayerNorm on layer 0, by valid ppl after 2 epochs of the
    # full schedule (`python -m elmo.pretrain --profile cpu --set train.max_epochs=2 ...`, Intel host):
    #   batch 128, lr 3e-3: 120.8 (288 s)    batch 64: 101.2 (338 s)    batch 32: 87.5 (477 s)
    #   batch 128, lr 6e-3: 529.6 (the char-CNN's output drifted to a shared offset that saturated the
    #   LSTM: a unigram model); dropout 0: 149.8 (the same drift, milder); batch 64, dropout 0.2: 95.5
    #   batch 64 + token_norm: lr 6e-3 85.2, lr 1e-2 86.5; lr 6e-3 with dropout 0.2 87.9, with dropout 0
    #   82.4 (325-351 s each on an idle host; lr 6e-3 took 489 s beside other runs)
    # The drift was the limit: with token_norm the rate doubles, batch 64 beats batch 32 (without it)
    # per second, and dropout, which had only held the drift back, goes. All 5 epochs: 12.7 min of
    # training, valid / test ppl 68.6 / 66.7 against the 3-gram's 76.4 / 73.4 (at ab980d6); 11.3 min
    # with the faster step of 24230eb (valid 68.6, test 66.9). Bigger, 2 epochs of the full schedule
    # at 24230eb: this profile 82.7 (262 s), LSTM 256 80.6 (334 s), proj_dim 256 79.5 (324 s): ~25 %
    # more time for 2.5-4 % lower perplexity: in the same budget, 4 epochs instead of 5 (not run).
    # Windows across sentence boundaries (data.context="document": a petition's consecutive sentences
    # up to 64 tokens, ~50 on average, against ~31 a sentence) at batch 32 (fp32, an Ice Lake host,
    # `--set data.context=document train.batch_size=32 train.max_epochs=<n>`), valid / test ppl:
    #   5 epochs: 62.3 / 62.1, 60.6 / 60.4 (18.5 / 18.6 % and 17.6 / 17.6 % below the 3-gram) in 1564 s
    #   6 epochs: 60.9 / 60.7, 59.0 / 59.2 (20.3 / 20.5 % and 19.7 / 19.3 %) in 1945 s
    #   6 epochs, model.dropout=0.1: 60.6 / 60.7, 58.9 / 59.2 (20.7 / 20.5 % and 19.9 / 19.3 %): within
    #   the seeds' noise of no dropout, which costs its masks every step (dropout's bernoulli_ was
    #   17 of ~400 ms a step in issue 14's profile), so dropout stays 0
    # against 68.3 / 68.6 and 66.4 / 67.1 for one sentence a window, 5 epochs, batch 64, in 1550 s.
    # So the profile reads document windows for 6 epochs (issue 14: 20 % below the 3-gram in 15
    # minutes; ~14 min on AMX by 02's Ice Lake / AMX ratio, an estimate). What it costs YNAT, on
    # the holdout (means over seeds 0-2; README "Context across sentences"): ELMo (input + output)
    # 84.62 against 84.61, distilled 84.67 against 84.86 (dev 81.1 and 81.5 against 81.4 and 81.6).
    "cpu": {
        "data": {"context": "document"},
        "model": {"recurrence": "lstm", "lstm_dim": 192, "token_norm": True, "dropout": 0.0},
        "train": {"batch_size": 32, "max_epochs": 6, "lr": 6e-3, "lr_schedule": "linear",
                  "warmup_steps": 100},  # fmt: skip
    },
    # The paper's shape (char-CNN 2048 filters, LSTMP 4096/512 x 2, 10 epochs): 98.8 M parameters
    # here with the adaptive softmax over 50k types. The full downloadable corpus (`make data`:
    # 25 petition months + 700 Wikipedia files) is ~233 M morpheme tokens (estimated from the
    # data README's counts, elmo.report.gpucheck.FULL_CORPUS_TOKENS), so 10 epochs are ~24 token
    # passes per parameter (the paper: ~0.8 B words x 10 / 93.6 M, ~85). Fewer epochs or a
    # smaller LSTM would undertrain less data less; more would overfit: measure on valid ppl.
    "gpu": {
        "data": {"max_vocab": 50000, "max_chars": 20, "sources": CORPORA["everything"]},
        "model": {
            "filters": ((1, 32), (2, 32), (3, 64), (4, 128), (5, 256), (6, 512), (7, 1024)),
            "proj_dim": 512,
            "lstm_dim": 4096,
            "adaptive_cutoffs": (4000, 20000),
            "sampled_negatives": 8192,
        },
        "train": {"batch_size": 128, "max_epochs": 10, "compile": True, "optimizer": "adagrad", "lr": 0.2},
        "senses": {"per_word": 300, "random_sentences": 3000, "n_pairs": 50000, "tag_petitions": 600,
                   "self_sim_words": 300},  # fmt: skip
    },
}


def profile_from_env(default: str = "cpu") -> str:
    """The profile a notebook opened by hand runs: $ELMO_PROFILE (`make lab PROFILE=tiny` sets it),
    else `default`. Choosing it here, not by editing the parameters cell, keeps the tracked notebook
    source unchanged; papermill's `profile` parameter still overrides it."""
    profile = os.environ.get("ELMO_PROFILE") or default
    if profile not in PROFILES:
        raise ValueError(f"ELMO_PROFILE={profile!r} is not a profile; choose one of {PROFILES}")
    return profile


def get_config(profile: str = "cpu", **overrides: dict[str, Any]) -> Config:
    """The resolved config of a profile, with optional section overrides.

    >>> get_config("tiny", train={"max_epochs": 2}).train.max_epochs
    2
    """
    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r}; choose one of {PROFILES}")
    merged: dict[str, Any] = {"profile": profile}
    for section, values in _PROFILE_OVERRIDES[profile].items():
        merged[section] = dict(values)
    for key, values in overrides.items():
        if isinstance(values, dict):
            merged.setdefault(key, {}).update(values)
        else:
            merged[key] = values
    cfg = _build(Config, merged)
    # "auto" precision is settled here, for the machine that runs (elmo.core.hardware).
    cfg.train.precision = resolve_precision(cfg.train.precision, cfg.train.accelerator)
    cfg.finetune.precision = resolve_precision(cfg.finetune.precision, cfg.train.accelerator)
    return cfg


def parse_pairs(items: list[str] | tuple[str, ...]) -> dict[str, Any]:
    """["lr=0.006", "placement=input_output"] -> {"lr": 0.006, "placement": "input_output"}: values
    read as JSON when they parse (numbers, true/false, lists), else kept as strings."""
    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep:
            raise ValueError(f"expected key=value, got {item!r}")
        out[key] = _value(value)
    return out


def parse_overrides(items: list[str] | tuple[str, ...]) -> dict[str, dict[str, Any]]:
    """Command-line overrides for `get_config`: ["model.lstm_dim=256", "train.max_epochs=4"] ->
    {"model": {"lstm_dim": 256}, "train": {"max_epochs": 4}} (values as in `parse_pairs`); unknown
    sections or fields are refused by `get_config`, so a typo is an error, not a silent no-op.

    >>> parse_overrides(["model.lstm_dim=256", "train.lr_schedule=linear"])
    {'model': {'lstm_dim': 256}, 'train': {'lr_schedule': 'linear'}}
    """
    out: dict[str, dict[str, Any]] = {}
    for item in items:
        key, sep, value = item.partition("=")
        section, dot, name = key.partition(".")
        if not sep or not dot or not section or not name:
            raise ValueError(f"expected SECTION.FIELD=VALUE (e.g. model.lstm_dim=256), got {item!r}")
        out.setdefault(section, {})[name] = _value(value)
    return out


def _value(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def from_dict(cls: type, d: dict[str, Any]) -> Any:
    """A config dataclass (e.g. ModelConfig) from a dict, as it comes back from JSON or YAML."""
    return _build(cls, d)


def _build(cls: type, d: dict[str, Any]) -> Any:
    """Instantiate nested dataclasses from a dict, refusing unknown keys and restoring tuples."""
    names = {f.name: f for f in dataclasses.fields(cls)}
    unknown = set(d) - set(names)
    if unknown:
        raise ValueError(f"unknown {cls.__name__} field(s): {sorted(unknown)}")
    kwargs = {}
    for name, value in d.items():
        default = _default(names[name])
        if dataclasses.is_dataclass(default):
            kwargs[name] = value if isinstance(value, type(default)) else _build(type(default), value)
        elif isinstance(default, dict) and default and all(dataclasses.is_dataclass(v) for v in default.values()):
            kind = type(next(iter(default.values())))  # e.g. FinetuneConfig.models: key -> TaskVariant
            kwargs[name] = {k: v if isinstance(v, kind) else _build(kind, v) for k, v in value.items()}
        elif isinstance(default, tuple) and default and dataclasses.is_dataclass(default[0]):
            kind = type(default[0])  # e.g. DataConfig.sources: a tuple of CorpusSource
            kwargs[name] = tuple(v if isinstance(v, kind) else _build(kind, v) for v in value)
        elif isinstance(default, tuple) and value is not None:
            kwargs[name] = _as_tuple(value)
        else:
            kwargs[name] = value
    return cls(**kwargs)


def _default(f: dataclasses.Field) -> Any:
    """A field's default (None for a required one, e.g. CorpusSource.name)."""
    if f.default is not dataclasses.MISSING:
        return f.default
    return f.default_factory() if f.default_factory is not dataclasses.MISSING else None


def _as_tuple(value: Any) -> Any:
    if isinstance(value, (list, tuple)):
        return tuple(_as_tuple(v) for v in value)
    return value
