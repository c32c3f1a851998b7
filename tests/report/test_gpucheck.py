"""`python -m elmo.gpucheck` runs its whole code path on the CPU at tiny sizes, so it cannot rot."""

import json

import pytest

from elmo import gpucheck

pytestmark = pytest.mark.slow


def test_gpucheck_runs_on_cpu_at_tiny_sizes_and_writes_its_report(tmp_path, capsys):
    assert gpucheck.main(["--out", str(tmp_path)]) == 0
    r = json.loads((tmp_path / "gpucheck.json").read_text())
    assert r["profile"] == "tiny" and r["device"]["device"] == "cpu"
    assert r["matmul_peak_gflops"]["bf16"] > 0 and r["matmul_peak_gflops"]["fp32"] > 0
    s = r["step"]
    assert s["tokens_per_s"] > 0 and 0 < s["fraction_of_bf16_peak"] < 1 and s["gflop_per_step"] > 0
    assert r["epoch_hours_at_this_speed"] == pytest.approx(r["full_corpus_tokens"] / s["tokens_per_s"] / 3600)
    assert r["causality"]["causal"]
    assert r["finetune"]["dev_macro_f1"] > 50  # the toy classes are learnable: the path works end to end
    assert "causality          ok" in capsys.readouterr().out
