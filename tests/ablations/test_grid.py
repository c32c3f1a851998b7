"""Ablations: the grid covers issue #5, paired comparisons, stratified subsampling, biLM adaptation."""

import dataclasses
import json
import math
from collections import Counter

import pytest
import torch
from lm_fixtures import TOY_SENTENCES, tiny_config, toy_model_config
from scipy.stats import ttest_rel
from task_fixtures import make_data, tiny_cfg

import elmo.ablations.adaptation as adaptation
from elmo.ablations.adaptation import adapt_bilm, adaptation_summary
from elmo.ablations.efficiency import sample_efficiency, step_schedule, subsample_fit
from elmo.ablations.grid import (
    EFFICIENCY_MODELS,
    FINETUNE_KEYS,
    GRID,
    MAIN,
    NO_ELMO,
    PAIRS,
    TFIDF,
    reuse_finetune_runs,
    weights_heatmap_figure,
)
from elmo.ablations.significance import paired, paired_table
from elmo.bilm.model import BiLM
from elmo.core.config import get_config
from elmo.data.text import TextEncoder, TokenizerSettings
from elmo.ynat.baselines import tfidf_on_fit
from elmo.ynat.jobs import run_grid
from elmo.ynat.results import FinetuneResults, run_provenance
from elmo.ynat.train import resolve_variant

# ----------------------------------------------------------------------------- the grid


def test_grid_has_every_variant_of_the_issue():
    v = {name: resolve_variant(spec) for name, spec in GRID.items()}
    elmo = {n: x for n, x in v.items() if x["elmo"]}
    main = v[MAIN]
    keys = ("gamma", "weights", "placement", "l2_coef")
    assert [main[k] for k in keys] == ["learned", "learned", "input", None]  # None: FinetuneConfig's λ
    assert not v[NO_ELMO]["elmo"]

    def differs_only_in(key, value):
        return any(x[key] == value and all(x[k] == main[k] for k in keys if k != key) for x in elmo.values())

    assert differs_only_in("gamma", "fixed")
    for w in ("uniform", -1, 0, 1):  # average, last, each single layer (2 = last with two LSTM layers)
        assert differs_only_in("weights", w)
    assert differs_only_in("l2_coef", 1.0)  # vs the main variant's FinetuneConfig.l2_coef = 0.001
    assert differs_only_in("placement", "input_output")
    names = [x["name"] for x in v.values()]
    assert len(set(names)) == len(names)  # every variant has its own run folder
    assert all(a in GRID and b in GRID for a, b in PAIRS.values())


# ----------------------------------------------------------------------------- paired


def _runs(values, seeds=(0, 1, 2, 3)):
    return [{"seed": s, "macro_f1": v} for s, v in zip(seeds, values)]


def test_paired_matches_hand_computation_and_scipy():
    a, b = [80.0, 82.0, 81.0, 85.0], [79.0, 80.5, 81.5, 82.0]
    c = paired(_runs(a), _runs(b))
    diffs = [1.0, 1.5, -0.5, 3.0]
    assert c["diffs"] == pytest.approx(diffs)
    mean = sum(diffs) / 4
    std = math.sqrt(sum((d - mean) ** 2 for d in diffs) / 3)
    assert c["mean"] == pytest.approx(mean) and c["std"] == pytest.approx(std) and c["n"] == 4
    assert c["t"] == pytest.approx(mean / (std / 2))  # t = mean / (std / sqrt(n))
    ref = ttest_rel(a, b)
    assert c["t"] == pytest.approx(ref.statistic) and c["p"] == pytest.approx(ref.pvalue)


def test_paired_matches_by_seed_not_by_position():
    a = _runs([80.0, 81.0, 90.0], seeds=(0, 1, 2))
    b = list(reversed(_runs([79.0, 80.0, 88.0], seeds=(0, 1, 2)))) + [{"seed": 7, "macro_f1": 0.0}]
    c = paired(a, b)
    assert c["seeds"] == [0, 1, 2] and c["diffs"] == pytest.approx([1.0, 1.0, 2.0]) and c["unmatched"] == [7]


def test_paired_small_n_and_errors():
    one = paired(_runs([80.0], (0,)), _runs([79.0], (0,)))
    assert one["mean"] == 1.0 and one["std"] == 0.0 and math.isnan(one["p"])
    with pytest.raises(ValueError, match="no common seeds"):
        paired(_runs([1.0], (0,)), _runs([1.0], (1,)))
    with pytest.raises(ValueError, match="twice"):
        paired(_runs([1.0, 2.0], (0, 0)), _runs([1.0], (0,)))
    table = paired_table({MAIN: _runs([80.0, 82.0]), NO_ELMO: _runs([70.0, 71.0])})
    assert list(table.index) == ["ELMo − no ELMo"]
    assert table.loc["ELMo − no ELMo", "mean diff"] == pytest.approx(10.5)


# ----------------------------------------------------------------------------- subsample_fit


