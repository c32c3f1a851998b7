"""Pretraining end to end on a synthetic corpus: it learns, resumes exactly, and runs under DDP."""

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from torch.optim.optimizer import register_optimizer_step_post_hook
from lm_fixtures import paired_corpus, synthetic_corpus, tiny_config

from elmo.bilm.model import BiLM
from elmo.bilm.recurrence import RECURRENCES
from elmo.bilm.train import batch_plan, linear_schedule, make_trainer, pretrain

QUIET = dict(enable_progress_bar=False, enable_model_summary=False)


def weights(artifact):
    return BiLM.from_pretrained(artifact).state_dict()


def test_pretrain_learns_and_writes_artifact(tmp_path):
    cfg = tiny_config(max_epochs=12, lr=1e-2)
    artifact = pretrain(cfg, out=tmp_path, corpus=synthetic_corpus(), **QUIET)
    results = json.loads((artifact / "run.json").read_text())["results"]
    # Words (10) alternate with endings (5): a model of that order reaches a perplexity near 7,
    # while frequencies alone give about 16 (elmo.ngram: unigram 15.7, bigram 7.5).
    assert results["valid"]["ppl"] < 9
    assert results["test"]["forward_ppl"] > 1 and results["test"]["backward_ppl"] > 1
    assert list((tmp_path / "pretrain" / "logs").glob("version_*/metrics.csv"))
    assert (tmp_path / "mlflow.db").exists()


def test_document_windows_let_the_lm_read_the_previous_sentence(tmp_path):
    cfg = tiny_config(max_epochs=10, lr=1e-2)
    cfg.data.context = "document"
    artifact = pretrain(cfg, out=tmp_path, corpus=paired_corpus(), log_every_n_steps=5, **QUIET)  # 10 steps an epoch
    results = json.loads((artifact / "run.json").read_text())["results"]
    # Per document, 8 targets a direction. Read a sentence at a time, the word w of each sentence
    # (1 of 10) and its particle (which of the two sentences is this?) are guesses: no model can
    # go below exp((2 ln 10 + 2 ln 2) / 8) = 2.11. Reading both, only the first w is: 1.33. So
    # below 2.11 the model reads across the boundary; the same model one sentence at a time cannot.
    assert results["valid"]["n_predicted"] == results["one_sentence"]["valid"]["n_predicted"] == 24 * 8
    assert results["valid"]["ppl"] < 1.9 and results["one_sentence"]["valid"]["ppl"] > 2.11


@pytest.mark.parametrize("optimizer", ["adam", "adagrad"])
def test_pretrain_clips_under_bf16_autocast_with_a_fused_optimizer(tmp_path, optimizer):
    """The cpu profile's precision with gradient clipping on. Lightning's precision plugin refuses
    to clip for a `fused` optimizer (the other tests run in fp32, where it does not look), so the
    task clips itself: every step must see the fused optimizer and gradients clipped to the norm."""
    norms = []

    def after_step(opt, args, kwargs):  # Lightning runs forward and backward inside `step`
        assert opt.defaults["fused"]
        grads = [p.grad for group in opt.param_groups for p in group["params"] if p.grad is not None]
        norms.append(float(torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(g) for g in grads]))))

    cfg = tiny_config(max_epochs=1, precision="bf16-mixed", optimizer=optimizer, limit_train_batches=3, grad_clip=1e-3)
    hook = register_optimizer_step_post_hook(after_step)
    try:
        artifact = pretrain(cfg, out=tmp_path, corpus=synthetic_corpus(), **QUIET)
    finally:
        hook.remove()
    results = json.loads((artifact / "run.json").read_text())["results"]
    assert results["global_step"] == 3 and math.isfinite(results["valid"]["ppl"])
    assert len(norms) == 3 and all(n <= 1e-3 * 1.001 for n in norms), norms


def test_linear_schedule_warms_up_then_decays_to_zero():
    factors = [linear_schedule(s, warmup=4, total=20) for s in range(21)]

    assert factors[0] == 0.25 and factors[3] == pytest.approx(17 / 20) and factors[20] == 0.0
    assert all(a >= b for a, b in zip(factors[3:], factors[4:]))


@pytest.mark.parametrize("recurrence,schedule", [("lstmp", "constant"), ("lstm", "constant"), ("lstm", "linear")])
def test_resume_continues_at_same_step_with_same_state(tmp_path, recurrence, schedule):
    train = dict(max_epochs=2, optimizer="adagrad", lr=0.2, lr_schedule=schedule, warmup_steps=3)
    cfg, corpus = tiny_config(recurrence, **train), synthetic_corpus()
    straight = pretrain(cfg, out=tmp_path / "a", corpus=corpus, **QUIET)
    steps_per_epoch = 96 // 16
    pretrain(cfg, out=tmp_path / "b", corpus=corpus, max_steps=steps_per_epoch, **QUIET)  # "interrupted"
    resumed = pretrain(cfg, out=tmp_path / "b", corpus=corpus, **QUIET)
    info = lambda a: json.loads((a / "run.json").read_text())["results"]  # noqa: E731
    assert info(resumed)["global_step"] == info(straight)["global_step"] == 2 * steps_per_epoch
    a, b = weights(straight), weights(resumed)
    assert all(torch.equal(a[k], b[k]) for k in a)
    ckpt_a = torch.load(next((tmp_path / "a/pretrain").glob("checkpoints-*/last.ckpt")), weights_only=False)
    ckpt_b = torch.load(next((tmp_path / "b/pretrain").glob("checkpoints-*/last.ckpt")), weights_only=False)
    sa, sb = ckpt_a["optimizer_states"][0]["state"], ckpt_b["optimizer_states"][0]["state"]
    assert all(torch.equal(sa[k]["sum"], sb[k]["sum"]) for k in sa)


@pytest.mark.slow
@pytest.mark.parametrize("recurrence", RECURRENCES)
def test_ddp_two_cpu_processes_end_with_identical_weights(tmp_path, recurrence):
    script = Path(__file__).with_name("ddp_train.py")
    proc = subprocess.run([sys.executable, str(script), str(tmp_path), recurrence], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    w0 = torch.load(tmp_path / "rank0.pt")
    w1 = torch.load(tmp_path / "rank1.pt")
    init = torch.load(tmp_path / "init.pt")
    assert all(torch.equal(w0[k], w1[k]) for k in w0)
    assert any(not torch.equal(w0[k], init[k]) for k in w0)  # training did move the weights


def test_global_batch_and_accumulation_are_what_the_config_says_at_any_world_size():
    for processes in (1, 2, 4, 8, 16):
        plan = batch_plan(32, processes, 512)
        assert plan["per_process"] * plan["processes"] * plan["accumulate"] == 512
    assert batch_plan(32, 2, None) == {"per_process": 32, "processes": 2, "accumulate": 1, "global_batch_size": 64}
    with pytest.raises(ValueError, match="not a multiple"):
        batch_plan(32, 3, 512)
    trainer = make_trainer(tiny_config(global_batch_size=64, devices=1), Path("/tmp"), Path("/tmp/x"), logger=False)
    assert trainer.accumulate_grad_batches == 4  # 64 = 16 a step x 1 process x 4 steps


@pytest.mark.slow
def test_ddp_global_batch_is_the_configured_one(tmp_path):
    """Two processes, batch 16 each, global batch 64: every optimizer step sums 2 x 2 x 16 sentences."""
    script = Path(__file__).with_name("ddp_train.py")
    proc = subprocess.run([sys.executable, str(script), str(tmp_path), "-", "64"], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    seen = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1)]
    for s in seen:
        assert s["world_size"] == 2 and s["accumulate"] == 2
        full = [n for n in s["sentences_per_batch"] if n == 16]
        assert len(full) >= len(s["sentences_per_batch"]) - 1  # length buckets: at most one short batch
        assert s["optimizer_steps"] == math.ceil(len(s["sentences_per_batch"]) / 2)
    assert seen[0]["sentences_per_batch"] and len(seen[0]["sentences_per_batch"]) == len(seen[1]["sentences_per_batch"])


def test_a_finished_artifact_is_reused_not_retrained(tmp_path):
    cfg, corpus = tiny_config(max_epochs=1), synthetic_corpus()
    artifact = pretrain(cfg, out=tmp_path, corpus=corpus, **QUIET)
    before = (artifact / "model.safetensors").stat().st_mtime_ns
    seconds = json.loads((artifact / "run.json").read_text())["results"]["train_seconds"]
    assert seconds > 0
    assert pretrain(cfg, out=tmp_path, corpus=corpus, **QUIET) == artifact
    assert (artifact / "model.safetensors").stat().st_mtime_ns == before  # not rewritten