def test_subsample_fit_is_stratified_nested_deterministic_and_keeps_holdout_dev():
    data = make_data(n_per_class=40, cache=False)
    fit_counts = Counter(data.labels[i] for i in data.fit)
    small = subsample_fit(data, 0.25)
    counts = Counter(data.labels[i] for i in small.fit)
    assert counts == {c: round(0.25 * n) for c, n in fit_counts.items()}
    assert set(small.fit) <= set(data.fit)
    assert small.fit == subsample_fit(data, 0.25).fit  # deterministic
    assert set(subsample_fit(data, 0.1).fit) <= set(small.fit)  # nested fractions
    assert small.holdout == data.holdout and small.dev == data.dev
    assert small.vocab is data.vocab and small.tokens is data.tokens  # vocabulary as built
    tiny = subsample_fit(data, 0.001)
    assert Counter(data.labels[i] for i in tiny.fit) == dict.fromkeys(fit_counts, 1)  # every class kept
    assert subsample_fit(data, 1.0).fit == data.fit
    with pytest.raises(ValueError):
        subsample_fit(data, 0.0)


# ----------------------------------------------------------------------------- run_grid and the heatmap


def test_run_grid_and_weights_heatmap(tmp_path):
    data = make_data(n_per_class=12, n_dev_per_class=4)
    grid = {k: GRID[k] for k in (NO_ELMO, MAIN, "input_output")}
    results = run_grid(tiny_cfg(max_epochs=1), data, grid, seeds=[0], out_dir=tmp_path, logger=False)
    assert list(results) == list(grid)
    assert all(len(r) == 1 and r[0]["wall_seconds"] > 0 for r in results.values())
    assert results[NO_ELMO][0]["mix_weights"] is None
    assert sum(results[MAIN][0]["mix_weights"]) == pytest.approx(1.0)
    fig = weights_heatmap_figure(results)
    assert len(fig.axes[0].get_yticklabels()) == 3  # main + the two mixes of input + output


# ----------------------------------------------------------------------------- adapt_bilm


@pytest.fixture(scope="module")
def toy_artifact(tmp_path_factory):
    encoder = TextEncoder.build(TOY_SENTENCES, TokenizerSettings(tokenizer="eojeol"), min_freq=1)
    torch.manual_seed(1)
    model = BiLM(toy_model_config(), len(encoder.tokens), len(encoder.chars))
    with torch.no_grad():  # far from a fresh initialisation, as a trained biLM would be
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.3)
    directory = tmp_path_factory.mktemp("bilm")
    model.eval().save_pretrained(directory, encoder, extra={"results": {"valid": {"ppl": 1.0}}})
    return directory


TITLES = TOY_SENTENCES * 6  # small "headlines" in the toy vocabulary


def _state(directory):
    return BiLM.from_pretrained(directory).state_dict()


def test_adapt_zero_epochs_keeps_the_saved_weights_and_encoder(toy_artifact, tmp_path):
    cfg = tiny_config(batch_size=8)
    out = adapt_bilm(cfg, toy_artifact, TITLES, tmp_path / "adapted", epochs=0)
    before, after = _state(toy_artifact), _state(out)
    assert all(torch.equal(before[k], after[k]) for k in before)  # loaded, never re-initialised
    assert (out / "encoder.json").read_text() == (toy_artifact / "encoder.json").read_text()
    info = adaptation_summary(out)
    assert info["valid_after"]["ppl"] == pytest.approx(info["valid_before"]["ppl"])


def test_adapt_one_epoch_continues_from_the_saved_weights(toy_artifact, tmp_path):
    cfg = tiny_config(batch_size=8, lr=1e-2)
    out = adapt_bilm(cfg, toy_artifact, TITLES, tmp_path / "adapted", epochs=1)
    before, after = _state(toy_artifact), _state(out)
    assert set(before) == set(after)
    assert any(not torch.equal(before[k], after[k]) for k in before)  # it trained
    # A few steps of Adam move each weight by ~lr per step; a re-initialised model would be far off.
    deltas = [(after[k] - before[k]).abs().max().item() for k in before if before[k].is_floating_point()]
    assert max(deltas) < 0.2
    assert (out / "encoder.json").read_text() == (toy_artifact / "encoder.json").read_text()
    info = adaptation_summary(out)
    assert info["epochs"] == 1 and info["train_sentences"] + info["valid_sentences"] == len(TITLES)
    assert info["valid_after"]["ppl"] < info["valid_before"]["ppl"]  # it learned the titles
    extra = json.loads((out / "config.json").read_text())["extra"]
    assert extra["pretrained"] == {"results": {"valid": {"ppl": 1.0}}}
    # A second call with the same inputs reuses the artifact instead of training again.
    stamp = (out / "model.safetensors").stat().st_mtime_ns
    assert adapt_bilm(cfg, toy_artifact, TITLES, out, epochs=1) == out
    assert (out / "model.safetensors").stat().st_mtime_ns == stamp


def test_reuse_of_03_runs_only_with_the_same_settings_and_biLM(tmp_path):
    artifact = tmp_path / "bilm"
    artifact.mkdir()
    (artifact / "config.json").write_text(json.dumps({"weights_sha256": "ab" * 32}))
    cfg, runs = tiny_cfg(), [{"seed": 0, "macro_f1": 50.0, "accuracy": 60.0}]
    saved = {key: runs for key in FINETUNE_KEYS.values()}
    out = tmp_path / "run"
    assert reuse_finetune_runs(out, cfg, artifact) == {}  # 03 has not run
    FinetuneResults(saved, run_provenance(cfg, artifact)).write(out)
    assert reuse_finetune_runs(out, cfg, artifact) == {"input_output": runs, NO_ELMO: runs, TFIDF: runs}
    assert reuse_finetune_runs(out, tiny_cfg(lr=0.5), artifact) == {}  # other settings
    (artifact / "config.json").write_text(json.dumps({"weights_sha256": "cd" * 32}))
    assert reuse_finetune_runs(out, cfg, artifact) == {}  # another biLM


def test_every_arm_of_the_learning_curve_at_100_percent_is_a_model_03_trains():
    # The curve's 100 % points are 03's runs: an arm whose grid variant 03 does not train with the
    # same settings would be trained again in 04 (on all the data: a third of 03's time each).
    for profile in ("tiny", "cpu", "gpu"):
        models = get_config(profile).finetune.models
        for arm, grid_key in EFFICIENCY_MODELS.items():
            assert grid_key in FINETUNE_KEYS, arm
            mine, theirs = resolve_variant(GRID[grid_key]), resolve_variant(models[FINETUNE_KEYS[grid_key]])
            assert {**mine, "name": None} == {**theirs, "name": None}, (profile, arm)


def test_step_schedule_gives_small_fractions_the_reference_steps():
    cfg = tiny_cfg(batch_size=256, max_epochs=10)
    # 4,112 rows = 17 batches an epoch; 411 rows = 2: 9 small epochs count as one.
    assert step_schedule(cfg, 411, 4112) == {"max_epochs": 90, "check_val_every_n_epoch": 9}
    assert step_schedule(cfg, 4112, 4112) == {} and step_schedule(cfg, 41110, 4112) == {}
    assert step_schedule(cfg, 411, 0) == {}


def test_sample_efficiency_with_equal_steps_trains_more_epochs(tmp_path):
    data = make_data(n_per_class=12, n_dev_per_class=4)
    cfg = tiny_cfg(max_epochs=1, batch_size=8)
    df = sample_efficiency(cfg, data, (0.2,), seeds=[0], models={"without ELMo": NO_ELMO}, out_dir=tmp_path,
                           logger=False, equal_steps_as=1.0)
    n_small, n_ref = len(subsample_fit(data, 0.2).fit), len(data.fit)
    assert list(df["n_fit"]) == [n_small, n_small] and list(df["model"]) == ["without ELMo", TFIDF]
    expected = step_schedule(cfg, n_small, n_ref)["max_epochs"]
    assert expected > 1 and df["epochs"].iloc[0] == expected  # trained to the step budget
    # The TF-IDF arm: the same rows, C chosen on the holdout, one deterministic run.
    tfidf = tfidf_on_fit(subsample_fit(data, 0.2))
    assert df["macro_f1"].iloc[1] == tfidf["macro_f1"] and df["accuracy"].iloc[1] == tfidf["accuracy"]


def test_task_data_builds_only_what_a_variant_reads_and_adapts_on_train_titles(tmp_path, monkeypatch):
    data, calls = make_data(n_per_class=6, n_dev_per_class=3), []
    monkeypatch.setattr(adaptation, "glove_vectors", lambda cfg: calls.append("glove") or "vectors")
    monkeypatch.setattr(adaptation, "adapt_bilm", lambda cfg, artifact, titles, out, epochs: calls.append(titles) or out)
    monkeypatch.setattr(adaptation.LayerCache, "build", lambda bilm, tokens, cache_root: f"cache of {bilm.name}")
    monkeypatch.setattr(type(data), "with_cache", lambda self, cache: dataclasses.replace(self, cache=cache))
    plain = adaptation.task_data(tiny_cfg(), "bilm", data, [{"elmo": True}, {}], tmp_path)
    assert plain == {"pretrained": data} and calls == []  # nothing built that no variant reads
    both = adaptation.task_data(tiny_cfg(), "bilm", data, [{"x_k": "glove"}, {"elmo": True, "bilm": "adapted"}], tmp_path)
    assert calls[0] == "glove" and both["pretrained"].static == "vectors" and both["adapted"].static == "vectors"
    assert both["adapted"].cache == "cache of bilm-ynat"
    assert calls[1] == [data.tokens[i] for i in sorted(data.fit + data.holdout)]  # train titles only, never dev
